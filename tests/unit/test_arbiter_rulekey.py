"""controller/arbiter/rulekey.py: a single-app table's rule as one bytes key."""

from hypothesis import given
from hypothesis import strategies as st
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller import openflow
from controller.arbiter.match import FIELD_BITS, TernaryMatch
from controller.arbiter.rulekey import key_identity, packed_identity, rule_key, wire_key
from controller.arbiter.stamping import stamp_shape
from controller.l2 import pipeline as l2_pipe
from tests.harness.fakes import FakeDatapath


@st.composite
def identities(draw):
    """A closed identity: fields in OXM order, each exact or masked (any mask)."""
    names = draw(st.lists(st.sampled_from(list(FIELD_BITS)), unique=True, max_size=5))
    fields = []
    for name in sorted(names, key=list(FIELD_BITS).index):
        full = (1 << FIELD_BITS[name]) - 1
        mask = draw(st.one_of(st.just(full), st.integers(0, full)))
        fields.append((name, (draw(st.integers(0, full)) & mask, mask)))
    return tuple(fields)


@given(priority=st.integers(0, 0xFFFF), identity=identities())
def test_a_key_reads_back_as_the_rule_it_was_made_of(priority, identity):
    assert key_identity(rule_key(priority, identity)) == (priority, identity)


@given(
    a=st.tuples(st.integers(0, 0xFFFF), identities()),
    b=st.tuples(st.integers(0, 0xFFFF), identities()),
)
def test_two_rules_have_one_key_only_if_they_are_one_rule(a, b):
    assert (rule_key(*a) == rule_key(*b)) == (a == b)


def _flow_mod_bytes(priority, match):
    msg = parser.OFPFlowMod(FakeDatapath(), priority=priority, match=match, instructions=[])
    msg.xid = 1
    msg.serialize()
    return bytes(msg.buf)


def test_a_flow_mod_written_in_oxm_order_has_its_rules_key_in_its_bytes():
    """Ryu writes the OXMs as given; exact fields without a mask, as the key does."""
    match = parser.OFPMatch(
        in_port=3, eth_dst='02:00:00:00:00:01', eth_type=0x800, ipv4_dst=('10.0.0.0', '255.0.0.0')
    )
    identity = TernaryMatch.from_ofp(match).closed_identity
    assert identity is not None
    assert wire_key(_flow_mod_bytes(7, match)) == rule_key(7, identity)
    # OpenFlow 1.0-style vlan_vid: 13 bits matched exactly, two bytes on the wire
    tagged = parser.OFPMatch(vlan_vid=0x1000 | 5)
    identity = TernaryMatch.from_ofp(tagged).closed_identity
    assert identity is not None
    assert wire_key(_flow_mod_bytes(1, tagged)) == rule_key(1, identity)


def test_packed_matches_give_their_identity_and_their_key_in_their_bytes():
    mac = bytes.fromhex('020000000009')
    packed = openflow.PackedMatch(in_port=4, eth_src=openflow.mac_text(mac))
    identity = packed_identity(*packed.wire_values())
    assert identity == TernaryMatch.of(in_port=4, eth_src=openflow.mac_text(mac)).closed_identity
    assert identity is not None
    assert wire_key(_flow_mod_bytes(9, packed)) == rule_key(9, identity)
    assert packed_identity(None, b'\x01\x02', None) is None  # not a MAC: read it the long way


def test_l2_learnings_templates_keep_only_their_ports():
    """Both rules of a learned host come back from key and port: compact shapes."""
    for template in l2_pipe.host_rule_templates(150, 300):
        shape = stamp_shape(template, lambda cookie: (1 << 48) | cookie)
        assert shape is not None and shape.compact
        mac, port = bytes.fromhex('0200000000ab'), 7
        sent = bytes(shape.template.stamp(0, mac, port))
        assert shape.wire(wire_key(sent), port) == sent
        assert sent[8:16] == ((1 << 48) | shape.asked[0]).to_bytes(8, 'big')


def test_a_template_that_stamps_the_mac_outside_its_match_is_not_compact():
    """A rule that writes the MAC into an action: the key does not give it back, so its
    table keeps its bytes."""

    def build(mac, port):
        dp = FakeDatapath()
        return parser.OFPFlowMod(
            dp,
            table_id=1,
            priority=5,
            match=openflow.PackedMatch(in_port=port),
            instructions=[
                parser.OFPInstructionActions(
                    ofp.OFPIT_APPLY_ACTIONS,
                    [parser.OFPActionSetField(eth_dst=mac), parser.OFPActionOutput(port)],
                )
            ],
        )

    template = openflow.FlowModTemplate(build)
    shape = stamp_shape(template, lambda cookie: cookie)
    assert shape is not None and not shape.compact
