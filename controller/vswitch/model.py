"""The validated policy as plain, immutable values: what the compiler
(pipeline.py) and the app read, and what a reload compares.

Every class is a frozen dataclass and every mapping a ``FrozenDict``, so a whole policy is
hashable and two policies compare field by field: a reload can tell exactly which VLANs,
switches, ports and ACLs changed. Source line numbers are kept for messages but take no
part in comparisons (moving a rule down the file changes nothing).

Match values are already what Ryu's ``OFPMatch`` takes: ints for numbers, lower-case
colon MACs, dotted / compressed IP strings, a ``(value, mask)`` tuple where a mask is
given, and ``vlan_vid`` with OFPVID_PRESENT (0x1000) set.
"""

from dataclasses import dataclass, field
from typing import Any

from controller.config.frozen import FrozenDict
from controller.ofmatch import OFPVID_PRESENT
from controller.vswitch.lacp import LacpOptions
from controller.vswitch.portopts import Beacon

OVS_HARDWARE = 'Open vSwitch'
FAUCET_MAC = '0e:00:00:00:00:01'  # FAUCET's default router MAC
# An ACL's fast-failover group ids stay below the stacking fabric's (port << 16 | backup)
MAX_ACL_GROUP_ID = 0xFFFF


@dataclass(frozen=True)
class Vlan:
    name: str
    vid: int
    description: str | None = None
    acls_in: tuple[str, ...] = ()  # ACL names, in priority order
    acls_out: tuple[str, ...] = ()  # egress ACL names (egress.py)
    max_hosts: int | None = None  # None: the app's default
    # FAUCET's router addresses in the VLAN ('10.0.0.254/24'), answered to ARP,
    # neighbour solicitation and ping from faucet_mac
    faucet_vips: tuple[str, ...] = ()
    faucet_mac: str = FAUCET_MAC
    # FAUCET's static routes: (destination network, gateway address), routed from
    # faucet_mac (controller/vswitch/routing.py)
    routes: tuple[tuple[str, str], ...] = ()
    targeted_gw_resolution: bool = False  # a known gateway is asked again where it was
    minimum_ip_size_check: bool = True  # an IP packet-in without a payload is ignored
    reserved_internal_vlan: bool = False  # FAUCET's: the VID of a tunnel, no tenant's

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {'vid': self.vid}
        _put(data, 'description', self.description)
        _put(data, 'acls_in', list(self.acls_in))
        _put(data, 'acls_out', list(self.acls_out))
        _put(data, 'max_hosts', self.max_hosts)
        _put(data, 'faucet_vips', list(self.faucet_vips))
        if self.faucet_mac != FAUCET_MAC:
            data['faucet_mac'] = self.faucet_mac
        _put(data, 'routes', [{'route': {'ip_dst': d, 'ip_gw': g}} for d, g in self.routes])
        if self.targeted_gw_resolution:
            data['targeted_gw_resolution'] = True
        if not self.minimum_ip_size_check:
            data['minimum_ip_size_check'] = False
        if self.reserved_internal_vlan:
            data['reserved_internal_vlan'] = True
        return data


@dataclass(frozen=True)
class Interface:
    """One switch port. A port carries its native VLAN untagged and its tagged VLANs
    tagged; a mirror port (``mirror`` not empty) carries no VLAN and receives a copy of
    everything the mirrored ports receive and send."""

    port: int
    name: str
    description: str | None = None
    native_vlan: Vlan | None = None
    tagged_vlans: tuple[Vlan, ...] = ()  # sorted by VID
    acls_in: tuple[str, ...] = ()  # ACL names, in priority order
    mirror: tuple[int, ...] = ()  # port numbers this port mirrors, sorted
    max_hosts: int | None = None  # None: the app's default
    enabled: bool = True
    output_only: bool = False  # accepts no input (FAUCET's output_only)
    permanent_learn: bool = False  # its hosts never expire nor move (FAUCET's)
    # FAUCET's stack port: cabled to (switch name, port) of another switch of the
    # policy; it carries every VLAN of the fabric tagged (docs/fabric.md)
    stack: tuple[str, int] | None = None
    # FAUCET's: floods from this port other than ARP and ND skip the other such ports
    restricted_bcast_arpnd: bool = False
    lacp: LacpOptions | None = None  # FAUCET's LACP: a member of LAG lacp.lag
    # FAUCET's per-port options (controller/vswitch/portopts.py)
    hairpin: bool = False  # floods and unicast also go back out of the in port
    loop_protect: bool = False  # a host moving here at once bans learning here
    loop_protect_external: bool = False  # a port to another network: one flood exit
    receive_lldp: bool = False  # LLDP in goes to the controller
    lldp_peer_mac: str | None = None  # ... and only from this MAC is taken
    lldp_beacon: Beacon | None = None  # beacons sent out of the port
    coprocessor: int | None = None  # a coprocessor port: its vlan_vid_base

    @property
    def vlans(self) -> tuple[Vlan, ...]:
        """Every VLAN this port carries, native first."""
        native = (self.native_vlan,) if self.native_vlan is not None else ()
        return native + self.tagged_vlans

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.name != str(self.port):
            data['name'] = self.name
        _put(data, 'description', self.description)
        if self.native_vlan is not None:
            data['native_vlan'] = self.native_vlan.name
        _put(data, 'tagged_vlans', [vlan.name for vlan in self.tagged_vlans])
        _put(data, 'acls_in', list(self.acls_in))
        _put(data, 'mirror', list(self.mirror))
        _put(data, 'max_hosts', self.max_hosts)
        if not self.enabled:
            data['enabled'] = False
        if self.output_only:
            data['output_only'] = True
        if self.permanent_learn:
            data['permanent_learn'] = True
        if self.stack is not None:
            data['stack'] = {'dp': self.stack[0], 'port': self.stack[1]}
        if self.restricted_bcast_arpnd:
            data['restricted_bcast_arpnd'] = True
        if self.lacp is not None:
            data.update(self.lacp.to_data())
        for flag in ('hairpin', 'loop_protect', 'loop_protect_external', 'receive_lldp'):
            if getattr(self, flag):
                data[flag] = True
        _put(data, 'lldp_peer_mac', self.lldp_peer_mac)
        if self.lldp_beacon is not None:
            data['lldp_beacon'] = self.lldp_beacon.to_data()
        if self.coprocessor is not None:
            data['coprocessor'] = {'strategy': 'vlan_vid', 'vlan_vid_base': self.coprocessor}
        return data


@dataclass(frozen=True)
class Datapath:
    name: str
    dp_id: int
    interfaces: FrozenDict  # port number -> Interface, sorted by port
    description: str | None = None
    hardware: str = OVS_HARDWARE  # FAUCET's name; every one gets the OVS pipeline
    # FAUCET's switch options (docs/vswitch_policy.md, "FAUCET compatibility"):
    ignore_learn_ins: int = 0  # every n-th learning packet-in of a second is ignored
    packetin_pps: int = 0  # the switch's controller meter (0: none)
    slowpath_pps: int = 0  # the switch's slow-path meter (0: none)
    combinatorial_port_flood: bool = True  # a flood rule per (VLAN, in_port), else per VLAN
    ofchannel_log: str | None = None  # a file that gets this switch's OpenFlow messages
    lldp_beacon: FrozenDict = FrozenDict()  # beacon send_interval, max_per_interval, system_name
    dp_acls: tuple[str, ...] = ()  # ACL names for every packet in (then no port ACLs)
    priority_offset: int = 0  # added to every rule's priority
    stack_priority: int | None = None  # FAUCET's stack root candidate (lowest wins)
    # FAUCET's switch MAC: its LLDP chassis id; validated, nothing here sends with it
    faucet_dp_mac: str | None = None
    lacp_timeout: int = 30  # seconds a LAG member's partner may be silent
    # FAUCET's LAG health in its root election; not counted in ours (docs)
    min_lacp_health: float | None = None
    use_idle_timeout: bool = False  # learned sources expire when silent (FAUCET's)
    layout: FrozenDict = FrozenDict()  # FAUCET's table layout options (faucet_layout.py)
    # FAUCET's health of a root candidate (docs/fabric.md): its share of stack ports
    # up, and root update intervals (10 s) it may be disconnected
    min_stack_health: float = 1.0
    down_time_multiple: int = 3
    route_learning: bool = False  # how FAUCET learns across the fabric (docs/fabric.md)

    @property
    def lags(self) -> dict[int, tuple[int, ...]]:
        """{LAG id: its member ports (enabled ones), sorted}."""
        lags: dict[int, list[int]] = {}
        for number, intf in self.interfaces.items():
            if intf.lacp is not None and intf.enabled:
                lags.setdefault(intf.lacp.lag, []).append(number)
        return {lag: tuple(sorted(ports)) for lag, ports in sorted(lags.items())}

    @property
    def stack_ports(self) -> dict[int, tuple[str, int]]:
        """{port: (peer switch name, peer port)} of the switch's stack ports."""
        return {n: i.stack for n, i in self.interfaces.items() if i.stack is not None}

    def port_of(self, ref: int | str) -> int | None:
        """The number of the port ``ref`` names (a port number or an interface
        name); None if it names no port of this switch."""
        if isinstance(ref, int):
            return ref if ref in self.interfaces else None
        for number, intf in self.interfaces.items():
            if intf.name == ref:
                return number
        return None

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {'dp_id': self.dp_id}
        _put(data, 'description', self.description)
        if self.hardware != OVS_HARDWARE:
            data['hardware'] = self.hardware
        for name, default in (
            ('ignore_learn_ins', 0),
            ('packetin_pps', 0),
            ('slowpath_pps', 0),
            ('combinatorial_port_flood', True),
            ('ofchannel_log', None),
            ('priority_offset', 0),
            ('faucet_dp_mac', None),
            ('lacp_timeout', 30),
            ('use_idle_timeout', False),
        ):
            if getattr(self, name) != default:
                data[name] = getattr(self, name)
        if self.lldp_beacon:
            data['lldp_beacon'] = dict(self.lldp_beacon)
        stack: dict[str, Any] = {}
        if self.stack_priority is not None:
            stack['priority'] = self.stack_priority
        if self.min_lacp_health is not None:
            stack['min_lacp_health'] = self.min_lacp_health
        health: tuple[tuple[str, Any], ...] = (
            ('min_stack_health', 1.0),
            ('down_time_multiple', 3),
            ('route_learning', False),
        )
        for name, default in health:
            if getattr(self, name) != default:
                stack[name] = getattr(self, name)
        _put(data, 'stack', stack or None)
        _put(data, 'dp_acls', list(self.dp_acls))
        for name, value in self.layout.items():
            data[name] = dict(value) if isinstance(value, FrozenDict) else value
        data['interfaces'] = {
            port: interface.to_data() for port, interface in self.interfaces.items()
        }
        return data


# The steps of an ACL's output, in the order applied (FAUCET's output actions):
#   ('pop_vlan',) ('push_vlan', ethertype, vid) ('swap_vid', vid)
#   ('set_field', field, value as OFPMatch takes it) ('output', port number or name)
#   ('tunnel', Tunnel)
#   ('failover', group id, (port number or name, ...)): out of the first live port
OutputStep = tuple[Any, ...]
REWRITES = ('pop_vlan', 'push_vlan', 'swap_vid', 'set_field')
DESTINATIONS = ('output', 'tunnel', 'failover')


@dataclass(frozen=True)
class Tunnel:
    """FAUCET's tunnel output: the packet, in VLAN ``tunnel_id``, carried over the stack
    fabric to ``port`` of switch ``dp`` (controller/vswitch/tunnel.py)."""

    tunnel_id: int
    dp: str
    port: int
    exit_instructions: tuple[OutputStep, ...] = ()  # rewrites at the exit, before the port
    maintain_encapsulation: bool = False  # leaves the tunnel with its tunnel tag
    bi_directional: bool = False  # frames sent back (tagged, PCP 4) go to the source
    reverse: bool = False  # marked PCP 4 (a way back) instead of 3

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {'tunnel_id': self.tunnel_id, 'dp': self.dp, 'port': self.port}
        if self.exit_instructions:
            data['exit_instructions'] = [_output_step_data(s) for s in self.exit_instructions]
        for name in ('maintain_encapsulation', 'bi_directional', 'reverse'):
            if getattr(self, name):
                data[name] = True
        return data


@dataclass(frozen=True)
class Actions:
    """What a matching packet gets. ``allow`` is resolved as FAUCET does: an explicit
    value, else True for a rule that mirrors and False (drop) otherwise. ``mirror``
    copies the packet as it came; ``output`` rewrites it and sends it out of ports, in
    its order; with ``allow`` the packet also goes on through the pipeline (which only a
    rule that does not rewrite may do)."""

    allow: bool = False
    # FAUCET's: allowed packets skip the VLAN table and VLAN ACLs, on to learning
    force_port_vlan: bool = False
    mirror: int | str | None = None  # a port number or an interface name
    output: tuple[OutputStep, ...] = ()
    meter: str | None = None  # the name of a Meter of the policy

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {'allow': self.allow}
        if self.force_port_vlan:
            data['force_port_vlan'] = True
        _put(data, 'mirror', self.mirror)
        _put(data, 'meter', self.meter)
        if len(self.output) == 1 and self.output[0][0] == 'output':
            data['output'] = {'port': self.output[0][1]}
        elif self.output:
            data['output'] = [_output_step_data(step) for step in self.output]
        return data


def _output_step_data(step: OutputStep) -> dict[str, Any]:
    """One output step in FAUCET's ordered output form."""
    kind = step[0]
    if kind == 'pop_vlan':
        return {'pop_vlans': 1}
    if kind == 'push_vlan':
        ethertype, vid = step[1:]
        return {'vlan_vid': vid if ethertype == 0x8100 else {'vid': vid, 'eth_type': ethertype}}
    if kind == 'swap_vid':
        return {'swap_vid': step[1]}
    if kind == 'set_field':
        return {'set_fields': [{step[1]: match_value_to_data(step[1], step[2])}]}
    if kind == 'tunnel':
        return {'tunnel': step[1].to_data()}
    if kind == 'failover':
        return {'failover': {'group_id': step[1], 'ports': list(step[2])}}
    return {'port': step[1]}


@dataclass(frozen=True)
class Meter:
    """FAUCET's meter: a drop band (or several) at a rate in kb/s or packets/s."""

    name: str
    meter_id: int
    flags: tuple[str, ...]  # sorted; KBPS or PKTPS, and BURST, STATS
    bands: tuple[tuple[int, int], ...]  # (rate, burst_size) of DROP bands

    def to_data(self) -> dict[str, Any]:
        bands = [{'type': 'DROP', 'rate': rate, 'burst_size': burst} for rate, burst in self.bands]
        return {'meter_id': self.meter_id, 'entry': {'flags': list(self.flags), 'bands': bands}}


@dataclass(frozen=True)
class Rule:
    match: FrozenDict  # OpenFlow field -> value as OFPMatch takes it
    actions: Actions
    description: str | None = None
    line: int | None = field(default=None, compare=False)  # of '- rule:' in the file

    def to_data(self) -> dict[str, Any]:
        body = {name: match_value_to_data(name, value) for name, value in self.match.items()}
        _put(body, 'description', self.description)
        body['actions'] = self.actions.to_data()
        return {'rule': body}


@dataclass(frozen=True)
class Router:
    """FAUCET's router: routing between the subnets of its VLANs' faucet_vips."""

    name: str
    vlans: tuple[str, ...]  # VLAN names, as listed

    def to_data(self) -> dict[str, Any]:
        return {'vlans': list(self.vlans)}


@dataclass(frozen=True)
class Policy:
    vlans: FrozenDict  # name -> Vlan
    dps: FrozenDict  # name -> Datapath
    acls: FrozenDict  # name -> tuple of Rules, first match wins
    # The policy file and every file it includes or looks for (include-optional): what
    # a reload watches. Not part of the policy's value.
    files: tuple[str, ...] = field(default=(), compare=False)
    meters: FrozenDict = FrozenDict()  # name -> Meter
    routers: FrozenDict = FrozenDict()  # name -> Router
    # What the policy has that does nothing here, as in FAUCET (a router's VLAN without
    # VIPs, a route that is never installed): logged as warnings. Not its value.
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def rule_count(self) -> int:
        return sum(len(rules) for rules in self.acls.values())

    def datapath_by_id(self, dp_id: int) -> Datapath | None:
        """The Datapath with this dp_id, or None."""
        for dp in self.dps.values():
            if dp.dp_id == dp_id:
                return dp
        return None

    def to_data(self) -> dict[str, Any]:
        """The policy as plain YAML-ready data, in FAUCET's layout: loading it again
        gives an equal Policy."""
        data = {
            'vlans': {name: vlan.to_data() for name, vlan in self.vlans.items()},
            'acls': {name: [rule.to_data() for rule in rules] for name, rules in self.acls.items()},
            'dps': {name: dp.to_data() for name, dp in self.dps.items()},
        }
        if self.meters:
            data['meters'] = {name: meter.to_data() for name, meter in self.meters.items()}
        if self.routers:
            data['routers'] = {name: router.to_data() for name, router in self.routers.items()}
        return data


def match_value_to_data(name: str, value: Any) -> Any:
    """A model match value as it is written in a policy file."""
    if name == 'vlan_vid':
        return value & ~OFPVID_PRESENT
    if isinstance(value, tuple):
        address, mask = value
        if isinstance(address, int):
            return '%d/0x%x' % (address, mask)
        return '%s/%s' % (address, mask)
    return value


def _put(data, key, value):
    """Write only what is set, so that files stay as short as the user's."""
    if value is not None and value != []:
        data[key] = value
