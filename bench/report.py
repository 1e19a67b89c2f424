"""bench/RESULTS.md and the plots, from the JSON files bench/run.py writes.

Every figure in RESULTS.md comes from bench/results/*.json; the hand-written analysis
(profiling, reasons for missed targets) lives in bench/ANALYSIS.md and is appended as is.
"""

import json
import os

from bench import (
    arbiter,
    faucet,
    flood_memory,
    metrics_cost,
    reload_traffic,
    scaling,
    stable,
    stable_incremental,
)
from bench.machine import machine_line

FLOW_SWITCHES = 16
FLOW_HOSTS = 100  # learned hosts per switch of the base runs
BASELINE = 'simple_switch_13 (default, INFO log)'
BASELINE_WARN = 'simple_switch_13 (WARNING log)'
CEILING = 'one_flowmod (ceiling)'
# the ceiling with controller/match_parser.py, which our apps install
CEILING_PARSER = 'one_flowmod (ceiling, our match parser)'
OURS = 'l2_learning (INFO log)'  # both at Ryu's default log level
OURS_QUIET = 'l2_learning (WARNING log)'  # both at WARNING, against the ceiling


def _load(results_dir, name):
    path = os.path.join(results_dir, name + '.json')
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def _ratio(a, b):
    return '%.2fx' % (a / b) if b else 'n/a'


def _flowsetup(data, plots):
    runs = data['results']
    out = [
        '## Flow setup (emulated OpenFlow 1.3 switches, bench/ofemu.py)',
        '',
        machine_line(data),
        '',
        'Each emulated switch has 100 learned hosts on 4 ports and sends packet-ins from '
        'fresh source MACs towards them (cbench\'s pattern). "Answered" counts packet-ins '
        'that got their flow-mod (one per packet-in, the fair rate to compare apps: '
        'simple_switch_13 sends a flow-mod and a packet-out per packet-in, l2_learning '
        'two flow-mods, the ceiling app one flow-mod). Min / median / max over the '
        'measured loops, after one warm-up loop.',
        '',
    ]
    tput = {
        r['controller']: r
        for r in runs
        if r['mode'] == 'throughput'
        and r['n_switches'] == FLOW_SWITCHES
        and r.get('hosts_per_switch', FLOW_HOSTS) == FLOW_HOSTS
    }
    base = tput.get(BASELINE, {}).get('answered_per_s', {}).get('median')
    base_w = tput.get(BASELINE_WARN, {}).get('answered_per_s', {}).get('median')
    ceiling = tput.get(CEILING, {}).get('answered_per_s', {}).get('median')
    ceiling_parser = tput.get(CEILING_PARSER, {}).get('answered_per_s', {}).get('median')
    peers = [
        tput.get(name, {}).get('answered_per_s', {}).get('median') for name in faucet.CONTROLLERS
    ]
    out += [
        '### Throughput, %d switches, window %s'
        % (FLOW_SWITCHES, next(iter(tput.values()))['window'] if tput else '?'),
        '',
        '| controller | answered/s min | median | max | responses/s median | '
        'vs simple_switch_13 default | vs simple_switch_13 WARNING | vs ceiling | '
        'vs ceiling, our match parser | vs FAUCET default | vs FAUCET WARNING | timeouts |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ]
    for name, r in tput.items():
        a = r['answered_per_s']
        out.append(
            '| %s | %.0f | %.0f | %.0f | %.0f | %s | %s | %s | %s | %s | %d |'
            % (
                name,
                a['min'],
                a['median'],
                a['max'],
                r['responses_per_s']['median'],
                _ratio(a['median'], base),
                _ratio(a['median'], base_w),
                _ratio(a['median'], ceiling),
                _ratio(a['median'], ceiling_parser) if ceiling_parser else 'not in this run',
                ' | '.join(
                    _ratio(a['median'], peer) if peer else 'not in this run' for peer in peers
                ),
                r['totals']['timeouts'],
            )
        )
    lat = [r for r in runs if r['mode'] == 'latency']
    out += [
        '',
        '### Latency, %d switches, one outstanding packet-in each' % FLOW_SWITCHES,
        '',
        '| controller | samples | p50 µs | p90 µs | p99 µs | max µs |',
        '| --- | ---: | ---: | ---: | ---: | ---: |',
    ]
    for r in lat:
        us = r['latency_us']
        out.append(
            '| %s | %d | %.0f | %.0f | %.0f | %.0f |'
            % (r['controller'], us['n'], us['p50'], us['p90'], us['p99'], us['max'])
        )
    sweep, host_sweep = {}, {}
    for r in runs:
        if r['mode'] != 'throughput':
            continue
        rate, hosts = r['answered_per_s']['median'], r.get('hosts_per_switch', FLOW_HOSTS)
        if hosts == FLOW_HOSTS:
            sweep.setdefault(r['controller'], {})[r['n_switches']] = rate
        if r['n_switches'] == FLOW_SWITCHES:
            host_sweep.setdefault(r['controller'], {})[hosts] = rate
    out += _sweep_table(
        'Throughput against the number of switches (answered/s, median; %d learned hosts '
        'each)' % FLOW_HOSTS,
        '%d sw',
        sweep,
    )
    if any(len(per) > 1 for per in host_sweep.values()):
        out += _sweep_table(
            'Throughput against learned hosts per switch (answered/s, median; %d switches)'
            % FLOW_SWITCHES,
            '%d hosts',
            host_sweep,
        )
    if plots is not None:
        out += [
            '',
            '![setup rate](%s)' % plots.link('setup_rate_vs_switches.png'),
            '![latency](%s)' % plots.link('latency_cdf.png'),
        ]
        plots.line(
            'setup_rate_vs_switches.png',
            'Flow setups answered per second',
            'emulated switches',
            'answered packet-ins / s',
            {name: sorted(per.items()) for name, per in sweep.items()},
            logx=True,
        )
        plots.cdf(
            'latency_cdf.png',
            'Packet-in to flow-mod latency, %d switches' % FLOW_SWITCHES,
            'µs',
            {r['controller']: r['latency_samples_us'] for r in lat},
        )
    out += _faucet_flowsetup_note(runs)
    targets = []
    if OURS in tput and base:
        targets.append(
            (
                'flow setups/s >= 2x simple_switch_13, both at default settings',
                tput[OURS]['answered_per_s']['median'] / base,
                2.0,
            )
        )
    if OURS_QUIET in tput and ceiling:
        targets.append(
            (
                'flow setups/s >= 0.8x the ceiling app (both at WARNING log)',
                tput[OURS_QUIET]['answered_per_s']['median'] / ceiling,
                0.8,
            )
        )
    if OURS_QUIET in tput and ceiling_parser:
        targets.append(
            (
                'flow setups/s >= 0.8x the ceiling app with our match parser (WARNING log)',
                tput[OURS_QUIET]['answered_per_s']['median'] / ceiling_parser,
                0.8,
            )
        )
    return out, targets


def _sweep_table(title, column, per_controller):
    """A table of answered/s by controller and size; 'not run' where a size was left
    out for a controller (bench/run.py says why)."""
    sizes = sorted({n for per in per_controller.values() for n in per})
    out = [
        '',
        '### ' + title,
        '',
        '| controller | ' + ' | '.join(column % n for n in sizes) + ' |',
        '| --- |' + ' ---: |' * len(sizes),
    ]
    for name, per in per_controller.items():
        out.append(
            '| %s | ' % name
            + ' | '.join('%.0f' % per[n] if n in per else 'not run' for n in sizes)
            + ' |'
        )
    return out


STANDALONE = 'OVS standalone (NORMAL)'


def _dataplane(data):
    res = data['results']
    # before FAUCET was measured here the results were the set-ups alone
    setups, versions = (res['setups'], res['versions']) if 'setups' in res else (res, None)
    out = [
        '## Data plane (Mininet + OVS userspace datapath, h1 -> h3 on linear,3)',
        '',
        machine_line(data),
        '',
        'iperf3 TCP between two hosts three switches apart, and 200 pings 10 ms apart; '
        'each round runs every set-up one after the other. "ratio": mean throughput '
        'over OVS standalone\'s.',
        '',
        '| set-up | rounds | TCP Mbit/s (each) | mean | ratio | RTT avg ms (each) |',
        '| --- | ---: | --- | ---: | ---: | --- |',
    ]
    means = {name: sum(r['mbps'] for r in rounds) / len(rounds) for name, rounds in setups.items()}
    for name, rounds in setups.items():
        out.append(
            '| %s | %d | %s | %.0f | %s | %s |'
            % (
                name,
                len(rounds),
                ', '.join('%.0f' % r['mbps'] for r in rounds),
                means[name],
                _ratio(means[name], means[STANDALONE]),
                ', '.join('%.3f' % r['rtt_ms']['avg_ms'] for r in rounds),
            )
        )
    ratio = means['l2_learning'] / means[STANDALONE]
    out += ['', 'Throughput ratio l2_learning / OVS standalone: **%.2f**' % ratio]
    if versions:
        out += [
            '',
            'FAUCET (%s) controls the same three switches: a generated faucet.yaml with '
            'one DP per switch (its Mininet dpid) and each of its ports, host and '
            'switch-to-switch alike, a native access port of one VLAN (no stacking: '
            'a line has no loop). Before measuring, each switch held FAUCET\'s flows '
            '(its cookie, in dump-flows) and h1 -> h3 pings were answered; flow entries '
            'after the round: %s.'
            % (
                _versions_text(versions),
                ', '.join(
                    '%s %s' % (sw, n) for sw, n in setups['FAUCET'][-1]['flow_entries'].items()
                ),
            ),
        ]
    else:
        out += ['', 'FAUCET: not in this run (bench/run.py from before FAUCET ran on Mininet).']
    return out, [('data-plane throughput ratio to OVS standalone >= 0.95', ratio, 0.95)]


def _memory(data, plots):
    out = [
        '## Controller memory as MACs are learned',
        '',
        machine_line(data),
        '',
        '4 emulated switches, MACs learned by broadcast ARP packet-ins from fresh '
        'sources at up to 5000/s; RSS from /proc/<pid>/status after each step. "Per '
        'MAC, marginal" is the RSS growth of a step divided by the MACs it added: the '
        'cost of one more host, without the fixed cost of the first packet-ins (code '
        'paths and buffers touched for the first time). "Flow-mods" is what the app '
        'sent while learning (the flow entries it installs).',
        '',
        '| controller | MACs | RSS KiB | growth KiB | bytes per MAC, marginal | '
        'flow-mods | timeouts |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ]
    series, marginal = {}, {}
    for r in data['results']:
        flow_mods, previous = 0, None
        for p in r['points']:
            flow_mods += p['learn']['flow_mods']
            step = ''
            if previous is not None:
                marginal[r['controller']] = (
                    (p['rss_kib'] - previous['rss_kib']) * 1024 / (p['macs'] - previous['macs'])
                )
                step = '%.0f' % marginal[r['controller']]
            out.append(
                '| %s | %d | %d | %d | %s | %d | %d |'
                % (
                    r['controller'],
                    p['macs'],
                    p['rss_kib'],
                    p['delta_kib'],
                    step,
                    flow_mods,
                    p['learn']['timeouts'],
                )
            )
            series.setdefault(r['controller'], []).append((p['macs'], p['delta_kib'] / 1024))
            previous = p
    out += _faucet_memory_note(data['results'])
    if plots is not None:
        out += ['', '![memory](%s)' % plots.link('memory.png')]
        plots.line('memory.png', 'Controller RSS growth', 'learned MACs', 'MiB', series, logx=True)
    targets = []
    if OURS_QUIET in marginal:
        targets = [
            (
                'controller memory < 2 KB per learned host (marginal, last step)',
                marginal[OURS_QUIET] / 1000,
                2.0,
                'KB',
            )
        ]
    return out, targets


def _policy(data):
    out = [
        '## VLAN/ACL policies: compile time, flow entries, reload diff',
        '',
        machine_line(data),
        '',
        'One switch; access ports spread over the VLANs, a trunk carrying all of them '
        'every 50 ports, ACL rules on ten ports (bench/run.py policy_text). "Load" is '
        'YAML parsing, schema and cross-checks; "one-port change" moves one access '
        'port to another VLAN and counts the rules a reload adds, replaces or deletes, '
        'against the whole table a full reprogram would write.',
        '',
        '| ports | VLANs | ACL rules | load + validate ms | compile ms | flow entries | '
        'one-port change: rules touched | full reprogram |',
        '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ]
    for r in data['results']:
        out.append(
            '| %d | %d | %d | %.0f | %.0f | %d | %d | %d |'
            % (
                r['ports'],
                r['vlans'],
                r['acl_rules'],
                r['load_validate_ms'],
                r['compile_ms'],
                r['flow_entries'],
                r['one_port_change_diff'],
                r['full_reprogram'],
            )
        )
    return out + _faucet_policy(data['results'])


# --- FAUCET beside our apps (bench/faucet.py) -------------------------------------------


def _versions_text(versions):
    return 'faucet %(faucet)s on os-ken %(os_ken)s, Python %(python)s' % versions


def _faucet_flowsetup_note(runs):
    versions = next((r['versions'] for r in runs if r['controller'] in faucet.CONTROLLERS), None)
    if versions is None:
        return ['', 'FAUCET: not in this run (bench/run.py from before bench/faucet.py).']
    return [
        '',
        'FAUCET (%s, its own venv; faucet.yaml generated for the emulated '
        'switches: one VLAN, ports 1-4 native access ports, host limits off) gets '
        'the packet-ins of its eth_src table (reason ACTION, its cookie, the frame '
        'tagged with the VLAN its vlan table pushed). It answers a new source with '
        'two flow-mods (eth_src and eth_dst rules) and no packet-out, the switch\'s '
        'miss path flooding the packet: the first flow-mod answers the packet-in, '
        'the second counts as extra, so "answered" is one per packet-in as for our '
        'apps. "responses/s" counts both flow-mods. The emulator waits up to %.0f s '
        'for FAUCET\'s answers (2 s for the others), as FAUCET, slower, keeps 32 '
        'packet-ins per switch waiting longer.'
        % (_versions_text(versions), faucet.RESPONSE_TIMEOUT),
    ]


def _faucet_memory_note(results):
    theirs = [r for r in results if r['controller'] in faucet.CONTROLLERS]
    if not theirs:
        return ['', 'FAUCET: not in this run (bench/run.py from before bench/faucet.py).']
    their_most = max(p['macs'] for r in theirs for p in r['points'])
    return [
        '',
        'FAUCET learns from the same packet-ins (tagged with its VLAN, from its '
        'eth_src table) and installs two flow entries per MAC (eth_src, eth_dst); '
        'its per-MAC memory includes a Prometheus label set per learned host '
        '(learned_l2_port), which our apps do not keep. FAUCET\'s run stops at %d '
        'MACs: after each packet-in it re-exports every MAC learned on the port as '
        'metric labels, so each MAC takes longer to learn than the one before, and '
        '100,000 would take it hours (a first attempt was stopped after 10 minutes, '
        'still learning).' % their_most,
    ]


def _faucet_policy(results):
    """Ours beside FAUCET's on the same generated policies."""
    out = [
        '',
        '### FAUCET on the same policies',
        '',
        'The same two configurations (the policy and its one-port change), which '
        'FAUCET\'s check_faucet_config accepts, run through FAUCET\'s own code '
        '(bench/faucet_inside.py): its parse and validation; its cold start, the '
        'flows a switch gets on connecting (every port up; FAUCET\'s pipeline: VLAN, '
        'ACL, eth_src, eth_dst, flood tables); and the reload a SIGHUP would apply to '
        'a running switch. "One-port reload" is load + validate + the change '
        '(ours: compile and diff; FAUCET: reload_config). FAUCET\'s reload sends '
        'flow-mods, its deletes by wildcard (one may remove many rules); "rules '
        'differing" is how many flow entries differ between its two full programs. '
        'Flow entry counts are not comparable rule for rule: the pipelines differ.',
        '',
        '| ports | VLANs | ACL rules | load + validate ms: ours | FAUCET | '
        'compile ms: ours | FAUCET cold start | flow entries: ours | FAUCET | '
        'one-port reload ms: ours | FAUCET | one-port change: our rules touched | '
        'FAUCET flow-mods sent (deletes) | FAUCET rules differing |',
        '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: '
        '| ---: | ---: | ---: |',
    ]
    versions = None
    for r in results:
        f = r.get('faucet')
        if f is None:
            theirs = ['not measured (run from before bench/faucet.py)'] + ['n/a'] * 5
        elif 'refused' in f or 'gave_up' in f:
            theirs = [
                ('refused by FAUCET: %s' % f['refused'])
                if 'refused' in f
                else 'FAUCET gave %s' % f['gave_up']
            ] + ['n/a'] * 5
        else:
            versions = f['versions']
            theirs = [
                '%.0f' % f['load_validate_ms'],
                '%.0f' % f['compile_ms'],
                '%d' % f['flow_entries'],
                '%.0f (%s)' % (f['reload_ms'], f['reload_type']),
                '%d (%d)' % (f['reload_flow_mods'], f['reload_flow_mod_deletes']),
                '%d' % f['rules_differing'],
            ]
        ours_reload = (
            '%.0f' % r['one_port_change_ms'] if 'one_port_change_ms' in r else 'not measured'
        )
        load, compile_, entries, reload_, sent, differing = theirs
        out.append(
            '| %d | %d | %d | %.0f | %s | %.0f | %s | %d | %s | %s | %s | %d | %s '
            '| %s |'
            % (
                r['ports'],
                r['vlans'],
                r['acl_rules'],
                r['load_validate_ms'],
                load,
                r['compile_ms'],
                compile_,
                r['flow_entries'],
                entries,
                ours_reload,
                reload_,
                r['one_port_change_diff'],
                sent,
                differing,
            )
        )
    if versions:
        out += ['', 'FAUCET: %s.' % _versions_text(versions)]
    return out


# Where FAUCET has no counterpart to what a section measures, the report says so.
FAUCET_ABSENT = {
    'stable_network': 'FAUCET: no counterpart. It has no per-packet-consistent, '
    'versioned update of routes; its multi-switch mode (stacking) '
    'recomputes a flooding tree and relearns.',
    'stable-compute': 'FAUCET: no counterpart (no epoch computation to time).',
    'arbiter': 'FAUCET: no counterpart. It is one app owning the whole switch; there is '
    'no arbitration between apps to measure.',
}


class _Plots:
    def __init__(self, results_dir, report_path):
        import matplotlib

        matplotlib.use('Agg')
        import matplotlib.pyplot as plt

        self.plt = plt
        self.dir = results_dir
        self._from_report = os.path.relpath(results_dir, os.path.dirname(report_path))

    def link(self, name):
        """Where the report finds a plot, relative to the report itself."""
        return os.path.join(self._from_report, name)

    def line(self, name, title, xlabel, ylabel, series, logx=False, logy=False):
        fig, ax = self.plt.subplots(figsize=(7, 4))
        for label, points in series.items():
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker='o', label=label)
        if logx:
            ax.set_xscale('log')
        if logy:
            ax.set_yscale('log')
        ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(self.dir, name), dpi=100)
        self.plt.close(fig)

    def cdf(self, name, title, xlabel, samples):
        fig, ax = self.plt.subplots(figsize=(7, 4))
        for label, values in samples.items():
            if values:
                n = len(values)
                ax.plot(values, [(i + 1) / n for i in range(n)], label=label)
        ax.set_xscale('log')
        ax.set(title=title, xlabel=xlabel, ylabel='fraction of packet-ins')
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(self.dir, name), dpi=100)
        self.plt.close(fig)


def _stable_network(data):
    res = data['results']
    # runs from before bench/stable_network.py wrote it used the app's default
    windows = sorted({row.get('quiet_window_s', 0.5) for row in res['updates']})
    out = [
        '## Stable routing on Mininet (bench/stable_network.py)',
        '',
        machine_line(data),
        '',
        'A link loses carrier, then comes back. Duration: from the first trigger to the '
        'new epoch in force on every switch (quiet window %s s, then compute, check, '
        'and bundled phases 1 and 2). Flow entries summed over the switches: before, at '
        'the peak of the update (both epochs\' rules present until phase 3), after.'
        % ' / '.join('%g' % w for w in windows),
        '',
        '| topology | switches | hosts | change | compute ms | check ms | install ms '
        '| first trigger to installed ms | flows before | peak | after |',
        '| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ]
    for row in res['updates']:
        for c in row['changes']:
            out.append(
                '| %s | %d | %d | %s | %.1f | %.1f | %.0f | %.0f | %d | %d | %d |'
                % (
                    row['topology'],
                    row['switches'],
                    row['hosts'],
                    c['change'],
                    c['compute_ms'],
                    c['check_ms'],
                    c['install_ms'],
                    c['duration_ms'],
                    row['flows_before'],
                    c['peak_flows'],
                    c['flows_after'],
                )
            )
    out += [
        '',
        'Link failure on ring(4), h1 -> h3 under a UDP stream, the tree link s1-s2 '
        'cut (carrier loss):',
        '',
        '| controller | stream pps | sent | lost | longest outage ms | duplicates |',
        '| --- | ---: | ---: | ---: | ---: | ---: |',
    ]
    targets = []
    for r in res['failover']:
        out.append(
            '| %s | %d | %d | %d | %.0f | %d |'
            % (
                r['controller'],
                r['rate_pps'],
                r['sent'],
                r['lost'],
                r['outage_ms'],
                r['duplicates'],
            )
        )
        if r['controller'] == 'stable_routing':
            targets.append(
                (
                    'traffic lost on a link failure < 50 ms (stable_routing)',
                    r['outage_ms'],
                    50.0,
                    'ms',
                )
            )
    for row in res['updates']:
        cut = next((c for c in row['changes'] if 'lost carrier' in c['change']), None)
        if row['topology'] == 'fattree8' and cut is not None:
            targets.append(
                (
                    'one-link epoch, first trigger to installed, fat-tree k=8 on Mininet '
                    '< 100 ms (quiet window %g s)' % row.get('quiet_window_s', 0.5),
                    cut['duration_ms'],
                    100.0,
                    'ms',
                )
            )
    return out, targets


def _stable_compute(data, plots):
    return stable.section(data, plots)


def _stable_incremental(data, results_dir):
    """The emulated one-link epoch: this run and the others recorded beside it
    (stable-incremental-*.json: repeats, other quiet windows), in the order they ran."""
    runs = [data] + [
        _load(results_dir, name[: -len('.json')])
        for name in sorted(os.listdir(results_dir))
        if name.startswith('stable-incremental-') and name.endswith('.json')
    ]
    runs.sort(key=lambda run: run['machine']['date'])
    return stable_incremental.section(runs)


def _arbiter(data):
    return arbiter.report(data)


def _metrics_cost(data):
    """bench/metrics_cost.py's section, and what FAUCET's metrics cost (stated, from
    the profile in ANALYSIS.md: FAUCET cannot turn them off to compare)."""
    out, targets = metrics_cost.section(data)
    out += [
        '',
        'FAUCET: not measured, as it has no metrics-off mode to compare with: its '
        'Prometheus metrics are always on, recomputed whether or not anyone scrapes '
        '(`metrics_rate_limit_sec`, default 0, only spaces the recomputation out). In '
        'its py-spy profile (bench/ANALYSIS.md, FAUCET\'s flow-setup rate), '
        '`Valve.update_metrics` took 43%% of its packet-in handling, against %.1f%% '
        'that the counting adds to l2_learning\'s handler above.'
        % (100 * data['hot_path']['added_vs_handler']),
    ]
    return out, targets


def _flood_memory(data):
    return flood_memory.report(data, machine_line(data))


def write(results_dir, path):
    try:
        plots = _Plots(results_dir, path)
    except ImportError:
        plots = None
    lines = [
        '# Benchmark results',
        '',
        'Written by `bench/run.py` (`sudo bash scripts/setup.sh bench`) from '
        '`bench/results/*.json`; do not edit by hand. Figures are what one run '
        'measured on a shared, noisy 2-core machine: compare columns of one run, not '
        'runs of different days.',
        '',
    ]
    targets = []
    sections = (
        ('flowsetup', lambda data: _flowsetup(data, plots)),
        ('dataplane', _dataplane),
        ('memory', lambda data: _memory(data, plots)),
        ('policy', lambda data: (_policy(data), [])),
        ('stable_network', _stable_network),
        ('stable-compute', lambda data: _stable_compute(data, plots)),
        ('stable-incremental', lambda data: _stable_incremental(data, results_dir)),
        ('arbiter', _arbiter),
        ('flood_memory', _flood_memory),
        ('metrics_cost', _metrics_cost),
        ('reload_traffic', reload_traffic.section),
    )
    loaded = {name: _load(results_dir, name) for name, _ in sections}
    for name, render in sections:
        data = loaded[name]
        if data:
            section, section_targets = render(data)
            lines += section + ['']
            if name in FAUCET_ABSENT:
                lines += [FAUCET_ABSENT[name], '']
            targets += section_targets
    scaling_section = scaling.section(loaded, plots)
    if scaling_section:
        lines += scaling_section + ['']
    if targets:
        lines += [
            '## Targets (figures, not tests)',
            '',
            '| target | measured | met |',
            '| --- | ---: | --- |',
        ]
        for target in targets:
            # (label, value, goal): at least goal; (label, value, goal, unit): below goal.
            label, value, goal = target[:3]
            below = len(target) > 3
            met = value < goal if below else value >= goal
            shown = ('%.2f %s' % (value, target[3])) if below else ('%.2f' % value)
            lines.append('| %s | %s | %s |' % (label, shown, 'yes' if met else '**no**'))
        lines.append('')
    analysis = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'ANALYSIS.md')
    if os.path.exists(analysis):
        with open(analysis) as f:
            lines += [f.read()]
    with open(path, 'w') as f:
        f.write('\n'.join(lines))
