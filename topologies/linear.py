"""Linear topology: switches s1..sn in a chain, no loop.

    h1          h2          h3          h4
    |           |           |           |
    s1 -------- s2 -------- s3 -------- s4        (n=4, hosts_per_switch=1)

Numbering (h = hosts_per_switch):
  switches   s1..sn along the chain, si has dpid i
  hosts      h1..h(n*h), switch by switch: si carries h((i-1)*h+1) .. h(i*h);
             hj has MAC 00:00:00:00:HH:LL and IP 10.0.HH.LL/16 (HH, LL: bytes of j)
  ports      on si: ports 1..h go to its hosts, in host order;
             port h+1 goes to the next switch s(i+1) (not on sn),
             port h+2 goes to the previous switch s(i-1) (not on s1)
  example    n=4, h=1: h1 on s1:1, ..., h4 on s4:1; s1:2 <-> s2:3, s2:2 <-> s3:3,
             s3:2 <-> s4:3
This is topologies/ring.py without the closing link sn:h+1 <-> s1:h+2.

Run it as a script (root; a controller on --controller-ip/--controller-port):
    sudo python3 topologies/linear.py --n 4 --hosts-per-switch 1     # Mininet CLI
    sudo python3 topologies/linear.py --n 4 --test pingall           # test, then exit
or with mn (replaces mn's own 'linear' topology; arguments are n,hosts_per_switch):
    sudo mn --custom topologies/linear.py --topo linear,4,1 --switch ovs13u \\
        --controller remote,port=6653
"""

import inspect
import os
import sys

# `mn --custom` exec()s this file without __file__ (and not as __main__); the code
# object still knows the file name, from which we find the repository root.
_REPO_ROOT = os.path.dirname(
    os.path.dirname(os.path.abspath(inspect.currentframe().f_code.co_filename))
)
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from topologies.common import NumberedTopo, main, switches  # noqa: E402,F401


class LinearTopo(NumberedTopo):
    """n switches in a chain with hosts_per_switch hosts each (see the module doc)."""

    def build(self, n=4, hosts_per_switch=1):
        if n < 1:
            raise ValueError('linear: n must be >= 1 switch, got %r' % (n,))
        if hosts_per_switch < 1:
            raise ValueError('hosts_per_switch must be >= 1, got %r' % (hosts_per_switch,))
        self.hosts_per_switch = hosts_per_switch
        chain = [self.add_switch() for _ in range(n)]
        for switch in chain:
            self.add_hosts(switch, hosts_per_switch)
        for switch, next_switch in zip(chain, chain[1:], strict=False):
            self.add_chain_link(switch, next_switch)

    def add_chain_link(self, switch, next_switch):
        """Link switch (its port h+1) to the switch after it (that one's port h+2)."""
        self.addLink(
            switch, next_switch, port1=self.hosts_per_switch + 1, port2=self.hosts_per_switch + 2
        )


topos = {'linear': LinearTopo}


def add_topo_args(parser):
    parser.add_argument('--n', type=int, default=4, help='number of switches (default %(default)s)')
    parser.add_argument(
        '--hosts-per-switch', type=int, default=1, help='hosts on each switch (default %(default)s)'
    )


if __name__ == '__main__':
    main(LinearTopo, __doc__, add_topo_args)
