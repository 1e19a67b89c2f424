"""The demo: a real Mininet network with loops, the suite's apps under ryu-manager, real
traffic, and a printed summary.

It builds a k=4 fat-tree (20 Open vSwitch switches, 16 hosts, many loops) by default,
starts ``ryu-manager apps/l2_learning.py``, waits for the flooding tree, then measures:
reachability of every host pair, loss over a timed ping stream, TCP throughput with
iperf3 between hosts in different pods, and the flow entries and packet-ins per switch.

    sudo bash scripts/setup.sh demo                 # installs everything first
    sudo .venv/bin/python scripts/demo.py --topo ring,6
"""

import argparse
import fcntl
import importlib
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.harness import flows, l2  # noqa: E402
from tests.harness.controller import RyuController  # noqa: E402
from tests.harness.network import wait_connected  # noqa: E402
from tests.harness.preflight import MININET_LOCK, missing_for_mininet  # noqa: E402
from tests.harness.traffic import (iperf3_throughput, ping_stream,  # noqa: E402
                                   reachability_matrix)


def parse_topo(spec):
    """'fattree,4' -> the Topo that `mn --custom ... --topo fattree,4` builds."""
    name, *args = spec.split(',')
    module = importlib.import_module('topologies.' + name)
    return module.topos[name](*(int(a) for a in args))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--topo', default='fattree,4',
                        help='topology as for mn --topo: fattree,4 | ring,6 | linear,4 | tree,2,2')
    parser.add_argument('--apps', nargs='+', default=['apps/l2_learning.py'])
    args = parser.parse_args()

    missing = missing_for_mininet()
    if missing:
        sys.exit('demo cannot run here; missing:\n  - ' + '\n  - '.join(missing))

    from topologies.common import build_network, describe

    log_path = os.path.join(tempfile.mkdtemp(prefix='sdn-demo-'), 'ryu-manager.log')
    print('== starting ryu-manager %s (log: %s)' % (' '.join(args.apps), log_path))
    with open(MININET_LOCK, 'w') as lock, RyuController(args.apps, log_path) as ctl:
        fcntl.flock(lock, fcntl.LOCK_EX)   # one Mininet network at a time on a machine
        net = build_network(parse_topo(args.topo), controller_port=ctl.ofp_port)
        try:
            print(describe(net))
            unconnected = wait_connected(net)
            if unconnected:
                sys.exit('switches not connected to the controller: %s' % unconnected)
            problems = l2.wait_ready(net)
            if problems:
                sys.exit('flooding tree not ready: %s' % problems)
            report(net)
        finally:
            net.stop()


def report(net):
    hosts = net.hosts
    first, last = hosts[0], hosts[-1]
    print('\n== reachability, every ordered host pair')
    reach = reachability_matrix(hosts)
    print(reach.table())
    print('pairs: %d, unreachable: %d, loss %.1f%%'
          % (len(reach.results), len(reach.unreachable()), reach.loss_percent))

    print('\n== timed ping stream %s -> %s (500 pings, 10 ms apart)' % (first, last))
    print(ping_stream(first, last, count=500, interval=0.01).summary())

    print('\n== TCP throughput %s -> %s (iperf3, 5 s)' % (first, last))
    print('%.0f Mbit/s' % iperf3_throughput(first, last, seconds=5))

    print('\n== flow entries and packet-ins per switch')
    total_flows = total_packet_ins = 0
    for switch in net.switches:
        table = flows.dump_flows(switch.name)
        packet_ins = flows.packet_in_count(table)
        total_flows += len(table)
        total_packet_ins += packet_ins
        print('%-5s %4d flow entries %6d packet-ins' % (switch.name, len(table), packet_ins))
    print('total %4d flow entries %6d packet-ins' % (total_flows, total_packet_ins))
    print('\nresult: %s' % ('OK, every host reaches every other'
                           if reach.loss_percent == 0 else 'LOSS, see the matrix above'))


if __name__ == '__main__':
    main()
