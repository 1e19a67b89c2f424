"""The OpenFlow 1.3 pipeline of the stable-routing app, as FlowSpecs computed from a
snapshot and its stable forwarding table (pure: controller/stable/update.py sends them).

Tables (cookie kinds in brackets; every cookie is in the stable_routing range)::

    0 admission  65535 LLDP -> controller                                  [LLDP]
                  1000 in_port=P (link), S-tagged -> goto 2                 [LINK]
                  1000 in_port=P (link), untagged -> goto 3 (a flood)       [LINK]
                  1000 in_port=P (a link routing does not use) -> drop     [LINK]
                   100 in_port=P, eth_src=H (host H on host port P) -> goto 1  [HOST]
                     0 -> controller (128 B) + goto 1 (unknown host: learn)  [BASE]
    1 ingress       20 eth_dst multicast/broadcast -> goto 3                [BASE]
                    10 push S-tag, vid=version(E), metadata=1, goto 2       [INGRESS, E]
    2 forward      100 vid=version(E), eth_dst=H -> pop S-tag, output P     [ROUTE, E]
                       (H's own switch) | group FF(primary, backup) | output primary
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

Per-packet consistency (Reitblatt et al., SIGCOMM 2012): forward rules of epoch E match
only VID version(E). They are installed everywhere before any ingress rule stamps
version(E) (phase 1, then phase 2), so a frame is forwarded by one epoch's rules from
its first switch to its last. A link that epoch E routes over for the first time is
admitted (its tagged-frame rule) in phase 1 too (``admitted_ahead``): otherwise a
neighbour that already stamps version(E) could send a frame over it before the far
switch's phase 2 lets tagged frames in there. Symmetrically, a link epoch E no longer
routes over keeps admitting tagged frames until phase 3 (``while_draining``). The old
epoch's forward rules go after a drain time (phase 3). Fast-failover groups are named
by what they do, (primary, backup), so epochs share them; a group is added before the
first rule that uses it and deleted after the last.

Floods (broadcast, ARP, unknown unicast) follow a spanning tree of the snapshot
(controller/topology.py) and are not versioned: a tree change applies per switch.
"""

from collections.abc import Iterable, Mapping

from controller.cookies import CookieSpace
from controller.flowspec import FlowSpec, in_order
from controller.lldp import LLDP_DESTINATION, LLDP_ETHERTYPE
from controller.stable.sft import Snapshot, StableForwardingTable
from controller.topology import flood_rules, spanning_tree_ports

COOKIES = CookieSpace('stable_routing')

ADMISSION_TABLE, INGRESS_TABLE, FORWARD_TABLE, FLOOD_TABLE = 0, 1, 2, 3

# Cookie kinds.
BASE, LLDP, LINK, HOST, INGRESS, ROUTE, FLOOD = 1, 2, 3, 4, 5, 6, 7

S_TAG = 0x88A8
VID_PRESENT = 0x1000
TAGGED = (VID_PRESENT, VID_PRESENT)
UNTAGGED = (0, 0x1FFF)  # OFPVID_NONE, written masked so every vlan_vid is a pair
FROM_HOST = (1, 1)  # metadata value, mask: "tagged by this switch"
MULTICAST = ('01:00:00:00:00:00', '01:00:00:00:00:00')
LLDP_MATCH = {'eth_type': LLDP_ETHERTYPE, 'eth_dst': LLDP_DESTINATION}
PACKET_IN_BYTES = 128
MAX_GROUP_PORT = 0xFFFF


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


def port_rules(
    snapshot: Snapshot, dpid: int, tree_ports: Mapping[int, Iterable[int]] | None = None
) -> set[FlowSpec]:
    """Admission and flood rules of switch ``dpid``: what its links, host ports and
    learned hosts are in ``snapshot``. ``tree_ports`` is spanning_tree_ports of the
    snapshot's graph (computed once per epoch by the caller)."""
    if tree_ports is None:
        tree_ports = spanning_tree_ports(snapshot.graph())
    links = sorted(snapshot.routing_ports(dpid))
    host_ports = snapshot.host_ports(dpid)
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
    for port in sorted(snapshot.unused_link_ports(dpid)):
        rules.add(unused_link(port))
    for mac, (host_dpid, port) in snapshot.hosts:
        if host_dpid == dpid and port in host_ports:
            rules.add(
                FlowSpec.make(
                    ADMISSION_TABLE,
                    100,
                    {'in_port': port, 'eth_src': mac},
                    [('goto', INGRESS_TABLE)],
                    COOKIES.cookie(HOST),
                )
            )
    flooding = set(tree_ports.get(dpid, ())) | host_ports
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
    return rules


def link_admission(port: int | None) -> FlowSpec:
    """A link's tagged frames (routed in some epoch) go to the forward table."""
    return FlowSpec.make(
        ADMISSION_TABLE,
        1000,
        {'in_port': port, 'vlan_vid': TAGGED},
        [('goto', FORWARD_TABLE)],
        COOKIES.cookie(LINK),
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
        for spec in desired
        if spec == link_admission(spec.match_dict().get('in_port'))
        and (installed is None or spec not in installed)
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
    retiring = {
        spec
        for spec in installed
        if spec == link_admission(spec.match_dict().get('in_port')) and spec not in desired
    }
    return desired - {unused_link(spec.match_dict()['in_port']) for spec in retiring} | retiring


def route_rules(
    sft: StableForwardingTable, dpid: int, epoch: int
) -> tuple[set[FlowSpec], dict[int, tuple[int, int]]]:
    """Forward rules of switch ``dpid`` in ``epoch``, and the failover groups they use
    as {group_id: (primary, backup)}."""
    match_vid = VID_PRESENT | version_of(epoch)
    cookie = epoch_cookie(ROUTE, epoch)
    rules, groups = set(), {}
    for mac, how, where in sft.switch_entries(dpid):
        if how == 'deliver':
            actions: tuple = (('pop_vlan',), ('output', where))
        elif where.backup is None:
            actions = (('output', where.port),)
        else:
            group = failover_group_id(where.port, where.backup)
            groups[group] = (where.port, where.backup)
            actions = (('group', group),)
        rules.add(
            FlowSpec.make(
                FORWARD_TABLE,
                100,
                {'vlan_vid': match_vid, 'eth_dst': mac},
                [('apply', actions)],
                cookie,
            )
        )
    return rules, groups
