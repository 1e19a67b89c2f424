"""Atomic, confirmed changes to one switch: OpenFlow 1.3 messages sent in an ONF bundle
(the bundle extension Open vSwitch accepts on OpenFlow 1.3: ONF_ET_BUNDLE_CONTROL /
ONF_ET_BUNDLE_ADD_MESSAGE, as built by Ryu's ONFBundleCtrlMsg and ONFBundleAddMsg),
committed and followed by a barrier.

The switch applies the whole bundle at once or not at all (ONF_BF_ATOMIC), in order
(ONF_BF_ORDERED: a group is added before the flow that uses it). The barrier reply
tells when it is done; an error carrying the xid of any message of the bundle tells
that it failed, and then none of it was applied.

Apps route the switch's barrier replies and errors here (``on_barrier_reply``,
``on_error``) from their own ``set_ev_cls`` handlers. A bundle a switch never answers
is given up (``Transaction.abandon``) by whoever waited for it, so a silent switch does
not keep its bundles' xids here for as long as it stays connected; and a switch sending
error after error for one bundle has only the first few kept.
"""

import itertools
import struct
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from ryu.lib import hub
from ryu.ofproto import ofproto_common, ofproto_v1_3

from controller import openflow

ERRORS_KEPT = 8  # errors kept per bundle (an atomic bundle fails at the first one)


class Transaction:
    """One bundle in flight to one switch."""

    def __init__(self, dpid: int, size: int) -> None:
        self.dpid = dpid
        self.size = size  # messages in the bundle
        # (type, code) of every error the switch sent back; ('disconnected', None)
        self.errors: list[tuple[int | str, int | None]] = []
        self.done = hub.Event()
        self.keys: list[tuple[int, int]] = []  # (dpid, xid) of every message
        self.barrier_xid: int | None = None
        self._forget: Callable[[Transaction], None] | None = None  # set by the client

    @property
    def ok(self) -> bool:
        return self.done.is_set() and not self.errors

    @property
    def answered(self) -> bool:
        """Whether the switch has answered (successfully or not), without waiting."""
        return self.done.is_set()

    def wait(self, timeout: float | None) -> bool:
        """True once the switch has answered (successfully or not) within ``timeout``."""
        return self.done.wait(timeout)

    def abandon(self) -> None:
        """Stop waiting for an answer that did not come: the transaction ends failed
        (``('abandoned', None)``), and a late answer is taken for one of no bundle."""
        if self.done.is_set():
            return
        if self._forget is not None:
            self._forget(self)
        self.errors.append(('abandoned', None))
        self.done.set()


class BundleClient:
    """Sends bundles and matches the switches' answers to them by xid."""

    def __init__(self) -> None:
        self._bundle_ids = itertools.count(1)
        # (dpid, xid) -> Transaction, for every message sent
        self._open: dict[tuple[int, int], Transaction] = {}

    def send(self, dp: Any, msgs: Sequence[Any]) -> Transaction:
        """Send ``msgs`` (FlowMods, GroupMods, openflow.FlowModBlocks) to ``dp`` as one
        atomic bundle; returns the Transaction to wait on. An empty list needs no
        bundle: it is done at once; nor does a single message (unless behind the
        arbiter), which goes as it is, then the barrier."""
        arbitrated = openflow.arbitrated()
        if arbitrated or (len(msgs) == 1 and openflow.message_count(msgs) == 1):
            # The arbiter reads messages as objects (it rewrites cookies); a block of
            # one FLOW_MOD is that message alone.
            msgs = openflow.as_messages(dp, msgs)
        transaction = Transaction(dp.id, openflow.message_count(msgs))
        if not msgs:
            transaction.done.set()
            return transaction
        parser, ofp = dp.ofproto_parser, dp.ofproto
        if len(msgs) == 1 and not arbitrated and not isinstance(msgs[0], openflow.FlowModBlock):
            # One message is applied whole or not at all by itself: no bundle, so two
            # messages instead of four and one answer instead of three (an epoch's
            # phase 2 is one FLOW_MOD to each of up to thousands of switches). Not
            # behind the arbiter: it may hold a lone FLOW_MOD back with no error, where
            # it refuses a bundle whole (docs/arbiter.md, Bundles).
            out = list(msgs)
        else:
            bundle_id = next(self._bundle_ids) & 0xFFFFFFFF
            flags = ofp.ONF_BF_ATOMIC | ofp.ONF_BF_ORDERED
            out = [parser.ONFBundleCtrlMsg(dp, bundle_id, ofp.ONF_BCT_OPEN_REQUEST, flags, [])]
            out += [
                msg
                if isinstance(msg, openflow.FlowModBlock)
                else parser.ONFBundleAddMsg(dp, bundle_id, flags, msg, [])
                for msg in msgs
            ]
            out.append(
                parser.ONFBundleCtrlMsg(dp, bundle_id, ofp.ONF_BCT_COMMIT_REQUEST, flags, [])
            )
        barrier = parser.OFPBarrierRequest(dp)
        out.append(barrier)
        if any(isinstance(msg, openflow.FlowModBlock) for msg in out):
            transaction.keys = _send_with_blocks(dp, out, bundle_id, flags)
        else:
            openflow.send_together(dp, out)  # (looked up now: the arbiter may replace it)
            transaction.keys = [(dp.id, msg.xid) for msg in out]
        for key in transaction.keys:
            self._open[key] = transaction
        transaction.barrier_xid = barrier.xid
        transaction._forget = self._forget
        return transaction

    @property
    def in_flight(self) -> int:
        """Messages of bundles sent and not yet answered, given up or disconnected."""
        return len(self._open)

    def on_barrier_reply(self, msg: Any) -> None:
        transaction = self._open.get((msg.datapath.id, msg.xid))
        if transaction is not None and transaction.barrier_xid == msg.xid:
            self._forget(transaction)
            transaction.done.set()

    def on_error(self, msg: Any) -> bool:
        """True if the error belongs to one of our bundles (the caller need not log it)."""
        transaction = self._open.get((msg.datapath.id, msg.xid))
        if transaction is None:
            return False
        if len(transaction.errors) < ERRORS_KEPT:
            transaction.errors.append((msg.type, msg.code))
        return True

    def forget_switch(self, dpid: int) -> None:
        """The switch disconnected: its bundles will never be answered."""
        stranded = {t for key, t in self._open.items() if key[0] == dpid}
        for transaction in stranded:
            self._forget(transaction)
            transaction.errors.append(('disconnected', None))
            transaction.done.set()

    def _forget(self, transaction: Transaction) -> None:
        for key in transaction.keys:
            self._open.pop(key, None)


# An ONF bundle add message before its inner message: OpenFlow header (version,
# OFPT_EXPERIMENTER, length, xid), experimenter id and type, bundle id, padding, flags.
_BUNDLE_ADD_HEAD = struct.Struct('!BBHIIII2xH')


def bundle_adds(block: openflow.FlowModBlock, bundle_id: int, flags: int, xids: Any) -> bytes:
    """The ONF bundle add messages carrying each row of ``block``, row i with xid
    ``xids[i]`` (outer and inner, as Ryu's ONFBundleAddMsg writes them), as one write."""
    count, length = block.rows.shape
    head = _BUNDLE_ADD_HEAD.size
    rows = np.empty((count, head + length), np.uint8)
    rows[:, :head] = np.frombuffer(
        _BUNDLE_ADD_HEAD.pack(
            ofproto_v1_3.OFP_VERSION,
            ofproto_v1_3.OFPT_EXPERIMENTER,
            head + length,
            0,
            ofproto_common.ONF_EXPERIMENTER_ID,
            ofproto_v1_3.ONF_ET_BUNDLE_ADD_MESSAGE,
            bundle_id,
            flags,
        ),
        np.uint8,
    )
    rows[:, head:] = block.rows
    xid_bytes = np.asarray(xids, '>u4').view(np.uint8).reshape(-1, 4)
    rows[:, 4:8] = xid_bytes
    rows[:, head + 4 : head + 8] = xid_bytes
    return rows.tobytes()


def _send_with_blocks(dp: Any, out: list[Any], bundle_id: int, flags: int) -> list[tuple[int, int]]:
    """send_together of a bundle holding FlowModBlocks (never behind the arbiter): the
    blocks' rows wrapped column-wise, numbered from ``dp``'s xids as Datapath.set_xid
    numbers them; the (dpid, xid) of every message."""
    parts, keys = [], []
    for msg in out:
        if isinstance(msg, openflow.FlowModBlock):
            if not len(msg):
                continue
            xids = (dp.xid + 1 + np.arange(len(msg), dtype=np.int64)) & dp.ofproto.MAX_XID
            dp.xid = int(xids[-1])
            parts.append(bundle_adds(msg, bundle_id, flags, xids))
            keys += [(dp.id, xid) for xid in xids.tolist()]
        else:
            dp.set_xid(msg)
            msg.serialize()
            parts.append(msg.buf)
            keys.append((dp.id, msg.xid))
    dp.send(b''.join(parts))
    return keys


def errors_text(errors: Sequence[tuple[Any, Any]]) -> str:
    """A transaction's errors for a log line: 'type T code C (xN), ...'."""
    return ', '.join(
        'type %s code %s' % error + (' (x%d)' % n if n > 1 else '')
        for error, n in Counter(errors).items()
    )
