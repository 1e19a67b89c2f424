"""What two of FAUCET's ACL actions need of a switch beyond their own rule:

- ``output: {failover: {group_id: N, ports: [...]}}`` outputs to OpenFlow fast-failover
  group N, whose buckets watch and output to the ports in order: the first live port
  gets the packet. The group is installed on each switch that applies the ACL, before
  the rules that use it (switch.py, with the stacking fabric's groups, whose ids are
  above MAX_ACL_GROUP_ID).
- ``force_port_vlan: 1`` with ``allow`` sends the packet from a port or VLAN ACL
  straight to forwarding (table ETH_DST): no VLAN membership check, no VLAN ACL, no
  learning, as FAUCET's goes to its eth_dst table. A forced packet may come from a port
  outside its VLAN, so such a switch floods each VLAN from any port too (pipeline.py).
"""

from collections.abc import Iterator

from controller.vswitch.model import Datapath, Policy, Rule


def applied_rules(policy: Policy, dp: Datapath) -> Iterator[Rule]:
    """Every ACL rule switch ``dp`` applies: dp_acls, its ports', its VLANs' (in and
    out)."""
    names = set(dp.dp_acls)
    for intf in dp.interfaces.values():
        names.update(intf.acls_in)
        for vlan in intf.vlans:
            names.update(vlan.acls_in + vlan.acls_out)
    for name in sorted(names):
        yield from policy.acls[name]


def failover_groups(policy: Policy, dp: Datapath) -> dict[int, tuple[int, ...]]:
    """{group id: live-order port numbers} of the fast-failover groups the ACLs of
    ``dp`` output to (ports named or numbered, resolved on ``dp``)."""
    groups = {}
    for rule in applied_rules(policy, dp):
        for step in rule.actions.output:
            if step[0] == 'failover':  # the loader checked that its ports exist on dp
                groups[step[1]] = tuple(port for ref in step[2] if (port := dp.port_of(ref)))
    return groups


def forces_vlan(policy: Policy, dp: Datapath) -> bool:
    """Whether a port or VLAN ACL of ``dp`` forwards some packets without checking their
    port's VLANs (FAUCET's force_port_vlan)."""
    return any(
        rule.actions.allow and rule.actions.force_port_vlan for rule in applied_rules(policy, dp)
    )
