"""FAUCET's faucet_vips and faucet_mac (issue 15): the router addresses of a VLAN,
answered by the controller to ARP, IPv6 neighbour solicitation and ping: the rules
that send those to it, and the replies built, on a FakeDatapath."""

import pytest
from ryu.lib.packet import arp, ethernet, icmp, icmpv6, ipv4, ipv6, packet, vlan
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.config import ConfigError
from controller.vswitch import load_policy_text
from controller.vswitch.pipeline import ETH_DST, PRIO_VIP, compile_datapath
from controller.vswitch.switch import PolicySwitch
from tests.harness.fakes import FakeDatapath

POLICY = '''\
vlans:
  office:
    vid: 100
    faucet_vips: [10.0.0.254/24, 'fc00::1:254/112']
    faucet_mac: 00:00:00:00:00:11
  guest:
    vid: 200
    faucet_vips: [10.0.1.254/24]
  elsewhere:
    vid: 300
    faucet_vips: [10.0.3.254/24]
dps:
  s1:
    dp_id: 1
    interfaces:
      1: {native_vlan: office}
      2: {native_vlan: guest}
      3: {tagged_vlans: [office, guest]}
'''
HOST = '02:00:00:00:00:01'


def load(text=POLICY):
    return load_policy_text(text, 'faucet.yaml')


def test_vips_and_mac_load_faucet_spellings_included():
    policy = load()
    office = policy.vlans['office']
    assert office.faucet_vips == ('10.0.0.254/24', 'fc00::1:254/112')
    assert office.faucet_mac == '00:00:00:00:00:11'  # unquoted: YAML reads a number
    assert policy.vlans['guest'].faucet_mac == '0e:00:00:00:00:01'  # FAUCET's default
    short = load(POLICY.replace('00:00:00:00:00:11', "'E:0:0:F:2:3'"))
    assert short.vlans['office'].faucet_mac == '0e:00:00:0f:02:03'


@pytest.mark.parametrize(
    'change, path, message',
    [
        ('10.0.1.254/24]', 'vlans.guest.faucet_vips.0', "expected an address with its prefix"),
        (
            '10.0.3.254/24]',
            'vlans.elsewhere.faucet_vips.0',
            '10.0.0.254 is already a VIP of VLAN office',
        ),
        ('00:00:00:00:00:11', 'vlans.office.faucet_mac', 'a router MAC is unicast'),
        ('[10.0.1.254/24]', 'vlans.guest.faucet_vips.0', '10.0.1.254 is a host address'),
    ],
)
def test_vip_mistakes(change, path, message):
    bad = {
        '10.0.1.254/24]': '10.0.1.254/33]',
        '10.0.3.254/24]': '10.0.0.254/24]',
        '00:00:00:00:00:11': "'01:00:00:00:00:11'",
        '[10.0.1.254/24]': '[10.0.1.254]',
    }[change]
    with pytest.raises(ConfigError) as caught:
        load(POLICY.replace(change, bad))
    found = [(e.path, e.message) for e in caught.value.errors]
    assert any(p == path and message in m for p, m in found), found


def test_rules_send_what_the_router_answers_to_the_controller():
    policy = load()
    vip_rules = sorted(
        (
            r.match_dict()
            for r in compile_datapath(policy, policy.dps['s1'])
            if r.table == ETH_DST and r.priority == PRIO_VIP
        ),
        key=lambda match: repr(sorted(match.items())),
    )
    assert vip_rules == sorted(
        [
            {'vlan_vid': 0x1064, 'eth_type': 0x806, 'arp_tpa': '10.0.0.254'},
            {
                'vlan_vid': 0x1064,
                'eth_dst': '00:00:00:00:00:11',
                'eth_type': 0x800,
                'ip_proto': 1,
                'ipv4_dst': '10.0.0.254',
            },
            {
                'vlan_vid': 0x1064,
                'eth_type': 0x86DD,
                'ip_proto': 58,
                'icmpv6_type': 135,
                'ipv6_nd_target': 'fc00::1:254',
            },
            {
                'vlan_vid': 0x1064,
                'eth_dst': '00:00:00:00:00:11',
                'eth_type': 0x86DD,
                'ip_proto': 58,
                'icmpv6_type': 128,
                'ipv6_dst': 'fc00::1:254',
            },
            {  # a neighbour's answer to the router (routing.py resolves next hops)
                'vlan_vid': 0x1064,
                'eth_dst': '00:00:00:00:00:11',
                'eth_type': 0x86DD,
                'ip_proto': 58,
                'icmpv6_type': 136,
                'ipv6_dst': 'fc00::1:254',
            },
            {'vlan_vid': 0x10C8, 'eth_type': 0x806, 'arp_tpa': '10.0.1.254'},
            {
                'vlan_vid': 0x10C8,
                'eth_dst': '0e:00:00:00:00:01',
                'eth_type': 0x800,
                'ip_proto': 1,
                'ipv4_dst': '10.0.1.254',
            },
        ],
        key=lambda match: repr(sorted(match.items())),
    )  # VLAN 300 is on no port of s1: none of its
    for msg in PolicySwitch.of(FakeDatapath(1), policy).install():
        msg.serialize()  # Ryu builds every match


def tagged(vid, *layers, dst='ff:ff:ff:ff:ff:ff', ethertype=0x0806):
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=dst, src=HOST, ethertype=0x8100))
    pkt.add_protocol(vlan.vlan(vid=vid, ethertype=ethertype))
    for layer in layers:
        pkt.add_protocol(layer)
    pkt.serialize()
    return bytes(pkt.data)


def answered(sw, in_port, frame):
    messages = sw.answer(in_port, frame)
    if not messages:
        return None
    [out] = messages
    assert isinstance(out, parser.OFPPacketOut) and out.actions[0].port == in_port
    return packet.Packet(out.data)


def arp_request(vid, target):
    return tagged(
        vid, arp.arp(src_mac=HOST, src_ip='10.0.0.1', dst_mac='00:00:00:00:00:00', dst_ip=target)
    )


def test_arp_for_a_vip_is_answered_untagged_on_access_tagged_on_trunk():
    sw = PolicySwitch.of(FakeDatapath(1), load())
    reply = answered(sw, 1, arp_request(100, '10.0.0.254'))
    assert reply.get_protocol(vlan.vlan) is None
    eth, answer = reply.get_protocol(ethernet.ethernet), reply.get_protocol(arp.arp)
    assert (eth.src, eth.dst) == ('00:00:00:00:00:11', HOST)
    assert (answer.opcode, answer.src_mac, answer.src_ip, answer.dst_ip) == (
        arp.ARP_REPLY,
        '00:00:00:00:00:11',
        '10.0.0.254',
        '10.0.0.1',
    )
    trunk = answered(sw, 3, arp_request(200, '10.0.1.254'))
    assert trunk.get_protocol(vlan.vlan).vid == 200
    assert trunk.get_protocol(arp.arp).src_mac == '0e:00:00:00:00:01'
    # not a VIP, a VIP of another VLAN, a port without the VLAN: no answer
    assert answered(sw, 1, arp_request(100, '10.0.0.9')) is None
    assert answered(sw, 1, arp_request(100, '10.0.1.254')) is None
    assert answered(sw, 2, arp_request(100, '10.0.0.254')) is None


def test_pings_to_a_vip_are_answered_with_their_data():
    sw = PolicySwitch.of(FakeDatapath(1), load())
    echo = icmp.icmp(type_=icmp.ICMP_ECHO_REQUEST, data=icmp.echo(id_=7, seq=3, data=b'payload'))
    request = tagged(
        100,
        ipv4.ipv4(src='10.0.0.1', dst='10.0.0.254', proto=1),
        echo,
        dst='00:00:00:00:00:11',
        ethertype=0x0800,
    )
    reply = answered(sw, 1, request)
    ip, back = reply.get_protocol(ipv4.ipv4), reply.get_protocol(icmp.icmp)
    assert (ip.src, ip.dst, back.type) == ('10.0.0.254', '10.0.0.1', icmp.ICMP_ECHO_REPLY)
    assert (back.data.id, back.data.seq, back.data.data) == (7, 3, b'payload')


def test_ipv6_neighbour_solicitation_and_ping_of_a_vip():
    sw = PolicySwitch.of(FakeDatapath(1), load())
    solicit = icmpv6.icmpv6(
        type_=icmpv6.ND_NEIGHBOR_SOLICIT,
        data=icmpv6.nd_neighbor(dst='fc00::1:254', option=icmpv6.nd_option_sla(hw_src=HOST)),
    )
    request = tagged(
        100,
        ipv6.ipv6(src='fc00::1:1', dst='ff02::1:ff01:254', nxt=58, hop_limit=255),
        solicit,
        dst='33:33:ff:01:02:54',
        ethertype=0x86DD,
    )
    advert = answered(sw, 1, request)
    nd = advert.get_protocol(icmpv6.icmpv6)
    assert nd.type_ == icmpv6.ND_NEIGHBOR_ADVERT and nd.data.dst == 'fc00::1:254'
    assert nd.data.option.hw_src == '00:00:00:00:00:11' and nd.data.res == 0b011
    assert advert.get_protocol(ipv6.ipv6).hop_limit == 255
    ping = icmpv6.icmpv6(
        type_=icmpv6.ICMPV6_ECHO_REQUEST, data=icmpv6.echo(id_=1, seq=2, data=b'x')
    )
    request = tagged(
        100,
        ipv6.ipv6(src='fc00::1:1', dst='fc00::1:254', nxt=58),
        ping,
        dst='00:00:00:00:00:11',
        ethertype=0x86DD,
    )
    back = answered(sw, 1, request).get_protocol(icmpv6.icmpv6)
    assert back.type_ == icmpv6.ICMPV6_ECHO_REPLY and (back.data.seq, back.data.data) == (2, b'x')


def test_vips_round_trip():
    import yaml

    policy = load()
    assert load(yaml.safe_dump(policy.to_data())) == policy
