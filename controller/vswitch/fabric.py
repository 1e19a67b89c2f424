"""The fabric of a policy's stack links (FAUCET's stacking): which switches are cabled
to which, the tree broadcasts follow, and the stable routes unicast follows between
switches. Pure: computed from the policy (and the stack ports seen down), no OpenFlow.

- Links come from the policy (both ends declare them, loader.py checks that they
  agree); a link is in the fabric while both of its ports are enabled and up.
- Flooding follows one spanning tree of the live links, rooted at the stack root
  (the lowest ``stack: {priority: N}``, then the lowest dp_id, as FAUCET elects it):
  ``controller/topology.py``'s breadth-first tree, fed a graph whose nodes sort by
  (priority, dp_id). Every VLAN floods along the same tree, so no broadcast loops.
- Unicast between switches follows stable routing's stable forwarding table
  (``controller/stable/sft.py``): ``compute_sft`` towards every switch of the fabric,
  checked by ``check_sft`` (no loop, no black hole, loop-free backups) before use. A
  route with a backup becomes a fast-failover group (named as stable routing names
  them, ``failover_group_id``): the switch moves to the backup port by itself when the
  primary port goes down.

docs/fabric.md has the design and what is guaranteed.
"""

from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import networkx as nx

from controller.config.frozen import FrozenDict
from controller.stable.pipeline import failover_group_id
from controller.stable.sft import Route, Snapshot, StableForwardingTable, check_sft, compute_sft
from controller.topology import spanning_tree_ports
from controller.vswitch.model import Policy

OFPP_LOCAL = 0xFFFFFFFE  # each switch's own port: where the SFT's per-switch destination sits
NOT_A_CANDIDATE = 2**31  # sorts after every stack priority (which are < 2**31)


class FabricError(ValueError):
    """The stable routes of the fabric failed their check (never expected: compute_sft
    and check_sft are independent, so this is the second opinion speaking)."""


def destination(dp_id: int) -> str:
    """The SFT's name of the destination 'switch ``dp_id`` itself'. Routes are computed
    once per fabric towards every switch; hosts are then mapped to their switch."""
    return 'switch-%016x' % dp_id


@dataclass(frozen=True)
class Fabric:
    """The stack links of a policy, as forwarding uses them."""

    switches: frozenset  # dp_ids of the switches with stack ports
    links: frozenset  # (a, port_at_a, b, port_at_b), a < b: the live stack links
    stack_ports: FrozenDict  # dp_id -> frozenset of its (enabled) stack ports
    vids: tuple[int, ...]  # the VLANs stack ports carry: every VLAN of a stacked switch
    root: int | None  # dp_id of the stack root
    tree: FrozenDict  # dp_id -> frozenset of its stack ports on the flood tree
    sft: StableForwardingTable

    @classmethod
    def of(
        cls,
        policy: Policy,
        down: AbstractSet[tuple[int, int]] = frozenset(),
        root: int | None = None,
    ) -> 'Fabric':
        """The fabric of ``policy`` with the stack ports ``down`` ((dp_id, port)) out,
        rooted at ``root`` (a dp_id FAUCET's election chose, stack_root.py) if that is a
        root candidate, else at the lowest (priority, dp_id)."""
        ids = {name: dp.dp_id for name, dp in policy.dps.items()}
        stack_ports, links, vids = {}, set(), set()
        for dp in policy.dps.values():
            ports = {
                port
                for port, intf in dp.interfaces.items()
                if intf.stack is not None and intf.enabled
            }
            if not ports:
                continue
            stack_ports[dp.dp_id] = frozenset(ports)
            vids |= {v.vid for intf in dp.interfaces.values() if intf.enabled for v in intf.vlans}
            for port in ports:
                peer_name, peer_port = dp.interfaces[port].stack
                peer = ids[peer_name]
                peer_intf = policy.dps[peer_name].interfaces[peer_port]
                if peer_intf.enabled and not {(dp.dp_id, port), (peer, peer_port)} & down:
                    a, b = sorted(((dp.dp_id, port), (peer, peer_port)))
                    links.add(a + b)
        switches = frozenset(stack_ports)
        order = {
            dp.dp_id: (
                0
                if dp.dp_id == root and dp.stack_priority
                else dp.stack_priority or NOT_A_CANDIDATE,
                dp.dp_id,
            )
            for dp in policy.dps.values()
            if dp.dp_id in switches
        }
        if root is not None and order.get(root, (NOT_A_CANDIDATE,))[0] != 0:
            return cls.of(policy, down)  # not a candidate (any more): the static root
        root = min(switches, key=order.__getitem__) if switches else None
        snapshot = cls._snapshot(switches, links)
        sft = compute_sft(snapshot)
        violations = check_sft(sft, snapshot)
        if violations:
            raise FabricError('; '.join(str(v) for v in violations))
        return cls(
            switches,
            frozenset(links),
            FrozenDict(stack_ports),
            tuple(sorted(vids)),
            root,
            FrozenDict({dpid: frozenset(p) for dpid, p in _tree(links, order).items()}),
            sft,
        )

    @staticmethod
    def _snapshot(switches: frozenset, links: set) -> Snapshot:
        return Snapshot.make(
            switches,
            links,
            {destination(dpid): (dpid, OFPP_LOCAL) for dpid in switches},
            {dpid: (OFPP_LOCAL,) for dpid in switches},
        )

    def snapshot(self) -> Snapshot:
        """The Snapshot the stable routes were computed from (for check_sft)."""
        return self._snapshot(self.switches, set(self.links))

    def is_stack_port(self, dp_id: int, port: int) -> bool:
        return port in self.stack_ports.get(dp_id, ())

    def route(self, dp_id: int, host_dp_id: int) -> Route | None:
        """How switch ``dp_id`` sends towards switch ``host_dp_id``; None if it has
        no route (not in the fabric, cut off, or the switch itself)."""
        return self.sft.routes.get(host_dp_id, {}).get(dp_id)

    def groups(self, dp_id: int) -> dict[int, tuple[int, int]]:
        """{group id: (primary, backup)} of the fast-failover groups switch ``dp_id``
        needs: one per distinct protected route."""
        return {
            failover_group_id(route.port, route.backup): (route.port, route.backup)
            for table in self.sft.routes.values()
            for dpid, route in table.items()
            if dpid == dp_id and route.backup is not None
        }


def route_action(route: Route) -> tuple[str, int]:
    """The OpenFlow action that sends along ``route``: its fast-failover group where it
    has a loop-free backup, else its port."""
    if route.backup is None:
        return ('output', route.port)
    return ('group', failover_group_id(route.port, route.backup))


def _tree(links: set, order: dict[int, tuple[int, int]]) -> dict[int, set[int]]:
    """{dp_id: stack ports on the flood tree}: topology.spanning_tree_ports, whose root
    is the lowest node of each component, on nodes that sort as (stack priority,
    dp_id): the root is the stack root, or the best candidate of a part cut off."""
    g = nx.Graph()
    g.add_nodes_from(order.values())
    for a, pa, b, pb in sorted(links):
        if not g.has_edge(order[a], order[b]):  # of parallel links, the lowest ports
            g.add_edge(order[a], order[b], ports={order[a]: pa, order[b]: pb})
    tree: dict[tuple[int, int], set[int]] = spanning_tree_ports(g)  # type: ignore[assignment]
    return {node[1]: ports for node, ports in tree.items()}
