"""FAUCET's L3 on this suite's pipeline: ``routers`` (routing between the subnets of
their VLANs' ``faucet_vips``) and VLAN ``routes`` (static routes via a gateway). Pure:
the policy in, FlowSpecs and frames out; time is given by the caller.

Routing domains: a router joins its VLANs; a VLAN with VIPs in no router routes on its
own (its static routes, its own subnets). A domain's FIB: the subnets of its VLANs' VIPs
(connected) and the static routes of its VLANs, each egressing in the VLAN whose
connected subnet holds the gateway. As FAUCET, a router's VLAN without VIPs is not
routed, and a route whose gateway is in no connected subnet is never installed: both
are accepted with a note (the app logs it as a warning).

On the switch (table ETH_SRC, above learning, for each VLAN V of a domain, frames to
V's ``faucet_mac``)::

  ip_dst = a VIP of the domain              -> goto ETH_DST (the VIP rules answer)
  ip_dst in a resolved next hop's prefix    -> eth_src := the egress VLAN's faucet_mac,
                                               eth_dst := the next hop, TTL - 1,
                                               vid := the egress VLAN, goto ETH_DST [ROUTE]
  ip_dst in a connected subnet (unresolved) -> controller, which asks the host (ARP /
                                               neighbour solicitation) and drops its
                                               packets for PENDING_SECONDS [ROUTE_MISS]
  any other IP                              -> drop (no route) [ROUTE]

A static route whose gateway does not answer is not installed: its packets take the
longest prefix that is (often none: dropped). Routed frames skip source learning (their
hosts are learned from their ARP and neighbour discovery, which are not routed).

    fib = Fib.of(policy)
    static_rules(fib, vids, tables, cookies)         # the rules above but resolved ones
    router = SwitchRouter(fib, vids, tables, cookie) # per switch, with its Resolver
    router.heard(vid, port, frame, now)              # ARP / ND seen by the VIP rules
    router.missed(vid, frame, now)                   # a ROUTE_MISS packet-in
    router.resolver.due(now)                         # requests to send, expiries
    router.rules()                                   # the resolved FIB rules wanted
"""

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ryu.lib.packet import arp, ethernet, icmpv6, ipv6, packet
from ryu.lib.packet import vlan as vlan_header

from controller.config.yaml_source import Path
from controller.flowspec import FlowSpec
from controller.ofmatch import OFPVID_PRESENT
from controller.vswitch.model import Policy, Router, Vlan

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
ETH_VLAN, ETH_ARP, ETH_IPV4, ETH_IPV6 = 0x8100, 0x0806, 0x0800, 0x86DD
BROADCAST = 'ff:ff:ff:ff:ff:ff'

# Table ETH_SRC priorities: above every learning rule, longest prefix first.
PRIO_NO_ROUTE = 1000
PRIO_PREFIX = PRIO_NO_ROUTE + 1  # + the prefix length
PRIO_VIP_HOST = PRIO_PREFIX + 129

# Resolution (FAUCET's defaults are close: a retry backing off, neighbours re-asked
# after 30 s of silence).
RETRY_SECONDS = 1.0  # the first retry; each next one waits twice as long
MAX_BACKOFF_SECONDS = 32.0  # a gateway that does not answer is asked this often at most
MAX_TRIES = 5  # requests without an answer before a next hop is given up (or expired)
NEIGHBOUR_REFRESH_SECONDS = 30.0  # a resolved next hop is asked again after this
PENDING_SECONDS = 2  # a destination being resolved: its packets dropped this long
MAX_NEIGHBOURS = 4096  # per switch; hosts beyond it are not resolved


# --- the policy: parsing and checks (called by loader.py) ------------------------------


def parse_routes(path: Path, conf: Any, issue: Callable[[Path, str], None]) -> tuple:
    """FAUCET's VLAN ``routes`` at ``path``: ((ip_dst network, ip_gw address), ...) as
    text, each checked; '- route: {...}' or (as FAUCET also reads) the mapping itself."""
    routes = []
    for index, item in enumerate(conf if isinstance(conf, list) else []):
        item_path = path + (index,)
        if isinstance(item, dict) and 'route' in item:
            item, item_path = item['route'], item_path + ('route',)
        if not isinstance(item, dict):
            issue(item_path, 'expected a route: {ip_dst: NETWORK, ip_gw: ADDRESS}')
            continue
        extra = sorted(str(key) for key in item if key not in ('ip_dst', 'ip_gw'))
        if extra:
            issue(
                item_path + (extra[0],), "unknown key '%s'; a route has ip_dst and ip_gw" % extra[0]
            )
        missing = [key for key in ('ip_dst', 'ip_gw') if key not in item]
        if missing:
            issue(item_path, 'missing %s in the route' % ' and '.join(missing))
            continue
        try:
            dst = ipaddress.ip_network(str(item['ip_dst']).strip())
        except ValueError:
            issue(
                item_path + ('ip_dst',),
                'expected a network like 10.0.1.0/24 (no host bits set); got %r' % item['ip_dst'],
            )
            continue
        try:
            gw = ipaddress.ip_address(str(item['ip_gw']).strip())
        except ValueError:
            issue(item_path + ('ip_gw',), 'expected an IP address; got %r' % item['ip_gw'])
            continue
        if gw.version != dst.version:
            issue(
                item_path + ('ip_gw',),
                'ip_gw %s is IPv%d, ip_dst %s IPv%d: a route stays in one IP version'
                % (gw, gw.version, dst, dst.version),
            )
            continue
        routes.append((str(dst), str(gw)))
    return tuple(routes)


def parse_routers(
    conf: Any,
    vlan_of: Callable[[Any], Vlan | None],
    vlan_keys: Mapping[str, str],
    issue: Callable[[Path, str], None],
    note: Callable[[Path, str], None],
) -> dict[str, Router]:
    """FAUCET's top-level ``routers`` ({name: {vlans: [...]}}), checked as FAUCET does
    and a little more: every VLAN named exists (``vlan_of``: a name or VID to its Vlan);
    a VLAN alone in a router is in no other router; the VIP subnets of a router do not
    overlap. A VLAN without VIPs is not routed (``note``d), as in FAUCET."""
    routers: dict[str, Router] = {}
    lone: dict[str, str] = {}  # VLAN -> the router it is alone in
    for name, router in (conf if isinstance(conf, dict) else {}).items():
        refs = router.get('vlans') if isinstance(router, dict) else None
        path = ('routers', name, 'vlans')
        vlans: list[Vlan] = []
        for index, ref in enumerate(refs if isinstance(refs, list) else []):
            vlan = vlan_of(ref)
            if vlan is None:
                issue(
                    path + (index,),
                    "unknown VLAN '%s'; defined VLANs: %s" % (ref, ', '.join(vlan_keys) or 'none'),
                )
            elif vlan in vlans:
                issue(path + (index,), "VLAN '%s' is listed twice" % vlan.name)
            else:
                if not vlan.faucet_vips:
                    note(
                        path + (index,),
                        "VLAN '%s' has no faucet_vips: router %s does not route it (as "
                        'FAUCET)' % (vlan.name, name),
                    )
                vlans.append(vlan)
        if len(vlans) == 1:
            if vlans[0].name in lone:
                issue(
                    path,
                    "VLAN '%s' is alone in router %s too (as FAUCET: a single VLAN in "
                    'one router at most)' % (vlans[0].name, lone[vlans[0].name]),
                )
            lone[vlans[0].name] = str(name)
        _check_overlaps(path, vlans, issue)
        routers[str(name)] = Router(name=str(name), vlans=tuple(v.name for v in vlans))
    return routers


def _check_overlaps(path, vlans, issue):
    vips = [
        (vlan.name, ipaddress.ip_interface(text))
        for vlan in vlans
        for text in vlan.faucet_vips
        if not ipaddress.ip_interface(text).ip.is_link_local
    ]
    for index, (name, vip) in enumerate(vips):
        for other_name, other in vips[index + 1 :]:
            if vip.version == other.version and vip.network.overlaps(other.network):
                issue(
                    path,
                    'the VIP subnets %s (VLAN %s) and %s (VLAN %s) overlap: a router needs '
                    'each destination in one VLAN' % (vip, name, other, other_name),
                )


def check_routes(
    vlans: Mapping[str, Vlan],
    routers: Mapping[str, Router],
    vlan_keys: Mapping[str, str],
    issue: Callable[[Path, str], None],
    note: Callable[[Path, str], None],
) -> None:
    """No static route's gateway is one of the router's own VIPs; a route whose gateway
    is in no connected subnet of its VLAN's domain (its router's VLANs, or the VLAN
    itself) is never installed, as in FAUCET (``note``d)."""
    for vlan in vlans.values():
        domain = _domain_of(vlan, vlans, routers)
        for index, (_, gw_text) in enumerate(vlan.routes):
            gw = ipaddress.ip_address(gw_text)
            path = ('vlans', vlan_keys.get(vlan.name, vlan.name), 'routes', index)
            connected = [
                vip
                for v in domain
                for vip in map(ipaddress.ip_interface, v.faucet_vips)
                if not vip.ip.is_link_local
            ]
            if any(vip.ip == gw for vip in connected):
                issue(path, 'ip_gw %s is a VIP of the router itself' % gw)
            elif not any(gw in vip.network for vip in connected):
                note(
                    path,
                    'ip_gw %s is in no connected subnet of VLAN %s%s (faucet_vips: %s): '
                    'the route is never installed (as FAUCET)'
                    % (
                        gw,
                        vlan.name,
                        ' and its router' if len(domain) > 1 else '',
                        ', '.join(str(v) for v in connected) or 'none',
                    ),
                )


def _domain_of(vlan, vlans, routers):
    """The VLANs ``vlan`` routes with: those of its routers, or itself."""
    joined = [
        vlans[name]
        for router in routers.values()
        if vlan.name in router.vlans
        for name in router.vlans
    ]
    return list(dict.fromkeys(joined)) or [vlan]


# --- the FIB ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Connected:
    network: IPNetwork
    vip: IPAddress
    vlan: Vlan  # where its hosts are


@dataclass(frozen=True)
class StaticRoute:
    network: IPNetwork
    gateway: IPAddress
    vlan: Vlan  # where the gateway is


@dataclass(frozen=True)
class Domain:
    vlans: tuple[Vlan, ...]
    connected: tuple[Connected, ...]
    routes: tuple[StaticRoute, ...]

    def connected_to(self, ip: IPAddress) -> Connected | None:
        for subnet in self.connected:
            if ip in subnet.network:
                return subnet
        return None


@dataclass(frozen=True)
class Fib:
    domains: tuple[Domain, ...]

    @classmethod
    def of(cls, policy: Policy) -> 'Fib':
        vlans = policy.vlans
        seen: list[tuple[Vlan, ...]] = []
        for router in policy.routers.values():
            members = tuple(
                vlans[name] for name in router.vlans if name in vlans and vlans[name].faucet_vips
            )
            if members and members not in seen:
                seen.append(members)
        in_router = {v for members in seen for v in members}
        seen += [(v,) for v in vlans.values() if v.faucet_vips and v not in in_router]
        return cls(tuple(_domain(members) for members in seen))

    def domains_of(self, vid: int) -> list[Domain]:
        """The domains VLAN ``vid`` routes in (a VLAN may join several routers)."""
        return [d for d in self.domains if any(v.vid == vid for v in d.vlans)]

    def subnet_of(self, vid: int, ip: IPAddress) -> Connected | None:
        """The connected subnet of VLAN ``vid`` that holds ``ip``."""
        for domain in self.domains_of(vid):
            subnet = domain.connected_to(ip)
            if subnet is not None and subnet.vlan.vid == vid:
                return subnet
        return None


def _vips(vlan: Vlan) -> list[IPAddress]:
    return [ipaddress.ip_interface(text).ip for text in vlan.faucet_vips]


def _domain(members):
    # link-local subnets are each VLAN's own: not routed
    connected = tuple(
        Connected(iface.network, iface.ip, vlan)
        for vlan in members
        for iface in (ipaddress.ip_interface(text) for text in vlan.faucet_vips)
        if not iface.ip.is_link_local
    )
    routes = []
    for vlan in members:
        for dst, gw_text in vlan.routes:
            gw = ipaddress.ip_address(gw_text)
            where = next((c.vlan for c in connected if gw in c.network), None)
            if where is not None:  # else never installed (check_routes noted it)
                routes.append(StaticRoute(ipaddress.ip_network(dst), gw, where))
    return Domain(tuple(members), connected, tuple(routes))


def _ip_match(network: IPNetwork) -> dict[str, Any]:
    key = 'ipv4_dst' if network.version == 4 else 'ipv6_dst'
    eth_type = ETH_IPV4 if network.version == 4 else ETH_IPV6
    if network.prefixlen == 0:
        return {'eth_type': eth_type}
    if network.prefixlen == network.max_prefixlen:
        return {'eth_type': eth_type, key: str(network.network_address)}
    return {'eth_type': eth_type, key: (str(network.network_address), str(network.netmask))}


def _router_match(vlan: Vlan, network: IPNetwork) -> dict[str, Any]:
    return dict(_ip_match(network), vlan_vid=OFPVID_PRESENT | vlan.vid, eth_dst=vlan.faucet_mac)


def static_rules(
    fib: Fib, vids: frozenset[int], tables: tuple[int, int], cookies: tuple[int, int]
) -> set[FlowSpec]:
    """The FIB rules that do not depend on resolution, for a switch carrying VLANs
    ``vids``: in table ``tables[0]`` (ETH_SRC), per routed VLAN, the VIPs passed on to
    ``tables[1]`` (ETH_DST), the connected subnets to the controller (``cookies[1]``),
    other IP to the router MAC dropped (``cookies[0]``)."""
    table, next_table = tables
    route_cookie, miss_cookie = cookies
    rules = set()
    for domain in fib.domains:
        for vlan in domain.vlans:
            if vlan.vid not in vids:
                continue
            for anything in ('0.0.0.0/0', '::/0'):
                rules.add(
                    FlowSpec.make(
                        table,
                        PRIO_NO_ROUTE,
                        _router_match(vlan, ipaddress.ip_network(anything)),
                        [],
                        route_cookie,
                    )
                )
            # a VIP answers in its own VLAN (the VIP rules there); another VLAN's VIP
            # is not routed to
            for vip in _vips(vlan):
                rules.add(
                    FlowSpec.make(
                        table,
                        PRIO_VIP_HOST,
                        _router_match(vlan, ipaddress.ip_network(vip)),
                        [('goto', next_table)],
                        route_cookie,
                    )
                )
            for subnet in domain.connected:
                if subnet.vlan.vid != vlan.vid:
                    rules.add(
                        FlowSpec.make(
                            table,
                            PRIO_VIP_HOST,
                            _router_match(vlan, ipaddress.ip_network(subnet.vip)),
                            [],
                            route_cookie,
                        )
                    )
                if subnet.vlan.vid in vids:
                    rules.add(
                        FlowSpec.make(
                            table,
                            PRIO_PREFIX + subnet.network.prefixlen,
                            _router_match(vlan, subnet.network),
                            [('apply', (('controller', MISS_BYTES),))],
                            miss_cookie,
                        )
                    )
    return rules


MISS_BYTES = 128  # enough for the IP header the controller reads


def next_hop_rule(
    ingress: Vlan,
    network: IPNetwork,
    egress: Vlan,
    mac: str | None,
    tables: tuple[int, int],
    cookie: int,
    hard_timeout: int = 0,
) -> FlowSpec:
    """Frames of ``ingress`` to its router MAC for ``network``: routed to ``mac`` in
    ``egress`` (and dropped, for ``mac`` None: a destination being resolved, for
    ``hard_timeout`` seconds)."""
    table, next_table = tables
    if mac is None:
        instructions: list = []
    else:
        instructions = [
            (
                'apply',
                (
                    ('set_field', 'eth_src', egress.faucet_mac),
                    ('set_field', 'eth_dst', mac),
                    ('dec_nw_ttl',),
                    ('set_field', 'vlan_vid', OFPVID_PRESENT | egress.vid),
                ),
            ),
            ('goto', next_table),
        ]
    return FlowSpec.make(
        table,
        PRIO_PREFIX + network.prefixlen,
        _router_match(ingress, network),
        instructions,
        cookie,
        hard_timeout=hard_timeout,
    )


# --- next hop resolution ------------------------------------------------------------


@dataclass
class Neighbour:
    """A next hop (a static route's gateway, or a host of a connected subnet) of one
    VLAN: unresolved while ``mac`` is None."""

    ip: IPAddress
    vid: int
    gateway: bool = False
    mac: str | None = None
    port: int | None = None
    tries: int = 0  # requests sent since it was last heard
    next_at: float = 0.0  # when the next request is due


@dataclass(frozen=True)
class Request:
    """An ARP request or neighbour solicitation to send: for ``ip`` in VLAN ``vid``,
    flooded in the VLAN (``port`` None) or, to re-ask a known next hop, sent to its
    ``mac`` out of its ``port`` (FAUCET's targeted_gw_resolution)."""

    ip: IPAddress
    vid: int
    port: int | None = None
    mac: str | None = None


@dataclass
class Due:
    requests: list[Request] = field(default_factory=list)
    expired: list[Neighbour] = field(default_factory=list)  # stopped answering
    silent: list[Neighbour] = field(default_factory=list)  # gateways given up


@dataclass
class Resolver:
    """The neighbour table of one switch, and when to ask whom. A next hop asked
    MAX_TRIES times without an answer is given up: a host is forgotten, a gateway
    keeps being asked, backing off to MAX_BACKOFF_SECONDS. A resolved one is asked
    again after NEIGHBOUR_REFRESH_SECONDS; if it then stays silent for MAX_TRIES
    requests, its MAC is forgotten (its routes withdrawn)."""

    targeted_vids: frozenset[int] = frozenset()
    table: dict[tuple[int, IPAddress], Neighbour] = field(default_factory=dict)

    def want(self, ip: IPAddress, vid: int, now: float, gateway: bool = False) -> bool:
        """Ask for ``ip`` of VLAN ``vid`` (from ``now``) unless it is known or asked;
        False if the table is full."""
        entry = self.table.get((vid, ip))
        if entry is None:
            if len(self.table) >= MAX_NEIGHBOURS:
                return False
            self.table[(vid, ip)] = Neighbour(ip, vid, gateway, next_at=now)
        else:
            entry.gateway |= gateway
        return True

    def heard(self, ip: IPAddress, vid: int, mac: str, port: int, now: float) -> bool:
        """``ip`` of VLAN ``vid`` is at ``mac`` behind ``port`` (a reply, or its own
        request): True if that is news (new, or another MAC)."""
        entry = self.table.get((vid, ip))
        if entry is None:
            if len(self.table) >= MAX_NEIGHBOURS:
                return False
            entry = self.table[(vid, ip)] = Neighbour(ip, vid)
        news = entry.mac != mac
        entry.mac, entry.port, entry.tries = mac, port, 0
        entry.next_at = now + NEIGHBOUR_REFRESH_SECONDS
        return news

    def due(self, now: float) -> 'Due':
        """What is due at ``now``: the requests to send, the next hops that have just
        stopped answering (their MAC forgotten), the gateways just given up."""
        result = Due()
        for key, entry in list(self.table.items()):
            if entry.next_at > now:
                continue
            if entry.tries >= MAX_TRIES:
                if entry.mac is not None:
                    result.expired.append(entry)
                    entry.mac = entry.port = None
                elif entry.gateway and entry.tries == MAX_TRIES:
                    result.silent.append(entry)
                if not entry.gateway:
                    del self.table[key]
                    continue
            targeted = (
                entry.tries == 0
                and entry.mac is not None
                and entry.port is not None
                and entry.vid in self.targeted_vids
            )
            result.requests.append(
                Request(entry.ip, entry.vid, entry.port, entry.mac)
                if targeted
                else Request(entry.ip, entry.vid)
            )
            entry.tries += 1
            backoff = RETRY_SECONDS * 2 ** min(entry.tries - 1, 16)
            entry.next_at = now + min(backoff, MAX_BACKOFF_SECONDS)
        return result

    def resolved(self) -> dict[tuple[int, IPAddress], str]:
        """{(vid, ip): MAC} of the next hops known."""
        return {key: e.mac for key, e in self.table.items() if e.mac is not None}


# --- one switch -------------------------------------------------------------------------


class SwitchRouter:
    """The routing state of one switch: its neighbours, the FIB rules they make."""

    def __init__(
        self,
        fib: Fib,
        vids: frozenset[int],
        tables: tuple[int, int],
        cookie: int,
        resolver: Resolver | None = None,
        now: float = 0.0,
    ) -> None:
        self.fib, self.vids, self.tables, self.cookie = fib, vids, tables, cookie
        self.vlans = {v.vid: v for d in fib.domains for v in d.vlans}
        targeted = frozenset(vid for vid, v in self.vlans.items() if v.targeted_gw_resolution)
        self.resolver = Resolver(targeted)
        # Keep what was known (a reload) where it still belongs to a routed VLAN here.
        for key, entry in resolver.table.items() if resolver is not None else ():
            if entry.vid in vids and self.fib.subnet_of(entry.vid, entry.ip) is not None:
                entry.gateway = False
                self.resolver.table[key] = entry
        for domain in fib.domains:
            for route in domain.routes:
                if route.vlan.vid in vids:
                    self.resolver.want(route.gateway, route.vlan.vid, now, gateway=True)

    @property
    def active(self) -> bool:
        return any(vid in self.vids for vid in self.vlans)

    def rules(self) -> frozenset[FlowSpec]:
        """The FIB rules of the next hops resolved: a host rule for every neighbour
        known, and each static route whose gateway is known."""
        known = self.resolver.resolved()
        rules: dict[tuple, FlowSpec] = {}
        for domain in self.fib.domains:
            ingress = [v for v in domain.vlans if v.vid in self.vids]
            for (vid, ip), mac in sorted(known.items(), key=str):
                subnet = domain.connected_to(ip)
                if subnet is None or subnet.vlan.vid != vid:
                    continue
                for vlan in ingress:
                    spec = next_hop_rule(
                        vlan, ipaddress.ip_network(ip), subnet.vlan, mac, self.tables, self.cookie
                    )
                    rules[spec.key] = spec
            for route in domain.routes:
                gateway_mac = known.get((route.vlan.vid, route.gateway))
                if gateway_mac is None:
                    continue
                for vlan in ingress:
                    spec = next_hop_rule(
                        vlan, route.network, route.vlan, gateway_mac, self.tables, self.cookie
                    )
                    rules[spec.key] = spec
        return frozenset(rules.values())

    def heard(self, vid: int, port: int, frame: bytes | bytearray, now: float) -> bool:
        """Learn from an ARP or neighbour discovery frame of VLAN ``vid`` (as the VIP
        rules send them: a reply to the router, or a host asking for a VIP): True if a
        next hop is new or moved to another MAC."""
        found = _sender(frame)
        if found is None:
            return False
        ip, mac = found
        if self.fib.subnet_of(vid, ip) is None or not _unicast(mac):
            return False
        return self.resolver.heard(ip, vid, mac, port, now)

    def missed(self, vid: int, frame: bytes | bytearray, now: float) -> FlowSpec | None:
        """A packet of VLAN ``vid`` to a connected subnet's host without its rule:
        the host's rule if it is resolved; else start asking for it, and the rule that
        drops its packets meanwhile. None if the packet is not one (or the neighbour
        table is full)."""
        ingress = self.vlans.get(vid)
        dst = _ip_dst(frame, ingress is not None and ingress.minimum_ip_size_check)
        if ingress is None or dst is None:
            return None
        for domain in self.fib.domains_of(vid):
            subnet = domain.connected_to(dst)
            if subnet is None or subnet.vlan.vid not in self.vids:
                continue
            mac = self.resolver.resolved().get((subnet.vlan.vid, dst))
            if mac is None and not self.resolver.want(dst, subnet.vlan.vid, now):
                return None
            return next_hop_rule(
                ingress,
                ipaddress.ip_network(dst),
                subnet.vlan,
                mac,
                self.tables,
                self.cookie,
                hard_timeout=0 if mac else PENDING_SECONDS,
            )
        return None

    def request_frame(self, request: Request) -> bytes | None:
        """The ARP request or neighbour solicitation of ``request``, from the VIP of
        the subnet the next hop is in, tagged with its VLAN."""
        subnet = self.fib.subnet_of(request.vid, request.ip)
        if subnet is None:
            return None
        return request_frame(subnet.vlan, subnet.vip, request.ip, request.mac)


def request_frame(vlan: Vlan, vip: IPAddress, target: IPAddress, mac: str | None = None) -> bytes:
    """An ARP request (IPv4) or neighbour solicitation (IPv6) for ``target`` from
    ``vip`` and ``vlan``'s faucet_mac, tagged with the VLAN; broadcast (solicited-node
    multicast), or to ``mac``."""
    pkt = packet.Packet()
    if target.version == 4:
        pkt.add_protocol(
            ethernet.ethernet(dst=mac or BROADCAST, src=vlan.faucet_mac, ethertype=ETH_VLAN)
        )
        pkt.add_protocol(vlan_header.vlan(vid=vlan.vid, ethertype=ETH_ARP))
        pkt.add_protocol(
            arp.arp(
                opcode=arp.ARP_REQUEST,
                src_mac=vlan.faucet_mac,
                src_ip=str(vip),
                dst_mac='00:00:00:00:00:00',
                dst_ip=str(target),
            )
        )
    else:
        low = target.packed[-3:]
        group = ipaddress.ip_address('ff02::1:ff00:0').packed[:13] + low
        dst_mac = mac or '33:33:ff:%02x:%02x:%02x' % tuple(low)
        pkt.add_protocol(ethernet.ethernet(dst=dst_mac, src=vlan.faucet_mac, ethertype=ETH_VLAN))
        pkt.add_protocol(vlan_header.vlan(vid=vlan.vid, ethertype=ETH_IPV6))
        dst_ip = str(target) if mac else str(ipaddress.IPv6Address(group))
        pkt.add_protocol(ipv6.ipv6(src=str(vip), dst=dst_ip, nxt=58, hop_limit=255))
        pkt.add_protocol(
            icmpv6.icmpv6(
                type_=icmpv6.ND_NEIGHBOR_SOLICIT,
                data=icmpv6.nd_neighbor(
                    dst=str(target), option=icmpv6.nd_option_sla(hw_src=vlan.faucet_mac)
                ),
            )
        )
    pkt.serialize()
    return bytes(pkt.data)


def _unicast(mac: str) -> bool:
    return not int(mac.split(':')[0], 16) & 1 and mac != '00:00:00:00:00:00'


def _sender(frame: bytes | bytearray) -> tuple[IPAddress, str] | None:
    """(IP, MAC) of the sender of an ARP packet, a neighbour solicitation with its
    source link-layer address, or a neighbour advertisement with its target's."""
    pkt = packet.Packet(bytes(frame))
    request = pkt.get_protocol(arp.arp)
    if request is not None:
        return ipaddress.ip_address(request.src_ip), request.src_mac
    ip6, msg6 = pkt.get_protocol(ipv6.ipv6), pkt.get_protocol(icmpv6.icmpv6)
    if ip6 is None or msg6 is None or not isinstance(msg6.data, icmpv6.nd_neighbor):
        return None
    option = msg6.data.option
    if msg6.type_ == icmpv6.ND_NEIGHBOR_SOLICIT and isinstance(option, icmpv6.nd_option_sla):
        src = ipaddress.ip_address(ip6.src)
        return (src, option.hw_src) if not src.is_unspecified else None
    if msg6.type_ == icmpv6.ND_NEIGHBOR_ADVERT:
        eth = pkt.get_protocol(ethernet.ethernet)
        mac = option.hw_src if isinstance(option, icmpv6.nd_option_tla) else eth.src
        return ipaddress.ip_address(msg6.data.dst), mac
    return None


# The smallest IP headers: a packet-in no longer than this (after Ethernet and the VLAN
# tag) has no payload, and FAUCET's minimum_ip_size_check ignores it.
_HEADER = {ETH_IPV4: 18 + 20, ETH_IPV6: 18 + 40}


def _ip_dst(frame: bytes | bytearray, size_check: bool) -> IPAddress | None:
    """The destination of a tagged IPv4 / IPv6 packet-in (None for anything else, or
    for one without a payload where ``size_check``)."""
    if len(frame) < 18 or frame[12:14] != b'\x81\x00':
        return None
    ethertype = int.from_bytes(frame[16:18], 'big')
    header = _HEADER.get(ethertype)
    if header is None or len(frame) < header:
        return None
    if size_check:
        if ethertype == ETH_IPV4:
            total = int.from_bytes(frame[20:22], 'big')
            header_len = (frame[18] & 0x0F) * 4
        else:
            total, header_len = int.from_bytes(frame[22:24], 'big'), 0
        if total <= header_len:
            return None
    if ethertype == ETH_IPV4:
        return ipaddress.IPv4Address(frame[34:38])
    return ipaddress.IPv6Address(frame[42:58])
