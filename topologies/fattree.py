"""Fat-tree topology: the standard k-ary fat-tree of data centres, full of loops.

(k/2)^2 core switches; k pods, each of k/2 aggregation and k/2 edge switches, every edge
switch linked to every aggregation switch of its pod; k/2 hosts per edge switch.
Aggregation switch a of every pod links to core switches (a-1)*k/2+1 .. a*k/2.
k=4: 4 core, 8 aggregation, 8 edge switches (20), 16 hosts, 16 host links and 32
switch links.

Numbering (k even, k >= 2; pods, and a, e below, count from 1):
  switches   core first, then aggregation pod by pod, then edge pod by pod:
             core c              = s(c)                      c = 1..(k/2)^2
             aggregation a, pod p = s(k^2/4 + (p-1)*k/2 + a)     a = 1..k/2
             edge e, pod p        = s(3*k^2/4 + (p-1)*k/2 + e)   e = 1..k/2
             k=4: core s1..s4; aggregation s5,s6 (pod 1) .. s11,s12 (pod 4);
             edge s13,s14 (pod 1) .. s19,s20 (pod 4); si has dpid i
  hosts      k/2 per edge switch, edge switch by edge switch: edge switch number E
             (1..k^2/2 in the order above) carries h((E-1)*k/2+1) .. h(E*k/2);
             k=4: h1,h2 on s13, h3,h4 on s14, ..., h15,h16 on s20;
             hj has MAC 00:00:00:00:HH:LL and IP 10.0.HH.LL/16 (HH, LL: bytes of j)
  ports      edge e:         ports 1..k/2 to its hosts, in host order;
                             port k/2+a up to aggregation switch a of its pod
             aggregation a:  port e (1..k/2) down to edge switch e of its pod;
                             port k/2+j (j = 1..k/2) up to core switch (a-1)*k/2+j
             core c:         port p goes to pod p (its aggregation switch
                             (c-1)//(k/2)+1)
  example    k=4: h1 on s13:1; s13:3 <-> s5:1, s13:4 <-> s6:1, s14:3 <-> s5:2;
             s5:3 <-> s1:1, s5:4 <-> s2:1, s6:3 <-> s3:1, s7:3 <-> s1:2, s12:4 <-> s4:4

Run it as a script (root; a controller on --controller-ip/--controller-port):
    sudo python3 topologies/fattree.py --k 4                 # Mininet CLI
    sudo python3 topologies/fattree.py --k 4 --test pingall  # test, then exit
or with mn (the argument is k):
    sudo mn --custom topologies/fattree.py --topo fattree,4 --switch ovs13u \\
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


class FatTreeTopo(NumberedTopo):
    """The k-ary fat-tree, k even and >= 2 (see the module doc)."""

    def build(self, k=4):
        if k < 2 or k % 2:
            raise ValueError('fattree: k must be even and >= 2, got %r' % (k,))
        half = k // 2
        # Adding switches in this order is what numbers them core, aggregation, edge.
        core = [self.add_switch() for _ in range(half * half)]
        aggregation = [[self.add_switch() for _ in range(half)] for _pod in range(k)]
        edge = [[self.add_switch() for _ in range(half)] for _pod in range(k)]
        for pod in range(k):
            for e, edge_switch in enumerate(edge[pod]):
                self.add_hosts(edge_switch, half)
                for a, aggregation_switch in enumerate(aggregation[pod]):
                    self.addLink(edge_switch, aggregation_switch, port1=half + 1 + a, port2=1 + e)
            for a, aggregation_switch in enumerate(aggregation[pod]):
                for j in range(half):
                    self.addLink(
                        aggregation_switch, core[a * half + j], port1=half + 1 + j, port2=1 + pod
                    )


topos = {'fattree': FatTreeTopo}


def add_topo_args(parser):
    parser.add_argument(
        '--k',
        type=int,
        default=4,
        help='switch radix, even and >= 2: k^3/4 hosts, 5k^2/4 switches (default %(default)s)',
    )


if __name__ == '__main__':
    main(FatTreeTopo, __doc__, add_topo_args)
