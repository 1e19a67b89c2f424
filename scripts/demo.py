"""The demo: real Mininet networks, the suite's apps under ryu-manager, real traffic,
and a printed summary.

1. apps/l2_learning.py on a k=4 fat-tree by default (20 Open vSwitch switches, 16 hosts,
   many loops): reachability of every host pair, loss over a timed ping stream, TCP
   throughput with iperf3 between hosts in different pods, flow entries and packet-ins
   per switch.
2. apps/vswitch_policy.py with examples/policies/three_tenants.yaml on its three-switch
   network: which tenant reaches which (every access host also holds addresses in the
   other tenants' subnets, so only the VLANs keep them apart), and the rules per switch.
3. apps/stable_routing.py on the same topology as part 1: reachability, the epoch
   installed, then a link on the first host's path loses carrier under a 1000 pps UDP
   stream: the traffic lost while the switch fails over, and the next epoch.
4. apps/arbiter.py in front of Ryu's own ryu.app.simple_switch_13 and
   ryu.app.rest_firewall (examples/arbiter/firewall_then_switch.conf) on one switch with
   three hosts, the firewall allowing ICMP between h1 and h2 only: who reaches whom, each
   app's rules and cookie range, and where each app's table-miss went.
5. apps/vswitch_policy.py with examples/policies/fabric.yaml: three tenants over a ring
   of four switches joined by FAUCET stack links (docs/fabric.md): who reaches whom on
   the looped fabric, then a stack link loses carrier under a 1000 pps UDP stream: the
   traffic lost while the switch's fast-failover group moves it, and the tenants after.

    sudo bash scripts/setup.sh demo                 # installs everything first
    sudo .venv/bin/python scripts/demo.py --topo ring,6 --only l2
"""

import argparse
import fcntl
import importlib
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from controller.vswitch import load_policy  # noqa: E402
from tests.harness import flows, l2  # noqa: E402
from tests.harness.controller import RyuController  # noqa: E402
from tests.harness.network import wait_connected, wait_until  # noqa: E402
from tests.harness.preflight import MININET_LOCK, missing_for_mininet  # noqa: E402
from tests.harness.tenants import configure_access_hosts, same_vlan_pairs  # noqa: E402
from tests.harness.traffic import iperf3_throughput, ping_stream, reachability_matrix  # noqa: E402
from topologies.linear import LinearTopo  # noqa: E402

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'examples')
POLICY = os.path.join(EXAMPLES, 'policies', 'three_tenants.yaml')
FABRIC_POLICY = os.path.join(EXAMPLES, 'policies', 'fabric.yaml')
ARBITER_CONFIG = os.path.join(EXAMPLES, 'arbiter', 'firewall_then_switch.conf')
FIREWALL_ALLOWS = [('h1', 'h2'), ('h2', 'h1')]


def parse_topo(spec):
    """'fattree,4' -> the Topo that `mn --custom ... --topo fattree,4` builds."""
    name, *args = spec.split(',')
    module = importlib.import_module('topologies.' + name)
    return module.topos[name](*(int(a) for a in args))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--topo',
        default='fattree,4',
        help='topology as for mn --topo: fattree,4 | ring,6 | linear,4 | tree,2,2',
    )
    parser.add_argument(
        '--only',
        choices=['l2', 'vswitch', 'stable', 'arbiter', 'fabric'],
        help='run one part only',
    )
    args = parser.parse_args()

    missing = missing_for_mininet()
    if missing:
        sys.exit('demo cannot run here; missing:\n  - ' + '\n  - '.join(missing))

    with open(MININET_LOCK, 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one Mininet network at a time on a machine
        if args.only in (None, 'l2'):
            run_part(['apps/l2_learning.py'], None, parse_topo(args.topo), l2_report)
        if args.only in (None, 'vswitch'):
            run_part(
                ['apps/vswitch_policy.py'],
                {'vswitch_policy': {'policy_file': POLICY}},
                LinearTopo(n=3, hosts_per_switch=4),
                vswitch_report,
            )
        if args.only in (None, 'stable'):
            run_part(['apps/stable_routing.py'], None, parse_topo(args.topo), stable_report)
        if args.only in (None, 'arbiter'):
            run_part(
                ['apps/arbiter.py', 'ryu.app.simple_switch_13', 'ryu.app.rest_firewall'],
                None,
                LinearTopo(n=1, hosts_per_switch=3),
                arbiter_report,
                extra_args=['--config-file', ARBITER_CONFIG],
            )
        if args.only in (None, 'fabric'):
            from topologies.ring import RingTopo

            run_part(
                ['apps/vswitch_policy.py'],
                {'vswitch_policy': {'policy_file': FABRIC_POLICY}},
                RingTopo(n=4, hosts_per_switch=3),
                fabric_report,
            )


def run_part(apps, config, topo, report, extra_args=()):
    from topologies.common import build_network, describe

    log_path = os.path.join(tempfile.mkdtemp(prefix='sdn-demo-'), 'ryu-manager.log')
    print(
        '\n== starting ryu-manager %s %s(log: %s)'
        % (' '.join(apps), ''.join(a + ' ' for a in extra_args), log_path)
    )
    with RyuController(apps, log_path, config, extra_args) as ctl:
        net = build_network(topo, controller_port=ctl.ofp_port)
        try:
            print(describe(net))
            unconnected = wait_connected(net)
            if unconnected:
                sys.exit('switches not connected to the controller: %s' % unconnected)
            report(net, ctl)
        finally:
            net.stop()


def print_flow_counts(net):
    print('\n== flow entries and packet-ins per switch')
    total_flows = total_packet_ins = 0
    for switch in net.switches:
        table = flows.dump_flows(switch.name)
        packet_ins = flows.packet_in_count(table)
        total_flows += len(table)
        total_packet_ins += packet_ins
        print('%-5s %4d flow entries %6d packet-ins' % (switch.name, len(table), packet_ins))
    print('total %4d flow entries %6d packet-ins' % (total_flows, total_packet_ins))


def vswitch_report(net, ctl):
    if not wait_until(lambda: len(ctl.log_lines('connected:')) == len(net.switches), 20):
        sys.exit('the policy was not installed:\n%s' % ctl.log_tail())
    endpoints = configure_access_hosts(net, load_policy(POLICY))
    print('\n== tenants (host(VID)): who reaches whom; expected: same VID only')
    reach = reachability_matrix(endpoints, timeout=0.5)
    print(reach.table())
    wrong = reach.expect(same_vlan_pairs(endpoints))
    print_flow_counts(net)
    print(
        '\nresult: %s'
        % (
            'OK, tenants reach their own VLAN and nothing else'
            if not wrong
            else 'WRONG for %s' % wrong
        )
    )


def fabric_report(net, ctl):
    from tests.harness.traffic import udp_stream

    if not wait_until(lambda: len(ctl.log_lines('connected:')) == len(net.switches), 20):
        sys.exit('the policy was not installed:\n%s' % ctl.log_tail())
    endpoints = configure_access_hosts(net, load_policy(FABRIC_POLICY))
    print('\n== %s' % ctl.log_lines('stack fabric (loaded)')[-1].split(': ', 1)[-1])
    print('== tenants over the ring (host(VID)): who reaches whom; expected: same VID only')
    reach = reachability_matrix(endpoints, timeout=0.5)
    print(reach.table())
    wrong = reach.expect(same_vlan_pairs(endpoints))
    # h1 (s1) -> h7 (s3): the route leaves s1 for s2, its fast-failover backup is s4
    h1, h7 = (next(e for e in endpoints if e.host.name == name) for name in ('h1', 'h7'))
    print('\n== stack link s1-s2 loses carrier under a 1000 pps UDP stream h1 -> h7')
    with ThreadPoolExecutor(1) as pool:
        stream = pool.submit(udp_stream, h1.host, h7.host, 1000, 5, 5001, h7.ip)
        time.sleep(2)
        net.configLinkStatus('s1', 's2', 'down')
        result = stream.result()
    print(result.summary())
    wait_until(lambda: ctl.log_lines('3 live stack links'), 10)
    after = reachability_matrix(endpoints, timeout=0.5)
    still_wrong = after.expect(same_vlan_pairs(endpoints))
    print_flow_counts(net)
    print(
        '\nresult: %s'
        % (
            'OK, tenants reach their own VLAN and nothing else over the looped fabric; the '
            'stack link cut lost %.0f ms of traffic; still isolated after' % result.longest_gap_ms
            if not wrong and not still_wrong
            else 'WRONG for %s; after the cut %s' % (wrong, still_wrong)
        )
    )


def l2_report(net, ctl):
    problems = l2.wait_ready(net)
    if problems:
        sys.exit('flooding tree not ready: %s' % problems)
    hosts = net.hosts
    first, last = hosts[0], hosts[-1]
    print('\n== reachability, every ordered host pair')
    reach = reachability_matrix(hosts)
    print(reach.table())
    print(
        'pairs: %d, unreachable: %d, loss %.1f%%'
        % (len(reach.results), len(reach.unreachable()), reach.loss_percent)
    )

    print('\n== timed ping stream %s -> %s (500 pings, 10 ms apart)' % (first, last))
    print(ping_stream(first, last, count=500, interval=0.01).summary())

    print('\n== TCP throughput %s -> %s (iperf3, 5 s)' % (first, last))
    print('%.0f Mbit/s' % iperf3_throughput(first, last, seconds=5))

    print_flow_counts(net)
    print(
        '\nresult: %s'
        % (
            'OK, every host reaches every other'
            if reach.loss_percent == 0
            else 'LOSS, see the matrix above'
        )
    )


def stable_report(net, ctl):
    from tests.harness import stable
    from tests.harness.network import host_ports
    from tests.harness.traffic import udp_stream

    reach = reachability_matrix(net.hosts)  # floods at first; teaches every host
    status = stable.wait_for_epoch(ctl, net)
    if not status['epoch']:
        sys.exit('no epoch installed; see %s' % ctl.log_path)
    print(
        '\n== epoch %d in force (version VID %d), %d hosts; first pingall: loss %.1f%%'
        % (status['epoch'], status['version_vid'], status['hosts'], reach.loss_percent)
    )
    first, last = net.hosts[0], net.hosts[-1]
    start = host_ports(net)[first.name][0]
    path = stable.flow_path(net, start, last, status['epoch'])
    print('path %s -> %s from the flow tables: %s' % (first, last, ' '.join(path)))
    if len(path) < 2:
        return
    cut = (path[0], path[1])
    print(
        '\n== link %s-%s loses carrier under a 1000 pps UDP stream %s -> %s'
        % (cut[0], cut[1], first, last)
    )
    with ThreadPoolExecutor(1) as pool:
        stream = pool.submit(udp_stream, first, last, 1000, 5)
        time.sleep(2)
        net.configLinkStatus(cut[0], cut[1], 'down')
        result = stream.result()
    print(result.summary())
    after = wait_until(
        lambda: (lambda s: s['epoch'] > status['epoch'] and not s['pending_triggers'] and s)(
            ctl.rest('/stable/epoch')
        ),
        20,
    )
    if after:
        record = ctl.rest('/stable/history?limit=1')[-1]
        print(
            'epoch %d: %d triggers; compute %.1f ms, check %.1f ms, install %.0f ms; '
            'new path %s'
            % (
                record['number'],
                record['trigger_count'],
                record['compute_ms'],
                record['check_ms'],
                record['install_ms'],
                ' '.join(stable.flow_path(net, start, last, after['epoch'])),
            )
        )
    final = reachability_matrix(net.hosts)
    print(
        '\nresult: %s'
        % (
            'OK, failover lost %.0f ms of traffic; every host reaches every '
            'other after the new epoch' % result.longest_gap_ms
            if final.loss_percent == 0 and after
            else 'PROBLEM: %s; see %s' % (final.table(), ctl.log_path)
        )
    )


def arbiter_report(net, ctl):
    from tests.harness.firewall import allow_icmp

    allow_icmp(ctl, net, FIREWALL_ALLOWS)
    print('\n== rest_firewall allows ICMP h1 <-> h2 only; who reaches whom')
    reach = reachability_matrix(net.hosts, count=2, timeout=1.0)
    print(reach.table())
    wrong = reach.expect(FIREWALL_ALLOWS)
    apps = ctl.rest('/arbiter/apps')
    owner = {
        int(info['cookie_range'], 16): app for app, info in apps.items() if info['cookie_range']
    }
    print('\n== each app in its cookie range (GET /arbiter/apps)')
    for app, info in sorted(apps.items()):
        print(
            '%-17s cookie range %-7s rules %-10s decisions %s'
            % (app, info['cookie_range'], info['rules'], info['decisions'])
        )
    print(
        '\n== table-miss rules on s1: the firewall filters in table 0, the learning '
        'switch forwards in table 1'
    )
    misses = {}
    for entry in flows.dump_flows('s1'):
        if entry.priority == 0 and not entry.match:
            misses[entry.table] = owner.get(entry.cookie >> 48)
            print('table %d: %-17s actions=%s' % (entry.table, misses[entry.table], entry.actions))
    ok = not wrong and misses == {0: 'rest_firewall', 1: 'simple_switch_13'}
    print(
        '\nresult: %s'
        % (
            'OK, both apps keep their table-miss; h1 and h2 reach each '
            'other, h3 is blocked both ways'
            if ok
            else 'PROBLEM: %s %s; see %s' % (wrong, misses, ctl.log_path)
        )
    )


if __name__ == '__main__':
    main()
