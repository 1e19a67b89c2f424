"""controller/stable/rulebytes.py and the FlowModBlocks it makes: every forward rule's
FLOW_MOD byte for byte what Ryu serializes for ``to_flow_mod(forward_rule(...))``, for
any MAC, epoch, port or group, deliver / output / failover and stable / overlay; and
controller/bundles.py sending blocks as the bundle adds Ryu would write, numbered as
Datapath.set_xid numbers messages."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller import openflow as of
from controller.arbiter.match import TernaryMatch
from controller.bundles import BundleClient, bundle_adds
from controller.flowspec import to_flow_mod
from controller.stable import pipeline as pipe
from controller.stable import rulebytes
from controller.stable.sft import Route, compute_sft
from tests.harness.fakes import FakeDatapath
from tests.harness.interposed import RyuDatapath, interpose_arbiter
from tests.harness.stable_fakes import LINE
from tests.unit.test_bundles import messages  # the wire as controller/bundles.py's tests read it

MAX_PORT = 0xFFFFFF00  # OFPP_MAX
macs = st.binary(min_size=6, max_size=6).map(lambda raw: raw.hex(':'))
ports = st.integers(1, MAX_PORT)
group_ports = st.integers(1, pipe.MAX_GROUP_PORT)
entries = st.one_of(
    st.tuples(st.just('deliver'), ports),
    st.tuples(st.just('forward'), st.builds(Route, ports, st.none())),
    st.tuples(st.just('forward'), st.builds(Route, group_ports, group_ports)),
)
epochs = st.integers(1, (1 << 40) - 1)  # what a cookie's free bits hold


def ryu_bytes(dp, mac, entry, epoch, overlay, xid=0):
    msg = to_flow_mod(dp, pipe.forward_rule(mac, entry, epoch, overlay), shared=True)
    msg.xid = xid
    msg.serialize()
    return bytes(msg.buf)


def rows_by_mac(blocks):
    """{eth_dst: the bytes of its FLOW_MOD} of ``blocks``."""
    out = {}
    for block in blocks:
        for row, msg in zip(block.rows, block.messages(FakeDatapath()), strict=True):
            out[dict(msg.match.items())['eth_dst']] = row.tobytes()
    return out


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(macs, entries, min_size=1, max_size=12), epochs, st.booleans())
def test_every_forward_rule_is_byte_for_byte_what_ryu_serializes(table, epoch, overlay):
    blocks = rulebytes.forward_blocks(table, epoch, overlay)
    assert sum(map(len, blocks)) == len(table)
    assert len(blocks) == len({pipe.forward_action(entry)[0] for entry in table.values()})
    dp = FakeDatapath()
    assert rows_by_mac(blocks) == {
        mac: ryu_bytes(dp, mac, entry, epoch, overlay) for mac, entry in table.items()
    }


def test_a_switchs_rules_come_in_one_block_per_action_in_the_order_given():
    sft = compute_sft(LINE)
    entries = pipe.switch_entries(sft, 2)  # one host delivered, two forwarded
    blocks = rulebytes.forward_blocks(entries, 5)
    assert [len(b) for b in blocks] == [1, 2]
    messages = of.as_messages(FakeDatapath(), blocks)
    assert [dict(m.match.items())['eth_dst'] for m in messages] == [
        mac for how in ('deliver', 'forward') for mac, e in entries.items() if e[0] == how
    ]
    assert all(m.xid is None and m.cookie == pipe.epoch_cookie(pipe.ROUTE, 5) for m in messages)
    assert rulebytes.forward_blocks({}, 5) == []


@pytest.mark.parametrize(
    'entry, error',
    [
        (('forward', Route(1, 0x10000)), 'port pairs up to 65535'),
        (('forward', Route(0, 2)), 'port pairs up to 65535'),
        (('forward', Route(1 << 32)), 'is not an OpenFlow port'),
        (('deliver', -1), 'is not an OpenFlow port'),
    ],
)
def test_a_port_or_group_that_does_not_fit_is_refused_by_name(entry, error):
    with pytest.raises(ValueError, match=error):
        rulebytes.forward_blocks({'00:00:00:00:00:01': entry}, 1)


@pytest.mark.parametrize('mac', ['00:00:01', 'zz:00:00:00:00:01', '00:00:00:00:00:00:01'])
def test_a_mac_that_is_not_six_bytes_is_refused_by_name(mac):
    with pytest.raises(ValueError, match="'%s' is not a MAC address" % mac):
        rulebytes.forward_blocks({mac: ('deliver', 1)}, 1)


@pytest.fixture
def not_arbitrated(monkeypatch):
    """controller/openflow.py's own send_together, whatever an earlier test of the
    process interposed (apps/arbiter.py replaces it when imported)."""
    monkeypatch.setattr(of, 'send_together', of._PLAIN_SEND_TOGETHER)
    assert not of.arbitrated()


class RyuLikeDatapath(FakeDatapath):
    """Numbers messages as Ryu's Datapath.set_xid does (wrapping at MAX_XID) and keeps
    every byte sent."""

    def __init__(self, xid=0):
        super().__init__(1)
        self.xid, self.wire = xid, b''

    def set_xid(self, msg):
        self.xid = (self.xid + 1) & self.ofproto.MAX_XID
        msg.set_xid(self.xid)
        return self.xid

    def send(self, data):
        self.wire += data


@settings(max_examples=50, deadline=None)
@given(
    st.dictionaries(macs, entries, min_size=1, max_size=6),
    epochs,
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0xFFFFFFFF),
)
def test_a_block_goes_as_the_bundle_adds_ryu_writes(table, epoch, bundle_id, first_xid):
    flags = ofp.ONF_BF_ATOMIC | ofp.ONF_BF_ORDERED
    dp = RyuLikeDatapath()
    for block in rulebytes.forward_blocks(table, epoch, overlay=True):
        xids = [(first_xid + i) & 0xFFFFFFFF for i in range(len(block))]
        expected = b''
        for msg, xid in zip(block.messages(dp), xids, strict=True):
            add = parser.ONFBundleAddMsg(dp, bundle_id, flags, msg, [])
            add.xid = xid
            add.serialize()
            expected += bytes(add.buf)
        assert bundle_adds(block, bundle_id, flags, np.array(xids)) == expected


def test_the_bundle_client_sends_blocks_as_it_sends_the_same_messages_one_by_one(
    not_arbitrated,
):
    """Groups, a block and a FLOW_MOD in one bundle: the bytes on the wire are those of
    the same messages given as Ryu objects, xids past the wrap included; the
    transaction knows every message's xid."""
    sft = compute_sft(LINE)
    entries = pipe.switch_entries(sft, 1)
    near_wrap = 0xFFFFFFFF - 2

    def bundle(dp, with_blocks):
        blocks = rulebytes.forward_blocks(entries, 9)
        forward = blocks if with_blocks else of.as_messages(dp, blocks)
        return (
            [of.failover_group(dp, 2 << 16 | 3, (2, 3))]
            + forward
            + [to_flow_mod(dp, pipe.version_rule(9), shared=True)]
        )

    wires, keys = [], []
    for with_blocks in (True, False):
        dp = RyuLikeDatapath(near_wrap)
        transaction = BundleClient().send(dp, bundle(dp, with_blocks))
        wires.append(dp.wire)
        keys.append(transaction.keys)
        assert transaction.size == 1 + len(entries) + 1
    assert wires[0] == wires[1]
    assert keys[0] == keys[1]
    assert [xid for _, xid in keys[0]] == [(near_wrap + i) & 0xFFFFFFFF for i in range(1, 9)]


def test_a_lone_block_of_one_rule_goes_without_a_bundle(not_arbitrated):
    dp = RyuLikeDatapath()
    blocks = rulebytes.forward_blocks({'00:00:00:00:00:01': ('deliver', 1)}, 3)
    BundleClient().send(dp, blocks)
    types = []
    wire = dp.wire
    while wire:
        types.append(wire[1])
        wire = wire[int.from_bytes(wire[2:4], 'big') :]
    assert types == [ofp.OFPT_FLOW_MOD, ofp.OFPT_BARRIER_REQUEST]


def test_behind_the_arbiter_a_block_goes_as_ryu_objects(monkeypatch):
    """The arbiter replaces send_together and reads FLOW_MODs as objects: it gets the
    rows as Ryu parses them, in bundle adds."""
    sent = []

    def arbiter_send_together(dp, msgs):
        for msg in msgs:
            dp.set_xid(msg)
        sent.extend(msgs)

    monkeypatch.setattr(of, 'send_together', arbiter_send_together)
    assert of.arbitrated()
    dp = RyuLikeDatapath()
    entries = pipe.switch_entries(compute_sft(LINE), 1)
    BundleClient().send(dp, rulebytes.forward_blocks(entries, 3))
    adds = [m.message for m in sent if isinstance(m, parser.ONFBundleAddMsg)]
    assert sorted(dict(m.match.items())['eth_dst'] for m in adds) == sorted(entries)
    assert all(type(m) is parser.OFPFlowMod for m in adds)
    assert dp.wire == b''


@pytest.mark.parametrize('epoch', [0x5AC33CA5, 0x5AA5C33C96, 0xA53CC35A])
def test_an_epoch_whose_cookie_holds_a_template_sentinel_is_still_stamped_right(epoch):
    """The templates' slots are found by difference, not by searching the sentinel: an
    epoch whose cookie holds the port or MAC sentinel's bytes keeps its cookie."""
    table = {'02:00:00:00:00:01': ('forward', Route(7)), '02:00:00:00:00:02': ('deliver', 1)}
    assert rows_by_mac(rulebytes.forward_blocks(table, epoch)) == {
        mac: ryu_bytes(FakeDatapath(), mac, entry, epoch, False) for mac, entry in table.items()
    }


def test_a_failover_group_is_serialized_once_and_copied_with_each_xid():
    """failover_group's messages are PreparedGroupMods: the bytes Ryu makes of the same
    OFPGroupMod, the xid of each copy written in; a copy changed afterwards is
    serialized by Ryu again."""
    dp = RyuLikeDatapath()
    first, second = (of.failover_group(dp, 7 << 16 | 9, [7, 9]) for _ in range(2))
    assert first is not second and first.buckets is second.buckets
    buckets = [
        parser.OFPBucket(
            watch_port=port,
            watch_group=ofp.OFPG_ANY,
            actions=[parser.OFPActionOutput(port, ofp.OFPCML_NO_BUFFER)],
        )
        for port in (7, 9)
    ]
    for msg, xid in ((first, 5), (second, 0xFFFFFFFF)):
        ryu = parser.OFPGroupMod(dp, of.OVS_GROUP_ADD_OR_MOD, ofp.OFPGT_FF, 7 << 16 | 9, buckets)
        ryu.xid = msg.xid = xid
        ryu.serialize()
        msg.serialize()
        assert msg.buf == ryu.buf
    second.xid, second.group_id = 1, 3
    second.serialize()
    assert int.from_bytes(second.buf[8 + 4 : 8 + 8], 'big') == 3  # group_id after command, type


def test_blocks_through_the_real_arbiter_interposition_are_arbitrated_and_installed(monkeypatch):
    """With apps/arbiter.py's interposition in place (tests/harness/interposed.py),
    the BundleClient hands the arbiter a block's rows as OFPFlowMods: each is
    arbitrated and installed, and the bundle reaches the switch whole with them."""
    engine = interpose_arbiter(monkeypatch)
    dp = RyuDatapath(1)
    entries = pipe.switch_entries(compute_sft(LINE), 2)
    transaction = BundleClient().send(dp, rulebytes.forward_blocks(entries, 4, overlay=True))
    ((buffer, _),) = dp.send_q
    written = messages(buffer)
    assert [ctrl for _, _, _, ctrl in written] == [ofp.ONF_BCT_OPEN_REQUEST] + [None] * len(
        entries
    ) + [ofp.ONF_BCT_COMMIT_REQUEST, None]
    assert {xid for _, xid, _, _ in written} == {xid for _, xid in transaction.keys}
    assert engine.rule_counts() == {'unknown': {1: len(entries)}}
    vid = pipe.VID_PRESENT | pipe.version_of(4)
    assert {rule.match for rule in engine.index.rules_of('unknown', 1)} == {
        TernaryMatch.of(vlan_vid=vid, eth_dst=mac) for mac in entries
    }
