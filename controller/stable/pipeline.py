"""The OpenFlow 1.3 pipeline of the stable-routing app, as FlowSpecs computed from a
snapshot and its stable forwarding table (pure: controller/stable/update.py sends them).

Tables (cookie kinds in brackets; every cookie is in the stable_routing range)::

    0 admission  65535 LLDP -> controller                                  [LLDP]
                  1000 in_port=P (link), S-tagged -> metadata=2, goto 1     [LINK]
                  1000 in_port=P (link), untagged -> goto 3 (a flood)       [LINK]
                  1000 in_port=P (a link routing does not use) -> drop     [LINK]
                   100 in_port=P, eth_src=H (host H on host port P) -> goto 1  [HOST]
                     0 -> controller (128 B) + goto 1 (unknown host: learn)  [BASE]
    1 ingress       30 metadata=2, vid=version(E) -> goto 2 (a version     [VERSION, E]
                       that may be in flight: the epoch in force, the one
                       being installed; and the next number's, ahead)
                    25 metadata=2 -> drop (any other version)              [BASE]
                    20 eth_dst multicast/broadcast -> goto 3                [BASE]
                    10 push S-tag, vid=version(E), metadata=1, goto 2       [INGRESS, E]
    2 forward      200 vid=version(E), eth_dst=H -> as below (overlay:      [NEXT, E]
                       epoch E's entry where it differs from the stable one)
                   100 S-tagged (any VID), eth_dst=H -> pop S-tag, output P [ROUTE, E']
                       (H's own switch) | group FF(primary, backup) | output primary
                       (stable: E' is the epoch that wrote the entry)
                     1 metadata=1, S-tagged (host unknown) -> pop, goto 3  [BASE]
                       (miss: drop)
    3 flood         10 in_port=P -> output (tree ports + host ports) - P    [FLOOD]
                       (miss: drop: untagged frames from links off the tree)

The version tag. A frame from a host gets an outer 802.1ad S-tag (TPID 0x88a8) at its
first switch; its VID is the epoch's version (``version_of``). Links carry only tagged
unicast and untagged floods; the last switch pops the tag before delivery. Because the
tag is an outer S-tag, a tenant's own 802.1Q C-tag rides inside it unchanged (Open
vSwitch matches the outer tag; with ``other_config:vlan-limit=2`` it parses both).
Tagging costs 4 bytes of MTU on fabric links.

Per-packet consistency (Reitblatt et al., SIGCOMM 2012), incrementally. A switch's
*stable* forward rules hold the entries of the last epoch whose update it completed;
they match any version. Epoch E adds, in phase 1, an *overlay* rule matching only
version(E) for each entry of E that differs from the switch's stable one
(``entry_changes``), before any ingress rule stamps version(E) (phase 2). A frame
stamped version(E) meets E's overlay where E differs and the stable rule, identical in
E, elsewhere: entirely E. A frame stamped earlier meets only stable rules (overlays
match only their own version): entirely the old epoch. After the drain, phase 3 turns
the stable rules into E's and deletes every overlay, in one atomic bundle per switch.
A link that epoch E routes over for the first time is admitted (its tagged-frame
rule) in phase 1 too (``admitted_ahead``): otherwise a neighbour that already stamps
version(E) could send a frame over it before the far switch's phase 2 lets tagged
frames in there. Symmetrically, a link epoch E no longer routes over keeps admitting
tagged frames until phase 3 (``while_draining``). Fast-failover groups are named by
what they do, (primary, backup), so epochs share them; a group is added before the
first rule that uses it and deleted after the last.

Floods (broadcast, ARP, unknown unicast) follow a spanning tree of the snapshot
(controller/topology.py) and are not versioned: a tree change applies per switch.
"""

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from controller.cookies import CookieSpace
from controller.flowspec import FlowSpec, in_order
from controller.lldp import LLDP_DESTINATION, LLDP_ETHERTYPE
from controller.stable.sft import Snapshot, StableForwardingTable
from controller.topology import flood_rules, spanning_tree_ports

COOKIES = CookieSpace('stable_routing')

ADMISSION_TABLE, INGRESS_TABLE, FORWARD_TABLE, FLOOD_TABLE = 0, 1, 2, 3

# Cookie kinds.
BASE, LLDP, LINK, HOST, INGRESS, ROUTE, FLOOD, NEXT, VERSION = 1, 2, 3, 4, 5, 6, 7, 8, 9
STABLE_PRIORITY, OVERLAY_PRIORITY = 100, 200

S_TAG = 0x88A8
VID_PRESENT = 0x1000
TAGGED = (VID_PRESENT, VID_PRESENT)
UNTAGGED = (0, 0x1FFF)  # OFPVID_NONE, written masked so every vlan_vid is a pair
FROM_HOST = (1, 1)  # metadata value, mask: "tagged by this switch"
FROM_LINK = (2, 2)  # "arrived tagged on a link": its version is checked in table 1
MULTICAST = ('01:00:00:00:00:00', '01:00:00:00:00:00')
LLDP_MATCH = {'eth_type': LLDP_ETHERTYPE, 'eth_dst': LLDP_DESTINATION}
PACKET_IN_BYTES = 128
MAX_GROUP_PORT = 0xFFFF
PORT_RULES_KEPT = 4096  # switches' port rules remembered (_port_rules): two epochs of 2,000


def version_of(epoch: int) -> int:
    """The VID that carries ``epoch`` (1..4094; consecutive epochs always differ)."""
    return 1 + (epoch - 1) % 4094


def epoch_cookie(kind: int, epoch: int) -> int:
    return COOKIES.cookie(kind, epoch)


def failover_group_id(primary: int, backup: int) -> int:
    """Group id of "out ``primary`` while it is live, else out ``backup``"."""
    if not (0 < primary <= MAX_GROUP_PORT and 0 < backup <= MAX_GROUP_PORT):
        raise ValueError(
            'fast-failover groups are named by port pairs up to %d, got '
            '%d and %d' % (MAX_GROUP_PORT, primary, backup)
        )
    return primary << 16 | backup


def base_rules() -> set[FlowSpec]:
    """The rules that never change while the app runs."""
    return {
        FlowSpec.make(
            ADMISSION_TABLE,
            65535,
            LLDP_MATCH,
            [('apply', (('controller', 65535),))],
            COOKIES.cookie(LLDP),
        ),
        FlowSpec.make(
            ADMISSION_TABLE,
            0,
            {},
            [('apply', (('controller', PACKET_IN_BYTES),)), ('goto', INGRESS_TABLE)],
            COOKIES.cookie(BASE),
        ),
        FlowSpec.make(
            INGRESS_TABLE, 20, {'eth_dst': MULTICAST}, [('goto', FLOOD_TABLE)], COOKIES.cookie(BASE)
        ),
        # A frame from a link whose version no admitted epoch has: dropped (version_rule).
        FlowSpec.make(INGRESS_TABLE, 25, {'metadata': FROM_LINK}, [], COOKIES.cookie(BASE)),
        FlowSpec.make(
            FORWARD_TABLE,
            1,
            {'metadata': FROM_HOST, 'vlan_vid': TAGGED},
            [('apply', (('pop_vlan',),)), ('goto', FLOOD_TABLE)],
            COOKIES.cookie(BASE),
        ),
    }


def ingress_rule(epoch: int) -> FlowSpec:
    """The one rule of a switch that decides which epoch a host's frame travels in."""
    return FlowSpec.make(
        INGRESS_TABLE,
        10,
        {},
        [
            (
                'apply',
                (('push_vlan', S_TAG), ('set_field', 'vlan_vid', VID_PRESENT | version_of(epoch))),
            ),
            ('meta', FROM_HOST),
            ('goto', FORWARD_TABLE),
        ],
        epoch_cookie(INGRESS, epoch),
    )


def hosts_by_switch(snapshot: Snapshot) -> dict[int, list[tuple[str, int]]]:
    """{dpid: [(mac, port)]} of the hosts of ``snapshot``."""
    by_switch: dict[int, list[tuple[str, int]]] = {}
    for mac, (dpid, port) in snapshot.hosts:
        by_switch.setdefault(dpid, []).append((mac, port))
    return by_switch


def port_rules(
    snapshot: Snapshot,
    dpid: int,
    tree_ports: Mapping[int, Iterable[int]] | None = None,
    hosts_at: Mapping[int, list[tuple[str, int]]] | None = None,
) -> set[FlowSpec]:
    """Admission and flood rules of switch ``dpid``: what its links, host ports and
    learned hosts are in ``snapshot``. ``tree_ports`` is spanning_tree_ports of the
    snapshot's graph and ``hosts_at`` its hosts_by_switch (each computed once per epoch
    by the caller)."""
    if tree_ports is None:
        tree_ports = spanning_tree_ports(snapshot.graph())
    if hosts_at is None:
        hosts_at = hosts_by_switch(snapshot)
    host_ports = snapshot.host_ports(dpid)
    return set(
        _port_rules(
            tuple(sorted(snapshot.routing_ports(dpid))),
            tuple(sorted(snapshot.unused_link_ports(dpid))),
            tuple((mac, port) for mac, port in hosts_at.get(dpid, ()) if port in host_ports),
            frozenset(set(tree_ports.get(dpid, ())) | host_ports),
        )
    )


# Every epoch asks every switch's port rules, and one link change changes few switches'
# inputs: the rules of the others come from here (a FlowSpec each costs microseconds,
# which at 1,000 switches made this most of an epoch's plan).
@functools.lru_cache(maxsize=PORT_RULES_KEPT)
def _port_rules(
    links: tuple[int, ...],
    unused: tuple[int, ...],
    hosts: tuple[tuple[str, int], ...],
    flooding: frozenset[int],
) -> frozenset[FlowSpec]:
    rules = set()
    for port in links:
        rules.add(link_admission(port))
        rules.add(
            FlowSpec.make(
                ADMISSION_TABLE,
                1000,
                {'in_port': port, 'vlan_vid': UNTAGGED},
                [('goto', FLOOD_TABLE)],
                COOKIES.cookie(LINK),
            )
        )
    for port in unused:
        rules.add(unused_link(port))
    for mac, port in hosts:
        rules.add(
            FlowSpec.make(
                ADMISSION_TABLE,
                100,
                {'in_port': port, 'eth_src': mac},
                [('goto', INGRESS_TABLE)],
                COOKIES.cookie(HOST),
            )
        )
    for in_port, outs in flood_rules(flooding).items():
        rules.add(
            FlowSpec.make(
                FLOOD_TABLE,
                10,
                {'in_port': in_port},
                [('apply', tuple(('output', p) for p in outs))],
                COOKIES.cookie(FLOOD),
            )
        )
    return frozenset(rules)


def link_admission(port: int | None) -> FlowSpec:
    """A link's tagged frames (routed in some epoch) go to the forward table, through
    the version check of the ingress table (version_rule)."""
    return FlowSpec.make(
        ADMISSION_TABLE,
        1000,
        {'in_port': port, 'vlan_vid': TAGGED},
        [('meta', FROM_LINK), ('goto', INGRESS_TABLE)],
        COOKIES.cookie(LINK),
    )


def version_rule(epoch: int) -> FlowSpec:
    """Frames from links stamped with ``epoch``'s version go on to the forward table.
    A switch admits the epoch in force and, during an update, the new one (phase 1 adds
    it, phase 3 leaves only it and the next number's, ahead): a frame stamped by a
    switch left behind (left out as faulty, or reconnected with rules of an older
    epoch) is dropped at the first link it crosses rather than forwarded by stable
    rules, which match any version."""
    return FlowSpec.make(
        INGRESS_TABLE,
        30,
        {'metadata': FROM_LINK, 'vlan_vid': VID_PRESENT | version_of(epoch)},
        [('goto', FORWARD_TABLE)],
        epoch_cookie(VERSION, epoch),
    )


_LINK_ADMISSION = link_admission(0)


def is_link_admission(spec: FlowSpec) -> bool:
    """Whether ``spec`` is a link_admission rule (of any port): checked field by field,
    for every rule of every switch in every epoch."""
    shape = _LINK_ADMISSION
    return (
        spec.instructions == shape.instructions
        and spec.cookie == shape.cookie
        and spec.match[1:] == shape.match[1:]
        and spec.table == shape.table
        and spec.priority == shape.priority
        and len(spec.match) == 2
        and spec.match[0][0] == 'in_port'
    )


def unused_link(port: int) -> FlowSpec:
    """A second parallel link, or one seen in one direction only: like a blocked STP
    port, it carries nothing."""
    return FlowSpec.make(ADMISSION_TABLE, 1000, {'in_port': port}, [], COOKIES.cookie(LINK))


def admitted_ahead(
    installed: set[FlowSpec] | None, desired: set[FlowSpec]
) -> tuple[list[FlowSpec], list[FlowSpec]]:
    """What phase 1 changes in a switch's admission table besides the forward rules:
    (rules to add, rules to delete strictly). Every link admission of ``desired`` that
    ``installed`` lacks (``installed`` None: the switch's contents are unknown, so all
    of them; an ADD of a rule already there changes nothing), and the unused-link drop
    rule of the same port, which would overlap it at the same priority. Harmless to the
    epoch in force: it sends no tagged frame over a link it does not route over."""
    adding = in_order(
        spec
        for spec in (desired if installed is None else desired - installed)
        if is_link_admission(spec)
    )
    return adding, [unused_link(spec.match_dict()['in_port']) for spec in adding]


def while_draining(installed: set[FlowSpec] | None, desired: set[FlowSpec]) -> set[FlowSpec]:
    """The admission rules a switch holds from phase 2 to phase 3: ``desired``, except
    that a link the new epoch no longer routes over still admits tagged frames (and is
    not yet dropped as unused): frames of the old epoch, stamped by a switch that had
    not yet reached phase 2, may still be on it. Phase 3 applies ``desired`` in full.
    ``installed`` None (contents unknown): ``desired``."""
    if installed is None:
        return desired
    retiring = {spec for spec in installed if is_link_admission(spec) and spec not in desired}
    return desired - {unused_link(spec.match_dict()['in_port']) for spec in retiring} | retiring


# What a switch does with the frames for one host: ('deliver', port) on the host's own
# switch, ('forward', Route) elsewhere (StableForwardingTable.switch_entries).
Entry = tuple[str, Any]


def switch_entries(sft: StableForwardingTable, dpid: int) -> dict[str, Entry]:
    """{mac: entry} of switch ``dpid`` in ``sft``: what StableForwardingTable's
    switch_entries says (the forwarded hosts in MAC order, then the delivered ones).
    An epoch of unknown switch contents asks it of every switch, (switches x hosts)
    entries: each host's route table is looked up once per SFT (_EntryLayout), not
    once per switch, and equal entries are one tuple (_ForwardEntries)."""
    layout = _entry_layout(sft)
    forward = _FORWARD_ENTRIES.__getitem__
    entries: dict[str, Entry] = {
        mac: forward(route)
        for mac, table in layout.tables
        if (route := table.get(dpid)) is not None
    }
    for mac, port in layout.hosts_at.get(dpid, ()):
        entries[mac] = ('deliver', port)
    return entries


class _ForwardEntries(dict):
    """Route -> the entry ('forward', Route), one tuple per distinct route: a network
    has few distinct (port, backup) pairs, and sharing them spares a full epoch a
    million tuples (and the garbage collector's passes over them)."""

    def __missing__(self, route: Any) -> Entry:
        if len(self) >= MAX_GROUP_PORT:
            self.clear()
        entry = self[route] = ('forward', route)
        return entry


_FORWARD_ENTRIES = _ForwardEntries()


@dataclass
class _EntryLayout:
    sft: StableForwardingTable
    tables: list[tuple[str, Mapping[int, Any]]]  # (mac, its switch's routes {dpid: Route})
    hosts_at: dict[int, list[tuple[str, int]]]  # dpid -> [(mac, port)]


_NO_ROUTES: Mapping[int, Any] = {}
_last_layout: list[_EntryLayout] = []


def _entry_layout(sft: StableForwardingTable) -> _EntryLayout:
    """The hosts of ``sft`` with their route tables, kept for the last SFT asked."""
    if _last_layout and _last_layout[0].sft is sft:
        return _last_layout[0]
    routes = sft.routes
    hosts_at: dict[int, list[tuple[str, int]]] = {}
    for mac, (dpid, port) in sft.hosts:
        hosts_at.setdefault(dpid, []).append((mac, port))
    layout = _EntryLayout(
        sft, [(mac, routes.get(dpid, _NO_ROUTES)) for mac, (dpid, _) in sft.hosts], hosts_at
    )
    _last_layout[:] = [layout]
    return layout


def entry_group(entry: Entry) -> tuple[int, tuple[int, int]] | None:
    """(group id, (primary, backup)) of the failover group ``entry`` forwards through."""
    how, where = entry
    if how == 'deliver' or where.backup is None:
        return None
    return failover_group_id(where.port, where.backup), (where.port, where.backup)


# How a forward rule sends a frame on (``forward_action``): pop the S-tag and output to
# the host's port, output to the next hop, or through the failover group (primary, backup).
DELIVER, OUTPUT, GROUP = 'deliver', 'output', 'group'
FORWARD_ACTIONS = (DELIVER, OUTPUT, GROUP)


def forward_action(entry: Entry) -> tuple[str, int]:
    """(DELIVER, host port) | (OUTPUT, next hop) | (GROUP, failover group id) of ``entry``."""
    how, where = entry
    if how == 'deliver':
        return DELIVER, where
    if where.backup is None:
        return OUTPUT, where.port
    return GROUP, failover_group_id(where.port, where.backup)


def forward_spec(mac: str, action: str, target: int, epoch: int, overlay: bool) -> FlowSpec:
    """The forward rule for ``mac`` that does ``action`` (one of FORWARD_ACTIONS) with
    ``target`` (a port or a group id), written by ``epoch``: see forward_rule."""
    if action == DELIVER:
        actions: tuple = (('pop_vlan',), ('output', target))
    elif action == OUTPUT:
        actions = (('output', target),)
    elif action == GROUP:
        actions = (('group', target),)
    else:
        raise ValueError('unknown forward action %r' % (action,))
    if overlay:
        return FlowSpec.make(
            FORWARD_TABLE,
            OVERLAY_PRIORITY,
            {'vlan_vid': VID_PRESENT | version_of(epoch), 'eth_dst': mac},
            [('apply', actions)],
            epoch_cookie(NEXT, epoch),
        )
    return FlowSpec.make(
        FORWARD_TABLE,
        STABLE_PRIORITY,
        {'vlan_vid': TAGGED, 'eth_dst': mac},
        [('apply', actions)],
        epoch_cookie(ROUTE, epoch),
    )


def forward_rule(mac: str, entry: Entry, epoch: int, overlay: bool = False) -> FlowSpec:
    """The forward rule of ``entry`` written by ``epoch``: a stable rule (any version)
    or, with ``overlay``, one that only frames stamped version(epoch) meet.
    controller/stable/rulebytes.py makes the same rules' FLOW_MODs as bytes."""
    return forward_spec(mac, *forward_action(entry), epoch, overlay)


def stable_rule_of(mac: str) -> FlowSpec:
    """The stable rule for ``mac`` as a strict delete names it (any epoch's cookie, with
    KIND_MASK)."""
    return FlowSpec.make(
        FORWARD_TABLE,
        STABLE_PRIORITY,
        {'vlan_vid': TAGGED, 'eth_dst': mac},
        [],
        epoch_cookie(ROUTE, 0),
    )


def route_rules(
    sft: StableForwardingTable, dpid: int, epoch: int, overlay: bool = False
) -> tuple[set[FlowSpec], dict[int, tuple[int, int]]]:
    """Every forward rule of switch ``dpid`` in ``epoch`` (stable, or overlays), and
    the failover groups they use as {group_id: (primary, backup)}."""
    rules, groups = set(), {}
    for mac, entry in switch_entries(sft, dpid).items():
        rules.add(forward_rule(mac, entry, epoch, overlay))
        group = entry_group(entry)
        if group:
            groups[group[0]] = group[1]
    return rules, groups


def route_changes(old: Mapping[int, Any], new: Mapping[int, Any]) -> list[tuple[int, Any, Any]]:
    """[(dpid, its Route in ``old`` or None, its Route in ``new``)] for the switches whose
    route towards one destination differs between two SFTs' tables ({dpid: Route}).
    Routes are compared by their fields, not with Route's ``==``: this runs for every
    switch of every destination whose table is not the very same object, and field
    reads cost a fraction of a Python-level ``__eq__`` call."""
    if old is new:
        return []
    get = old.get
    return [
        (dpid, was, route)
        for dpid, route in new.items()
        for was in (get(dpid),)
        if was is not route
        and (was is None or was.port != route.port or was.backup != route.backup)
    ]


def grid_changes(
    old: StableForwardingTable, new: StableForwardingTable, dst: int
) -> tuple[list[int], list[int]] | None:
    """As ``route_changes`` (the dpids only) and the switches that lost their route,
    from two tables' RouteGrids over the same switches: one array comparison per
    destination instead of a Python loop over its switches (a thousand at 1,000
    switches). None if ``dst`` is not a destination of both."""
    assert old.grid is not None and new.grid is not None
    old_column, new_column = old.grid.columns.get(dst), new.grid.columns.get(dst)
    if old_column is None or new_column is None:
        return None
    was, now = old.grid.codes[old_column], new.grid.codes[new_column]
    differ = was != now
    dpids = new.grid.dpids
    return (
        [dpids[i] for i in np.flatnonzero(differ & (now >= 0))],
        [dpids[i] for i in np.flatnonzero(differ & (now < 0))],
    )


@dataclass
class EntryChanges:
    """How the entries of one SFT differ from another's, switch by switch."""

    # switch -> {mac: (its entry before or None if it had none, its entry now)}
    changed: dict[int, dict[str, tuple[Entry | None, Entry]]]
    # switch -> {mac: its entry before}: entries the new SFT no longer has
    removed: dict[int, dict[str, Entry]]

    def count(self) -> int:
        return sum(len(entries) for entries in self.changed.values())


def entry_changes(old: StableForwardingTable, new: StableForwardingTable) -> EntryChanges:
    """The entries of ``new`` that differ from ``old`` (changed or new) and those ``new``
    no longer has, per switch. The routes are compared per destination switch
    (``route_changes``: one pass over its table, Routes compared by fields), and only
    where a switch's route differs are the hosts of that destination looked at; a host
    that moved, came or went has all its entries looked at. No per-host work where
    nothing changed: a one-link change costs one pass over the routes, not over the
    switches' entries (switches x hosts)."""
    old_hosts, new_hosts = old.host_map(), new.host_map()
    changed: dict[int, dict[str, tuple[Entry | None, Entry]]] = {}
    removed: dict[int, dict[str, Entry]] = {}
    moved = [mac for mac, place in new.hosts if old_hosts.get(mac) != place]
    gone = [mac for mac, _ in old.hosts if mac not in new_hosts]
    for mac in moved + gone:
        before = _entries_of(old, old_hosts.get(mac))
        after = _entries_of(new, new_hosts.get(mac))
        for dpid, entry in after.items():
            if before.get(dpid) != entry:
                changed.setdefault(dpid, {})[mac] = (before.get(dpid), entry)
        for dpid in before.keys() - after.keys():
            removed.setdefault(dpid, {})[mac] = before[dpid]
    stayed_at: dict[int, list[str]] = {}
    for mac, place in new.hosts:
        if old_hosts.get(mac) == place:
            stayed_at.setdefault(place[0], []).append(mac)
    grids = new.grid is not None and new.grid.comparable(old.grid)
    for dst, macs in stayed_at.items():
        was, now = old.routes.get(dst, {}), new.routes.get(dst, {})
        compared = grid_changes(old, new, dst) if grids else None
        if compared is not None:
            differing = [(dpid, was.get(dpid), now[dpid]) for dpid in compared[0]]
            gone_at = compared[1]
        else:
            differing, gone_at = route_changes(was, now), list(was.keys() - now.keys())
        for dpid, before, route in differing:
            entries = changed.setdefault(dpid, {})
            for mac in macs:
                entries[mac] = (
                    None if before is None else ('forward', before),
                    ('forward', route),
                )
        for dpid in gone_at:
            gone_here = removed.setdefault(dpid, {})
            for mac in macs:
                gone_here[mac] = ('forward', was[dpid])
    return EntryChanges(changed, removed)


def _entries_of(sft: StableForwardingTable, place: tuple[int, int] | None) -> dict[int, Entry]:
    """{switch: entry} of a host at ``place`` (None: nowhere) in ``sft``."""
    if place is None:
        return {}
    dst, port = place
    entries: dict[int, Entry] = {
        dpid: ('forward', route) for dpid, route in sft.routes.get(dst, {}).items()
    }
    entries[dst] = ('deliver', port)
    return entries
