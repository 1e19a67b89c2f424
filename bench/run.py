"""The benchmark suite: our apps side by side with what a user would otherwise run.

    sudo bash scripts/setup.sh bench            # the whole suite (about 10 minutes)
    sudo bash scripts/setup.sh bench --quick    # a quick pass for iteration (< 2 minutes)
    sudo .venv/bin/python -m bench.run --only flowsetup,memory

Three benchmarks, each against a fresh ryu-manager process started here:

flowsetup  cbench-like flow-setup rate and latency (bench/ofemu.py emulated OpenFlow 1.3
           switches) of apps/l2_learning.py, ryu.app.simple_switch_13 at its default
           settings and at WARNING log level, and bench/apps/one_flowmod.py, the ceiling
           of Ryu's event loop; throughput against the number of switches too.
dataplane  iperf3 TCP throughput and ping RTT between two hosts three switches apart on
           Mininet + OVS: l2_learning and FAUCET versus OVS standalone (NORMAL, no
           controller).
memory     controller RSS as 1k / 10k / 100k MACs are learned, l2_learning versus
           simple_switch_13, and the flow entries each installs.
policy     load, validation and compile time and flow entries of growing VLAN/ACL
           policies (apps/vswitch_policy.py), and the reload diff of a one-port change
           against reprogramming the whole switch.
stable_network  apps/stable_routing.py on Mininet: update duration and peak flow entries
           against network size; traffic lost on a link failure against
           ryu.app.simple_switch_stp_13 (bench/stable_network.py).
stable-compute  apps/stable_routing.py's epoch: compute_sft + check_sft time against
           topology size, and after a single link change (bench/stable.py; no root).
arbiter    apps/arbiter.py: overhead per proposed rule at 1k / 10k / 100k installed rules,
           and the flow-setup rate of l2_learning with and without it (bench/arbiter.py).
flood_memory  (optional: only with --only) controller RSS and a witness switch's answer
           times under hostile switches (5,000 ports, 20,000 PORT_STATUS, 100k new MACs,
           malformed packet-ins), l2_learning versus simple_switch_13 and FAUCET
           (bench/flood_memory.py; runnable alone, no root).

FAUCET (faucet 1.10.12 on os-ken, bench/faucet.py), the controller a user would pick
instead, runs beside our apps in flowsetup and memory (emulated switches described by a
generated faucet.yaml), dataplane (Mininet's switches and ports, likewise) and policy
(the same generated configurations through FAUCET's own parse, cold start and reload),
and flood_memory (bench/flood_memory.py). Its venv is built from PyPI on first use
(about a minute; `python -m bench.faucet` builds it ahead) and reused.

Raw results go to bench/results/<name>.json, plots to bench/results/*.png, and the
tables to bench/RESULTS.md (rewritten from all the JSON files present); --quick writes
to bench/results-quick/ instead, so it never replaces the recorded figures.
"""

import argparse
import fcntl
import json
import os
import tempfile
import time

from bench import arbiter as arbiter_bench
from bench import faucet, ofemu, report, stable
from bench import stable_network as network_bench
from bench.machine import L2_UNLIMITED, QUICK_RESULTS_DIR, REPO, RESULTS_DIR, machine
from tests.harness.controller import RyuController

WARNING = ['--default-log-level', '30']

CONTROLLERS = {
    # name: (apps, config, extra ryu-manager args)
    'l2_learning (INFO log)': (['apps/l2_learning.py'], L2_UNLIMITED, []),
    'l2_learning (WARNING log)': (['apps/l2_learning.py'], L2_UNLIMITED, WARNING),
    'simple_switch_13 (default, INFO log)': (['ryu.app.simple_switch_13'], None, []),
    'simple_switch_13 (WARNING log)': (['ryu.app.simple_switch_13'], None, WARNING),
    'one_flowmod (ceiling)': (['bench/apps/one_flowmod.py'], None, WARNING),
    'one_flowmod (ceiling, our match parser)': (
        ['bench/apps/one_flowmod_match_parser.py'],
        None,
        WARNING,
    ),
}


def controller(name, logdir):
    """The ryu-manager of CONTROLLERS[name], not started yet (use it in a with block)."""
    apps, config, extra = CONTROLLERS[name]
    slug = name.split(' (')[0] + ('-' + name.split('(')[1].split(' ')[0] if '(' in name else '')
    return RyuController(apps, os.path.join(logdir, slug + '.log'), config, extra)


def controller_for(name, logdir, n_switches):
    """Our controllers (CONTROLLERS) and FAUCET's (faucet.CONTROLLERS), whose
    configuration names the switches; not started."""
    if name in faucet.CONTROLLERS:
        return faucet.controller(name, logdir, n_switches)
    return controller(name, logdir)


def emulator_options(ctl):
    """How the emulated switches face the started ``ctl``: for FAUCET, the packet-ins
    of its pipeline and more patience; else the cookie of the app's table-miss entry."""
    if isinstance(ctl, faucet.FaucetController):
        return {**ctl.packet_in, 'response_timeout': faucet.RESPONSE_TIMEOUT}
    return {'cookie': ofemu.FROM_TABLE_MISS}


# Learned hosts per switch for the throughput sweep at 16 switches (100 is the base
# run's). FAUCET re-exports every learned MAC of a port as metrics after each learned
# host (bench/ANALYSIS.md), so learning 16 x 10,000 hosts would take it most of an
# hour: its sweep stops at 1,000.
HOST_SWEEP = (1000, 10000)
FAUCET_HOST_SWEEP = (1000,)


def _flowsetup_runs(name, quick):
    """(mode, switches, hosts per switch) of each run of controller ``name``."""
    switch_sweep = (16,) if quick else (1, 4, 16, 64)
    host_sweep = () if quick else FAUCET_HOST_SWEEP if name in faucet.CONTROLLERS else HOST_SWEEP
    return (
        [('throughput', n, 100) for n in switch_sweep]
        + [('throughput', 16, hosts) for hosts in host_sweep]
        + [('latency', 16, 100)]
    )


def flowsetup(quick, logdir):
    versions = faucet.ensure_venv()
    loops, loop_s = (2, 1.0) if quick else (5, 2.0)
    results = []
    for name in [*CONTROLLERS, *faucet.CONTROLLERS]:
        for mode, n_switches, hosts in _flowsetup_runs(name, quick):
            with controller_for(name, logdir, n_switches) as ctl:
                r = ofemu.run_benchmark_sync(
                    '127.0.0.1',
                    ctl.ofp_port,
                    n_switches=n_switches,
                    hosts_per_switch=hosts,
                    mode=mode,
                    loops=loops,
                    loop_seconds=loop_s,
                    warmup_loops=1,
                    **emulator_options(ctl),
                )
            entry = {**r.to_dict(), 'controller': name}
            if name in faucet.CONTROLLERS:
                entry['versions'] = versions
            entry.pop('latencies', None)
            entry['latency_samples_us'] = sorted(s * 1e6 for s in r.latencies)[
                :: max(1, len(r.latencies) // 2000)
            ]
            results.append(entry)
            print(
                'flowsetup %-40s %-10s %2d switches %5d hosts each: %8.0f answered/s%s'
                % (
                    name,
                    mode,
                    n_switches,
                    hosts,
                    entry['answered_per_s']['median'],
                    '  p50 %.0f us' % entry['latency_us']['p50'] if entry['latency_us'] else '',
                )
            )
    return results


# FAUCET re-exports every MAC learned on a port as metric labels after each packet-in
# (bench/ANALYSIS.md), so learning costs it time in proportion to the MACs already
# there: 100,000 MACs on 4 switches would take it hours. Its run stops at 10,000.
FAUCET_MEMORY_MACS = 10000


def memory(quick, logdir):
    versions = faucet.ensure_venv()
    counts = (1000, 10000) if quick else (1000, 10000, 100000)
    results = []
    for name in (
        'l2_learning (WARNING log)',
        'simple_switch_13 (WARNING log)',
        'faucet (WARNING log)',
    ):
        with controller_for(name, logdir, 4) as ctl:
            r = ofemu.measure_memory_sync(
                '127.0.0.1',
                ctl.ofp_port,
                ctl.pid,
                counts=[
                    n for n in counts if name not in faucet.CONTROLLERS or n <= FAUCET_MEMORY_MACS
                ],
                n_switches=4,
                rate=5000,
                **emulator_options(ctl),
            )
        entry = {**r.to_dict(), 'controller': name}
        if name in faucet.CONTROLLERS:
            entry['versions'] = versions
        results.append(entry)
        for p in entry['points']:
            print(
                'memory %-32s %6d MACs: RSS +%d KiB (%.0f B/MAC), %d flow-mods'
                % (
                    name,
                    p['macs'],
                    p['delta_kib'],
                    p['delta_kib'] * 1024 / p['macs'],
                    p['learn']['flow_mods'],
                )
            )
    return results


def dataplane(quick, logdir):
    """Two hosts three switches apart (linear 3: h1 on s1, h3 on s3)."""
    from tests.harness.preflight import MININET_LOCK, missing_for_mininet

    missing = missing_for_mininet()
    if missing:
        raise SystemExit('dataplane benchmark needs: ' + '; '.join(missing))
    faucet.ensure_venv()  # built before the lock is taken
    # The test suite's lock: their networks and ours use the same switch names.
    with open(MININET_LOCK, 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _dataplane_runs(quick, logdir)


DATAPLANE_SETUPS = ('l2_learning', 'FAUCET', 'OVS standalone (NORMAL)')


def dataplane_controller(name, topo, logdir):
    """The started controller of a data-plane set-up (None for OVS standalone): FAUCET
    with a faucet.yaml naming ``topo``'s switches and ports."""
    if name == 'l2_learning':
        return controller('l2_learning (WARNING log)', logdir).start()
    if name == 'FAUCET':
        config = faucet.switches_yaml(faucet.topology_ports(topo))
        log = os.path.join(logdir, 'faucet-dataplane.log')
        return faucet.FaucetController(config, log, 'WARNING').start(emulated=False)
    return None


def wait_forwarding(net, ctl):
    """Wait until ``ctl`` has programmed every switch of ``net``; raise naming what is
    missing. l2_learning: floods reach every host; FAUCET: each switch holds flow
    entries of FAUCET's cookie (its cold start)."""
    from tests.harness import flows, l2
    from tests.harness.network import wait_connected, wait_until

    unconnected = wait_connected(net)
    if unconnected:
        raise RuntimeError('%s: switches not connected: %s' % (ctl.name, unconnected))
    if not isinstance(ctl, faucet.FaucetController):
        problems = l2.wait_ready(net)
        if problems:
            raise RuntimeError('l2_learning not ready: %s' % problems)
        return

    def unprogrammed():
        return [
            s.name
            for s in net.switches
            if not any(e.cookie == faucet.COOKIE for e in flows.dump_flows(s.name))
        ]

    if not wait_until(lambda: not unprogrammed(), 30.0):
        raise RuntimeError(
            'FAUCET programmed no flows on %s:\n%s' % (unprogrammed(), ctl.log_tail())
        )


def _dataplane_runs(quick, logdir):
    from tests.harness import flows
    from tests.harness.traffic import iperf3_run, ping_stream
    from topologies.common import build_network
    from topologies.linear import LinearTopo

    seconds, rounds = (2, 1) if quick else (10, 3)
    results = {name: [] for name in DATAPLANE_SETUPS}
    for _ in range(rounds):
        for name in results:
            topo = LinearTopo(n=3)
            ctl = dataplane_controller(name, topo, logdir)
            net = None
            try:
                net = build_network(topo, controller_port=ctl.ofp_port if ctl else 1)
                if ctl:
                    wait_forwarding(net, ctl)
                else:
                    for switch in net.switches:  # no controller at all: plain NORMAL
                        switch.cmd(
                            'ovs-vsctl del-controller %s -- set bridge %s '
                            'fail-mode=standalone' % (switch, switch)
                        )
                h1, h3 = net.get('h1', 'h3')
                warm = ping_stream(h1, h3, count=5, interval=0.2)
                if not warm.received:
                    raise RuntimeError('%s: h1 -> h3 not one ping answered' % name)
                ping = ping_stream(h1, h3, count=200, interval=0.01)
                tcp = iperf3_run(h1, h3, seconds=seconds)
                # what the controller left in the tables: it, not OVS alone, forwarded
                entries = {s.name: len(flows.dump_flows(s.name)) for s in net.switches}
                results[name].append(
                    {
                        'mbps': tcp.mbps,
                        'retransmits': tcp.retransmits,
                        'rtt_ms': vars(ping.latency),
                        'ping_loss': ping.loss_percent,
                        'warmup_received': warm.received,
                        'flow_entries': entries,
                    }
                )
                print(
                    'dataplane %-28s %7.0f Mbit/s  rtt avg %.3f ms  flow entries %s'
                    % (name, tcp.mbps, ping.latency.avg_ms, entries)
                )
            finally:
                if net is not None:
                    net.stop()
                if ctl:
                    ctl.stop()
    return {'versions': faucet.ensure_venv(), 'setups': results}


def policy_text(ports, vlans, rules, moved_port=None):
    """A one-switch policy: ``ports`` access ports spread over ``vlans`` VLANs, a trunk
    carrying them all every 50 ports, and ``rules`` ACL rules spread over ten ports."""
    lines = ['vlans:'] + ['  v%d: {vid: %d}' % (v, 100 + v) for v in range(vlans)]
    lines += ['acls:']
    per_acl = max(1, rules // 10)
    for a in range(min(10, rules)):
        lines.append('  acl%d:' % a)
        for r in range(per_acl):
            lines.append(
                '    - rule: {dl_type: 0x800, ip_proto: 6, tcp_dst: %d, '
                'actions: {allow: 0}}' % (1 + r)
            )
        lines.append('    - rule: {actions: {allow: 1}}')
    lines += ['dps:', '  sw:', '    dp_id: 1', '    interfaces:']
    all_vlans = ', '.join('v%d' % v for v in range(vlans))
    for port in range(1, ports + 1):
        if port % 50 == 0:
            lines.append('      %d: {tagged_vlans: [%s]}' % (port, all_vlans))
            continue
        vlan = (port + (1 if port == moved_port else 0)) % vlans
        acl = ', acls_in: [acl%d]' % (port % 10) if port <= min(10, rules) else ''
        lines.append('      %d: {native_vlan: v%d%s}' % (port, vlan, acl))
    return '\n'.join(lines) + '\n'


def policy(quick, logdir):
    """Compile time and flow entries of growing policies, and the size of a reload's
    diff for a one-port change against reprogramming the whole switch; FAUCET's
    figures for the same two policies beside each (bench/faucet.py policy)."""
    from controller.flowspec import diff
    from controller.vswitch import load_policy_text
    from controller.vswitch.pipeline import compile_datapath

    versions = faucet.ensure_venv()
    sizes = (
        [(10, 10, 10), (100, 50, 500)]
        if quick
        else [(10, 10, 10), (100, 50, 500), (500, 200, 2000), (1000, 500, 5000)]
    )
    results = []
    for ports, vlans, rules in sizes:
        text = policy_text(ports, vlans, rules)
        started = time.perf_counter()
        model = load_policy_text(text, 'generated.yaml')
        loaded = time.perf_counter()
        compiled = compile_datapath(model, model.dps['sw'])
        done = time.perf_counter()
        moved_text = policy_text(ports, vlans, rules, moved_port=2)
        moved = load_policy_text(moved_text, 'moved.yaml')
        change = diff(compiled, compile_datapath(moved, moved.dps['sw']))
        reloaded = time.perf_counter()
        entry = {
            'ports': ports,
            'vlans': vlans,
            'acl_rules': rules,
            'load_validate_ms': round((loaded - started) * 1000, 1),
            'compile_ms': round((done - loaded) * 1000, 1),
            'flow_entries': len(compiled),
            'one_port_change_diff': len(change),
            'full_reprogram': len(compiled),
            'one_port_change_ms': round((reloaded - done) * 1000, 1),
            'faucet': {**faucet.policy(text, moved_text, logdir), 'versions': versions},
        }
        results.append(entry)
        print(
            'policy %4d ports %3d VLANs %4d rules: load %.0f ms, compile %.0f ms, '
            '%d entries; one-port change: %d rule changes'
            % (
                ports,
                vlans,
                rules,
                entry['load_validate_ms'],
                entry['compile_ms'],
                len(compiled),
                len(change),
            )
        )
        print('policy %4d ports, FAUCET %s: %s' % (ports, versions['faucet'], entry['faucet']))
    return results


def stable_network(quick, logdir):
    return network_bench.run(quick, logdir)


def stable_compute(quick, logdir):
    return stable.benchmark(quick)


def arbiter(quick, logdir):
    return arbiter_bench.run(quick, logdir)


def flood_memory(quick, logdir):
    from bench import flood_memory as flood_bench

    return flood_bench.run(quick, logdir)


BENCHMARKS = {
    'flowsetup': flowsetup,
    'dataplane': dataplane,
    'memory': memory,
    'policy': policy,
    'stable_network': stable_network,
    'stable-compute': stable_compute,
    'arbiter': arbiter,
    'flood_memory': flood_memory,
}
OPTIONAL = {'flood_memory'}  # run only when named in --only


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='short runs, for iteration')
    parser.add_argument(
        '--only',
        default=','.join(b for b in BENCHMARKS if b not in OPTIONAL),
        help='comma-separated subset of: %s' % ', '.join(BENCHMARKS),
    )
    args = parser.parse_args()
    # A quick pass is for iteration: it never overwrites the recorded figures.
    results_dir = QUICK_RESULTS_DIR if args.quick else RESULTS_DIR
    os.makedirs(results_dir, exist_ok=True)
    logdir = tempfile.mkdtemp(prefix='sdn-bench-')
    print('controller logs in %s' % logdir)
    for name in args.only.split(','):
        started_at = time.monotonic()
        # the code and the date the run started with (a commit made meanwhile is not it)
        ran_on = machine()
        try:
            results = BENCHMARKS[name](args.quick, logdir)
        except faucet.FaucetError as exc:  # no venv, or a config FAUCET refused
            raise SystemExit('%s: FAUCET: %s' % (name, exc)) from None
        data = {'machine': ran_on, 'quick': args.quick, 'results': results}
        data['seconds'] = round(time.monotonic() - started_at, 1)
        with open(os.path.join(results_dir, name + '.json'), 'w') as f:
            json.dump(data, f, indent=1)
    report_path = (
        os.path.join(results_dir, 'RESULTS.md')
        if args.quick
        else os.path.join(REPO, 'bench', 'RESULTS.md')
    )
    report.write(results_dir, report_path)
    print('wrote %s' % os.path.relpath(report_path, REPO))


if __name__ == '__main__':
    main()
