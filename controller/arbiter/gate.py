"""The invariant gate: before a rule is committed, walk the header space it touches across
the switches, VeriFlow-style, over the installed rules (the RuleIndex) with the change
applied, and refuse it if that breaks an invariant of the policy:

- no forwarding loop: traffic of the rule's region comes back to a switch, table and
  in_port it already passed, with the same headers;
- no black hole: traffic of the region that reached a host before the change now meets
  a switch with no rule for it (dropped by a table-miss nobody asked for); an explicit
  drop is a decision, not a black hole;
- declared isolation: two hosts that must never reach each other (policy
  ``invariants.isolation``): IPv4 traffic from one to the other's address that the
  change would deliver.

The topology is the policy's ``topology`` (links and hosts); links discovered by LLDP
may be added with ``add_link``. Without links and hosts the gate has nothing to walk
and lets every change pass.

The walk is per region, refined as it goes: at each table the highest-priority rule
that overlaps the region decides for the part it covers; where it covers only part, the
walk follows that part and goes on with the lower rules for the whole region (an
over-approximation of the rest, so a loop it reports may need traffic that the
higher rule takes elsewhere; ``MAX_BRANCHES`` bounds the work).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ryu.ofproto import ofproto_v1_3 as ofp

from controller.arbiter.index import RuleIndex
from controller.arbiter.match import TernaryMatch
from controller.arbiter.rules import Rule

if TYPE_CHECKING:
    from controller.arbiter.policy import ArbiterPolicy, Host

MAX_HOPS = 64  # switches and tables on one path
MAX_BRANCHES = 256  # paths explored per check
ETH_IPV4 = 0x0800

Port = tuple[int, int]  # (dpid, port)
# (dpid, table, region) -> the rules of that table that overlap the region
RulesAt = Callable[[int, int, TernaryMatch], list[Rule]]
# Where a walk has been: (dpid, table, in_port or None, region)
Hop = tuple[int, int, int | None, TernaryMatch]
# A part of the walk still to follow: (dpid, table, region, the hops that led there)
Branch = tuple[int, int, TernaryMatch, tuple[Hop, ...]]


@dataclass(frozen=True)
class Broken:
    """An invariant a change would break: ``clause`` names it, ``reason`` shows where."""

    clause: str
    reason: str


@dataclass(frozen=True)
class Outcome:
    """Where the traffic of one region ends: ``delivered`` to host ports (dpid, port),
    ``looped`` at a (dpid, table, in_port), ``black_holed`` at a (dpid, table),
    ``dropped`` on purpose, or ``escaped`` (out of a port the topology does not know,
    to the controller, or through a header rewrite the walk does not follow)."""

    delivered: frozenset[Port] = frozenset()
    looped: tuple[int, int, int | None] | None = None
    black_holed: tuple[int, int] | None = None
    dropped: bool = False
    escaped: bool = False


class InvariantGate:
    """Checks a proposed change against the policy's invariants."""

    def __init__(self, policy: ArbiterPolicy) -> None:
        self.policy = policy
        self.invariants = policy.invariants
        self.peer: dict[Port, Port] = {}  # across a link
        for a, port_a, b, port_b in policy.links:
            self.add_link(a, port_a, b, port_b)
        self.host_at: dict[Port, Host] = {(h.dpid, h.port): h for h in policy.hosts.values()}

    def add_link(self, a: int, port_a: int, b: int, port_b: int) -> None:
        self.peer[(a, port_a)] = (b, port_b)
        self.peer[(b, port_b)] = (a, port_a)

    @property
    def active(self) -> bool:
        return bool(self.peer or self.host_at)

    def check(
        self,
        index: RuleIndex,
        rule: Rule,
        replaced: Rule | None = None,
        evicted: Iterable[Rule] = (),
    ) -> Broken | None:
        """Broken (the first invariant the change breaks) or None. The change: ``rule``
        is installed, ``replaced`` and ``evicted`` (installed rules) leave."""
        if not self.active:
            return None
        gone = {id(r) for r in (replaced, *evicted) if r is not None}

        def before(dpid: int, table: int, region: TernaryMatch) -> list[Rule]:
            return index.overlapping(dpid, table, region)

        def after(dpid: int, table: int, region: TernaryMatch) -> list[Rule]:
            rules = [r for r in index.overlapping(dpid, table, region) if id(r) not in gone]
            if rule.dpid == dpid and rule.table_id == table and rule.match.intersects(region):
                rules.append(rule)
            return rules

        start = (rule.dpid, rule.table_id, rule.match)
        now = self.walk(after, *start)
        if self.invariants.no_loops and now.looped:
            dpid, table, in_port = now.looped
            return Broken(
                self.policy.cite('invariants') + ' no_loops',
                'traffic of %s would loop: it comes back to switch %s table %d '
                'from port %s' % (rule.match, dpid, table, in_port),
            )
        if self.invariants.no_black_holes and now.black_holed and not rule.drops:
            was = self.walk(before, *start)
            if was.delivered and not was.black_holed:
                dpid, table = now.black_holed
                return Broken(
                    self.policy.cite('invariants') + ' no_black_holes',
                    'traffic of %s reached %s before and would now meet no '
                    'rule at switch %s table %d'
                    % (rule.match, _hosts(self, was.delivered), dpid, table),
                )
        for a, b in self.invariants.isolation:
            src, dst = self.policy.hosts[a], self.policy.hosts[b]
            if not (src.ip and dst.ip):
                continue
            region = TernaryMatch.of(
                in_port=src.port, eth_type=ETH_IPV4, ipv4_src=src.ip, ipv4_dst=dst.ip
            )
            if not rule.match.intersects(_without_in_port(region)):
                continue
            reach = self.walk(after, src.dpid, 0, region)
            if (dst.dpid, dst.port) in reach.delivered:
                return Broken(
                    self.policy.cite('invariants.isolation') + ' %s-%s' % (a, b),
                    'with this rule %s (%s) would reach %s (%s)' % (a, src.ip, b, dst.ip),
                )
        return None

    def walk(self, rules_at: RulesAt, dpid: int, table: int, region: TernaryMatch) -> Outcome:
        """The Outcome of traffic ``region`` entering ``table`` of switch ``dpid``;
        ``rules_at(dpid, table, region)`` gives the rules that overlap it."""
        delivered: set[Port] = set()
        result: dict[str, Any] = {}  # Outcome's other fields, as they are found
        stack: list[Branch] = [(dpid, table, region, ())]
        branches = 0
        while stack and branches < MAX_BRANCHES:
            dpid, table, region, path = stack.pop()
            branches += 1
            here = (dpid, table, region.exact_value('in_port'), region)
            if here in path:
                result.setdefault('looped', here[:3])
                continue
            if len(path) >= MAX_HOPS:
                result['escaped'] = True
                continue
            path = path + (here,)
            rules = sorted(rules_at(dpid, table, region), key=lambda r: -r.priority)
            if not rules:
                result.setdefault('black_holed', (dpid, table))
                continue
            for rule in rules:
                part = region.intersection(rule.match)
                if part is None:
                    continue
                self._follow(rule, dpid, part, path, stack, delivered, result)
                if rule.match.covers(region):
                    break
        return Outcome(
            delivered=frozenset(delivered),
            looped=result.get('looped'),
            black_holed=result.get('black_holed'),
            dropped=result.get('dropped', False),
            escaped=result.get('escaped', False),
        )

    def _follow(
        self,
        rule: Rule,
        dpid: int,
        region: TernaryMatch,
        path: tuple[Hop, ...],
        stack: list[Branch],
        delivered: set[Port],
        result: dict[str, Any],
    ) -> None:
        if rule.modifies_headers or rule.outputs_to_controller:
            result['escaped'] = True
        if rule.drops:
            result['dropped'] = True
            return
        for instruction in rule.actions:
            if instruction[0] == 'goto':
                stack.append((dpid, instruction[1], region, path))
        if rule.modifies_headers:
            return
        in_port = region.exact_value('in_port')
        for port in rule.output_ports:
            out = in_port if port == ofp.OFPP_IN_PORT else port
            if out is None:  # back out of whichever port the region came in
                result['escaped'] = True
            elif (dpid, out) in self.host_at:
                delivered.add((dpid, out))
            elif (dpid, out) in self.peer:
                peer_dpid, peer_port = self.peer[(dpid, out)]
                stack.append((peer_dpid, 0, _with_in_port(region, peer_port), path))
            else:
                result['escaped'] = True


def _without_in_port(region: TernaryMatch) -> TernaryMatch:
    return TernaryMatch([(k, v) for k, v in region.fields.items() if k != 'in_port'])


def _with_in_port(region: TernaryMatch, port: int) -> TernaryMatch:
    """The region as it arrives on ``port`` of the next switch."""
    return TernaryMatch(
        [(k, v) for k, v in region.fields.items() if k != 'in_port']
        + [('in_port', (port, 0xFFFFFFFF))]
    )


def _hosts(gate: InvariantGate, ports: Iterable[Port]) -> str:
    return ', '.join(sorted(gate.host_at[p].name for p in ports if p in gate.host_at))
