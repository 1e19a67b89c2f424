"""Ring topology: switches s1..sn in a cycle. The loop is the point: a controller that
floods naively storms here.

    h1          h2          h3          h4
    |           |           |           |
    s1 -------- s2 -------- s3 -------- s4        (n=4, hosts_per_switch=1)
    |                                   |
    +-----------------------------------+

Numbering (h = hosts_per_switch; n >= 3, since two switches would be joined by two
parallel links and one by a link to itself):
  switches   s1..sn around the ring, si has dpid i
  hosts      h1..h(n*h), switch by switch: si carries h((i-1)*h+1) .. h(i*h);
             hj has MAC 00:00:00:00:HH:LL and IP 10.0.HH.LL/16 (HH, LL: bytes of j)
  ports      on si: ports 1..h go to its hosts, in host order;
             port h+1 goes to the next switch s(i+1), on sn to s1;
             port h+2 goes to the previous switch s(i-1), on s1 to sn
  example    n=4, h=1: h1 on s1:1, ..., h4 on s4:1; s1:2 <-> s2:3, s2:2 <-> s3:3,
             s3:2 <-> s4:3, s4:2 <-> s1:3
This is topologies/linear.py plus the closing link sn:h+1 <-> s1:h+2.

Run it as a script (root; a controller on --controller-ip/--controller-port):
    sudo python3 topologies/ring.py --n 4 --hosts-per-switch 1     # Mininet CLI
    sudo python3 topologies/ring.py --n 5 --test pingall           # test, then exit
or with mn (arguments are n,hosts_per_switch):
    sudo mn --custom topologies/ring.py --topo ring,4,1 --switch ovs13u \\
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

from topologies.common import main, switches  # noqa: E402,F401

# The same options as linear: --n, --hosts-per-switch.
from topologies.linear import LinearTopo, add_topo_args  # noqa: E402
from topologies.numbering import switch_name  # noqa: E402


class RingTopo(LinearTopo):
    """n >= 3 switches in a cycle with hosts_per_switch hosts each (see the module doc)."""

    def build(self, n=4, hosts_per_switch=1):
        if n < 3:
            raise ValueError(
                'ring: n must be >= 3 switches (n=2 would be two parallel '
                'links, n=1 a self-loop), got %r' % (n,)
            )
        super().build(n, hosts_per_switch)
        self.add_chain_link(switch_name(n), switch_name(1))


topos = {'ring': RingTopo}


if __name__ == '__main__':
    main(RingTopo, __doc__, add_topo_args)
