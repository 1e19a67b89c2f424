"""Tree topology: a complete tree of switches of the given depth and fanout, hosts on the
lowest switches; no loop. Names and ports are those of Mininet's TreeTopo, dpids are not
(Mininet reads s10 as hex, dpid 0x10; here si has dpid i).

                 s1                          (depth=2, fanout=2)
             1 /    \\ 2
              /      \\
          3 s2        s3 3
          1/ \\2      1/ \\2
          h1  h2     h3  h4

Numbering (depth >= 1, fanout >= 1):
  switches   depth-first, a parent before its children, children left to right:
             depth=3, fanout=2 gives s1 (root), s2, s3, s4 (below s2), s5, s6, s7
             (below s5); si has dpid i
  hosts      h1..h(fanout**depth) from left to right along the lowest switches;
             hj has MAC 00:00:00:00:HH:LL and IP 10.0.HH.LL/16 (HH, LL: bytes of j)
  ports      on each switch, port p (1..fanout) goes down to its p-th child (a switch,
             or a host on the lowest switches); port fanout+1 goes up to its parent
             (not on s1)
  example    depth=2, fanout=2: s2:3 <-> s1:1, s3:3 <-> s1:2; h1 on s2:1, h2 on s2:2,
             h3 on s3:1, h4 on s3:2

Run it as a script (root; a controller on --controller-ip/--controller-port):
    sudo python3 topologies/tree.py --depth 2 --fanout 2     # Mininet CLI
    sudo python3 topologies/tree.py --test pingall           # test, then exit
or with mn (replaces mn's own 'tree' topology; arguments are depth,fanout):
    sudo mn --custom topologies/tree.py --topo tree,2,2 --switch ovs13u \\
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


class TreeTopo(NumberedTopo):
    """A complete tree of switches, fanout children each, depth levels (module doc)."""

    def build(self, depth=2, fanout=2):
        if depth < 1:
            raise ValueError('tree: depth must be >= 1, got %r' % (depth,))
        if fanout < 1:
            raise ValueError('tree: fanout must be >= 1, got %r' % (fanout,))
        self._add_subtree(depth, fanout)

    def _add_subtree(self, depth, fanout):
        """Add a switch with `depth` levels of switches under it (the last one with
        hosts); returns its name. Recursion gives the depth-first numbering."""
        switch = self.add_switch()
        if depth == 1:
            self.add_hosts(switch, fanout)
            return switch
        for port in range(1, fanout + 1):
            child = self._add_subtree(depth - 1, fanout)
            self.addLink(child, switch, port1=fanout + 1, port2=port)
        return switch


topos = {'tree': TreeTopo}


def add_topo_args(parser):
    parser.add_argument(
        '--depth', type=int, default=2, help='levels of switches (default %(default)s)'
    )
    parser.add_argument(
        '--fanout',
        type=int,
        default=2,
        help='children of each switch; hosts on the lowest level (default %(default)s)',
    )


if __name__ == '__main__':
    main(TreeTopo, __doc__, add_topo_args)
