"""controller/bundles.py against a recording datapath: what goes on the wire, and how
the switch's answers (barrier reply, errors, a disconnect) end a transaction."""

import itertools
import struct

from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller import openflow as of
from controller.bundles import ERRORS_KEPT, BundleClient, Transaction, errors_text


class RecordingDatapath:
    """Sets xids as Ryu's Datapath does and keeps every byte sent."""

    ofproto = ofp
    ofproto_parser = parser

    def __init__(self, dpid=1):
        self.id = dpid
        self.sent = b''
        self._xids = itertools.count(100)

    def set_xid(self, msg):
        msg.set_xid(next(self._xids))

    def send(self, data):
        self.sent += data


class Reply:
    def __init__(self, dp, xid, type_=None, code=None):
        self.datapath, self.xid, self.type, self.code = dp, xid, type_, code


def messages(data):
    """[(type, xid, experimenter exp_type or None, bundle ctrl type or None)]."""
    out = []
    while data:
        _, msg_type, length, xid = struct.unpack_from('!BBHI', data)
        exp_type = ctrl = None
        if msg_type == ofp.OFPT_EXPERIMENTER:
            _, exp_type = struct.unpack_from('!II', data, 8)
            if exp_type == ofp.ONF_ET_BUNDLE_CONTROL:
                _, ctrl, _ = struct.unpack_from('!IHH', data, 16)
        out.append((msg_type, xid, exp_type, ctrl))
        data = data[length:]
    return out


def rules(dp):
    return [of.flow_delete(dp, 1, 2), of.failover_group(dp, 2 << 16 | 3, (2, 3))]


def test_bundle_is_open_add_commit_then_barrier_in_one_write():
    dp = RecordingDatapath()
    transaction = BundleClient().send(dp, rules(dp))
    sent = messages(dp.sent)
    assert [(m[0], m[2], m[3]) for m in sent] == [
        (ofp.OFPT_EXPERIMENTER, ofp.ONF_ET_BUNDLE_CONTROL, ofp.ONF_BCT_OPEN_REQUEST),
        (ofp.OFPT_EXPERIMENTER, ofp.ONF_ET_BUNDLE_ADD_MESSAGE, None),
        (ofp.OFPT_EXPERIMENTER, ofp.ONF_ET_BUNDLE_ADD_MESSAGE, None),
        (ofp.OFPT_EXPERIMENTER, ofp.ONF_ET_BUNDLE_CONTROL, ofp.ONF_BCT_COMMIT_REQUEST),
        (ofp.OFPT_BARRIER_REQUEST, None, None),
    ]
    assert transaction.barrier_xid == sent[-1][1]
    assert not transaction.done.is_set()


def test_a_single_message_goes_without_a_bundle_and_its_error_fails_it():
    assert not of.arbitrated()
    dp = RecordingDatapath()
    client = BundleClient()
    transaction = client.send(dp, [of.flow_delete(dp, 1, 2)])
    sent = messages(dp.sent)
    assert [m[0] for m in sent] == [ofp.OFPT_FLOW_MOD, ofp.OFPT_BARRIER_REQUEST]
    assert client.on_error(Reply(dp, sent[0][1], 4, 9))
    client.on_barrier_reply(Reply(dp, sent[1][1]))
    assert transaction.done.is_set() and transaction.errors == [(4, 9)]
    assert not transaction.ok and client.in_flight == 0


def test_barrier_reply_completes_and_errors_fail_it():
    dp = RecordingDatapath()
    client = BundleClient()
    good = client.send(dp, rules(dp))
    bad = client.send(dp, rules(dp))
    bad_xids = [m[1] for m in messages(dp.sent)][5:]
    assert client.on_error(Reply(dp, bad_xids[2], ofp.OFPET_GROUP_MOD_FAILED, 0))
    assert not client.on_error(Reply(dp, 99999, 1, 1))  # not ours: caller logs it
    client.on_barrier_reply(Reply(dp, good.barrier_xid))
    client.on_barrier_reply(Reply(dp, bad.barrier_xid))
    assert good.ok and good.wait(0)
    assert bad.done.is_set() and not bad.ok
    assert bad.errors == [(ofp.OFPET_GROUP_MOD_FAILED, 0)]


def test_disconnect_fails_what_is_in_flight_and_empty_bundles_are_done():
    dp = RecordingDatapath(7)
    client = BundleClient()
    pending = client.send(dp, rules(dp))
    client.forget_switch(7)
    assert pending.done.is_set() and pending.errors == [('disconnected', None)]
    before = dp.sent
    assert client.send(dp, []).ok and dp.sent == before


def test_an_abandoned_bundle_is_forgotten_and_its_late_answers_ignored():
    dp = RecordingDatapath()
    client = BundleClient()
    silent = client.send(dp, rules(dp))
    assert client.in_flight == 5 and not silent.answered
    silent.abandon()
    assert silent.answered and silent.errors == [('abandoned', None)]
    assert client.in_flight == 0
    client.on_barrier_reply(Reply(dp, silent.barrier_xid))  # too late: ignored
    assert not client.on_error(Reply(dp, silent.keys[1][1], 1, 1))  # the caller's now
    assert silent.errors == [('abandoned', None)]
    done = client.send(dp, rules(dp))
    client.on_barrier_reply(Reply(dp, done.barrier_xid))
    done.abandon()  # answered: unchanged
    assert done.ok and client.in_flight == 0
    lone = Transaction(1, 1)  # not sent by a client
    lone.abandon()
    assert lone.errors == [('abandoned', None)]


def test_a_switch_sending_error_after_error_has_the_first_few_kept():
    dp = RecordingDatapath()
    client = BundleClient()
    transaction = client.send(dp, rules(dp))
    for _ in range(1000):
        assert client.on_error(Reply(dp, transaction.keys[1][1], 1, 5))
    assert transaction.errors == [(1, 5)] * ERRORS_KEPT
    assert errors_text(transaction.errors) == 'type 1 code 5 (x%d)' % ERRORS_KEPT
    assert (
        errors_text([(1, 5), (6, 0), ('disconnected', None)])
        == 'type 1 code 5, type 6 code 0, type disconnected code None'
    )


def test_behind_the_arbiter_a_single_message_still_goes_in_a_bundle(monkeypatch):
    """The arbiter refuses a bundle whole when it would hold one of its messages back,
    but may hold a lone FLOW_MOD back without an error: the transaction would then say
    done for a rule that is not on the switch."""
    monkeypatch.setattr(of, 'send_together', lambda dp, msgs: of._PLAIN_SEND_TOGETHER(dp, msgs))
    assert of.arbitrated()
    dp = RecordingDatapath()
    BundleClient().send(dp, [of.flow_delete(dp, 1, 2)])
    sent = messages(dp.sent)
    assert [(m[0], m[2], m[3]) for m in sent] == [
        (ofp.OFPT_EXPERIMENTER, ofp.ONF_ET_BUNDLE_CONTROL, ofp.ONF_BCT_OPEN_REQUEST),
        (ofp.OFPT_EXPERIMENTER, ofp.ONF_ET_BUNDLE_ADD_MESSAGE, None),
        (ofp.OFPT_EXPERIMENTER, ofp.ONF_ET_BUNDLE_CONTROL, ofp.ONF_BCT_COMMIT_REQUEST),
        (ofp.OFPT_BARRIER_REQUEST, None, None),
    ]
