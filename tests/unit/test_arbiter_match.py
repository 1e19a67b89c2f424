"""The arbiter's match algebra and rule relations: hand cases on OpenFlow 1.3 fields
(prefixes, masked MACs, VLAN tags, prerequisites, Ryu's OFPMatch in and out), and
generated matches and rules checked against a brute-force enumeration of every packet of
a small header space with the same kinds of prerequisites and a VLAN-like tag."""

import copy
import itertools
import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.arbiter.match import FIELD_BITS, HeaderSpace, TernaryMatch
from controller.arbiter.rules import Relation, Rule, actions_key, classify

M = TernaryMatch.of
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
IPV4, IPV6, ARP = 0x800, 0x86DD, 0x806
TCP4 = dict(eth_type=IPV4, ip_proto=6)


def wire(ofp_match):
    """``ofp_match`` serialized and parsed back, as a switch's reply carries it."""
    buf = bytearray()
    ofp_match.serialize(buf, 0)
    return parser.OFPMatch.parser(bytes(buf), 0)


# --- hand cases: fields ------------------------------------------------------------------


def test_field_widths_are_those_of_the_spec():
    assert len(FIELD_BITS) == 40
    assert (
        FIELD_BITS['vlan_vid'],
        FIELD_BITS['ipv6_flabel'],
        FIELD_BITS['pbb_isid'],
        FIELD_BITS['ipv6_exthdr'],
        FIELD_BITS['mpls_bos'],
    ) == (13, 20, 24, 9, 1)


def test_ipv4_prefixes():
    net8, net16 = M(ipv4_dst='10.0.0.0/8', eth_type=IPV4), M(ipv4_dst='10.1.0.0/16', eth_type=IPV4)
    other16 = M(ipv4_dst=('10.2.0.0', '255.255.0.0'), eth_type=IPV4)
    assert net8.covers(net16) and not net16.covers(net8)
    assert net8.intersection(net16) == net16
    assert not net16.intersects(other16) and net16.intersection(other16) is None
    assert net8.covers(M(ipv4_dst=0x0A010203, eth_type=IPV4))
    assert str(net16) == 'eth_type=0x800,ipv4_dst=10.1.0.0/16'
    # A mask that is no prefix is printed as a mask.
    assert (
        str(M(eth_type=IPV4, ipv4_src=(0x0A000001, 0xFF0000FF)))
        == 'eth_type=0x800,ipv4_src=10.0.0.1/255.0.0.255'
    )


def test_masked_macs():
    multicast = M(eth_dst=('01:00:00:00:00:00', '01:00:00:00:00:00'))
    assert multicast.covers(M(eth_dst='ff:ff:ff:ff:ff:ff'))
    assert multicast.covers(M(eth_dst='01:80:c2:00:00:0e', eth_type=0x88CC))
    assert not multicast.intersects(M(eth_dst='00:00:00:00:00:01'))
    # Value bits outside the mask are not compared, so they are dropped.
    assert M(eth_src=('0e:00:00:00:00:ff', 'ff:ff:ff:00:00:00')) == M(
        eth_src=(0x0E0000000000, 0xFFFFFF000000)
    )
    assert str(multicast) == 'eth_dst=01:00:00:00:00:00/01:00:00:00:00:00'


def test_vlan_tag_present_and_none():
    untagged, tagged = M(vlan_vid=ofp.OFPVID_NONE), M(vlan_vid=(0x1000, 0x1000))
    vid10 = M(vlan_vid=0x1000 | 10)
    assert not untagged.intersects(tagged) and not untagged.intersects(vid10)
    assert tagged.covers(vid10) and not vid10.covers(tagged)
    assert M().covers(untagged)
    # The present bit alone says "untagged"; a VID without it matches no packet.
    assert M(vlan_vid=(0, 0x1000)) == untagged
    assert M(vlan_vid=10).is_empty and not M(vlan_vid=10).intersects(M())
    # VID bits without the present bit can only be met by a tagged frame...
    assert M(vlan_vid=(0x00A, 0x0FF)) == M(vlan_vid=(0x100A, 0x10FF))
    # ... but "VID bits zero" is also met by an untagged one.
    low_zero = M(vlan_vid=(0, 0x0FF))
    assert low_zero.covers(untagged) and low_zero.intersects(M(vlan_vid=0x1100))
    assert not low_zero.covers(tagged)
    # vlan_pcp exists in tagged frames only.
    assert not M(vlan_pcp=3).intersects(untagged)
    assert M(vlan_pcp=3).intersects(vid10) and tagged.covers(M(vlan_pcp=3))


def test_prerequisites_keep_protocols_apart():
    tcp80 = M(tcp_dst=80, **TCP4)
    assert not tcp80.intersects(M(eth_type=ARP))
    # The same without its prerequisites: still no ARP, and IPv4 or IPv6.
    assert not M(tcp_dst=80).intersects(M(eth_type=ARP))
    assert M(tcp_dst=80).covers(tcp80)
    assert M(tcp_dst=80).covers(M(eth_type=IPV6, ip_proto=6, tcp_dst=80))
    assert not tcp80.covers(M(tcp_dst=80))
    assert not M(udp_dst=53).intersects(M(ip_proto=6))
    assert not M(ipv4_src='10.0.0.1').intersects(M(ipv6_src='::1'))
    assert not M(arp_op=1).intersects(M(ip_proto=17))
    assert not M(ipv6_nd_sll='00:00:00:00:00:01').intersects(M(ipv6_nd_tll='00:00:00:00:00:02'))
    assert M(ipv6_nd_target='2001:db8::1').intersects(M(icmpv6_type=136))
    assert not M(mpls_label=5).intersects(M(pbb_isid=5))
    # ICMPv4 fields need IPv4 (as Open vSwitch reads them): none in IPv6.
    assert M(eth_type=IPV6, ip_proto=1, icmpv4_type=8).is_empty
    # A match that contradicts its prerequisites is empty.
    assert M(eth_type=ARP, ipv4_dst='10.0.0.1').is_empty
    assert M(eth_type=ARP, ipv4_dst='10.0.0.1').intersection(M()) is None


def test_a_match_equals_its_completed_form_when_unique():
    assert M(ipv4_dst='10.0.0.1') == M(ipv4_dst='10.0.0.1', eth_type=IPV4)
    assert hash(M(ipv4_dst='10.0.0.1')) == hash(M(ipv4_dst='10.0.0.1', eth_type=IPV4))
    assert M(tcp_dst=80) == M(ip_proto=6, tcp_dst=80)
    assert M(tcp_dst=80) != M(tcp_dst=80, **TCP4)
    assert M(icmpv6_type=135) == M(icmpv6_type=135, ip_proto=58, eth_type=IPV6)
    assert M(ipv6_nd_sll=1) == M(ipv6_nd_sll=1, icmpv6_type=135)
    assert M(eth_type=ARP, ipv4_dst='10.0.0.1') == M(tcp_src=1, udp_src=1)  # both empty


def test_missing_prerequisites_are_listed():
    assert M(tcp_dst=80, **TCP4).missing_prerequisites() == []
    assert M(tcp_dst=80).missing_prerequisites() == [
        'tcp_dst needs eth_type=0x800,ip_proto=6 or eth_type=0x86dd,ip_proto=6'
    ]
    assert M(ip_proto=6, tcp_dst=80).missing_prerequisites() == [
        'ip_proto needs eth_type=0x800 or eth_type=0x86dd',
        'tcp_dst needs eth_type=0x800,ip_proto=6 or eth_type=0x86dd,ip_proto=6',
    ]
    assert M(arp_op=1).missing_prerequisites() == ['arp_op needs eth_type=0x806']
    assert M(vlan_pcp=1).missing_prerequisites() == ['vlan_pcp needs vlan_vid=0x1000/0x1000']
    assert M(vlan_pcp=1, vlan_vid=0x1005).missing_prerequisites() == []
    assert M(in_phy_port=1).missing_prerequisites() == ['in_phy_port needs in_port']
    assert M(in_phy_port=1, in_port=1).missing_prerequisites() == []
    assert (
        M(
            eth_type=IPV6, ip_proto=58, icmpv6_type=136, ipv6_nd_tll='00:00:00:00:00:01'
        ).missing_prerequisites()
        == []
    )


def test_cubes_split_a_match_by_its_prerequisites():
    assert M(tcp_dst=80, **TCP4).cubes == (M(tcp_dst=80, **TCP4),)
    assert set(M(tcp_dst=80).cubes) == {
        M(tcp_dst=80, **TCP4),
        M(tcp_dst=80, eth_type=IPV6, ip_proto=6),
    }
    assert M(eth_type=ARP, tcp_dst=80).cubes == ()


# --- hand cases: Ryu's OFPMatch ----------------------------------------------------------

RYU_MATCHES = [
    parser.OFPMatch(),
    parser.OFPMatch(in_port=3, eth_dst='0e:00:00:00:00:01', eth_src='0e:00:00:00:00:02'),
    parser.OFPMatch(
        eth_type=IPV4, ipv4_dst=('10.0.0.0', '255.255.255.0'), ip_proto=6, tcp_dst=(0x100, 0xFF00)
    ),
    parser.OFPMatch(eth_type=IPV4, ipv4_src='192.168.0.0/16'),
    parser.OFPMatch(eth_dst=('01:00:00:00:00:00', '01:00:00:00:00:00'), vlan_vid=(0x1000, 0x1000)),
    parser.OFPMatch(
        eth_type=IPV6,
        ipv6_dst=('2001:db8::', 'ffff:ffff::'),
        ipv6_src='fe80::1',
        ipv6_flabel=(5, 0xF),
    ),
    parser.OFPMatch(metadata=(0x12, 0xFF), tunnel_id=7, vlan_vid=0x1000 | 4094, vlan_pcp=5),
    parser.OFPMatch(
        eth_type=ARP,
        arp_op=2,
        arp_spa='10.0.0.1',
        arp_tha=('00:00:00:00:00:00', '00:00:00:ff:ff:ff'),
    ),
]


@pytest.mark.parametrize('ofp_match', RYU_MATCHES, ids=str)
def test_from_ofp_reads_ryu_matches_and_wire_forms(ofp_match):
    match = TernaryMatch.from_ofp(ofp_match)
    assert TernaryMatch.from_ofp(wire(ofp_match)) == match
    assert dict(TernaryMatch.from_ofp(wire(ofp_match)).fields) == dict(match.fields)
    rebuilt = parser.OFPMatch(**match.to_ofp_kwargs())
    assert dict(rebuilt.items()) == dict(ofp_match.items())
    assert dict(TernaryMatch.from_ofp(rebuilt).fields) == dict(match.fields)


def test_from_ofp_values():
    match = TernaryMatch.from_ofp(
        parser.OFPMatch(
            eth_type=IPV4,
            ipv4_dst=('10.0.0.0', '255.255.255.0'),
            in_port=7,
            eth_src=('0e:00:00:00:00:01', 'ff:ff:ff:ff:ff:00'),
        )
    )
    assert dict(match.fields) == {
        'in_port': (7, 0xFFFFFFFF),
        'eth_src': (0x0E0000000000, 0xFFFFFFFFFF00),
        'eth_type': (IPV4, 0xFFFF),
        'ipv4_dst': (0x0A000000, 0xFFFFFF00),
    }
    assert list(match.fields) == ['in_port', 'eth_src', 'eth_type', 'ipv4_dst']
    assert match.exact_value('in_port') == 7
    assert match.exact_value('ipv4_dst') is None and match.exact_value('tcp_dst') is None
    assert (
        str(match) == 'in_port=7,eth_src=0e:00:00:00:00:00/ff:ff:ff:ff:ff:00,eth_type=0x800,'
        'ipv4_dst=10.0.0.0/24'
    )
    assert str(M()) == '*'
    assert (
        str(M(ipv6_dst='2001:db8::/32', eth_type=IPV6, tcp_dst=(0x100, 0xFF00), ip_proto=6))
        == 'eth_type=0x86dd,ip_proto=6,tcp_dst=256/0xff00,ipv6_dst=2001:db8::/32'
    )


def test_from_ofp_of_the_old_set_api():
    built = parser.OFPMatch()
    built.set_in_port(3)
    built.set_dl_type(IPV4)
    built.set_ipv4_dst_masked(0x0A000000, 0xFF000000)
    expected = M(in_port=3, eth_type=IPV4, ipv4_dst='10.0.0.0/8')
    assert TernaryMatch.from_ofp(built) == expected
    built.serialize(bytearray(), 0)  # sent: Ryu serializes such a match only once
    assert TernaryMatch.from_ofp(built) == expected


@pytest.mark.parametrize(
    'make, message',
    [
        (lambda: M(tcp_flags=2), "unknown match field 'tcp_flags'"),
        (
            lambda: M(tcp_dst=70000),
            'tcp_dst: value 0x11170 does not fit; expected an integer 0..65535 (16 bits)',
        ),
        (lambda: M(vlan_vid=0x2000), 'vlan_vid: value 0x2000 does not fit'),
        (lambda: M(ip_dscp=(1, 0xFF)), 'ip_dscp: mask 0xff does not fit'),
        (lambda: M(tcp_dst=-1), 'tcp_dst: value -0x1 does not fit'),
        (
            lambda: M(eth_dst='0e:00:00:00:00'),
            "eth_dst: expected a MAC address like "
            "00:00:00:00:00:01 or an integer; got "
            "'0e:00:00:00:00'",
        ),
        (lambda: M(ipv4_dst='10.0.0.300'), 'ipv4_dst: expected an IPv4 address'),
        (
            lambda: M(eth_type='0x800'),
            "eth_type: expected an integer 0..65535 (16 bits); got '0x800'",
        ),
        (lambda: M(in_port=True), 'in_port: expected an integer'),
        (lambda: M(tcp_dst=(1, 2, 3)), 'tcp_dst: expected a value or (value, mask)'),
        (
            lambda: TernaryMatch([('in_port', (1, 0xFFFFFFFF)), ('in_port', (2, 0xFFFFFFFF))]),
            'in_port is given twice',
        ),
        (
            lambda: TernaryMatch.from_ofp(parser.OFPMatch(tcp_flags=2)),
            "unknown match field 'tcp_flags'",
        ),
    ],
)
def test_bad_input_names_the_field(make, message):
    with pytest.raises(ValueError) as caught:
        make()
    assert message in str(caught.value)


def test_matches_are_immutable_and_hashable():
    match = M(in_port=1)
    with pytest.raises(AttributeError):
        match._fields = {}
    with pytest.raises(TypeError):
        match.fields['in_port'] = (2, 0xFFFFFFFF)
    assert len({M(in_port=1), M(in_port=(1, 0xFFFFFFFF)), M(in_port=2)}) == 2
    assert copy.deepcopy(match) == match == pickle.loads(pickle.dumps(match))


# --- generated: a small header space, every packet enumerated ----------------------------
#
# k is an EtherType-like field; p exists when k is 1 or 6 (an IP-protocol-like field, the
# two values three bits apart like 0x0800/0x86dd); q exists when p is 2 as well (a port);
# v is a tag like vlan_vid, with present bit 4; r exists in tagged packets (vlan_pcp).

TINY = HeaderSpace(
    {'k': 3, 'a': 2, 'v': 3, 'p': 2, 'q': 2, 'r': 1},
    presence={
        'p': ({'k': 1}, {'k': 6}),
        'q': ({'k': 1, 'p': 2}, {'k': 6, 'p': 2}),
        'r': ({'v': (4, 4)},),
    },
    tags={'v': 4},
)


class TinyMatch(TernaryMatch):
    space = TINY


def tiny_packets():
    for k, a, v in itertools.product(range(8), range(4), (0, 4, 5, 6, 7)):
        for p in range(4) if k in (1, 6) else [None]:
            for q in range(4) if p == 2 else [None]:
                for r in range(2) if v else [None]:
                    yield dict(k=k, a=a, v=v, p=p, q=q, r=r)


PACKETS = list(tiny_packets())


def packet_set(match):
    """The packets of ``match`` by the definition: every field present and equal under
    its mask."""
    return frozenset(
        i
        for i, packet in enumerate(PACKETS)
        if all(
            packet[name] is not None and packet[name] & mask == value
            for name, (value, mask) in match.fields.items()
        )
    )


@st.composite
def tiny_matches(draw):
    fields = {}
    for name, bits in TINY.widths.items():
        if draw(st.integers(0, 2)) == 0:
            full = (1 << bits) - 1
            mask = draw(st.one_of(st.just(full), st.integers(1, full)))
            fields[name] = (draw(st.integers(0, full)), mask)
    return TinyMatch(fields)


@st.composite
def equal_candidates(draw):
    """A match and another that is often the same set written otherwise: with a
    prerequisite every alternative shares (q implies p=2) or a tag bit spelled out."""
    match = draw(tiny_matches())
    fields = dict(match.fields)
    if 'q' in fields and draw(st.booleans()):
        fields.setdefault('p', (2, 3))
    if 'r' in fields and draw(st.booleans()):
        fields.setdefault('v', (4, 4))
    if 'v' in fields and draw(st.booleans()):
        value, mask = fields['v']
        fields['v'] = (value | 4, mask | 4) if value else (0, 7 if mask & 4 else mask)
    return match, TinyMatch(fields)


@SETTINGS
@given(tiny_matches(), tiny_matches())
def test_intersection_is_the_set_intersection(first, second):
    expected = packet_set(first) & packet_set(second)
    met = first.intersection(second)
    assert first.intersects(second) == bool(expected)
    assert (met is None) == (not expected)
    if met is not None:
        assert packet_set(met) == expected
        assert met == second.intersection(first)


@SETTINGS
@given(tiny_matches(), tiny_matches())
def test_covers_is_set_inclusion(first, second):
    assert first.covers(second) == (packet_set(first) >= packet_set(second))


@SETTINGS
@given(st.one_of(st.tuples(tiny_matches(), tiny_matches()), equal_candidates()))
def test_equality_is_set_equality(pair):
    first, second = pair
    same = packet_set(first) == packet_set(second)
    assert (first == second) == same
    if same:
        assert hash(first) == hash(second)


@SETTINGS
@given(tiny_matches())
def test_cubes_partition_the_match(match):
    sets = [packet_set(cube) for cube in match.cubes]
    assert all(sets) and sum(map(len, sets)) == len(packet_set(match))
    assert frozenset().union(*sets) == packet_set(match)
    assert match.is_empty == (not packet_set(match))
    if not match.missing_prerequisites():
        assert len(match.cubes) <= 1


# --- rules: instructions and relations ---------------------------------------------------


def apply(*actions):
    return parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, list(actions))


def write(*actions):
    return parser.OFPInstructionActions(ofp.OFPIT_WRITE_ACTIONS, list(actions))


def test_actions_key_is_the_behaviour():
    out = parser.OFPActionOutput
    goto = parser.OFPInstructionGotoTable(1)
    key = actions_key([apply(out(2)), goto])
    assert key == (('apply', (('output', 2),)), ('goto', 1))
    # Instructions run in a fixed order; max_len matters for the controller only.
    assert actions_key([goto, apply(out(2, 0))]) == key
    assert actions_key([apply(out(2)), goto, apply()]) == key
    assert actions_key([apply(out(ofp.OFPP_CONTROLLER, 128))]) == (
        ('apply', (('controller', 128),)),
    )
    # Apply lists keep their order; an action set does not, and holds one per type.
    set_mac = parser.OFPActionSetField(eth_dst='0E:00:00:00:00:01')
    assert actions_key([apply(set_mac, out(1))]) != actions_key([apply(out(1), set_mac)])
    assert actions_key([write(set_mac, out(1))]) == actions_key([write(out(1), set_mac)])
    assert actions_key([write(out(1), out(2))]) == actions_key([write(out(2))])
    assert actions_key([write(out(1), parser.OFPActionGroup(4))]) == (('write', (('group', 4),)),)
    assert actions_key([apply(set_mac)]) == (
        ('apply', (('set_field', 'eth_dst', 0x0E0000000001),)),
    )
    assert actions_key(
        [apply(parser.OFPActionSetField(eth_dst='0e:00:00:00:00:01'))]
    ) == actions_key([apply(set_mac)])
    assert actions_key([parser.OFPInstructionWriteMetadata(0x1FF, 0xFF)]) == (
        ('meta', (0xFF, 0xFF)),
    )
    assert actions_key([]) == ()
    # Extensions: kept as given, equal when built alike.
    resubmit = [
        apply(parser.OFPActionSetField(reg0=1), parser.NXActionResubmitTable(in_port=8, table_id=2))
    ]
    assert actions_key(resubmit) == (
        (
            'apply',
            (
                ('set_field', 'reg0', 1),
                (
                    'other',
                    'NXActionResubmitTable',
                    (('experimenter', 0x2320), ('in_port', 8), ('subtype', 14), ('table_id', 2)),
                ),
            ),
        ),
    )


def test_actions_key_of_parsed_flow_mods_equals_the_built_ones():
    instructions = [
        apply(
            parser.OFPActionPushVlan(0x8100),
            parser.OFPActionSetField(vlan_vid=0x1000 | 5),
            parser.OFPActionOutput(3),
        ),
        write(parser.OFPActionDecNwTtl()),
        parser.OFPInstructionMeter(2),
        parser.OFPInstructionActions(ofp.OFPIT_CLEAR_ACTIONS, []),
        parser.OFPInstructionGotoTable(4),
    ]
    mod = parser.OFPFlowMod(datapath=None, match=parser.OFPMatch(), instructions=instructions)
    buf = bytearray()
    for instruction in mod.instructions:
        offset = len(buf)
        instruction.serialize(buf, offset)
    parsed, offset = [], 0
    while offset < len(buf):
        instruction = parser.OFPInstruction.parser(bytes(buf), offset)
        parsed.append(instruction)
        offset += instruction.len
    assert actions_key(parsed) == actions_key(instructions)
    assert [kind for kind, *_ in actions_key(instructions)] == [
        'meter',
        'apply',
        'clear',
        'write',
        'goto',
    ]


def rule(match, actions=(), priority=10, app='a', table_id=0, dpid=1):
    return Rule(
        app=app, dpid=dpid, table_id=table_id, priority=priority, match=match, actions=actions
    )


OUT1 = (('apply', (('output', 1),)),)
OUT2 = (('apply', (('output', 2),)),)


def test_rule_predicates():
    flood = rule(
        M(),
        (
            (
                'apply',
                (
                    ('set_field', 'vlan_vid', 0x1005),
                    ('output', ofp.OFPP_FLOOD),
                    ('controller', 0xFFFF),
                ),
            ),
        ),
    )
    assert flood.output_ports == (ofp.OFPP_FLOOD,) and flood.outputs_to_controller
    assert flood.modifies_headers and not flood.drops
    assert flood.outputs_to(ofp.OFPP_CONTROLLER) and not flood.outputs_to(1)
    assert rule(M()).drops and not rule(M()).modifies_headers
    assert rule(M(), (('clear',),)).drops
    assert not rule(M(), (('goto', 1),)).drops
    assert not rule(M(), (('write', (('group', 3),)),)).drops
    assert rule(M(), (('write', (('group', 3),)),)).groups == (3,)
    assert rule(M(), OUT1).key == (1, 0, 10, M())
    # An experimenter action may forward or rewrite: neither a drop nor header-safe.
    other = rule(M(), (('apply', (('other', 'NXActionResubmitTable', ()),)),))
    assert not other.drops and other.modifies_headers


@pytest.mark.parametrize(
    'new, existing, relation',
    [
        (rule(M(in_port=1), OUT1), rule(M(in_port=1), OUT1), Relation.IDENTICAL),
        (rule(M(in_port=1), OUT2), rule(M(in_port=1), OUT1), Relation.SAME_MATCH_DIFFERENT_ACTION),
        (
            rule(M(in_port=1, eth_type=IPV4), OUT1),
            rule(M(in_port=1), OUT1, priority=5),
            Relation.REDUNDANT,
        ),
        (rule(M(in_port=1), OUT1), rule(M(eth_type=IPV4), OUT1), Relation.BENIGN_OVERLAP),
        (rule(M(in_port=1), OUT1), rule(M(eth_type=IPV4), OUT2), Relation.AMBIGUOUS),
        (rule(M(in_port=1), OUT1), rule(M(in_port=1, eth_type=IPV4), OUT2), Relation.AMBIGUOUS),
        (
            rule(M(in_port=1, eth_type=IPV4), OUT1, priority=5),
            rule(M(in_port=1), OUT2),
            Relation.SHADOWED,
        ),
        (rule(M(in_port=1), OUT1, priority=5), rule(M(in_port=1), OUT2), Relation.SHADOWED),
        (
            rule(M(in_port=1), OUT1, priority=20),
            rule(M(in_port=1, eth_type=IPV4), OUT2),
            Relation.SHADOWS,
        ),
        (
            rule(M(in_port=1), OUT1, priority=5),
            rule(M(in_port=1, eth_type=IPV4), OUT2),
            Relation.GENERALIZATION,
        ),
        (
            rule(M(in_port=1, eth_type=IPV4), OUT1, priority=20),
            rule(M(in_port=1), OUT2),
            Relation.EXCEPTION,
        ),
        (rule(M(in_port=1), OUT1, priority=5), rule(M(eth_type=IPV4), OUT2), Relation.CORRELATION),
        (rule(M(in_port=1), OUT1, priority=20), rule(M(eth_type=IPV4), OUT2), Relation.OVERRIDES),
        (rule(M(tcp_dst=80, **TCP4), OUT1), rule(M(eth_type=ARP), OUT2), None),
        (rule(M(in_port=1), OUT1), rule(M(in_port=1), OUT2, table_id=1), None),
        (rule(M(in_port=1), OUT1), rule(M(in_port=1), OUT2, dpid=2), None),
    ],
)
def test_classify_hand_cases(new, existing, relation):
    assert classify(new, existing) is relation
    if relation is not None:
        assert classify(existing, new) is relation.converse


# Each relation by its definition in controller/arbiter/rules.py, over packet sets: for
# every pair of overlapping rules exactly one holds.
DEFINITIONS = {
    Relation.IDENTICAL: lambda o: o.equal_priority and o.same_match and o.same_actions,
    Relation.SAME_MATCH_DIFFERENT_ACTION: lambda o: (
        o.equal_priority and o.same_match and not o.same_actions
    ),
    Relation.REDUNDANT: lambda o: (
        o.same_actions
        and (o.new_covers or o.old_covers)
        and not (o.equal_priority and o.same_match)
    ),
    Relation.BENIGN_OVERLAP: lambda o: o.same_actions and not o.new_covers and not o.old_covers,
    Relation.AMBIGUOUS: lambda o: o.equal_priority and not o.same_actions and not o.same_match,
    Relation.SHADOWED: lambda o: o.new_lower and not o.same_actions and o.old_covers,
    Relation.SHADOWS: lambda o: o.new_higher and not o.same_actions and o.new_covers,
    Relation.GENERALIZATION: lambda o: (
        o.new_lower and not o.same_actions and o.new_covers and not o.old_covers
    ),
    Relation.EXCEPTION: lambda o: (
        o.new_higher and not o.same_actions and o.old_covers and not o.new_covers
    ),
    Relation.CORRELATION: lambda o: (
        o.new_lower and not o.same_actions and not o.new_covers and not o.old_covers
    ),
    Relation.OVERRIDES: lambda o: (
        o.new_higher and not o.same_actions and not o.new_covers and not o.old_covers
    ),
}


class Observed:
    """What the definitions speak of, for a pair of rules, from their packet sets."""

    def __init__(self, new, old):
        new_set, old_set = packet_set(new.match), packet_set(old.match)
        self.overlap = bool(new_set & old_set)
        self.new_covers, self.old_covers = new_set >= old_set, old_set >= new_set
        self.same_match = new_set == old_set
        self.same_actions = new.actions == old.actions
        self.equal_priority = new.priority == old.priority
        self.new_lower, self.new_higher = (new.priority < old.priority, new.priority > old.priority)


@st.composite
def tiny_rules(draw):
    return rule(
        draw(tiny_matches()), draw(st.sampled_from([OUT1, OUT2])), priority=draw(st.integers(1, 3))
    )


@SETTINGS
@given(tiny_rules(), tiny_rules())
def test_classify_follows_the_definitions(new, old):
    observed = Observed(new, old)
    relation = classify(new, old)
    if not observed.overlap:
        assert relation is None
        return
    holding = [name for name, holds in DEFINITIONS.items() if holds(observed)]
    assert holding == [relation]
    assert classify(old, new) is relation.converse
    assert relation.is_conflict == (not observed.same_actions)
