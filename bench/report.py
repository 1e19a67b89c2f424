"""bench/RESULTS.md and the plots, from the JSON files bench/run.py writes.

Every figure in RESULTS.md comes from bench/results/*.json; the hand-written analysis
(profiling, reasons for missed targets) lives in bench/ANALYSIS.md and is appended as is.
"""

import json
import os

FLOW_SWITCHES = 16
BASELINE = 'simple_switch_13 (default, INFO log)'
BASELINE_WARN = 'simple_switch_13 (WARNING log)'
CEILING = 'one_flowmod (ceiling)'
OURS = 'l2_learning (INFO log)'           # both at Ryu's default log level
OURS_QUIET = 'l2_learning (WARNING log)'   # both at WARNING, against the ceiling


def _load(results_dir, name):
    path = os.path.join(results_dir, name + '.json')
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def _machine_line(data):
    m = data['machine']
    return ('%s, commit %s, %d cores (%s), %.1f GiB, Python %s, kernel %s%s; took %ss'
            % (m['date'], m['commit'], m['cores'], m['cpu'], m['memory_gib'], m['python'],
               m['kernel'], ', QUICK mode' if data.get('quick') else '', data['seconds']))


def _ratio(a, b):
    return '%.2fx' % (a / b) if b else 'n/a'


def _flowsetup(data, plots):
    runs = data['results']
    out = ['## Flow setup (emulated OpenFlow 1.3 switches, bench/ofemu.py)', '',
           _machine_line(data), '',
           'Each emulated switch has 100 learned hosts on 4 ports and sends packet-ins from '
           'fresh source MACs towards them (cbench\'s pattern). "Answered" counts packet-ins '
           'that got their flow-mod (one per packet-in, the fair rate to compare apps: '
           'simple_switch_13 sends a flow-mod and a packet-out per packet-in, l2_learning '
           'two flow-mods, the ceiling app one flow-mod). Min / median / max over the '
           'measured loops, after one warm-up loop.', '']
    tput = {r['controller']: r for r in runs
            if r['mode'] == 'throughput' and r['n_switches'] == FLOW_SWITCHES}
    base = tput.get(BASELINE, {}).get('answered_per_s', {}).get('median')
    base_w = tput.get(BASELINE_WARN, {}).get('answered_per_s', {}).get('median')
    ceiling = tput.get(CEILING, {}).get('answered_per_s', {}).get('median')
    out += ['### Throughput, %d switches, window %s' % (
        FLOW_SWITCHES, next(iter(tput.values()))['window'] if tput else '?'), '',
        '| controller | answered/s min | median | max | responses/s median | '
        'vs simple_switch_13 default | vs simple_switch_13 WARNING | vs ceiling | timeouts |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for name, r in tput.items():
        a = r['answered_per_s']
        out.append('| %s | %.0f | %.0f | %.0f | %.0f | %s | %s | %s | %d |' % (
            name, a['min'], a['median'], a['max'], r['responses_per_s']['median'],
            _ratio(a['median'], base), _ratio(a['median'], base_w),
            _ratio(a['median'], ceiling), r['totals']['timeouts']))
    lat = [r for r in runs if r['mode'] == 'latency']
    out += ['', '### Latency, %d switches, one outstanding packet-in each' % FLOW_SWITCHES, '',
            '| controller | samples | p50 µs | p90 µs | p99 µs | max µs |',
            '| --- | ---: | ---: | ---: | ---: | ---: |']
    for r in lat:
        l = r['latency_us']
        out.append('| %s | %d | %.0f | %.0f | %.0f | %.0f |' % (
            r['controller'], l['n'], l['p50'], l['p90'], l['p99'], l['max']))
    sweep = {}
    for r in runs:
        if r['mode'] == 'throughput':
            sweep.setdefault(r['controller'], {})[r['n_switches']] = \
                r['answered_per_s']['median']
    counts = sorted({n for per in sweep.values() for n in per})
    out += ['', '### Throughput against the number of switches (answered/s, median)', '',
            '| controller | ' + ' | '.join('%d sw' % n for n in counts) + ' |',
            '| --- |' + ' ---: |' * len(counts)]
    for name, per in sweep.items():
        out.append('| %s | ' % name + ' | '.join(
            '%.0f' % per[n] if n in per else '' for n in counts) + ' |')
    if plots is not None:
        out += ['', '![setup rate](%s)' % plots.link('setup_rate_vs_switches.png'),
                '![latency](%s)' % plots.link('latency_cdf.png')]
        plots.line('setup_rate_vs_switches.png', 'Flow setups answered per second',
                   'emulated switches', 'answered packet-ins / s',
                   {name: sorted(per.items()) for name, per in sweep.items()}, logx=True)
        plots.cdf('latency_cdf.png', 'Packet-in to flow-mod latency, %d switches'
                  % FLOW_SWITCHES, 'µs',
                  {r['controller']: r['latency_samples_us'] for r in lat})
    targets = []
    if OURS in tput and base:
        targets.append(('flow setups/s >= 2x simple_switch_13, both at default settings',
                        tput[OURS]['answered_per_s']['median'] / base, 2.0))
    if OURS_QUIET in tput and ceiling:
        targets.append(('flow setups/s >= 0.8x the ceiling app (both at WARNING log)',
                        tput[OURS_QUIET]['answered_per_s']['median'] / ceiling, 0.8))
    return out, targets


def _dataplane(data):
    res = data['results']
    out = ['## Data plane (Mininet + OVS userspace datapath, h1 -> h3 on linear,3)', '',
           _machine_line(data), '',
           'iperf3 TCP between two hosts three switches apart, and 200 pings 10 ms apart; '
           'each round runs both set-ups one after the other.', '',
           '| set-up | rounds | TCP Mbit/s (each) | mean | RTT avg ms (each) |',
           '| --- | ---: | --- | ---: | --- |']
    means = {}
    for name, rounds in res.items():
        mbps = [r['mbps'] for r in rounds]
        means[name] = sum(mbps) / len(mbps)
        out.append('| %s | %d | %s | %.0f | %s |' % (
            name, len(rounds), ', '.join('%.0f' % m for m in mbps), means[name],
            ', '.join('%.3f' % r['rtt_ms']['avg_ms'] for r in rounds)))
    ratio = means['l2_learning'] / means['OVS standalone (NORMAL)']
    out += ['', 'Throughput ratio l2_learning / OVS standalone: **%.2f**' % ratio]
    return out, [('data-plane throughput ratio to OVS standalone >= 0.95', ratio, 0.95)]


def _memory(data, plots):
    out = ['## Controller memory as MACs are learned', '', _machine_line(data), '',
           '4 emulated switches, MACs learned by broadcast ARP packet-ins from fresh '
           'sources at up to 5000/s; RSS from /proc/<pid>/status after each step. "Per '
           'MAC, marginal" is the RSS growth of a step divided by the MACs it added: the '
           'cost of one more host, without the fixed cost of the first packet-ins (code '
           'paths and buffers touched for the first time). "Flow-mods" is what the app '
           'sent while learning (the flow entries it installs).', '',
           '| controller | MACs | RSS KiB | growth KiB | bytes per MAC, marginal | '
           'flow-mods | timeouts |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |']
    series, marginal = {}, {}
    for r in data['results']:
        flow_mods, previous = 0, None
        for p in r['points']:
            flow_mods += p['learn']['flow_mods']
            step = ''
            if previous is not None:
                marginal[r['controller']] = ((p['rss_kib'] - previous['rss_kib']) * 1024
                                             / (p['macs'] - previous['macs']))
                step = '%.0f' % marginal[r['controller']]
            out.append('| %s | %d | %d | %d | %s | %d | %d |' % (
                r['controller'], p['macs'], p['rss_kib'], p['delta_kib'], step, flow_mods,
                p['learn']['timeouts']))
            series.setdefault(r['controller'], []).append((p['macs'], p['delta_kib'] / 1024))
            previous = p
    if plots is not None:
        out += ['', '![memory](%s)' % plots.link('memory.png')]
        plots.line('memory.png', 'Controller RSS growth', 'learned MACs', 'MiB', series,
                   logx=True)
    targets = []
    if OURS_QUIET in marginal:
        targets = [('controller memory < 2 KB per learned host (marginal, last step)',
                    marginal[OURS_QUIET] / 1000, 2.0, 'KB')]
    return out, targets


def _policy(data):
    out = ['## VLAN/ACL policies: compile time, flow entries, reload diff', '',
           _machine_line(data), '',
           'One switch; access ports spread over the VLANs, a trunk carrying all of them '
           'every 50 ports, ACL rules on ten ports (bench/run.py policy_text). "Load" is '
           'YAML parsing, schema and cross-checks; "one-port change" moves one access '
           'port to another VLAN and counts the rules a reload adds, replaces or deletes, '
           'against the whole table a full reprogram would write.', '',
           '| ports | VLANs | ACL rules | load + validate ms | compile ms | flow entries | '
           'one-port change: rules touched | full reprogram |',
           '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for r in data['results']:
        out.append('| %d | %d | %d | %.0f | %.0f | %d | %d | %d |' % (
            r['ports'], r['vlans'], r['acl_rules'], r['load_validate_ms'], r['compile_ms'],
            r['flow_entries'], r['one_port_change_diff'], r['full_reprogram']))
    return out


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

    def line(self, name, title, xlabel, ylabel, series, logx=False):
        fig, ax = self.plt.subplots(figsize=(7, 4))
        for label, points in series.items():
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker='o', label=label)
        if logx:
            ax.set_xscale('log')
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
    out = ['## Stable routing on Mininet (bench/stable_network.py)', '',
           _machine_line(data), '',
           'A link loses carrier, then comes back. Duration: from the first trigger to the '
           'new epoch in force on every switch (quiet window 0.5 s, then compute, check, '
           'and bundled phases 1 and 2). Flow entries summed over the switches: before, at '
           'the peak of the update (both epochs\' rules present until phase 3), after.', '',
           '| topology | switches | hosts | change | compute ms | check ms | install ms '
           '| first trigger to installed ms | flows before | peak | after |',
           '| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for row in res['updates']:
        for c in row['changes']:
            out.append('| %s | %d | %d | %s | %.1f | %.1f | %.0f | %.0f | %d | %d | %d |' % (
                row['topology'], row['switches'], row['hosts'], c['change'], c['compute_ms'],
                c['check_ms'], c['install_ms'], c['duration_ms'], row['flows_before'],
                c['peak_flows'], c['flows_after']))
    out += ['', 'Link failure on ring(4), h1 -> h3 under a UDP stream, the tree link s1-s2 '
            'cut (carrier loss):', '',
            '| controller | stream pps | sent | lost | longest outage ms | duplicates |',
            '| --- | ---: | ---: | ---: | ---: | ---: |']
    targets = []
    for r in res['failover']:
        out.append('| %s | %d | %d | %d | %.0f | %d |' % (
            r['controller'], r['rate_pps'], r['sent'], r['lost'], r['outage_ms'],
            r['duplicates']))
        if r['controller'] == 'stable_routing':
            targets.append(('traffic lost on a link failure < 50 ms (stable_routing)',
                            r['outage_ms'], 50.0, 'ms'))
    return out, targets


def _stable_compute(data, plots):
    from bench import stable
    return stable.section(data, plots)


def _arbiter(data):
    from bench import arbiter
    return arbiter.report(data)


def _flood_memory(data):
    from bench import flood_memory
    return flood_memory.report(data, _machine_line(data))


def write(results_dir, path):
    try:
        plots = _Plots(results_dir, path)
    except ImportError:
        plots = None
    lines = ['# Benchmark results', '',
             'Written by `bench/run.py` (`sudo bash scripts/setup.sh bench`) from '
             '`bench/results/*.json`; do not edit by hand. Figures are what one run '
             'measured on a shared, noisy 2-core machine: compare columns of one run, not '
             'runs of different days.', '']
    targets = []
    sections = (('flowsetup', lambda data: _flowsetup(data, plots)),
                ('dataplane', _dataplane),
                ('memory', lambda data: _memory(data, plots)),
                ('policy', lambda data: (_policy(data), [])),
                ('stable_network', _stable_network),
                ('stable-compute', lambda data: _stable_compute(data, plots)),
                ('arbiter', _arbiter),
                ('flood_memory', _flood_memory))
    for name, render in sections:
        data = _load(results_dir, name)
        if data:
            section, section_targets = render(data)
            lines += section + ['']
            targets += section_targets
    if targets:
        lines += ['## Targets (figures, not tests)', '', '| target | measured | met |',
                  '| --- | ---: | --- |']
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
