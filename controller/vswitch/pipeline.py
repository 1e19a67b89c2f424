"""Compile a VLAN/ACL policy (model.py) to the OpenFlow 1.3 pipeline of one
switch, as a set of FlowSpecs (controller/flowspec.py). Pure: no Ryu events, no switch.

Pipeline (cookie kinds of the 'vswitch_policy' range in brackets)::

  table 0  PORT_ACL   in_port=P + rule match -> the rule's meter, mirror and output,
                      goto 1 or drop [ACL]; ports without ACLs: goto 1 [DEFAULT]; an
                      ACL'd port ends in an implicit drop, as FAUCET's do; an
                      output-only port drops all; dp_acls: the same for every port
                      above all: a tunnel's frames from stack ports -> on along the
                      fabric, or out at its exit (tunnel.py) [TUNNEL]
  table 1  VLAN       access port: untagged only, mirror copies, push its native VID,
                      goto 2; trunk port: each listed VID, mirror copies, goto 2; a
                      second tag inside it: drop
                      anything else (tagged frames on access ports, unlisted VIDs): miss,
                      drop [VLAN_IN]
  table 2  VLAN_ACL   vid + rule match, as table 0 [ACL]; VLANs without ACLs: goto 3
  table 3  ETH_SRC    learned (in_port, vid, eth_src) -> goto 4 [LEARN_SRC]
                      miss -> controller (128 B) + goto 4 [SRC_MISS]
  table 4  ETH_DST    learned (vid, eth_dst) -> egress of that port [LEARN_DST]
                      (vid, in_port) -> flood to the VLAN's other ports [FLOOD]; with
                      combinatorial_port_flood: false, one rule per VID floods to all
                      its ports (OpenFlow sends nothing back out of the in_port)
                      FAUCET's VIPs of the VID: ARP for them, neighbour solicitations
                      for them, advertisements and pings to them -> controller, whole
                      [VIP]
                      a VID with egress ACLs (acls_out) -> goto 5 [EGRESS_IN]
  table 5  EGRESS_ACL, table 6  EGRESS: egress ACLs, then that VID's forwarding
                      (controller/vswitch/egress.py)

Routing (FAUCET's routers and routes, routing.py): frames to a routed VLAN's
faucet_mac meet the FIB in table 3, above learning [ROUTE, ROUTE_MISS]; a routed frame
goes on to table 4 rewritten, in its egress VLAN.

A LAG (FAUCET's ``lacp``, controller/vswitch/lacp.py) is one port to its VLANs: table 0
sends its members' LACPDUs to the controller and drops everything else from a member
that does not carry [LACP]; a flood goes out of one carrying member of each LAG (the
lowest) and never back into the LAG it came from; a host learned on any member is
learned on the LAG (a source rule per member) and reached through the LAG's select
group over its carrying members (none: the group drops).

An ACL's failover output goes to a fast-failover group, and force_port_vlan skips to
table 4 (controller/vswitch/acl_actions.py).

Egress to a trunk port keeps the tag; to an access port the tag is popped. A port
mirrored by M has every frame it accepts (its ACLs let it through and table 1 takes it
into a VLAN; copied as received) and every frame sent out of it (table 4) copied to M:
as in FAUCET, a frame the port drops (a tagged frame on an access port) is not copied.
"""

import ipaddress
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from controller.cookies import CookieSpace
from controller.flowspec import FlowSpec
from controller.ofmatch import OFPP_IN_PORT, OFPVID_PRESENT
from controller.stable.sft import Route
from controller.vswitch import acl_actions, egress, routing, tunnel
from controller.vswitch.fabric import Fabric, route_action
from controller.vswitch.lacp import LACP_MAC, SLOW_PROTOCOLS
from controller.vswitch.model import Datapath, Policy
from controller.vswitch.portopts import (
    FROM_EXTERNAL,
    FROM_INSIDE,
    coprocessor_rules,
    external_flood_ports,
    external_flooders,
    lldp_in_rule,
)

PORT_ACL, VLAN, VLAN_ACL, ETH_SRC, ETH_DST = 0, 1, 2, 3, 4
COOKIES = CookieSpace('vswitch_policy')
ACL, VLAN_IN, SRC_MISS, FLOOD, LEARN_SRC, LEARN_DST, DEFAULT, VIP, PIN = 1, 2, 3, 4, 5, 6, 7, 8, 9
STACK_IN, REMOTE = 10, 11  # a stack port's frames skip learning; a host on another switch
ROUTE, ROUTE_MISS = 12, 13  # FAUCET's routing (routing.py): the FIB; a host to resolve
LACP = 14  # a LAG member's LACPDUs to the controller, and its drop while it carries nothing
TUNNEL = 15  # a tunnel's frames on their way (tunnel.py)
EGRESS_IN = 20  # a VLAN's frames on to its egress ACLs
# FAUCET's port options (portopts.py): LLDP to the controller, a loop_protect ban,
# a coprocessor port's frames, a host on an external port kept from the others
LLDP_IN, LOOP_BAN, COPRO, EXTERNAL = 16, 17, 18, 19

OFPVID_NONE = 0x0000
ETH_TYPE_VLAN_TAGS = (0x8100, 0x88A8)
ACL_TOP = 30000  # first rule of a port's ACLs; later rules count down
# A tunnel's rules take frames from stack ports (never output-only) and a two-way
# tunnel's exit port (never output-only either: loader.py), so the two never overlap.
PRIO_OUTPUT_ONLY = PRIO_TUNNEL = PRIO_HIGHEST = ACL_TOP + 1
PRIO_VLAN = 100
PRIO_DOUBLE_TAG = 110
PRIO_LEARNED = 100
PRIO_PINNED = 90  # below a learned source: its MAC from any other port is dropped
PRIO_FLOOD = 10
PRIO_STACK_IN = 50  # below learned sources, above the learning miss
PRIO_OFF_TREE = PRIO_FLOOD + 1  # a stack port off the flood tree floods nothing
PRIO_VIP = 200  # above learned hosts: the router's own addresses
PRIO_LACP = ACL_TOP + 2  # a member's LACPDUs, above its drop (at PRIO_OUTPUT_ONLY)
PRIO_LAG_FLOOD = PRIO_FLOOD + 1  # a member's flood, over combinatorial_port_flood: false's
LAG_GROUP_BASE = 0xFFFE0000  # select group ids LAG_GROUP_BASE | LAG id
PRIO_EGRESS_IN = 150  # below the VIPs (FAUCET's egress ACLs do not see those)
PRIO_FLOOD_ANY_PORT = PRIO_FLOOD - 1  # force_port_vlan: from a port outside the VLAN
PRIO_LLDP_IN = 120  # above VLAN-in: receive_lldp
PRIO_LOOP_BAN = 1  # above the learning miss, below learned sources
WHOLE_PACKET = 0xFFFF  # OFPCML_NO_BUFFER: an echo request is answered with its data
PACKET_IN_BYTES = 128


class CompileError(ValueError):
    pass


@dataclass(frozen=True)
class PortPlan:
    """How one port of a switch takes part in VLANs."""

    port: int
    native_vid: int | None = None
    tagged_vids: tuple[int, ...] = ()
    mirrored_to: tuple[int, ...] = ()  # mirror ports that get a copy of this port's traffic
    max_hosts: int | None = None
    permanent: bool = False  # FAUCET's permanent_learn: hosts never expire nor move
    stack: bool = False  # a stack port: every VLAN of the fabric, tagged; never learned on
    restricted: bool = False  # FAUCET's restricted_bcast_arpnd
    lag: int | None = None  # the LAG it is a member of (FAUCET's lacp)
    lag_ports: tuple[int, ...] = ()  # every member of that LAG, sorted: hosts on the first
    egress_acl_vids: tuple[int, ...] = ()  # its VIDs whose VLAN has egress ACLs
    hairpin: bool = False  # floods and unicast go back out of it too
    external: bool = False  # loop_protect_external: floods leave by the first such port

    @property
    def vids(self) -> tuple[int, ...]:
        """Every VID the port carries, native first."""
        native = (self.native_vid,) if self.native_vid is not None else ()
        return native + self.tagged_vids

    def carries(self, vid: int) -> bool:
        return vid == self.native_vid or vid in self.tagged_vids


def port_plans(policy: Policy, dp: Datapath, fabric: Fabric | None = None) -> dict[int, PortPlan]:
    """{port: PortPlan} for the enabled interfaces of datapath ``dp``; a stack port
    carries ``fabric``'s VLANs (the policy's fabric if None), tagged."""
    if fabric is None and dp.stack_ports:
        fabric = Fabric.of(policy)
    mirrored_to = defaultdict(list)
    lags = dp.lags
    for port, intf in dp.interfaces.items():
        for watched in intf.mirror or ():
            mirrored_to[watched].append(port)
    plans = {}
    for port, intf in sorted(dp.interfaces.items()):
        if intf.enabled is False:
            continue
        if intf.stack is not None and fabric is not None:
            plans[port] = PortPlan(port=port, tagged_vids=fabric.vids, stack=True)
            continue
        plans[port] = PortPlan(
            port=port,
            native_vid=intf.native_vlan.vid if intf.native_vlan is not None else None,
            tagged_vids=tuple(sorted(vlan.vid for vlan in intf.tagged_vlans)),
            mirrored_to=tuple(sorted(mirrored_to.get(port, ()))),
            max_hosts=intf.max_hosts,
            permanent=intf.permanent_learn,
            restricted=intf.restricted_bcast_arpnd,
            lag=intf.lacp.lag if intf.lacp is not None else None,
            lag_ports=lags[intf.lacp.lag] if intf.lacp is not None else (),
            hairpin=intf.hairpin,
            external=intf.loop_protect_external,
        )
    filtered = egress.filtered_vlans(policy, {v for p in plans.values() for v in p.vids})
    return {
        port: replace(plan, egress_acl_vids=tuple(v for v in plan.vids if v in filtered))
        for port, plan in plans.items()
    }


def lag_group_id(lag: int) -> int:
    """The select group of LAG ``lag``."""
    return LAG_GROUP_BASE | lag


def lag_groups(dp: Datapath, carrying: Mapping[int, frozenset[int]]) -> dict[int, tuple[int, ...]]:
    """{select group id: the ports it spreads over} of ``dp``'s LAGs, each over its
    members in ``carrying`` ({LAG id: ports}; a LAG missing there: none)."""
    return {lag_group_id(lag): tuple(sorted(carrying.get(lag, ()))) for lag in dp.lags}


def _copies(plan):
    return tuple(('output', m) for m in plan.mirrored_to)


def egress_actions(plan: PortPlan, vid: int, back: bool = False) -> tuple[tuple[Any, ...], ...]:
    """Actions that send a frame of VLAN ``vid`` (tagged, as inside the pipeline) out of
    ``plan``'s port (``back``: the frame came in by it, a hairpin port); ends untagged
    after an access port."""
    if plan.lag is not None:
        out: tuple[Any, ...] = ('group', lag_group_id(plan.lag))
    else:
        out = ('output', OFPP_IN_PORT if back else plan.port)
    if vid in plan.tagged_vids:
        return (out,) + _copies(plan)
    return (('pop_vlan',), out) + _copies(plan)


def flood_actions(
    plans: Mapping[int, PortPlan],
    vid: int,
    in_port: int | None,
    external_exit: bool = True,
    from_external: bool = False,
) -> tuple[tuple[Any, ...], ...]:
    """Out of every other port of the VLAN (every port, for ``in_port`` None), and back
    out of a hairpin ``in_port``: trunks first (tag kept), then one pop and the access
    ports. Of the external ports (loop_protect_external) only the first gets it, and
    none if it came in by one (or ``from_external``: its mark says so) or if the
    switch is not its VLAN's ``external_exit`` on the stack fabric."""
    source = plans.get(in_port) if in_port is not None else None
    excluded = external_flood_ports(
        [p.port for p in plans.values() if p.external and p.carries(vid)],
        from_external or not external_exit or (source is not None and source.external),
    )
    members = [
        p
        for p in plans.values()
        if (p.port != in_port or p.hairpin) and p.carries(vid) and p.port not in excluded
    ]
    tagged = [p for p in members if vid in p.tagged_vids]
    access = [p for p in members if vid == p.native_vid and vid not in p.tagged_vids]
    actions = []
    for p in tagged:
        actions += [_out(p, in_port)] + list(_copies(p))
    if access:
        actions.append(('pop_vlan',))
        for p in access:
            actions += [_out(p, in_port)] + list(_copies(p))
    return tuple(actions)


def _out(plan, in_port):
    return ('output', OFPP_IN_PORT if plan.port == in_port else plan.port)


def output_actions(
    steps: tuple, dp: Datapath, policy: Policy | None = None, fabric: Fabric | None = None
) -> list[tuple[Any, ...]]:
    """The OpenFlow actions of an ACL's output steps (model.py), ports resolved on
    ``dp``, tunnels (of ``policy``) along ``fabric``'s routes."""
    actions: list[tuple[Any, ...]] = []
    for step in steps:
        kind = step[0]
        if kind == 'tunnel' and policy is not None:
            actions += output_actions(tunnel.entry_steps(step[1], dp, policy, fabric), dp)
        elif kind == 'push_vlan':
            actions += [('push_vlan', step[1]), ('set_field', 'vlan_vid', OFPVID_PRESENT | step[2])]
        elif kind == 'swap_vid':
            actions.append(('set_field', 'vlan_vid', OFPVID_PRESENT | step[1]))
        elif kind == 'output':  # IN_PORT: back out of the port the packet came in on
            port = step[1] if step[1] == OFPP_IN_PORT else dp.port_of(step[1])
            actions.append(('output', port))
        elif kind == 'failover':  # its group: acl_actions.failover_groups
            actions.append(('group', step[1]))
        else:  # ('pop_vlan',) and ('set_field', field, value) are OpenFlow's already
            actions.append(step)
    return actions


def _acl_instructions(policy, actions, dp, next_table, fabric=None):
    """The rule's own mirror (of the packet as it came) and output (rewrites and
    ports, in order; ports named or numbered, resolved on ``dp``), then on through the
    pipeline if the rule allows (else the packet ends here: dropped, or only output)."""
    applied = []
    if actions.mirror is not None:
        applied.append(('output', dp.port_of(actions.mirror)))
    applied += output_actions(actions.output, dp, policy, fabric)
    instructions = [('apply', tuple(applied))] if applied else []
    if actions.meter is not None:  # first: what the meter drops gets nothing
        instructions.insert(0, ('meter', policy.meters[actions.meter].meter_id))
    if actions.allow and actions.force_port_vlan and next_table in (VLAN, ETH_SRC):
        instructions.append(('goto', ETH_DST))  # FAUCET's force_port_vlan
    elif actions.allow:
        instructions.append(('goto', next_table))
    return tuple(instructions)


def _acl_band(policy, dp, table, names, scope, next_table, where, fabric=None):
    """The rules of ACLs ``names`` restricted to ``scope`` (a match), first rule
    highest, ending in the implicit deny of FAUCET's ACLs."""
    acl_rules = [rule for name in names for rule in policy.acls[name]]
    if len(acl_rules) >= ACL_TOP - 1:
        raise CompileError(
            '%s: %d ACL rules, at most %d fit' % (where, len(acl_rules), ACL_TOP - 2)
        )
    rules = set()
    for index, rule in enumerate(acl_rules):
        rules.add(
            FlowSpec.make(
                table,
                ACL_TOP - index,
                dict(rule.match, **scope),
                _acl_instructions(policy, rule.actions, dp, next_table, fabric),
                COOKIES.cookie(ACL),
            )
        )
    rules.add(FlowSpec.make(table, ACL_TOP - len(acl_rules), scope, [], COOKIES.cookie(ACL)))
    return rules


def _port_acl_rules(policy, dp, plans, fabric):
    rules = set()
    if dp.dp_acls:  # every packet in (port ACLs are refused beside them)
        rules |= _acl_band(
            policy, dp, PORT_ACL, dp.dp_acls, {}, VLAN, '%s dp_acls' % dp.name, fabric
        )
    for port in plans:
        intf = dp.interfaces[port]
        if intf.output_only:
            rules.add(
                FlowSpec.make(
                    PORT_ACL, PRIO_OUTPUT_ONLY, {'in_port': port}, [], COOKIES.cookie(ACL)
                )
            )
        elif intf.acls_in:
            rules |= _acl_band(
                policy,
                dp,
                PORT_ACL,
                intf.acls_in,
                {'in_port': port},
                VLAN,
                '%s port %d' % (dp.name, port),
                fabric,
            )
    rules.add(FlowSpec.make(PORT_ACL, 0, {}, [('goto', VLAN)], COOKIES.cookie(DEFAULT)))
    return rules


def _vlan_acl_rules(policy, dp, plans):
    rules = set()
    vids = {v for p in plans.values() for v in p.vids}
    for vlan in policy.vlans.values():
        if vlan.acls_in and vlan.vid in vids:
            rules |= _acl_band(
                policy,
                dp,
                VLAN_ACL,
                vlan.acls_in,
                {'vlan_vid': OFPVID_PRESENT | vlan.vid},
                ETH_SRC,
                'VLAN %s' % vlan.name,
            )
    rules.add(FlowSpec.make(VLAN_ACL, 0, {}, [('goto', ETH_SRC)], COOKIES.cookie(DEFAULT)))
    return rules


def _egress_acl_rules(policy, dp, filtered):
    """The egress ACLs of the VLANs ``filtered`` (egress.py): diverted from ETH_DST,
    applied in EGRESS_ACL, on to EGRESS if allowed."""
    rules = egress.divert_rules(filtered, ETH_DST, PRIO_EGRESS_IN, COOKIES.cookie(EGRESS_IN))
    for vid, vlan in filtered.items():
        rules |= _acl_band(
            policy,
            dp,
            egress.EGRESS_ACL,
            vlan.acls_out,
            {'vlan_vid': OFPVID_PRESENT | vid},
            egress.EGRESS,
            'VLAN %s acls_out' % vlan.name,
        )
    return rules


def _vlan_rules(plans, marks=False):
    """VLAN-in rules; with ``marks`` (loop_protect_external on the switch or its
    fabric), each frame's PCP says whether it came in by an external port."""
    rules = set()
    for port, plan in plans.items():
        copies = _copies(plan)  # of the frame as received, once the port accepts it
        mark = (
            (('set_field', 'vlan_pcp', FROM_EXTERNAL if plan.external else FROM_INSIDE),)
            if marks and not plan.stack
            else ()
        )
        if plan.native_vid is not None:
            rules.add(
                FlowSpec.make(
                    VLAN,
                    PRIO_VLAN,
                    {'in_port': port, 'vlan_vid': OFPVID_NONE},
                    [
                        (
                            'apply',
                            copies
                            + (
                                ('push_vlan', 0x8100),
                                ('set_field', 'vlan_vid', OFPVID_PRESENT | plan.native_vid),
                            )
                            + mark,
                        ),
                        ('goto', VLAN_ACL),
                    ],
                    COOKIES.cookie(VLAN_IN),
                )
            )
        for vid in plan.tagged_vids:
            tagged = {'in_port': port, 'vlan_vid': OFPVID_PRESENT | vid}
            accept = [('apply', copies + mark)] if copies or mark else []
            rules.add(
                FlowSpec.make(
                    VLAN,
                    PRIO_VLAN,
                    tagged,
                    accept + [('goto', VLAN_ACL)],
                    COOKIES.cookie(VLAN_IN),
                )
            )
            for inner in ETH_TYPE_VLAN_TAGS:  # a second tag is VLAN hopping
                rules.add(
                    FlowSpec.make(
                        VLAN,
                        PRIO_DOUBLE_TAG,
                        dict(tagged, eth_type=inner),
                        [],
                        COOKIES.cookie(VLAN_IN),
                    )
                )
    return rules


def _stack_rules(dp, plans, fabric):
    """A stack port's frames come from hosts learned on their own switch: they skip
    learning here. A stack port off the flood tree floods nothing (its unicast is
    forwarded, by the rules of learned and remote hosts)."""
    rules = set()
    tree = fabric.tree.get(dp.dp_id, frozenset()) if fabric is not None else frozenset()
    for port, plan in plans.items():
        if not plan.stack:
            continue
        rules.add(
            FlowSpec.make(
                ETH_SRC,
                PRIO_STACK_IN,
                {'in_port': port},
                [('goto', ETH_DST)],
                COOKIES.cookie(STACK_IN),
            )
        )
        if port not in tree:
            rules.add(
                FlowSpec.make(
                    ETH_DST, PRIO_OFF_TREE, {'in_port': port}, [], COOKIES.cookie(STACK_IN)
                )
            )
    return rules


def _flood_rules(dp, plans, fabric, carrying, any_port=False, exits=None):
    """Per (VID, in_port) floods, or per VID without combinatorial_port_flood; with
    ``any_port`` (force_port_vlan), a VID's flood from any port below them; ``exits``:
    {vid: the switch whose external ports floods leave by} on a fabric with external
    ports (None: this switch's own)."""
    tree = fabric.tree.get(dp.dp_id, frozenset()) if fabric is not None else frozenset()
    # floods go out of the stack ports on the tree only
    plans = {port: plan for port, plan in plans.items() if not plan.stack or port in tree}
    # and out of one carrying member of each LAG, its lowest
    designated = {lag: min(ports) for lag, ports in carrying.items() if ports}
    outs = {
        port: plan
        for port, plan in plans.items()
        if plan.lag is None or designated.get(plan.lag) == port
    }
    rules = set()
    # each VLAN's ports, found in one pass: looking at every port per VLAN and in_port
    # made a policy with trunks of every VLAN cost ports x ports per VLAN
    by_vid: dict[int, list[PortPlan]] = defaultdict(list)
    for plan in plans.values():
        for vid in plan.vids:
            by_vid[vid].append(plan)
    for vid in sorted(by_vid):
        exit_here = exits is None or exits.get(vid) == dp.dp_id
        carriers = {plan.port: plan for plan in by_vid[vid] if plan.port in outs}
        if not dp.combinatorial_port_flood or any_port:
            rules.add(
                FlowSpec.make(
                    ETH_DST,
                    PRIO_FLOOD if not dp.combinatorial_port_flood else PRIO_FLOOD_ANY_PORT,
                    {'vlan_vid': OFPVID_PRESENT | vid},
                    [('apply', flood_actions(carriers, vid, None, exit_here))],
                    COOKIES.cookie(FLOOD),
                )
            )
        for plan in by_vid[vid]:
            # one rule per in_port, or (a VLAN-wide rule above) for the ports whose
            # floods differ: LAG members, hairpin and external ports
            # a LAG's frames never go back into it
            others = (
                carriers
                if plan.lag is None
                else {p: o for p, o in carriers.items() if o.lag != plan.lag}
            )
            if plan.restricted:
                rules |= _restricted_flood_rules(others, vid, plan.port)
                continue
            match = {'vlan_vid': OFPVID_PRESENT | vid, 'in_port': plan.port}
            if plan.stack and exits is not None:
                # what came in by an external port elsewhere leaves by none here
                rules.add(
                    FlowSpec.make(
                        ETH_DST,
                        PRIO_FLOOD + 1,
                        dict(match, vlan_pcp=FROM_EXTERNAL),
                        [('apply', flood_actions(others, vid, plan.port, exit_here, True))],
                        COOKIES.cookie(FLOOD),
                    )
                )
            if dp.combinatorial_port_flood:
                priority = PRIO_FLOOD
            elif plan.lag is not None:
                priority = PRIO_LAG_FLOOD
            elif plan.hairpin or plan.external or (plan.stack and exits is not None):
                priority = PRIO_FLOOD + 1
            else:
                continue
            rules.add(
                FlowSpec.make(
                    ETH_DST,
                    priority,
                    match,
                    [('apply', flood_actions(others, vid, plan.port, exit_here))],
                    COOKIES.cookie(FLOOD),
                )
            )
    return rules


def _port_option_rules(dp, plans, marks):
    """receive_lldp's LLDP to the controller; a coprocessor port's frames out of
    the port their VID names, or forwarded in their VLAN (flooded to all its ports)."""
    rules = set()
    vids = sorted({v for p in plans.values() for v in p.vids})
    for port, intf in dp.interfaces.items():
        if port not in plans:
            continue
        if intf.receive_lldp:
            rules.add(lldp_in_rule(VLAN, PRIO_LLDP_IN, port, COOKIES.cookie(LLDP_IN)))
        if intf.coprocessor is not None:
            rules |= coprocessor_rules(
                VLAN,
                PRIO_VLAN,
                port,
                intf.coprocessor,
                plans,
                vids,
                ETH_DST,
                COOKIES.cookie(COPRO),
                marks,
            )
            for vid in vids:
                rules.add(
                    FlowSpec.make(
                        ETH_DST,
                        PRIO_FLOOD,
                        {'vlan_vid': OFPVID_PRESENT | vid, 'in_port': port},
                        [('apply', flood_actions(plans, vid, port))],
                        COOKIES.cookie(COPRO),
                    )
                )
    return rules


def _lag_rules(dp, plans, carrying):
    """Each member's LACPDUs to the controller; everything else from a member that
    does not carry dropped."""
    rules = set()
    for port, plan in plans.items():
        if plan.lag is None:
            continue
        rules.add(
            FlowSpec.make(
                PORT_ACL,
                PRIO_LACP,
                {'in_port': port, 'eth_type': SLOW_PROTOCOLS, 'eth_dst': LACP_MAC},
                [('apply', (('controller', WHOLE_PACKET),))],
                COOKIES.cookie(LACP),
            )
        )
        if port not in carrying.get(plan.lag, ()):
            rules.add(
                FlowSpec.make(
                    PORT_ACL, PRIO_OUTPUT_ONLY, {'in_port': port}, [], COOKIES.cookie(LACP)
                )
            )
    return rules


# FAUCET's restricted_bcast_arpnd: what a restricted port floods, but ARP broadcasts
# and neighbour solicitations (to a solicited-node group), skips the other restricted
# ports. Above the per-VLAN flood rule, below learned destinations.
PRIO_RESTRICTED = PRIO_FLOOD + 2
ARP_ND_FLOODS = (
    {'eth_type': 0x0806, 'eth_dst': 'ff:ff:ff:ff:ff:ff'},
    {'eth_type': 0x86DD, 'eth_dst': ('33:33:ff:00:00:00', 'ff:ff:ff:00:00:00')},
)


def _restricted_flood_rules(plans, vid, in_port):
    scope = {'vlan_vid': OFPVID_PRESENT | vid, 'in_port': in_port}
    others = {p: plan for p, plan in plans.items() if not plan.restricted or p == in_port}
    rules = {
        FlowSpec.make(
            ETH_DST,
            PRIO_RESTRICTED,
            scope,
            [('apply', flood_actions(others, vid, in_port))],
            COOKIES.cookie(FLOOD),
        )
    }
    for above, match in enumerate(ARP_ND_FLOODS, 1):  # apart: rules sort by match
        rules.add(
            FlowSpec.make(
                ETH_DST,
                PRIO_RESTRICTED + above,
                dict(scope, **match),
                [('apply', flood_actions(plans, vid, in_port))],
                COOKIES.cookie(FLOOD),
            )
        )
    return rules


def _vip_rules(policy, plans):
    """What the controller answers for FAUCET's faucet_vips (controller/vswitch/vip.py):
    ARP requests and IPv6 neighbour solicitations for a VIP, and pings to it."""
    rules = set()
    vids = {v for p in plans.values() for v in p.vids}
    for vlan in policy.vlans.values():
        if vlan.vid not in vids:
            continue
        tagged_vid = OFPVID_PRESENT | vlan.vid
        for text in vlan.faucet_vips:
            vip = ipaddress.ip_interface(text).ip
            if vip.version == 4:
                matches = [
                    {'eth_type': 0x0806, 'arp_tpa': str(vip)},
                    {
                        'eth_dst': vlan.faucet_mac,
                        'eth_type': 0x0800,
                        'ip_proto': 1,
                        'ipv4_dst': str(vip),
                    },
                ]
            else:
                matches = [
                    {
                        'eth_type': 0x86DD,
                        'ip_proto': 58,
                        'icmpv6_type': 135,
                        'ipv6_nd_target': str(vip),
                    },
                    {
                        'eth_dst': vlan.faucet_mac,
                        'eth_type': 0x86DD,
                        'ip_proto': 58,
                        'icmpv6_type': 128,
                        'ipv6_dst': str(vip),
                    },
                    {  # a neighbour's answer to the router's solicitation (routing.py)
                        'eth_dst': vlan.faucet_mac,
                        'eth_type': 0x86DD,
                        'ip_proto': 58,
                        'icmpv6_type': 136,
                        'ipv6_dst': str(vip),
                    },
                ]
            for match in matches:
                rules.add(
                    FlowSpec.make(
                        ETH_DST,
                        PRIO_VIP,
                        dict(match, vlan_vid=tagged_vid),
                        [('apply', (('controller', WHOLE_PACKET),))],
                        COOKIES.cookie(VIP),
                    )
                )
    return rules


def _tunnel_rules(policy, dp, fabric):
    """Table 0: the frames of tunnels taken in from stack ports (and a two-way
    tunnel's frames sent back from its exit port) go on along the fabric or out at
    their exit, before any ACL sees them (tunnel.py)."""
    return {
        FlowSpec.make(
            PORT_ACL,
            PRIO_TUNNEL,
            match,
            [('apply', tuple(output_actions(steps, dp)))],
            COOKIES.cookie(TUNNEL),
        )
        for match, steps in tunnel.hop_rules(policy, dp, fabric)
    }


def compile_datapath(
    policy: Policy,
    dp: Datapath,
    fabric: Fabric | None = None,
    carrying: Mapping[int, frozenset[int]] | None = None,
) -> frozenset[FlowSpec]:
    """Every static rule of datapath ``dp`` (a model Datapath) under ``policy``, its
    stack ports as in ``fabric`` (the policy's, all links up, if None), its LAGs
    carrying over the members in ``carrying`` ({LAG id: ports}; None: no member
    carries, as before any partner is heard)."""
    if fabric is None and dp.stack_ports:
        fabric = Fabric.of(policy)
    carrying = carrying or {}
    plans = port_plans(policy, dp, fabric)
    filtered = egress.filtered_vlans(policy, {v for p in plans.values() for v in p.vids})
    # None: no external port on the fabric, so no marks to read on stack ports
    exits = (
        external_flooders(policy, fabric) or None if fabric is not None and dp.stack_ports else None
    )
    marks = any(p.external for p in plans.values()) or bool(exits)
    forwarding = _flood_rules(
        dp, plans, fabric, carrying, acl_actions.forces_vlan(policy, dp), exits
    ) | _stack_rules(dp, plans, fabric)
    rules = (
        _port_acl_rules(policy, dp, plans, fabric)
        | _vlan_rules(plans, marks)
        | _vlan_acl_rules(policy, dp, plans)
        | egress.through_egress(forwarding, filtered, ETH_DST)
        | _egress_acl_rules(policy, dp, filtered)
        | _lag_rules(dp, plans, carrying)
        | _vip_rules(policy, plans)
        | _port_option_rules(dp, plans, marks)
        | routing.static_rules(
            routing.Fib.of(policy),
            frozenset(v for p in plans.values() for v in p.vids),
            (ETH_SRC, ETH_DST),
            (COOKIES.cookie(ROUTE), COOKIES.cookie(ROUTE_MISS)),
        )
        | _tunnel_rules(policy, dp, fabric)
    )
    rules.add(
        FlowSpec.make(
            ETH_SRC,
            0,
            {},
            [('apply', (('controller', PACKET_IN_BYTES),)), ('goto', ETH_DST)],
            COOKIES.cookie(SRC_MISS),
        )
    )
    if dp.priority_offset:  # FAUCET's: every rule of the switch shifted up
        return frozenset(replace(r, priority=r.priority + dp.priority_offset) for r in rules)
    return frozenset(rules)


def learned_rules(
    plan: PortPlan,
    vid: int,
    mac: str,
    idle_timeout: int,
    hard_timeout: int,
    priority_offset: int = 0,
    idle_source: bool = False,
) -> tuple[FlowSpec, ...]:
    """The rules that make host ``mac`` of VLAN ``vid`` on ``plan``'s port known (at
    ``priority_offset`` above their priority, as the switch's other rules). On a
    permanent_learn port they never expire, and a third drops ``mac`` from other ports.
    A host of a LAG is known from every member (a source rule each).
    ``idle_source`` (FAUCET's use_idle_timeout): the source rule expires after
    ``hard_timeout`` without frames from the host, and its removal (notified) forgets
    the host; the destination rule lives until then.
    On a hairpin port, its own frames to ``mac`` go back out of it; on an external
    port, frames to ``mac`` that came in by an external port (their PCP mark, here or
    elsewhere in the fabric) are dropped."""
    tagged_vid = OFPVID_PRESENT | vid
    source_timeouts = {'hard_timeout': hard_timeout}
    if idle_source:
        source_timeouts, idle_timeout = {'idle_timeout': hard_timeout}, 0
    if plan.permanent:
        idle_timeout, source_timeouts = 0, {}
    learned: tuple[FlowSpec, ...] = tuple(
        FlowSpec.make(
            ETH_SRC,
            PRIO_LEARNED + priority_offset,
            {'in_port': port, 'vlan_vid': tagged_vid, 'eth_src': mac},
            [('goto', ETH_DST)],
            COOKIES.cookie(LEARN_SRC),
            **source_timeouts,
        )
        for port in plan.lag_ports or (plan.port,)
    ) + (
        FlowSpec.make(
            egress.forwarding_table(vid, plan.egress_acl_vids, ETH_DST),
            PRIO_LEARNED + priority_offset,
            {'vlan_vid': tagged_vid, 'eth_dst': mac},
            [('apply', egress_actions(plan, vid))],
            COOKIES.cookie(LEARN_DST),
            idle_timeout=idle_timeout,
        ),
    )
    match = {'vlan_vid': tagged_vid, 'eth_dst': mac}
    if plan.hairpin:
        learned += (
            FlowSpec.make(
                egress.forwarding_table(vid, plan.egress_acl_vids, ETH_DST),
                PRIO_LEARNED + 1 + priority_offset,
                dict(match, in_port=plan.port),
                [('apply', egress_actions(plan, vid, back=True))],
                COOKIES.cookie(LEARN_DST),
                idle_timeout=idle_timeout,
            ),
        )
    if plan.external:
        learned += (
            FlowSpec.make(
                egress.forwarding_table(vid, plan.egress_acl_vids, ETH_DST),
                PRIO_LEARNED + 1 + priority_offset,
                dict(match, vlan_pcp=FROM_EXTERNAL),
                [],
                COOKIES.cookie(EXTERNAL),
                idle_timeout=idle_timeout,
            ),
        )
    if not plan.permanent:
        return learned
    # after the learned source: the host's own frames are never caught by its pin
    pin = FlowSpec.make(
        ETH_SRC,
        PRIO_PINNED + priority_offset,
        {'vlan_vid': tagged_vid, 'eth_src': mac},
        [],
        COOKIES.cookie(PIN),
    )
    return learned + (pin,)


def remote_rule(
    route: Route,
    vid: int,
    mac: str,
    idle_timeout: int,
    priority_offset: int = 0,
    table: int = ETH_DST,
) -> FlowSpec:
    """The rule that sends frames for host ``mac`` of VLAN ``vid``, learned on another
    switch of the fabric, along ``route`` (a stable route of fabric.py): out of its
    fast-failover group when it has a loop-free backup, else out of its port. Tagged:
    stack ports carry every VLAN tagged. In ``table``: ETH_DST, or EGRESS for a VLAN
    with egress ACLs."""
    return FlowSpec.make(
        table,
        PRIO_LEARNED + priority_offset,
        {'vlan_vid': OFPVID_PRESENT | vid, 'eth_dst': mac},
        [('apply', (route_action(route),))],
        COOKIES.cookie(REMOTE),
        idle_timeout=idle_timeout,
    )


def stale_learning(
    old_plans: Mapping[int, PortPlan], new_plans: Mapping[int, PortPlan]
) -> set[tuple[int, int]]:
    """{(port, vid)} whose learned hosts a policy change invalidates: the port no longer
    carries the VLAN, carries it tagged where it was untagged (or back), or is mirrored
    differently (a learned egress rule holds the mirror copies), or its VLAN gains or
    loses egress ACLs (its learned rules change tables)."""
    stale = set()
    for port, old in old_plans.items():
        new = new_plans.get(port)
        for vid in old.vids:
            if (
                new is None
                or not new.carries(vid)
                or (vid in old.tagged_vids) != (vid in new.tagged_vids)
                or old.mirrored_to != new.mirrored_to
                or old.permanent != new.permanent
                or old.lag_ports != new.lag_ports
                or (vid in old.egress_acl_vids) != (vid in new.egress_acl_vids)
                or (old.hairpin, old.external) != (new.hairpin, new.external)
            ):
                stale.add((port, vid))
    return stale
