"""VLAN/ACL policies for the virtual switch app: a YAML file in FAUCET's format, loaded
into an immutable model with every mistake reported at its line.

    from controller.vswitch import load_policy
    policy = load_policy('examples/policies/three_tenants.yaml')
    # or controller.config.ConfigError, with every mistake at its file:line:col

Check a file from the shell (exit 0 valid, 1 invalid, 2 usage or unreadable)::

    python -m controller.vswitch check policy.yaml
    sdn-policy-check policy.yaml

The format
----------
The subset of FAUCET's configuration that this suite implements, spelled as FAUCET
spells it, so that a FAUCET file using these options loads unchanged::

    include: [acls.yaml]   # and include-optional: files relative to this one (include.py)
    vlans:                 # name (or VID) -> vid, description, acls_in, max_hosts
    dps:                   # switch name -> dp_id, description, hardware, interfaces,
      sw1:                 #   ignore_learn_ins, packetin_pps, slowpath_pps, dp_acls,
        dp_id: 0x1         #   combinatorial_port_flood, ofchannel_log, lldp_beacon
        hardware: NoviFlow #   (any of FAUCET's names; all get the OVS pipeline)
        interfaces:        # port number (or a name, with number:) ->
          1:               #   name, description, native_vlan, tagged_vlans, acls_in,
            native_vlan: office   # mirror, max_hosts, enabled, output_only
    acls:                  # name -> ordered list of rules (or {rules: [...]})
      no-http:
        - rule:            # or the fields right under the dash, as FAUCET takes them
            tcp_dst: 80    # match fields, Ryu/OpenFlow names (dl_type & co. too)
            eth_type: 0x800
            actions: {allow: false}   # allow, mirror, meter, output (below)
    meters:                # name -> meter_id, entry: {flags, bands: [{type: DROP, ...}]}
    version: 2             # optional, as in FAUCET

``output`` is FAUCET's: a mapping of port, ports, set_fields, pop_vlans, swap_vid,
vlan_vid, vlan_vids (applied in FAUCET's fixed order), or an ordered list of one-action
mappings (applied as written). Ports in actions are numbers or interface names.

Stacking is FAUCET's: ``stack: {priority: N}`` on a switch (a root candidate, the
lowest wins) and ``stack: {dp: NAME, port: N}`` on an interface (both ends of a link
declare it); the fabric they make is fabric.py's (docs/fabric.md).

Routing is FAUCET's: ``routers: {NAME: {vlans: [...]}}`` at top level, a VLAN's
``faucet_vips``, ``faucet_mac`` and ``routes: [{route: {ip_dst: NET, ip_gw: ADDR}}]``
(routing.py; docs/vswitch_policy.md, "Routing").

Anything else FAUCET has (bgp, lacp, dot1x, tunnel, failover, unicast_flood,
...) is refused by name ("FAUCET option 'lacp' is not
supported by this suite"); a key FAUCET does not have either is an unknown key. Both are
errors: an option silently ignored would make the network behave otherwise than the
file says. docs/vswitch_policy.md lists the differences from FAUCET.

Match fields: in_port, eth_src, eth_dst (MACs, optionally /mask), eth_type, vlan_vid,
ip_proto, ipv4_src, ipv4_dst, ipv6_src, ipv6_dst (addresses or prefixes, /len or
/mask), tcp_src, tcp_dst, udp_src, udp_dst (optionally value/mask), icmpv4_type,
icmpv4_code, icmpv6_type, icmpv6_code; and the OpenFlow 1.0 names dl_src, dl_dst,
dl_type, dl_vlan, nw_proto, nw_src, nw_dst. Numbers may be decimal or 0x hex.

Decisions
---------
- OpenFlow prerequisites are completed where nothing else is possible: tcp_dst adds
  ip_proto 6, ipv4_src adds eth_type 0x800, icmpv6_type adds both. A rule that matches
  IP without saying which version (tcp_dst: 80 alone) is an error asking for eth_type
  0x800 or 0x86dd: completing it to IPv4 would let the same traffic pass over IPv6.
  FAUCET completes nothing (Open vSwitch then refuses the flow when it is installed), so
  every FAUCET file already says all of this and loads the same here.
  Contradictions are errors: tcp_dst with ip_proto 17, ipv4_src with eth_type 0x86dd.
- An address or MAC with bits set outside its prefix or mask (10.0.0.1/24) is an error,
  not silently masked: it is a typo for either the network or the one host.
- A VLAN reference names a VLAN under 'vlans' (by name, or by VID). As in FAUCET, a
  VID written as a number that no 'vlans' entry has is a VLAN of its own (named by its
  VID); a name (or a quoted VID) that is not defined is an error.
- As in FAUCET, a switch whose interfaces reference no VLAN (and have no output_only
  port) is an error: it could forward nothing.
- A port with no VLAN is allowed, as in FAUCET: it forwards nothing (a mirror port, an
  output_only port, a port kept in reserve). A mirror port carries no VLAN and has no
  ACL; a mirrored port may not be a mirror port itself (no chains, no loops).
- Ports in ACL actions (mirror, output.port) are port numbers or interface names,
  resolved on each switch that applies the ACL (to a port, or to a VLAN): they must
  exist on every one of them.
- A rule whose actions say nothing about allow is allowed if it mirrors and dropped
  otherwise, as in FAUCET; ``Actions.allow`` holds the result.
- A key written twice in one mapping is an error (YAML keeps the last one silently).
"""

from controller.vswitch.loader import load_policy, load_policy_text
from controller.vswitch.model import Actions, Datapath, Interface, Policy, Rule, Vlan

__all__ = [
    'Actions',
    'Datapath',
    'Interface',
    'Policy',
    'Rule',
    'Vlan',
    'load_policy',
    'load_policy_text',
]
