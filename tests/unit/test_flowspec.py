"""FlowSpec: hashable rules, the smallest diff, and Ryu messages that round-trip."""

from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.flowspec import FlowSpec, diff, to_delete_strict, to_flow_mod


class FakeDatapath:
    ofproto = ofp
    ofproto_parser = parser


def spec(port, out, table=0, priority=10):
    return FlowSpec.make(
        table, priority, {'in_port': port}, [('apply', (('output', out),))], cookie=1
    )


def test_match_order_does_not_matter():
    a = FlowSpec.make(0, 1, {'in_port': 1, 'eth_type': 0x800}, [])
    b = FlowSpec.make(0, 1, {'eth_type': 0x800, 'in_port': 1}, [])
    assert a == b and hash(a) == hash(b)


def test_diff_adds_new_replaces_changed_deletes_gone():
    installed = {spec(1, 2), spec(2, 1), spec(3, 1)}
    desired = {spec(1, 2), spec(2, 3), spec(4, 1)}
    d = diff(installed, desired)
    assert set(d.add) == {spec(2, 3), spec(4, 1)}  # changed rule: ADD replaces it
    assert set(d.delete) == {spec(3, 1)}  # its key is gone: delete
    assert len(d) == 3 and d
    assert not diff(desired, desired)


def test_flow_mod_round_trips_through_ryu():
    s = FlowSpec.make(
        1,
        100,
        {'in_port': 3, 'vlan_vid': 0x1000 | 100},
        [
            (
                'apply',
                (
                    ('push_vlan', 0x8100),
                    ('set_field', 'vlan_vid', 0x1064),
                    ('output', 2),
                    ('pop_vlan',),
                    ('output', 1),
                ),
            ),
            ('goto', 2),
        ],
        cookie=0x42,
        idle_timeout=5,
    )
    mod = to_flow_mod(FakeDatapath(), s)
    mod.set_xid(1)
    mod.serialize()
    back = parser.OFPFlowMod.parser(
        FakeDatapath(), mod.version, mod.msg_type, mod.msg_len, mod.xid, mod.buf
    )
    assert back.match['in_port'] == 3 and back.match['vlan_vid'] == 0x1000 | 100
    assert back.cookie == 0x42 and back.idle_timeout == 5 and back.table_id == 1
    actions = back.instructions[0].actions
    assert [type(a).__name__ for a in actions] == [
        'OFPActionPushVlan',
        'OFPActionSetField',
        'OFPActionOutput',
        'OFPActionPopVlan',
        'OFPActionOutput',
    ]
    assert back.instructions[1].table_id == 2
    assert s.output_ports() == [2, 1]


def test_delete_strict_is_scoped_to_the_cookie_range():
    mod = to_delete_strict(FakeDatapath(), spec(1, 2), cookie_mask=0xFFFF << 48)
    assert mod.command == ofp.OFPFC_DELETE_STRICT and mod.cookie_mask == 0xFFFF << 48
    assert mod.priority == 10 and mod.match['in_port'] == 1


def test_meter_instruction():
    rule = FlowSpec.make(0, 5, {'in_port': 1}, [('meter', 7), ('goto', 1)])
    msg = to_flow_mod(FakeDatapath(), rule)
    meter, goto = msg.instructions
    assert isinstance(meter, parser.OFPInstructionMeter) and meter.meter_id == 7
    assert meter.type == ofp.OFPIT_METER and goto.table_id == 1
    msg.serialize()  # Ryu packs it


def test_shared_flow_mods_are_the_bytes_ryu_serializes_and_follow_changes():
    """to_flow_mod(shared=True) copies a message made once per rule and writes only the
    xid into its bytes: for each use the bytes are Ryu's own, and a copy changed after
    it was made (the arbiter rewrites cookies and tables) is serialized anew."""
    import itertools

    dp = FakeDatapath()
    rules = [
        spec(1, 2),
        FlowSpec.make(
            2,
            100,
            {'vlan_vid': (0x1000, 0x1000), 'eth_dst': '02:00:00:00:00:01'},
            [('apply', (('pop_vlan',), ('group', 7)))],
            cookie=5,
        ),
    ]
    xids = itertools.count(7)
    for rule, _ in itertools.product(rules, range(2)):
        shared, own = to_flow_mod(dp, rule, shared=True), to_flow_mod(dp, rule)
        assert type(own) is parser.OFPFlowMod
        shared.xid = own.xid = next(xids)
        shared.serialize()
        own.serialize()
        assert bytes(shared.buf) == bytes(own.buf)
        changed, own = to_flow_mod(dp, rule, shared=True), to_flow_mod(dp, rule)
        changed.cookie = own.cookie = 0x42
        changed.table_id = own.table_id = 9
        changed.xid = own.xid = next(xids)
        changed.serialize()
        own.serialize()
        assert bytes(changed.buf) == bytes(own.buf)
    # the copies share what they were made of, not what a change gave one of them
    first, second = (to_flow_mod(dp, rules[0], shared=True) for _ in range(2))
    assert first.match is second.match and first.cookie == second.cookie == 1
