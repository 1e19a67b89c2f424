"""ONF bundles (the OpenFlow 1.3 bundle extension that controller/bundles.py sends)
opened by the arbiter: each flow-mod and group-mod inside is attributed to the app that
sent the bundle, then checked, resolved and gated like any other. The bundle is decided
as one, because apps rely on it being atomic on the switch (stable_routing installs
each phase of an epoch as one bundle per switch):

- OPEN_REQUEST goes to the switch at once (an app may wait for its reply); the ADDs
  and a CLOSE_REQUEST are kept here.
- At COMMIT_REQUEST the inner messages are arbitrated in order as a *trial*: what the
  arbiter would send and what it would tell the app are collected, not done.
- Every inner message installed (as asked, at another priority, shared with another
  app, or evicting another app's rule it beats): the bundle goes to the switch with one
  ADD per message the arbiter sends (a rewritten rule, an evicted rule's delete,
  the evicted rule placed again below ...), then CLOSE and COMMIT as the app sent
  them: the switch applies the arbitrated bundle as one. The app is told as usual.
- Any inner message refused or held back: the whole bundle is refused. Nothing of it
  is applied (a DISCARD_REQUEST closes it on the switch), the arbiter's state is as
  before it (``Arbiter.save_switch`` / ``restore_switch``), and the app gets what a
  switch sends when a message of an atomic bundle fails: an error with the xid of each
  refused message (``OFPET_FLOW_MOD_FAILED``/``OFPET_GROUP_MOD_FAILED``, EPERM) and one
  with the xid of the COMMIT (``OFPET_BAD_REQUEST``/``OFPBRC_EPERM``). A held message
  is refused rather than held: a bundle half in force would mix two states.
- DISCARD_REQUEST drops the kept bundle. An ADD or COMMIT of a bundle the arbiter did
  not see opened by that app is refused, so nothing reaches the switch unarbitrated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ryu.ofproto import ofproto_v1_3_parser as parser13

from controller.arbiter.resolve import Decision, Outcome

if TYPE_CHECKING:
    from controller.arbiter.engine import Arbiter

MAX_OPEN_PER_SWITCH = 64  # bundles kept open at once on one switch
CLAUSE = 'bundles are atomic'
BUNDLE_MESSAGES = (parser13.ONFBundleCtrlMsg, parser13.ONFBundleAddMsg)
Told = tuple[str, Any, Any, Decision]  # notify's arguments: app, datapath, msg, decision


@dataclass
class OpenBundle:
    """A bundle an app opened and has not committed yet."""

    app: str
    opened: Any  # its OPEN_REQUEST
    adds: list[Any] = field(default_factory=list)  # its ADD_MESSAGEs, in order
    closed: Any = None  # its CLOSE_REQUEST, if sent


@dataclass
class Trial:
    """What arbitrating a bundle's messages would send and tell."""

    sent: list[Any] = field(default_factory=list)
    told: list[Told] = field(default_factory=list)

    def refusals(self, app: str) -> list[Told]:
        """The app's messages refused or held back, each as a refusal."""
        return [
            (who, dp, msg, _as_refusal(decision))
            for who, dp, msg, decision in self.told
            if who == app and decision.outcome in (Outcome.REFUSE, Outcome.HOLD)
        ]


def _as_refusal(decision: Decision) -> Decision:
    if decision.outcome is Outcome.REFUSE:
        return decision
    return Decision(
        Outcome.REFUSE,
        decision.rule,
        decision.clause,
        '%s (held back: refused, being in an atomic bundle)' % decision.reason,
    )


class BundleArbiter:
    """The bundles in flight through one Arbiter (see the module's docstring)."""

    def __init__(self, arbiter: Arbiter) -> None:
        self.arbiter = arbiter
        self.open: dict[tuple[int, int], OpenBundle] = {}  # by (dpid, bundle id)
        self.committed = 0
        self.refused = 0

    def message(self, dp: Any, app: str, msg: Any) -> None:
        """One bundle message (ONFBundleCtrlMsg or ONFBundleAddMsg) of ``app``."""
        ofp = dp.ofproto
        key = (dp.id, msg.bundle_id)
        bundle = self.open.get(key)
        if isinstance(msg, parser13.ONFBundleAddMsg):
            if bundle is None or bundle.app != app:
                self._refuse_unopened(dp, app, msg, msg.message)
            else:
                bundle.adds.append(msg)
        elif msg.type == ofp.ONF_BCT_OPEN_REQUEST:
            if bundle is not None or self._open_on(dp.id) >= MAX_OPEN_PER_SWITCH:
                reason = (
                    'bundle %d is open already' % msg.bundle_id
                    if bundle is not None
                    else 'over %d open bundles on the switch' % MAX_OPEN_PER_SWITCH
                )
                self._refuse(dp, app, msg, Decision(Outcome.REFUSE, None, CLAUSE, reason))
                return
            self.open[key] = OpenBundle(app, msg)
            self._send(dp, msg)
        elif bundle is None or bundle.app != app:
            if msg.type == ofp.ONF_BCT_COMMIT_REQUEST:
                self._refuse_unopened(dp, app, msg, msg)
            # (a CLOSE or DISCARD of no bundle of the app's: nothing to do)
        elif msg.type == ofp.ONF_BCT_CLOSE_REQUEST:
            bundle.closed = msg
        elif msg.type == ofp.ONF_BCT_DISCARD_REQUEST:
            del self.open[key]
            self._send(dp, msg)
        elif msg.type == ofp.ONF_BCT_COMMIT_REQUEST:
            del self.open[key]
            self._commit(dp, bundle, msg)

    def switch_gone(self, dpid: int) -> None:
        for key in [k for k in self.open if k[0] == dpid]:
            del self.open[key]

    def _open_on(self, dpid: int) -> int:
        return sum(1 for key in self.open if key[0] == dpid)

    def trial(self, dp: Any, app: str, msgs: Sequence[Any]) -> Trial:
        """Arbitrate ``msgs`` of ``app`` in order, collecting what the arbiter would
        send and tell instead of doing it (the arbiter's state changes as if it had)."""
        arbiter = self.arbiter
        trial = Trial()
        send, notify = arbiter.send, arbiter.notify
        arbiter.send = lambda _dp, msg: trial.sent.append(msg)
        arbiter.notify = lambda *told: trial.told.append(told)
        try:
            for msg in msgs:
                kind = msg.cls_msg_type
                if kind == dp.ofproto.OFPT_FLOW_MOD:
                    arbiter.flow_mod(dp, app, msg)
                elif kind == dp.ofproto.OFPT_GROUP_MOD:
                    arbiter.group_mod(dp, app, msg)
                else:  # nothing the arbiter decides on: in the bundle as it is
                    trial.sent.append(msg)
        finally:
            arbiter.send, arbiter.notify = send, notify
        return trial

    def _commit(self, dp: Any, bundle: OpenBundle, commit: Any) -> None:
        arbiter, app = self.arbiter, bundle.app
        saved = arbiter.save_switch(dp.id)
        inner = []
        for add in bundle.adds:
            # The switch answers an inner message with the xid of its ADD.
            add.message.xid = add.xid
            inner.append(add.message)
        try:
            trial = self.trial(dp, app, inner)
        except BaseException:
            arbiter.restore_switch(saved)
            raise
        refusals = trial.refusals(app)
        ofp, parser = dp.ofproto, dp.ofproto_parser
        flags = bundle.opened.flags
        if refusals:
            self.refused += 1
            arbiter.restore_switch(saved)
            for who, _, msg, decision in refusals:
                if decision.rule is not None:
                    arbiter.record(dp, decision.rule, decision)
                else:
                    subject = 'group %d' % msg.group_id if hasattr(msg, 'group_id') else ''
                    arbiter.log_decision(who, dp.id, 'group_mod', decision, subject)
                arbiter.notify(who, dp, msg, decision)
            self._refuse(
                dp,
                app,
                commit,
                Decision(
                    Outcome.REFUSE,
                    None,
                    CLAUSE,
                    'bundle %d refused whole: %d of its %d messages refused (%s)'
                    % (commit.bundle_id, len(refusals), len(inner), refusals[0][3].reason),
                ),
            )
            self._send(
                dp,
                parser.ONFBundleCtrlMsg(
                    dp, commit.bundle_id, ofp.ONF_BCT_DISCARD_REQUEST, flags, []
                ),
            )
            return
        self.committed += 1
        for msg in trial.sent:
            add = parser.ONFBundleAddMsg(dp, commit.bundle_id, flags, msg, [])
            add.xid = msg.xid  # (the arbiter gave every message it sends an xid)
            self._send(dp, add)
        if bundle.closed is not None:
            self._send(dp, bundle.closed)
        self._send(dp, commit)
        for told in trial.told:
            arbiter.notify(*told)

    def _refuse_unopened(self, dp: Any, app: str, msg: Any, subject: Any) -> None:
        self._refuse(
            dp,
            app,
            msg,
            Decision(
                Outcome.REFUSE,
                None,
                CLAUSE,
                'bundle %d was not opened by %s' % (msg.bundle_id, app),
            ),
            told=subject,
        )

    def _refuse(self, dp: Any, app: str, msg: Any, decision: Decision, told: Any = None) -> None:
        """Record a refusal about bundle message ``msg``, and tell the app (of ``told``,
        the message it is about, if not ``msg``)."""
        if told is not None and told is not msg:
            told.xid = msg.xid
        self.arbiter.log_decision(app, dp.id, 'bundle', decision, 'bundle %d' % msg.bundle_id)
        self.arbiter.notify(app, dp, told if told is not None else msg, decision)

    def _send(self, dp: Any, msg: Any) -> None:
        if msg.xid is None:
            dp.set_xid(msg)
        msg.serialize()
        self.arbiter.send(dp, msg)
