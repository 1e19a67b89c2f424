"""FAUCET's egress ACLs (a VLAN's ``acls_out``): applied to the VLAN's frames after
learning and the router's own addresses (VIP rules), before they are output, flooded or
sent across the fabric.

    table 4  ETH_DST     vid of a VLAN with acls_out -> goto 5 (below the VIP rules)
    table 5  EGRESS_ACL  vid + rule match -> the rule's actions, goto 6 if allowed;
                         implicit deny
    table 6  EGRESS      that VLAN's forwarding, as table 4 has it for other VLANs:
                         learned hosts, floods, hosts across the fabric

FAUCET's egress ACL matches the frame and its VLAN, not the port it leaves by: the
verdict is the same for every port a frame goes to, so the ACL is applied once, before
the lookup that chooses the ports, and gives what FAUCET's egress table gives.
"""

from collections.abc import Iterable, Mapping
from dataclasses import replace

from controller.flowspec import FlowSpec
from controller.ofmatch import OFPVID_PRESENT
from controller.vswitch.model import Policy, Vlan

EGRESS_ACL, EGRESS = 5, 6


def filtered_vlans(policy: Policy, vids: Iterable[int]) -> dict[int, Vlan]:
    """{vid: Vlan} of the VLANs among ``vids`` (a switch's) with egress ACLs."""
    wanted = set(vids)
    return {v.vid: v for v in policy.vlans.values() if v.acls_out and v.vid in wanted}


def forwarding_table(vid: int, filtered: Iterable[int], plain_table: int) -> int:
    """The table where frames of VLAN ``vid`` are forwarded: EGRESS if its VLAN is
    among ``filtered``, else ``plain_table`` (the pipeline's ETH_DST)."""
    return EGRESS if vid in filtered else plain_table


def divert_rules(
    filtered: Mapping[int, Vlan], table: int, priority: int, cookie: int
) -> set[FlowSpec]:
    """In ``table`` (ETH_DST): the frames of each filtered VLAN on to EGRESS_ACL."""
    return {
        FlowSpec.make(
            table, priority, {'vlan_vid': OFPVID_PRESENT | vid}, [('goto', EGRESS_ACL)], cookie
        )
        for vid in filtered
    }


def through_egress(
    rules: Iterable[FlowSpec], filtered: Mapping[int, Vlan], table: int
) -> set[FlowSpec]:
    """``rules`` (forwarding rules of ``table``, ETH_DST) with those of the filtered
    VLANs moved to EGRESS; a rule that names no VLAN (a stack port off the flood tree)
    is kept and copied there."""
    moved = set()
    for rule in rules:
        vid_match = rule.match_dict().get('vlan_vid')
        vid = vid_match & ~OFPVID_PRESENT if isinstance(vid_match, int) else None
        if rule.table == table and vid in filtered:
            moved.add(replace(rule, table=EGRESS))
            continue
        moved.add(rule)
        if rule.table == table and vid_match is None and filtered:
            moved.add(replace(rule, table=EGRESS))
    return moved
