"""FAUCET's L3 (controller/vswitch/routing.py): routers, static routes, the FIB rules
compiled, next hop resolution with fake time, restricted_bcast_arpnd, faucet_dp_mac,
and the validation of each."""

import ipaddress

import pytest
from ryu.lib.packet import arp, ethernet, icmpv6, ipv4, ipv6, packet, udp, vlan
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.config import ConfigError
from controller.ofmatch import OFPVID_PRESENT
from controller.vswitch import load_policy_text, routing
from controller.vswitch.pipeline import (
    COOKIES,
    ETH_DST,
    ETH_SRC,
    FLOOD,
    ROUTE,
    ROUTE_MISS,
    compile_datapath,
)
from controller.vswitch.switch import PolicySwitch
from tests.harness.fakes import FakeDatapath

POLICY = '''\
vlans:
  office:
    vid: 100
    faucet_mac: '0e:00:00:00:10:01'
    faucet_vips: ['10.0.100.254/24', 'fc00:100::254/64', 'fe80::1/64']
    targeted_gw_resolution: true
  guest:
    vid: 200
    faucet_mac: '0e:00:00:00:20:01'
    faucet_vips: ['10.0.200.254/24', 'fc00:200::254/64', 'fe80::2/64']
    routes:
      - route: {ip_dst: '172.16.0.0/24', ip_gw: '10.0.200.4'}
      - {ip_dst: 'fd00:172::/64', ip_gw: 'fc00:200::4'}
  lab:
    vid: 300
    faucet_vips: ['10.0.30.254/24']
    minimum_ip_size_check: false
routers:
  office-guest:
    vlans: [office, 200]
dps:
  s1:
    dp_id: 1
    faucet_dp_mac: '0e:00:00:00:00:99'
    interfaces:
      1: {native_vlan: office, restricted_bcast_arpnd: true}
      2: {native_vlan: guest}
      3: {native_vlan: lab}
      4: {tagged_vlans: [office, guest]}
      5: {native_vlan: office, restricted_bcast_arpnd: true}
'''
OFFICE_MAC, GUEST_MAC = '0e:00:00:00:10:01', '0e:00:00:00:20:01'
HOST = '02:00:00:00:00:02'
TABLES = (ETH_SRC, ETH_DST)


def load(text=POLICY):
    return load_policy_text(text, 'faucet.yaml')


def errors(text):
    with pytest.raises(ConfigError) as caught:
        load(text)
    return [(e.path, e.message) for e in caught.value.errors]


def ip(text):
    return ipaddress.ip_address(text)


def rules_of(policy, kind=None):
    rules = compile_datapath(policy, policy.dps['s1'])
    return {r for r in rules if kind is None or r.cookie == COOKIES.cookie(kind)}


# --- loading -----------------------------------------------------------------------


def test_routers_routes_and_options_load_and_write_back():
    policy = load()
    assert policy.routers['office-guest'].vlans == ('office', 'guest')  # 200: by VID
    guest = policy.vlans['guest']
    assert guest.routes == (('172.16.0.0/24', '10.0.200.4'), ('fd00:172::/64', 'fc00:200::4'))
    assert policy.vlans['office'].targeted_gw_resolution
    assert not policy.vlans['lab'].minimum_ip_size_check and guest.minimum_ip_size_check
    assert policy.dps['s1'].faucet_dp_mac == '0e:00:00:00:00:99'
    assert policy.dps['s1'].interfaces[1].restricted_bcast_arpnd
    again = load_policy_text(__import__('yaml').safe_dump(policy.to_data()), 'again.yaml')
    assert again == policy


@pytest.mark.parametrize(
    'change, path, message',
    [
        ("vlans: [office, 200]", 'routers.office-guest.vlans.1', "unknown VLAN 'nowhere'"),
        ("vlans: [office, 200]", 'routers.office-guest.vlans.1', "VLAN 'office' is listed twice"),
        ("vlans: [office, 200]", 'routers.office-guest.vlans', 'overlap'),
        ("vlans: [office, 200]", 'routers.office-guest', "missing key 'vlans'"),
        ("vlans: [office, 200]", 'routers.office-guest.bgp', "FAUCET option 'bgp'"),
        ("ip_gw: '10.0.200.4'", 'vlans.guest.routes.0', 'a VIP of the router itself'),
        ("ip_gw: '10.0.200.4'", 'vlans.guest.routes.0.route.ip_gw', 'expected an IP address'),
        ("ip_gw: '10.0.200.4'", 'vlans.guest.routes.0.route.ip_gw', 'one IP version'),
        ("ip_gw: '10.0.200.4'", 'vlans.guest.routes.0.route', 'missing ip_gw'),
        ("ip_dst: '172.16.0.0/24'", 'vlans.guest.routes.0.route.ip_dst', 'no host bits set'),
        ("faucet_dp_mac: '0e:00:00:00:00:99'", 'dps.s1.faucet_dp_mac', 'expected a MAC'),
    ],
)
def test_routing_mistakes_are_named(change, path, message):
    bad = {
        'unknown VLAN': "vlans: [office, nowhere]",
        'listed twice': "vlans: [office, office]",
        'overlap': "vlans: [office, 200, lab]",
        "missing key 'vlans'": "{}",
        "FAUCET option 'bgp'": "vlans: [office, 200]\n    bgp: {as: 1}",
        'a VIP of the router itself': "ip_gw: '10.0.100.254'",
        'expected an IP address': "ip_gw: 'gw'",
        'one IP version': "ip_gw: 'fc00:200::4'",
        'missing ip_gw': "ip_gwx: '10.0.200.4'",
        'no host bits set': "ip_dst: '172.16.0.1/24'",
        'expected a MAC': "faucet_dp_mac: 'not-a-mac'",
    }
    key = next(k for k in bad if k in message)
    text = POLICY.replace(change, bad[key])
    if key == 'overlap':
        text = text.replace("'10.0.30.254/24'", "'10.0.200.1/16'")
    if key == "missing key 'vlans'":
        text = text.replace('  office-guest:\n    {}', '  office-guest: {}')
    found = errors(text)
    assert any(p == path and message in m for p, m in found), found


def test_a_router_vlan_without_vips_and_an_unreachable_gateway_load_and_do_nothing():
    # As FAUCET: accepted; the VLAN is not routed, the route never installed; each noted.
    text = (
        POLICY.replace('vlans: [office, 200]', 'vlans: [office, 200, bare]')
        .replace("ip_gw: '10.0.200.4'", "ip_gw: '10.0.201.4'")
        .replace('  lab:\n', '  bare: {vid: 400}\n  lab:\n')
        .replace(
            '      5: {native_vlan: office',
            '      6: {native_vlan: bare}\n      5: {native_vlan: office',
        )
    )
    policy = load(text)
    assert policy.routers['office-guest'].vlans == ('office', 'guest', 'bare')
    assert policy.notes == (
        "faucet.yaml:21: routers.office-guest.vlans.2: VLAN 'bare' has no faucet_vips: "
        'router office-guest does not route it (as FAUCET)',
        'faucet.yaml:12: vlans.guest.routes.0: ip_gw 10.0.201.4 is in no connected subnet '
        'of VLAN guest and its router (faucet_vips: 10.0.100.254/24, fc00:100::254/64, '
        '10.0.200.254/24, fc00:200::254/64): the route is never installed (as FAUCET)',
    )
    fib = routing.Fib.of(policy)
    [domain] = [d for d in fib.domains if len(d.vlans) > 1]
    assert [v.name for v in domain.vlans] == ['office', 'guest']  # not bare
    assert fib.domains_of(400) == []
    assert [str(r.network) for r in domain.routes] == ['fd00:172::/64']  # not 172.16.0.0/24
    assert not [
        r
        for r in rules_of(policy)
        if 'vlan_vid' in r.match_dict()
        and r.match_dict()['vlan_vid'] == OFPVID_PRESENT | 400
        and r.table == ETH_SRC
        and r.cookie in (COOKIES.cookie(ROUTE), COOKIES.cookie(ROUTE_MISS))
    ]
    messages, notes = switch(text).route_tick(now=1e9)
    asked = {
        str(packet.Packet(bytes(m.data)).get_protocol(arp.arp).dst_ip)
        for m in packet_outs(messages)
        if packet.Packet(bytes(m.data)).get_protocol(arp.arp)
    }
    assert asked == set()  # the unreachable gateway is never asked for
    assert not load().notes  # and a policy without either has no notes


def test_a_vlan_alone_in_two_routers_and_a_route_with_an_unknown_key():
    text = POLICY.replace(
        'routers:\n', 'routers:\n  lab-1: {vlans: [lab]}\n  lab-2: {vlans: [lab]}\n'
    ).replace("ip_gw: '10.0.200.4'}", "ip_gw: '10.0.200.4', via: x}")
    found = errors(text)
    assert (
        'routers.lab-2.vlans',
        "VLAN 'lab' is alone in router lab-1 too (as FAUCET: a single VLAN in one router at most)",
    ) in found, found
    assert any(p == 'vlans.guest.routes.0.route.via' for p, _ in found), found


def test_the_routing_tutorial_and_faucets_own_config_load():
    """FAUCET's shipped etc/faucet/faucet.yaml shape: a router of two VLANs with IPv4,
    IPv6 and link-local VIPs (the link-local ones overlap, as FAUCET allows), and a
    static route."""
    policy = load(
        '''\
vlans:
  office:
    vid: 100
    faucet_mac: "0e:00:00:00:10:01"
    faucet_vips: ["10.0.100.254/24", "2001:100::1/64", "fe80::c00:00ff:fe00:1001/64"]
    routes:
      - route: {ip_dst: "192.168.0.0/24", ip_gw: "10.0.100.2"}
  guest:
    vid: 200
    faucet_mac: "0e:00:00:00:20:01"
    faucet_vips: ["10.0.200.254/24", "2001:200::1/64", "fe80::c00:00ff:fe00:2001/64"]
routers:
  router-office-guest:
    vlans: [office, guest]
dps:
  sw1:
    dp_id: 0x1
    hardware: "Open vSwitch"
    interfaces:
      1: {name: "h1", native_vlan: office}
      2: {name: "h2", native_vlan: guest}
'''
    )
    fib = routing.Fib.of(policy)
    assert len(fib.domains) == 1
    networks = {str(c.network) for c in fib.domains[0].connected}
    assert networks == {'10.0.100.0/24', '2001:100::/64', '10.0.200.0/24', '2001:200::/64'}


# --- the FIB rules -------------------------------------------------------------------


def test_static_fib_rules_per_routed_vlan():
    policy = load()
    rules = rules_of(policy, ROUTE) | rules_of(policy, ROUTE_MISS)
    assert all(r.table == ETH_SRC for r in rules)
    office = {
        r.match_dict().get('ipv4_dst'): r
        for r in rules
        if r.match_dict()['vlan_vid'] == OFPVID_PRESENT | 100
        and r.match_dict().get('eth_type') == 0x800
    }
    # its own VIP: on to the VIP rules; the other VLAN's VIP: not routed to
    assert office['10.0.100.254'].instructions == (('goto', ETH_DST),)
    assert office['10.0.200.254'].instructions == ()
    # connected subnets: to the controller, longest prefix above the catch-all drop
    subnet = office[('10.0.200.0', '255.255.255.0')]
    assert subnet.cookie == COOKIES.cookie(ROUTE_MISS)
    assert subnet.instructions == (('apply', (('controller', routing.MISS_BYTES),)),)
    assert subnet.priority == routing.PRIO_PREFIX + 24 > office[None].priority
    assert office[None].instructions == () and office[None].priority == routing.PRIO_NO_ROUTE
    assert all(r.match_dict()['eth_dst'] == OFFICE_MAC for r in office.values())
    # lab is a domain of its own: only its own subnet
    lab = [r for r in rules if r.match_dict()['vlan_vid'] == OFPVID_PRESENT | 300]
    assert {
        r.match_dict().get('ipv4_dst') for r in lab if r.match_dict().get('eth_type') == 0x800
    } == {
        None,
        '10.0.30.254',
        ('10.0.30.0', '255.255.255.0'),
    }
    # link-local VIP subnets are not routed
    assert not any(str(r.match_dict().get('ipv6_dst', '')).startswith("('fe80") for r in rules)


def test_a_next_hop_rule_rewrites_and_moves_the_packet_to_the_egress_vlan():
    policy = load()
    office, guest = policy.vlans['office'], policy.vlans['guest']
    spec = routing.next_hop_rule(
        office, ipaddress.ip_network('172.16.0.0/24'), guest, HOST, TABLES, 7
    )
    assert spec.table == ETH_SRC and spec.priority == routing.PRIO_PREFIX + 24
    assert spec.match_dict() == {
        'vlan_vid': OFPVID_PRESENT | 100,
        'eth_dst': OFFICE_MAC,
        'eth_type': 0x800,
        'ipv4_dst': ('172.16.0.0', '255.255.255.0'),
    }
    assert spec.instructions == (
        (
            'apply',
            (
                ('set_field', 'eth_src', GUEST_MAC),
                ('set_field', 'eth_dst', HOST),
                ('dec_nw_ttl',),
                ('set_field', 'vlan_vid', OFPVID_PRESENT | 200),
            ),
        ),
        ('goto', ETH_DST),
    )
    default = routing.next_hop_rule(office, ipaddress.ip_network('::/0'), guest, HOST, TABLES, 7)
    assert default.match_dict()['eth_type'] == 0x86DD and 'ipv6_dst' not in default.match_dict()


def test_restricted_ports_flood_only_arp_and_nd_to_each_other():
    rules = [r for r in rules_of(load(), FLOOD) if r.match_dict().get('in_port') == 1]
    by_type = {
        r.match_dict().get('eth_type'): r
        for r in rules
        if r.match_dict()['vlan_vid'] == OFPVID_PRESENT | 100
    }
    assert 5 not in by_type[None].output_ports() and 4 in by_type[None].output_ports()
    assert {4, 5} <= set(by_type[0x0806].output_ports())
    assert {4, 5} <= set(by_type[0x86DD].output_ports())
    assert by_type[0x86DD].match_dict()['eth_dst'] == ('33:33:ff:00:00:00', 'ff:ff:ff:00:00:00')
    assert by_type[0x0806].priority > by_type[None].priority
    # an unrestricted port floods to both
    port2 = [
        r
        for r in rules_of(load(), FLOOD)
        if r.match_dict().get('in_port') == 4 and r.match_dict()['vlan_vid'] == OFPVID_PRESENT | 100
    ]
    assert {1, 5} <= set(port2[0].output_ports())


# --- resolution, with fake time ------------------------------------------------------


def test_an_unanswered_host_is_asked_with_backoff_then_given_up():
    resolver = routing.Resolver()
    assert resolver.want(ip('10.0.200.9'), 200, now=0.0)
    sent = []
    for second in range(0, 60):
        due = resolver.due(float(second))
        sent += [second for _ in due.requests]
        assert not due.silent and not due.expired
    assert sent == [0, 1, 3, 7, 15]  # 1, 2, 4, 8 s apart, MAX_TRIES in all
    assert resolver.table == {}  # given up: a new packet asks again


def test_a_silent_gateway_is_asked_forever_at_most_every_backoff_and_reported_once():
    resolver = routing.Resolver()
    resolver.want(ip('10.0.200.99'), 200, now=0.0, gateway=True)
    sent, silent = [], []
    for second in range(0, 200):
        due = resolver.due(float(second))
        sent += [second for _ in due.requests]
        silent += [second for _ in due.silent]
    assert sent[:6] == [0, 1, 3, 7, 15, 31] and sent[6:8] == [63, 95]
    assert silent == [31] and resolver.resolved() == {}


def test_a_resolved_next_hop_is_refreshed_targeted_and_expires_when_silent():
    resolver = routing.Resolver(targeted_vids=frozenset({100}))
    resolver.want(ip('10.0.100.7'), 100, now=0.0, gateway=True)
    assert resolver.due(0.0).requests == [routing.Request(ip('10.0.100.7'), 100)]
    assert resolver.heard(ip('10.0.100.7'), 100, HOST, 4, now=0.5)
    assert not resolver.heard(ip('10.0.100.7'), 100, HOST, 4, now=0.6)  # no news
    assert resolver.resolved() == {(100, ip('10.0.100.7')): HOST}
    assert resolver.due(10.0).requests == []
    refresh = 0.6 + routing.NEIGHBOUR_REFRESH_SECONDS
    # targeted_gw_resolution: the first request goes to where it was; then flooded
    assert resolver.due(refresh).requests == [routing.Request(ip('10.0.100.7'), 100, 4, HOST)]
    assert resolver.due(refresh + 1).requests == [routing.Request(ip('10.0.100.7'), 100)]
    expired = []
    for tick in range(2, 40):
        expired += resolver.due(refresh + tick).expired
    assert [e.ip for e in expired] == [ip('10.0.100.7')] and resolver.resolved() == {}


def test_untargeted_vlans_always_flood_the_request():
    resolver = routing.Resolver()
    resolver.heard(ip('10.0.200.4'), 200, HOST, 2, now=0.0)
    assert resolver.due(routing.NEIGHBOUR_REFRESH_SECONDS).requests == [
        routing.Request(ip('10.0.200.4'), 200)
    ]


def test_the_neighbour_table_is_bounded(monkeypatch):
    monkeypatch.setattr(routing, 'MAX_NEIGHBOURS', 2)
    resolver = routing.Resolver()
    assert resolver.want(ip('10.0.0.1'), 1, 0.0) and resolver.want(ip('10.0.0.2'), 1, 0.0)
    assert not resolver.want(ip('10.0.0.3'), 1, 0.0)
    assert not resolver.heard(ip('10.0.0.4'), 1, HOST, 1, 0.0)


# --- one switch: packet-ins in, rules and requests out -------------------------------


def switch(text=POLICY):
    dp = FakeDatapath(1)
    return PolicySwitch.of(dp, load(text))


def tagged(layers, vid, src=HOST, dst='ff:ff:ff:ff:ff:ff', ethertype=0x0806):
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=dst, src=src, ethertype=0x8100))
    pkt.add_protocol(vlan.vlan(vid=vid, ethertype=ethertype))
    for layer in layers:
        pkt.add_protocol(layer)
    pkt.serialize()
    return bytes(pkt.data)


def arp_reply(src_ip, dst_ip, vid, mac=HOST, router=OFFICE_MAC):
    body = arp.arp(opcode=arp.ARP_REPLY, src_mac=mac, src_ip=src_ip, dst_mac=router, dst_ip=dst_ip)
    return tagged([body], vid, src=mac, dst=router)


def flow_mods(messages):
    return [m for m in messages if isinstance(m, parser.OFPFlowMod)]


def packet_outs(messages):
    return [m for m in messages if isinstance(m, parser.OFPPacketOut)]


def test_gateways_are_asked_on_connect_and_their_routes_installed_when_they_answer():
    sw = switch()
    messages, notes = sw.route_tick(now=1e9)
    outs = packet_outs(messages)
    frames = [packet.Packet(bytes(m.data)) for m in outs]
    asked = {str(f.get_protocol(arp.arp).dst_ip) for f in frames if f.get_protocol(arp.arp)}
    assert asked == {'10.0.200.4'} and not notes
    arp_request = next(f for f in frames if f.get_protocol(arp.arp))
    assert arp_request.get_protocol(arp.arp).src_ip == '10.0.200.254'
    assert arp_request.get_protocol(ethernet.ethernet).src == GUEST_MAC
    ns = next(f for f in frames if f.get_protocol(icmpv6.icmpv6))
    assert ns.get_protocol(icmpv6.icmpv6).data.dst == 'fc00:200::4'
    assert ns.get_protocol(ipv6.ipv6).dst == 'ff02::1:ff00:4'
    assert ns.get_protocol(ethernet.ethernet).dst == '33:33:ff:00:00:04'
    # flooded in guest: out of its access port untagged and its trunk tagged
    ports = [a.port for m in outs[:1] for a in m.actions if isinstance(a, parser.OFPActionOutput)]
    assert sorted(ports) == [2, 4]

    reply = arp_reply('10.0.200.4', '10.0.200.254', 200, router=GUEST_MAC)
    mods = flow_mods(sw.heard(2, reply, now=1e9 + 0.1))
    matches = sorted(str(dict(m.match.items()).get('ipv4_dst')) for m in mods)
    # the gateway's host rule and the route via it, from each routed VLAN
    assert matches == sorted(
        [
            "10.0.200.4",
            "10.0.200.4",
            "('172.16.0.0', '255.255.255.0')",
            "('172.16.0.0', '255.255.255.0')",
        ]
    ), matches
    assert sw.heard(2, reply, now=1e9 + 0.2) == []  # nothing new


def test_a_packet_for_an_unresolved_host_gets_a_pending_drop_then_its_rule():
    sw = switch()
    ping = tagged(
        [ipv4.ipv4(src='10.0.100.1', dst='10.0.200.2', proto=17), udp.udp(), b'x' * 8],
        100,
        dst=OFFICE_MAC,
        ethertype=0x0800,
    )
    [pending] = flow_mods(sw.route_miss(1, ping, now=5.0))
    assert pending.hard_timeout == routing.PENDING_SECONDS and pending.instructions == []
    assert dict(pending.match.items())['ipv4_dst'] == '10.0.200.2'
    messages, _ = sw.route_tick(now=5.0)
    asked = [packet.Packet(bytes(m.data)).get_protocol(arp.arp) for m in packet_outs(messages)]
    assert '10.0.200.2' in [a.dst_ip for a in asked if a is not None]
    # the host answers: its rule replaces the pending drop (same match and priority)
    [rule] = [
        m
        for m in flow_mods(
            sw.heard(2, arp_reply('10.0.200.2', '10.0.200.254', 200, router=GUEST_MAC), now=5.2)
        )
        if dict(m.match.items())['vlan_vid'] == OFPVID_PRESENT | 100
    ]
    assert rule.priority == pending.priority and rule.hard_timeout == 0
    # a later miss (the rule was lost) puts the rule back at once
    [again] = flow_mods(sw.route_miss(1, ping, now=6.0))
    assert str(again.instructions) == str(rule.instructions)


def test_hosts_asking_for_the_vip_are_learned_as_next_hops():
    sw = switch()
    request = arp.arp(
        opcode=arp.ARP_REQUEST, src_mac=HOST, src_ip='10.0.100.1', dst_ip='10.0.100.254'
    )
    assert flow_mods(sw.heard(1, tagged([request], 100), now=1.0))
    assert (100, ip('10.0.100.1')) in sw.router.resolver.resolved()
    # one outside the VLAN's subnets, or from a group MAC, teaches nothing
    stray = arp.arp(opcode=arp.ARP_REQUEST, src_mac=HOST, src_ip='192.0.2.1', dst_ip='10.0.100.254')
    assert sw.heard(1, tagged([stray], 100), now=1.0) == []


def test_ipv6_neighbours_from_advertisements_and_solicitations():
    sw = switch()
    advert = icmpv6.icmpv6(
        type_=icmpv6.ND_NEIGHBOR_ADVERT,
        data=icmpv6.nd_neighbor(res=3, dst='fc00:200::4', option=icmpv6.nd_option_tla(hw_src=HOST)),
    )
    frame = tagged(
        [ipv6.ipv6(src='fc00:200::4', dst='fc00:200::254', nxt=58, hop_limit=255), advert],
        200,
        dst=GUEST_MAC,
        ethertype=0x86DD,
    )
    mods = flow_mods(sw.heard(2, frame, now=1.0))
    dsts = {str(dict(m.match.items()).get('ipv6_dst')) for m in mods}
    assert "('fd00:172::', 'ffff:ffff:ffff:ffff::')" in dsts and 'fc00:200::4' in dsts


def test_minimum_ip_size_check_ignores_packet_ins_without_payload():
    bare = tagged(
        [ipv4.ipv4(src='10.0.100.1', dst='10.0.200.2', proto=17)],
        100,
        dst=OFFICE_MAC,
        ethertype=0x0800,
    )
    assert switch().route_miss(1, bare, now=1.0) == []
    lab_bare = tagged(
        [ipv4.ipv4(src='10.0.30.1', dst='10.0.30.7', proto=17)],
        300,
        dst='0e:00:00:00:00:01',
        ethertype=0x0800,
    )
    assert flow_mods(switch().route_miss(3, lab_bare, now=1.0))  # lab: the check is off


def test_a_reload_keeps_neighbours_and_changes_only_the_fib_rules_it_must():
    sw = switch()
    sw.route_tick(now=0.0)
    sw.heard(2, arp_reply('10.0.200.4', '10.0.200.254', 200, router=GUEST_MAC), now=0.1)
    assert len(sw.routed) == 4
    same = sw.apply(load())
    assert len(same) == 0
    # the route goes: its two rules are deleted; the gateway's host rules stay
    change = sw.apply(
        load(POLICY.replace("      - route: {ip_dst: '172.16.0.0/24', ip_gw: '10.0.200.4'}\n", ''))
    )
    assert change.deleted == 2 and change.added == 0
    assert len(sw.routed) == 2
    # the router goes: guest's host is no longer routed from office
    change = sw.apply(
        load(POLICY.replace('routers:\n  office-guest:\n    vlans: [office, 200]\n', ''))
    )
    assert {dict(s.match)['vlan_vid'] for s in sw.routed} == {OFPVID_PRESENT | 200}


def test_a_vlan_with_vips_in_no_router_routes_its_own_subnets_only():
    sw = switch()
    frame = tagged(
        [ipv4.ipv4(src='10.0.30.1', dst='10.0.100.1', proto=17), udp.udp(), b'x'],
        300,
        dst='0e:00:00:00:00:01',
        ethertype=0x0800,
    )
    assert sw.route_miss(3, frame, now=1.0) == []


def test_install_sends_every_static_rule_in_order():
    """Rules sort by their match: the restricted flood's ARP and ND rules (one field
    plain, the other masked) sit at priorities of their own."""
    sw = switch()
    mods = flow_mods(sw.install())
    assert len(mods) == len(sw.installed) + 1  # and the delete first
