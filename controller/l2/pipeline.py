"""The OpenFlow 1.3 pipeline of the learning switch (apps/l2_learning.py), as FlowSpecs
(controller/flowspec.py) and FlowDeletes computed from port states and learned hosts.
Pure: no Ryu events, no switch; the app turns them into messages.

Tables (cookie kinds of the 'l2_learning' range in brackets, see controller/cookies.py)::

    table 0, source     65535  LLDP -> controller                  [LLDP] link discovery
                         1000  in_port=P -> drop                   [PORT_DROP] P probing/blocked
                          100  in_port=P,eth_src=M -> goto 1       [SRC] hard timeout: re-learn
                           50  in_port=P -> drop                   [BAN] P over its MAC limit
                            0  -> controller (128 B) + goto 1      [MISS] unknown source
    table 1, destination  100  eth_dst=M -> output P               [DST] idle timeout
                           10  in_port=P -> output flood ports - P [FLOOD] tree and host ports
                               (miss: drop)

Port states. A live port is *forwarding* once its probe time has passed and it is a host
port (no LLDP neighbour) or a switch-to-switch port on the spanning tree; every other
live port is *blocked* (PORT_DROP, and left out of floods), like an STP blocking port.
A switch forwards on at most MAX_FORWARDING_PORTS ports (the lowest numbers): a flood
rule must fit in one OpenFlow message.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from controller import discovery
from controller.cookies import CookieSpace
from controller.flowspec import FlowSpec, flow_mod_template
from controller.openflow import MAX_OUTPUTS_PER_FLOW_MOD, FlowModTemplate

COOKIES = CookieSpace('l2_learning')

SOURCE_TABLE = 0
DESTINATION_TABLE = 1

PRIO_LLDP = 65535
PRIO_PORT_DROP = 1000
PRIO_LEARNED = 100
PRIO_BAN = 50
PRIO_FLOOD = 10
PRIO_MISS = 0

# Cookie kinds of this app's rules.
MISS, SRC, DST, FLOOD, PORT_DROP, BAN, LLDP = 1, 2, 3, 4, 5, 6, 7

# Computed once: the packet-in path compares cookies and writes learned rules.
MISS_COOKIE = COOKIES.cookie(MISS)
LLDP_COOKIE = COOKIES.cookie(LLDP)
SRC_COOKIE = COOKIES.cookie(SRC)
DST_COOKIE = COOKIES.cookie(DST)

PACKET_IN_BYTES = 128  # the Ethernet header is all learning needs

_TO_DESTINATION = (('goto', DESTINATION_TABLE),)

#: a flood rule outputs to every other forwarding port, in one FLOW_MOD
MAX_FORWARDING_PORTS = MAX_OUTPUTS_PER_FLOW_MOD + 1


@dataclass(frozen=True)
class FlowDelete:
    """A DELETE of this app's rules of cookie kind ``kind``: in ``table`` (None: every
    table), that match ``match`` (sorted ((field, value), ...)) and output to
    ``out_port`` (None: any). With ``priority``, a DELETE_STRICT of the one rule with
    exactly that match and priority."""

    kind: int
    table: int | None = None
    match: tuple = ()
    out_port: int | None = None
    priority: int | None = None


Change = FlowSpec | FlowDelete


def base_rules() -> list[FlowSpec]:
    """The rules a switch gets when it connects: LLDP to the controller, and the
    table-miss that copies an unknown source to the controller while forwarding it."""
    return [
        discovery.lldp_rule(SOURCE_TABLE, PRIO_LLDP, LLDP_COOKIE),
        FlowSpec.make(
            SOURCE_TABLE,
            PRIO_MISS,
            {},
            [('apply', (('controller', PACKET_IN_BYTES),)), ('goto', DESTINATION_TABLE)],
            MISS_COOKIE,
        ),
    ]


def src_hard_timeout(idle_timeout: int, relearn_fraction: float) -> int:
    """Seconds a source entry lives: an active host is re-learned (its destination entry
    refreshed) before the destination entry could idle out."""
    return max(1, int(idle_timeout * relearn_fraction))


# --- port states --------------------------------------------------------------------


def forwarding_ports(
    up_since: dict[int, float],
    inter_switch: Iterable[int],
    on_tree: Iterable[int],
    now: float,
    probe_time: float,
) -> set[int]:
    """Live ports (``up_since``: {port: when it came up}) that are probed and are either
    host ports or switch-to-switch ports on the tree; the lowest MAX_FORWARDING_PORTS
    of them, the others blocked."""
    inter_switch, on_tree = set(inter_switch), set(on_tree)
    ports = {
        port
        for port, since in up_since.items()
        if now - since >= probe_time and (port not in inter_switch or port in on_tree)
    }
    if len(ports) > MAX_FORWARDING_PORTS:
        ports = set(sorted(ports)[:MAX_FORWARDING_PORTS])
    return ports


def probe_ended(
    up_since: dict[int, float], flooding: Iterable[int], now: float, probe_time: float
) -> bool:
    """Whether a port's probe time has passed while it has no flood rule yet: the ports
    need programming again."""
    return any(
        now - since >= probe_time and port not in flooding for port, since in up_since.items()
    )


def _in_port(port: int) -> tuple:
    return (('in_port', port),)


def _port_drop(port: int) -> FlowSpec:
    return FlowSpec(SOURCE_TABLE, PRIO_PORT_DROP, _in_port(port), (), COOKIES.cookie(PORT_DROP))


def _floods(forwarding: set[int]) -> list[FlowSpec]:
    """The flood rule of every forwarding port: out of every other one. The output
    actions are shared between the rules (a 1,024-port switch has a million outputs)
    and sliced, not filtered."""
    ports = sorted(forwarding)
    outputs = tuple(('output', port) for port in ports)
    cookie = COOKIES.cookie(FLOOD)
    return [
        FlowSpec(
            DESTINATION_TABLE,
            PRIO_FLOOD,
            _in_port(port),
            (('apply', outputs[:i] + outputs[i + 1 :]),),
            cookie,
        )
        for i, port in enumerate(ports)
    ]


def _no_port_drop(port: int) -> FlowDelete:
    return FlowDelete(PORT_DROP, SOURCE_TABLE, _in_port(port), priority=PRIO_PORT_DROP)


def _no_flood(port: int) -> FlowDelete:
    return FlowDelete(FLOOD, DESTINATION_TABLE, _in_port(port), priority=PRIO_FLOOD)


class PortRules:
    """The PORT_DROP and FLOOD rules programmed in one switch, and the changes that
    bring them to new port states.

    Every flood rule outputs to all forwarding ports but its own, so they all change
    when the forwarding ports do: a change costs one rule per forwarding port. ``block``
    makes the urgent part of a change alone (new drops, floods removed) and leaves the
    floods to a later ``program``, for an app that must bound how often it rewrites
    them."""

    def __init__(self) -> None:
        self.forwarding: set[int] = set()  # ports with a flood rule
        self.drops: set[int] = set()  # ports with a PORT_DROP rule
        # the forwarding ports the flood rules were written for (``block`` removes
        # floods without rewriting the others)
        self._flooded: set[int] = set()

    @property
    def floods(self) -> dict[int, list[int]]:
        """{in_port: out ports} as programmed."""
        return {port: sorted(self._flooded - {port}) for port in sorted(self.forwarding)}

    @property
    def floods_due(self) -> bool:
        """Whether a ``block`` left the floods to rewrite."""
        return self._flooded != self.forwarding

    def floods_current(self, forwarding: set[int]) -> bool:
        """Whether programming ``forwarding`` leaves every flood rule as it is."""
        return forwarding == self._flooded == self.forwarding

    def program(self, forwarding: set[int], live: set[int]) -> list[Change]:
        """The changes, in the order to send them, that make the rules say ``forwarding``
        ports forward and the other ``live`` ports drop; recorded as programmed.

        Blocking first, then floods, then unblocking: a port never forwards before the
        ports it must not reach drop."""
        changes = self.block(forwarding, live)
        if forwarding != self._flooded or forwarding != self.forwarding:
            changes += _floods(forwarding)
        drops = live - forwarding
        changes += [_no_port_drop(port) for port in sorted(self.drops - drops)]
        self.forwarding, self.drops, self._flooded = set(forwarding), drops, set(forwarding)
        return changes

    def block(self, forwarding: set[int], live: set[int]) -> list[Change]:
        """The changes that make the ``live`` ports that do not forward drop and remove
        the flood rules of ports that no longer forward; recorded. The floods of the
        ports that still forward may still output to the others until ``program``."""
        new_drops = (live - forwarding) - self.drops
        gone = self.forwarding - forwarding
        changes: list[Change] = [_port_drop(port) for port in sorted(new_drops)]
        changes += [_no_flood(port) for port in sorted(gone)]
        self.drops |= new_drops
        self.forwarding -= gone
        return changes


def takeover_deletes(ports: Iterable[int], forwarding: set[int]) -> list[FlowDelete]:
    """What taking over a switch deletes before its ports are programmed afresh: every
    learned entry, and per port the rule of the state the port is not in (a previous
    run's drop of a port that now forwards, its flood of one that now drops). The rule
    of the port's current state is replaced in place by the ADD that follows, so the
    port is never without one."""
    return learned_flush() + [
        _no_port_drop(port) if port in forwarding else _no_flood(port) for port in sorted(ports)
    ]


# --- learned hosts ------------------------------------------------------------------


def host_rules(
    mac: str, port: int, src_hard_timeout: int, idle_timeout: int
) -> tuple[FlowSpec, FlowSpec]:
    """The pair of rules of host ``mac`` learned on ``port``: its source (hard timeout:
    re-learned) and its destination (idle timeout; the app asks for its flow-removed).
    Built directly, without FlowSpec.make: this is the packet-in path."""
    return (
        FlowSpec(
            SOURCE_TABLE,
            PRIO_LEARNED,
            (('eth_src', mac), ('in_port', port)),
            _TO_DESTINATION,
            SRC_COOKIE,
            hard_timeout=src_hard_timeout,
        ),
        FlowSpec(
            DESTINATION_TABLE,
            PRIO_LEARNED,
            (('eth_dst', mac),),
            (('apply', (('output', port),)),),
            DST_COOKIE,
            idle_timeout=idle_timeout,
        ),
    )


def host_rule_templates(
    src_hard_timeout: int, idle_timeout: int
) -> tuple[FlowModTemplate, FlowModTemplate]:
    """host_rules' two FLOW_MODs as templates stamped per MAC and port: what the app
    sends per new host, with no message object built on the packet-in path."""

    def rule(index: int) -> Callable[[str, int], FlowSpec]:
        return lambda mac, port: host_rules(mac, port, src_hard_timeout, idle_timeout)[index]

    return flow_mod_template(rule(0)), flow_mod_template(rule(1), send_flow_removed=True)


def host_deletes(mac: str) -> list[FlowDelete]:
    """The deletes of host ``mac``'s rule pair."""
    return [
        FlowDelete(SRC, SOURCE_TABLE, (('eth_src', mac),)),
        FlowDelete(DST, DESTINATION_TABLE, (('eth_dst', mac),)),
    ]


def port_flush(port: int) -> list[FlowDelete]:
    """The deletes of what was learned on ``port``: sources from it, destinations to it."""
    return [
        FlowDelete(SRC, SOURCE_TABLE, _in_port(port)),
        FlowDelete(DST, DESTINATION_TABLE, out_port=port),
    ]


def learned_flush() -> list[FlowDelete]:
    """The deletes of every learned entry (the tree changed: paths learned over the old
    one may lead nowhere)."""
    return [FlowDelete(SRC), FlowDelete(DST)]


def ban_rule(port: int, ban_time: int) -> FlowSpec:
    """The rule that drops what ``port`` sends from MACs not learned yet, for
    ``ban_time`` seconds (learned sources match their SRC rules above it)."""
    return FlowSpec(
        SOURCE_TABLE, PRIO_BAN, _in_port(port), (), COOKIES.cookie(BAN), hard_timeout=ban_time
    )
