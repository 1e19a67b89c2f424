"""The arbiter's state and its handling of every flow-mod and group-mod that an app sends:
attribution is done by the caller (controller/arbiter/interpose.py); here each message
is translated into the app's cookie range and pipeline stage, checked against the app's
rights, resolved against the other apps' installed rules (controller/arbiter/resolve.py),
gated by the invariants (controller/arbiter/gate.py), damped when two apps fight
(controller/arbiter/damping.py), and sent, held back or refused, with every decision
recorded and the proposing app told.

Independent of Ryu's event loop: the Datapath-like objects it is given need ``id``,
``ofproto``, ``ofproto_parser``, ``set_xid``; ``send(dp, msg)`` writes to the switch
bypassing the arbiter; ``notify(app, dp, msg, decision)`` tells an app. The unit tests
drive it with fakes.

Cookies: an app of the suite keeps its range (controller/cookies.py APP_IDS); any other
app gets 0x8000 + n, in order of first sight, in bits 63..48, and keeps its own bits
47..0. A rule two apps share is re-cookied into the arbiter's own range, so that neither
app's delete removes it while the other still wants it.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import struct
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Union

from ryu.ofproto import ofproto_parser, ofproto_v1_3
from ryu.ofproto import ofproto_v1_3_parser as parser13

from controller.arbiter.bundles import BundleArbiter
from controller.arbiter.damping import FlapDamper, RegionFlaps
from controller.arbiter.index import RuleIndex
from controller.arbiter.match import Identity, TernaryMatch, cube_covers
from controller.arbiter.resolve import (
    NO_CONFLICT,
    NO_CONFLICT_REASON,
    Decision,
    Outcome,
    resolve,
    rights_violation,
)
from controller.arbiter.rulekey import key_identity, packed_identity, rule_key, wire_key
from controller.arbiter.rules import ActionsKey, Relation, Rule, RuleKey, actions_key
from controller.arbiter.stamping import StampShape, stamp_shape
from controller.arbiter.stats import FlowStatsViews
from controller.arbiter.voting import (
    Count,
    Elections,
    VotingGroup,
    behaviour,
    packet_ballot,
    rule_ballot,
)
from controller.cookies import APP_IDS, APP_MASK, APP_SHIFT, THIRD_PARTY_BASE, CookieSpace
from controller.rate_limit import TokenBucket

if TYPE_CHECKING:
    from controller.arbiter.gate import InvariantGate
    from controller.arbiter.policy import ArbiterPolicy
    from controller.openflow import FlowModTemplate

LOG = logging.getLogger('arbiter')

OWN_BITS = (1 << APP_SHIFT) - 1  # the cookie bits an app keeps
SHARED_KIND = 1  # kind of a shared rule's cookie in the arbiter's range
ARBITER = CookieSpace('arbiter')
DECISIONS_KEPT = 1000
FORGET_QUIET_EVERY_S = 60.0  # how often damping states that have decayed are dropped
ACTIONS_KEPT = 4096  # distinct actions keys shared by the fast path
_HEADER = struct.Struct('!BBHI')

Region = tuple[int, int, TernaryMatch]  # (dpid, table, match): what damping tracks
Ask = tuple[str, int, int, int, TernaryMatch]  # (app, dpid, table, asked priority, match)
# A fast-path install as the decisions keep it until read (Arbiter._fast_record):
# (time, app, dpid, table, rule key (rulekey.py), flow-mod as sent, cookie as the app asked).
FastRecord = tuple[float, str, int, int, bytes, bytes, int]
# The installs of one Arbiter.stamped call, one entry for its rules: (time, app, dpid,
# the templates' StampShapes, the flow-mods as sent).
StampedRecord = tuple[float, str, int, tuple[StampShape, ...], Sequence[bytes]]
Recorded = Union['DecisionRecord', FastRecord, StampedRecord]  # what the decisions keep
# (stage's first table, next stage's first table or None, whether _translate changes
# anything) of an app the fast path may take; False for one it may not.
FastStage = tuple[int, int | None, bool] | Literal[False]
# The callbacks: send(dp, msg) writes to the switch past the arbiter;
# notify(app, dp, msg, decision) tells an app; alert(region, state) says a region is damped.
Send = Callable[[Any, Any], object]
Notify = Callable[[str, Any, Any, Decision], object]
Alert = Callable[[Region, RegionFlaps], object]


class _OF13:
    """Enough of a datapath to parse a message again (wire_actions)."""

    ofproto, ofproto_parser = ofproto_v1_3, parser13


class CookieRanges:
    """The cookie range (app id in bits 63..48) of every app."""

    def __init__(self) -> None:
        self.ids = dict(APP_IDS)
        self._apps = {number: app for app, number in self.ids.items()}
        self._next = THIRD_PARTY_BASE

    def app_id(self, app: str) -> int:
        if app not in self.ids:
            self.ids[app] = self._next
            self._apps[self._next] = app
            self._next += 1
        return self.ids[app]

    def installed(self, app: str, cookie: int) -> int:
        """The cookie of ``app``'s rule on the switch, given the cookie it asked for."""
        return (self.app_id(app) << APP_SHIFT) | (cookie & OWN_BITS)

    def scope(self, app: str, cookie: int, mask: int) -> tuple[int, int]:
        """(cookie, mask) of an app's delete or modify, narrowed to its own range."""
        return self.installed(app, cookie), APP_MASK | (mask & OWN_BITS)

    def owner(self, cookie: int) -> str | None:
        """The app whose range ``cookie`` is in, or None."""
        return self._apps.get(cookie >> APP_SHIFT)


@dataclass
class Placement:
    """One rule on a switch: ``installed`` as the switch has it, ``wire`` the flow-mod
    that put it there (serialized: one object per rule instead of Ryu's dozens, which
    would make the garbage collector crawl at 100k rules), and for each owning app the
    Rule it asked for (its priority and cookie as the app sees them). Two owners: a
    shared rule."""

    installed: Rule
    wire: bytes
    decision: Decision
    asked: dict[str, Rule] = field(default_factory=dict)  # app -> Rule as proposed
    flow_removed_to: set[str] = field(default_factory=set)  # apps that asked for it

    @property
    def key(self) -> RuleKey:
        r = self.installed
        return r.dpid, r.table_id, r.priority, r.match

    def message(self, dp: Any) -> Any:
        """The flow-mod, parsed again (with no xid: it is to be sent anew)."""
        version, msg_type, length, xid = _HEADER.unpack_from(self.wire)
        msg = ofproto_parser.msg(dp, version, msg_type, length, xid, bytearray(self.wire))
        msg.xid = None
        return msg


@dataclass
class Held:
    """A proposal held back (it loses to an installed rule): proposed again whenever a
    rule it overlaps leaves the switch."""

    rule: Rule
    msg: Any
    decision: Decision


class SingleAppTable:
    """The rules of one switch table into which one app alone has proposed, kept
    without the conflict index: no other app has a rule there to conflict with, so
    every proposal (of an app the policy does not restrict, with no invariant gate) is
    installed as asked. A rule is kept as plain values that the garbage collector never
    walks (the full path keeps a dozen objects per rule that it walks for ever: at 100k
    rules most of a flow-mod's cost): ``rules[key] = the flow-mod as sent``, the key
    being its priority and closed match as bytes (controller/arbiter/rulekey.py). A
    rule stamped from a template whose bytes its key and port give back (``stamped_by``,
    stamping.StampShape.compact: l2_learning's) keeps only the port it was stamped with;
    its bytes are stamped again when needed (with xid 0). What the app asked for that
    is not on the switch, the cookie (before it was put in the app's range) and whether
    it wants flow-removed, is nearly always the same for a whole table: kept once
    (``asked``), and per rule only where it differs (``unusual``). The actions key is
    read from the flow-mod when it is needed (Arbiter.wire_actions), the match from
    the key. Each of l2_learning's rules costs about 100 bytes so (330 as tuples with
    a copy of its flow-mod, which alone is 130).

    The table is *materialized* (its rules put into the RuleIndex and the placements,
    exactly as the full path would have put them, and this store dropped) the moment
    anything needs more: another app's proposal into the table, a proposal of the app
    that the fast path does not take, a DELETE or MODIFY of the app, explain, a
    policy reload, an active gate, or a reader of ``Arbiter.index``."""

    __slots__ = ('app', 'rules', 'asked', 'unusual', 'stamped_by')

    def __init__(self, app: str) -> None:
        self.app = app
        # rule key -> the flow-mod as sent, or the port it was stamped with (stamped_by)
        self.rules: dict[bytes, bytes | int] = {}
        self.asked: tuple[int, bool] | None = None  # (cookie, flow-removed) of most rules
        self.unusual: dict[bytes, tuple[int, bool]] = {}  # the rules that differ
        self.stamped_by: StampShape | None = None

    def keep(self, key: bytes, kept: bytes | int, asked: tuple[int, bool]) -> None:
        """Keep the rule ``key``: ``kept``, its flow-mod as sent or the port it was
        stamped with from ``stamped_by``; ``asked``: (cookie as the app asked, whether
        it asked for flow-removed). A rule replaced goes to the end, as in the index."""
        rules = self.rules
        size = len(rules)
        rules[key] = kept
        if len(rules) == size:
            del rules[key]
            rules[key] = kept
        usual = self.asked
        if usual is None:
            self.asked = asked
        elif asked != usual:
            self.unusual[key] = asked
        elif self.unusual:
            self.unusual.pop(key, None)

    def asked_of(self, key: bytes) -> tuple[int, bool]:
        """(cookie as the app asked, whether it asked for flow-removed) of rule ``key``."""
        asked = self.unusual.get(key) if self.unusual else None
        if asked is None:
            asked = self.asked
            assert asked is not None  # (set by the first rule kept)
        return asked

    def wire_of(self, key: bytes) -> bytes:
        """The flow-mod of rule ``key`` as sent (stamped again: with xid 0)."""
        kept = self.rules[key]
        if isinstance(kept, int):
            assert self.stamped_by is not None  # (what an int stands for)
            return self.stamped_by.wire(key, kept)
        return kept

    def drop(self, key: bytes) -> None:
        del self.rules[key]
        if self.unusual:
            self.unusual.pop(key, None)

    def copy(self) -> SingleAppTable:
        copy = SingleAppTable(self.app)
        copy.rules, copy.asked, copy.unusual = dict(self.rules), self.asked, dict(self.unusual)
        copy.stamped_by = self.stamped_by
        return copy


@dataclass
class SwitchState:
    """One switch's part of the arbiter's state, and the records, as
    ``Arbiter.save_switch`` saw them."""

    dpid: int
    rules: list[Rule]  # in the index
    placed: dict[RuleKey, Placement]
    asked: dict[Ask, RuleKey]
    held: dict[Ask, Held]
    groups: dict[tuple[int, int], str]
    single_app: dict[tuple[int, int], SingleAppTable]
    decisions: collections.deque[Recorded]
    counts: collections.Counter[tuple[str, str]]
    fast_installs: dict[str, int]


@dataclass
class DecisionRecord:
    """One decision, with its provenance, as the log and the REST API show it. The rule
    is kept as it is and written out only when asked (most records are never read)."""

    time: float
    app: str
    dpid: int
    command: str
    outcome: str
    clause: str
    reason: str
    rule: Rule | None = None
    placed_priority: int | None = None
    subject: str = ''  # what a record without a rule is about ('group 7')

    @property
    def table_id(self) -> int | None:
        return self.rule.table_id if self.rule is not None else None

    def as_dict(self) -> dict[str, Any]:
        rule = self.rule
        return {
            'time': self.time,
            'app': self.app,
            'dpid': self.dpid,
            'command': self.command,
            'outcome': self.outcome,
            'clause': self.clause,
            'reason': self.reason,
            'placed_priority': self.placed_priority,
            'table_id': self.table_id,
            'priority': rule.priority if rule is not None else None,
            'match': str(rule.match) if rule is not None else self.subject,
            'actions': actions_text(rule.actions) if rule is not None else '',
        }


class Arbiter:
    """Every app's rules pass here. See the module's docstring."""

    def __init__(
        self,
        policy: ArbiterPolicy,
        send: Send,
        notify: Notify,
        alert: Alert = lambda region, state: None,
        gate: InvariantGate | None = None,
        clock: Callable[[], float] = time.monotonic,
        single_app_tables: bool = True,
    ) -> None:
        self.policy = policy
        self.send = send
        self.notify = notify
        self.alert = alert
        self.gate = gate
        self.clock = clock
        self.cookies = CookieRanges()
        self._index = RuleIndex()
        # single_app_tables=False: every rule goes the full path at once (the tests
        # compare both).
        self.single_app: dict[tuple[int, int], SingleAppTable] = {}  # by (dpid, table)
        self.single_app_tables = single_app_tables
        self._fast: dict[str, FastStage] = {}  # by app, for the policy in force
        # (app id, FlowModTemplates) -> what stamping them takes (None: not the fast path's)
        self._stamp_plans: dict[
            tuple[int, tuple[FlowModTemplate, ...]], tuple[StampShape, ...] | None
        ] = {}
        # instructions as sent -> actions key (wire_actions)
        self._actions: dict[bytes, ActionsKey] = {}
        self.damper: FlapDamper[Region] = FlapDamper(
            policy.damping, clock, scope=lambda region: region[:2]
        )
        self._forget_quiet_at = clock() + FORGET_QUIET_EVERY_S
        # (dpid, table, match) -> the damping regions it was in
        self._fought: dict[Region, set[Region]] = {}
        self.placed: dict[RuleKey, Placement] = {}
        self.asked: dict[Ask, RuleKey] = {}  # where the rule an app asked for is
        self.held: dict[Ask, Held] = {}
        self.groups: dict[tuple[int, int], str] = {}  # (dpid, group id) -> app
        self.datapaths: dict[int, Any] = {}
        self.buckets: dict[tuple[str, int], TokenBucket] = {}  # by (app, dpid)
        # DecisionRecords, and the fast path's installs as plain tuples (see decisions)
        self._decisions: collections.deque[Recorded] = collections.deque(maxlen=DECISIONS_KEPT)
        self._counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self._fast_installs: dict[str, int] = {}  # app -> installs of the fast path
        self._shared_serial = 0
        self.bundles = BundleArbiter(self)  # the ONF bundles the apps send
        self.elections = Elections(policy.voting)  # the voting groups' ballots
        self.flow_stats = FlowStatsViews(self)  # the apps' flow-stats requests

    @property
    def index(self) -> RuleIndex:
        """The RuleIndex of every installed rule (single-app tables materialized)."""
        if self.single_app:
            self.materialize()
        return self._index

    @property
    def counts(self) -> collections.Counter[tuple[str, str]]:
        """Counter (app, outcome) -> decisions."""
        counts = collections.Counter(self._counts)
        for app, installs in self._fast_installs.items():
            counts[(app, Outcome.INSTALL.value)] += installs
        return counts

    @property
    def decisions(self) -> list[DecisionRecord]:
        """The latest decisions (DECISIONS_KEPT), oldest first, as DecisionRecords."""
        records: list[DecisionRecord] = []
        for entry in list(self._decisions):
            if isinstance(entry, DecisionRecord):
                records.append(entry)
            elif len(entry) == 5:  # a StampedRecord: one install per template
                when, app, dpid, plan, wires = entry
                records += (
                    self._fast_record(
                        (when, app, dpid, shape.table_id, wire_key(wire), wire, shape.asked[0])
                    )
                    for shape, wire in zip(plan, wires, strict=True)
                )
            else:
                records.append(self._fast_record(entry))
        return records[-DECISIONS_KEPT:]

    def _fast_record(self, record: FastRecord) -> DecisionRecord:
        """The DecisionRecord of a fast-path install (kept as a tuple until read)."""
        when, app, dpid, table_id, key, wire, cookie = record
        priority, identity = key_identity(key)
        rule = Rule(
            app=app,
            dpid=dpid,
            table_id=table_id,
            priority=priority,
            match=TernaryMatch.closed(identity),
            actions=self.wire_actions(dpid, wire),
            cookie=cookie,
        )
        return DecisionRecord(
            time=when,
            app=app,
            dpid=dpid,
            command='add',
            outcome=Outcome.INSTALL.value,
            clause=NO_CONFLICT,
            reason=NO_CONFLICT_REASON,
            rule=rule,
            placed_priority=priority,
        )

    # --- policy --------------------------------------------------------------------------

    def set_policy(self, policy: ArbiterPolicy) -> None:
        """Use ``policy`` from now on (installed rules stay as they are)."""
        self.materialize()  # the new policy may restrict an app of the fast path
        self._fast.clear()
        self._stamp_plans.clear()
        self.policy = policy
        self.damper.config = policy.damping
        self.buckets.clear()
        self.elections.set_groups(policy.voting)

    # --- single-app tables -----------------------------------------------------------------

    def materialize(
        self, dpid: int | None = None, table_id: int | None = None, app: str | None = None
    ) -> None:
        """Put the rules of the single-app tables (of switch ``dpid``, table
        ``table_id``, app ``app``, where given) into the index and placements, as the
        full path would have: from then on they go the full path."""
        for where in [
            w
            for w, table in self.single_app.items()
            if (dpid is None or w[0] == dpid)
            and (table_id is None or w[1] == table_id)
            and (app is None or table.app == app)
        ]:
            self._materialize(where)

    def _materialize(self, where: tuple[int, int]) -> None:
        table = self.single_app.pop(where, None)
        if table is None:
            return
        dpid, table_id = where
        app = table.app
        for key in table.rules:
            wire = table.wire_of(key)
            cookie, removed = table.asked_of(key)
            priority, identity = key_identity(key)
            match = TernaryMatch.closed(identity)
            actions = self.wire_actions(dpid, wire)
            asked = Rule(
                app=app,
                dpid=dpid,
                table_id=table_id,
                priority=priority,
                match=match,
                actions=actions,
                cookie=cookie,
            )
            installed = Rule(
                app=app,
                dpid=dpid,
                table_id=table_id,
                priority=priority,
                match=match,
                actions=actions,
                cookie=self.cookies.installed(app, cookie),
            )
            placement = Placement(
                installed,
                wire,
                Decision(Outcome.INSTALL, asked, NO_CONFLICT, NO_CONFLICT_REASON, placed=asked),
                {app: asked},
                {app} if removed else set(),
            )
            self._index.add(installed)
            self.placed[placement.key] = placement
            self.asked[(app, dpid, table_id, priority, match)] = placement.key

    def _fast_stage(self, app: str) -> FastStage:
        """(stage base, next stage base, whether _translate changes anything) of an app
        the fast path may take, else False."""
        stage = self._fast.get(app)
        if stage is None:
            stage = False
            if self.policy.unrestricted(app):
                _, base, next_base = self.policy.stage_of(app)
                stage = (base, next_base, bool(base) or next_base is not None)
            self._fast[app] = stage
        return stage

    def _fresh(self, dpid: int, table_id: int) -> bool:
        """Whether nothing of the arbiter is in that table: no rule, held rule or
        damping state (a single-app table may start there)."""
        return (
            not self._index.has_table(dpid, table_id)
            and not any(k[1] == dpid and k[2] == table_id for k in self.held)
            and not self.damper.regions_in((dpid, table_id))
        )

    def _fast_add(
        self, dp: Any, app: str, msg: Any, stage: tuple[int, int | None, bool], identity: Identity
    ) -> bool:
        """The ADD of ``app`` (whose pipeline stage is ``stage``; ``identity``: its
        match's closed identity) into a table where no other app has proposed: installed
        as asked (its cookie in the app's range) and kept in the SingleAppTable. False
        when the table is not that: the full path decides."""
        ofp = dp.ofproto
        table_id = msg.table_id
        if table_id >= ofp.OFPTT_MAX:
            return False
        table_id += stage[0]
        where = (dp.id, table_id)
        table = self.single_app.get(where)
        if table is None:
            if not self._fresh(dp.id, table_id):
                return False
            table = self.single_app[where] = SingleAppTable(app)
        elif table.app != app:
            return False
        if stage[2]:
            self._translate(dp, app, msg)
        priority, cookie, flags = msg.priority, msg.cookie, msg.flags
        app_id = self.cookies.ids.get(app)
        if app_id is None:
            app_id = self.cookies.app_id(app)
        msg.cookie = (app_id << APP_SHIFT) | (cookie & OWN_BITS)  # CookieRanges.installed
        if msg.idle_timeout or msg.hard_timeout:
            msg.flags = flags | ofp.OFPFF_SEND_FLOW_REM  # keeps the store in step
        if msg.xid is None:  # (what _send does)
            dp.set_xid(msg)
        msg.serialize()
        self.send(dp, msg)
        asked = (cookie, bool(flags & ofp.OFPFF_SEND_FLOW_REM))
        key = rule_key(priority, identity)
        wire = bytes(msg.buf)
        self._keep_fast(dp, app, table, table_id, key, wire, wire, asked)
        return True

    def _keep_fast(
        self,
        dp: Any,
        app: str,
        table: SingleAppTable,
        table_id: int,
        key: bytes,
        wire: bytes,
        kept: bytes | int,
        asked: tuple[int, bool],
    ) -> None:
        """Keep a rule the fast path installed (as sent: ``wire``; ``kept``: what its
        table keeps of it, SingleAppTable.keep; ``asked``: its cookie as the app asked,
        whether the app asked for flow-removed) in its SingleAppTable, and its decision
        record."""
        table.keep(key, kept, asked)
        installs = self._fast_installs
        installs[app] = installs.get(app, 0) + 1
        self._decisions.append((time.time(), app, dp.id, table_id, key, wire, asked[0]))
        if LOG.isEnabledFor(logging.DEBUG):
            self._log_fast(app, dp.id, table_id, key, wire)

    def _log_fast(self, app: str, dpid: int, table_id: int, key: bytes, wire: bytes) -> None:
        priority, identity = key_identity(key)
        LOG.debug(
            'decision: %s add dpid=%s table=%d priority=%d match=%s actions=%s -> install: %s [%s]',
            app,
            dpid,
            table_id,
            priority,
            TernaryMatch(identity),
            actions_text(self.wire_actions(dpid, wire)),
            NO_CONFLICT_REASON,
            NO_CONFLICT,
        )

    def stamped(
        self, dp: Any, app: str, templates: Sequence[FlowModTemplate], mac: bytes, port: int
    ) -> Sequence[bytes] | None:
        """The ADDs of ``templates`` stamped with ``mac`` and ``port`` (controller/
        openflow.py's send_stamped, l2_learning's hot path), taken by the fast path as
        bytes: no message object is built, and the match is read from the template's
        slots rather than parsed. Returns what to write to the switch (kept by the
        decisions: not to be changed), each rule kept as ``_fast_add`` keeps it, their
        decisions as one record; None, with nothing done, when any of them is not for
        the fast path (the caller then hands the templates' messages to ``flow_mod``)."""
        if not self.single_app_tables or dp.ofproto is not ofproto_v1_3:
            return None
        if (self.gate is not None and self.gate.active) or (
            self.elections.groups and self.elections.group_of(app) is not None
        ):
            return None
        stage = self._fast.get(app)
        if stage is None:
            stage = self._fast_stage(app)
        if stage is False or stage[2]:  # (its tables moved: the object path translates)
            return None
        plan = self._stamp_plan(app, templates)
        if plan is None:
            return None
        dpid, single_app = dp.id, self.single_app
        tables = []
        for shape in plan:
            table = single_app.get((dpid, shape.table_id))
            if table is None:
                if not self._fresh(dpid, shape.table_id):
                    return None
            elif table.app != app:
                return None
            tables.append(table)
        self.datapaths[dpid] = dp
        out = []
        for shape, table in zip(plan, tables, strict=True):
            dp.xid = (dp.xid + 1) & ofproto_v1_3.MAX_XID  # as send_stamped numbers them
            sent = bytes(shape.template.stamp(dp.xid, mac, port))
            if table is None:  # (made now, or by the template before in the same table)
                table = single_app.get((dpid, shape.table_id))
                if table is None:
                    table = single_app[(dpid, shape.table_id)] = SingleAppTable(app)
                    if shape.compact:
                        table.stamped_by = shape
            table.keep(wire_key(sent), port if shape is table.stamped_by else sent, shape.asked)
            out.append(sent)
        installs = self._fast_installs
        installs[app] = installs.get(app, 0) + len(out)
        self._decisions.append((time.time(), app, dpid, plan, out))
        if LOG.isEnabledFor(logging.DEBUG):
            for shape, sent in zip(plan, out, strict=True):
                self._log_fast(app, dpid, shape.table_id, wire_key(sent), sent)
        return out

    def _stamp_plan(
        self, app: str, templates: Sequence[FlowModTemplate]
    ) -> tuple[StampShape, ...] | None:
        """The StampShapes of ``templates`` for ``app``, worked out at their first use;
        None if the fast path cannot take one of them."""
        key = (self.cookies.app_id(app), tuple(templates))
        try:
            return self._stamp_plans[key]
        except KeyError:
            pass
        shapes = [
            stamp_shape(template, lambda cookie: self.cookies.installed(app, cookie))
            for template in templates
        ]
        plan = self._stamp_plans[key] = (
            None if None in shapes else tuple(shape for shape in shapes if shape is not None)
        )
        return plan

    def wire_actions(self, dpid: int, wire: bytes) -> ActionsKey:
        """The actions_key of a serialized flow-mod (one object per distinct
        instructions, remembered by their bytes)."""
        length = (wire[50] << 8) | wire[51]  # of the match, from 48 on
        instructions = wire[48 + ((length + 7) & ~7) :]
        actions = self._actions.get(instructions)
        if actions is None:
            version, msg_type, size, xid = _HEADER.unpack_from(wire)
            msg = ofproto_parser.msg(
                self.datapaths.get(dpid) or _OF13, version, msg_type, size, xid, bytearray(wire)
            )
            if len(self._actions) >= ACTIONS_KEPT:
                self._actions.clear()
            actions = self._actions[instructions] = actions_key(msg.instructions)
        return actions

    # --- flow-mods -----------------------------------------------------------------------

    def flow_mod(self, dp: Any, app: str, msg: Any, voted: bool = False) -> None:
        """Handle one FlowMod of ``app``: send what the switch should get, tell the app
        what became of it. An ADD of a voting group's member goes to the ballot first
        (``voted``: it was carried)."""
        self.datapaths[dp.id] = dp
        ofp = dp.ofproto
        command = msg.command
        match = None
        if self.elections.groups and not voted and command == ofp.OFPFC_ADD:
            group = self.elections.group_of(app)
            if group is not None:
                self._vote_flow_mod(dp, app, group, msg)
                return
        if command == ofp.OFPFC_ADD and self.single_app_tables:
            stage = self._fast.get(app)
            if stage is None:
                stage = self._fast_stage(app)
            gate = self.gate
            if stage is not False and (gate is None or not gate.active):
                packed = getattr(msg.match, 'wire_values', None)
                identity = None if packed is None else packed_identity(*packed())
                if identity is None:
                    try:
                        match = read_match(msg.match)
                    except ValueError:
                        pass  # (said below)
                    else:
                        identity = match.closed_identity
                if identity is not None and self._fast_add(dp, app, msg, stage, identity):
                    return
        if self.single_app and self.gate is not None and self.gate.active:
            self.materialize()  # the gate walks the index of every switch
        try:
            if match is None:
                match = read_match(msg.match)
        except ValueError as error:
            # A field outside OpenFlow 1.3's basic set (a Nicira extension): the
            # arbiter cannot compare it, so the rule goes as it is, in the app's range.
            LOG.warning('%s: not arbitrated, sent as is: %s', app, error)
            msg.cookie, msg.cookie_mask = self.cookies.scope(app, msg.cookie, msg.cookie_mask)
            self._send(dp, msg)
            return
        if command == ofp.OFPFC_ADD:
            self._translate(dp, app, msg)
            if self.single_app:
                self._materialize((dp.id, msg.table_id))
            self._add(dp, app, msg, match)
        elif command in (ofp.OFPFC_DELETE, ofp.OFPFC_DELETE_STRICT):
            self._delete(dp, app, msg, match, strict=command == ofp.OFPFC_DELETE_STRICT)
        elif command in (ofp.OFPFC_MODIFY, ofp.OFPFC_MODIFY_STRICT):
            self._materialize_own(dp, app, msg)
            self._modify(dp, app, msg, match, strict=command == ofp.OFPFC_MODIFY_STRICT)
        else:
            self._send(dp, msg)

    # --- voting groups ---------------------------------------------------------------------

    def _vote_flow_mod(self, dp: Any, app: str, group: VotingGroup, msg: Any) -> None:
        try:
            match = read_match(msg.match)
        except ValueError as error:  # cannot be compared: cannot be voted on
            decision = Decision(Outcome.REFUSE, None, group.clause, 'not comparable: %s' % error)
            self.log_decision(app, dp.id, 'add', decision, 'a rule of %s' % group.name)
            self.notify(app, dp, msg, decision)
            return
        key = rule_ballot(group, dp.id, msg.table_id, match)
        done = behaviour(actions_key(msg.instructions))
        self._carry_out(self.elections.cast(key, app, done, msg, self.clock()))

    def packet_out(self, dp: Any, app: str, msg: Any) -> None:
        """A PacketOut of ``app``: voted on if the app is in a voting group, else sent."""
        self.datapaths[dp.id] = dp
        group = self.elections.group_of(app)
        if group is None:
            self._send(dp, msg)
            return
        ofp, parser = dp.ofproto, dp.ofproto_parser
        packet = msg.buffer_id if msg.buffer_id != ofp.OFP_NO_BUFFER else bytes(msg.data or b'')
        key = packet_ballot(group, dp.id, msg.in_port, packet)
        done = behaviour(
            actions_key([parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, msg.actions)])
        )
        self._carry_out(self.elections.cast(key, app, done, msg, self.clock()))

    def expire_votes(self) -> None:
        """End the ballots whose window is over (call it a few times per window)."""
        if self.elections.ballots:
            self._carry_out(self.elections.expire(self.clock()))

    def _carry_out(self, count: Count) -> None:
        """Send what a vote carried, record and tell what it absorbed or refused (a
        packet-out is only counted: one record per packet would drown the others)."""
        for member, msg in count.carried:
            if msg.cls_msg_type == msg.datapath.ofproto.OFPT_FLOW_MOD:
                self.flow_mod(msg.datapath, member, msg, voted=True)
            else:
                self._send(msg.datapath, msg)
        for member, msg, carrier in count.agreed:
            if msg.cls_msg_type == msg.datapath.ofproto.OFPT_FLOW_MOD:
                reason = "voted with the majority: %s's rule stands for it" % carrier
                self._vote_decision(member, msg, Outcome.MERGE, reason)
        for member, msg, reason in count.refused:
            if msg.cls_msg_type == msg.datapath.ofproto.OFPT_FLOW_MOD:
                self._vote_decision(member, msg, Outcome.REFUSE, reason)

    def _vote_decision(self, app: str, msg: Any, outcome: Outcome, reason: str) -> None:
        dp = msg.datapath
        group = self.elections.group_of(app)
        rule = Rule(
            app=app,
            dpid=dp.id,
            table_id=msg.table_id,
            priority=msg.priority,
            match=read_match(msg.match),
            actions=actions_key(msg.instructions),
            cookie=msg.cookie,
        )
        decision = Decision(outcome, rule, group.clause if group else 'voting', reason)
        self.record(dp, rule, decision)
        self.notify(app, dp, msg, decision)

    def _materialize_own(self, dp: Any, app: str, msg: Any) -> None:
        """Before a MODIFY of ``app``: its single-app tables that it selects (another
        app's select none of their rules)."""
        if self.single_app:
            table = msg.table_id
            if table != dp.ofproto.OFPTT_ALL:
                table += self.policy.stage_of(app)[1]
            self.materialize(dp.id, None if table == dp.ofproto.OFPTT_ALL else table, app)

    def _send(self, dp: Any, msg: Any) -> None:
        """Serialize ``msg`` (a fresh xid if it has none) and write it to the switch."""
        if msg.xid is None:
            dp.set_xid(msg)
        msg.serialize()
        self.send(dp, msg)

    def _translate(self, dp: Any, app: str, msg: Any) -> None:
        """Into the app's pipeline stage: its tables moved to the stage's tables, output
        NORMAL (let the packet go on) turned into a goto to the next stage."""
        _, base, next_base = self.policy.stage_of(app)
        if not base and next_base is None:
            return
        parser, ofp = dp.ofproto_parser, dp.ofproto
        if msg.table_id != ofp.OFPTT_ALL:
            msg.table_id += base
        instructions, goto = [], None
        for inst in msg.instructions:
            if isinstance(inst, parser.OFPInstructionGotoTable):
                goto = parser.OFPInstructionGotoTable(inst.table_id + base)
                continue
            if next_base is not None and isinstance(inst, parser.OFPInstructionActions):
                kept = [
                    a
                    for a in inst.actions
                    if not (isinstance(a, parser.OFPActionOutput) and a.port == ofp.OFPP_NORMAL)
                ]
                if len(kept) != len(inst.actions):
                    goto = parser.OFPInstructionGotoTable(next_base)
                    inst = parser.OFPInstructionActions(inst.type, kept)
            instructions.append(inst)
        msg.instructions = instructions + ([goto] if goto else [])

    def _add(
        self,
        dp: Any,
        app: str,
        msg: Any,
        match: TernaryMatch | None = None,
        replay: bool = False,
        evicted: bool = False,
    ) -> None:
        rule = Rule(
            app=app,
            dpid=dp.id,
            table_id=msg.table_id,
            priority=msg.priority,
            match=match if match is not None else read_match(msg.match),
            actions=actions_key(msg.instructions),
            cookie=msg.cookie,
        )
        ask = (app, dp.id, rule.table_id, rule.priority, rule.match)
        self.held.pop(ask, None)
        where = self.asked.get(ask)
        previous = None if where is None else self.placed.get(where)
        decision = self._decide(dp, rule, previous, replay)
        if decision is None:
            return  # the same rule again, absorbed while damped
        self.record(dp, rule, decision, replay)
        if decision.outcome in (Outcome.REFUSE, Outcome.HOLD):
            if decision.outcome is Outcome.HOLD:
                self.held[ask] = Held(rule, msg, decision)
                if previous is not None:  # its earlier version goes: it lost now
                    self._release(previous, app, send_delete=True)
            # A held rule proposed again is told only what is news to it: a refusal,
            # or that its installed rule was taken off the switch (``evicted``).
            if not replay or evicted or decision.outcome is Outcome.REFUSE:
                self.notify(app, dp, msg, decision)
            return
        placed = decision.placed
        assert placed is not None  # an install, a rewrite or a merge places the rule
        if previous is not None:
            self._release(
                previous,
                app,
                send_delete=previous.key != (dp.id, rule.table_id, placed.priority, rule.match),
            )
        if decision.outcome is Outcome.MERGE:
            self._merge(dp, app, msg, rule, placed, decision)
            return
        losers = [self._evict(dp, loser) for loser in decision.evict]
        self._install(dp, app, msg, rule, placed, decision)
        if decision.outcome.changes or losers:
            self.notify(app, dp, msg, decision)
        for held in losers:
            self._propose_again(dp, held, evicted=True)

    def _propose_again(self, dp: Any, held: Held, evicted: bool = False) -> None:
        held.msg.xid = None
        held.msg.buffer_id = dp.ofproto.OFP_NO_BUFFER  # the packet went long ago
        self._add(dp, held.rule.app, held.msg, held.rule.match, replay=True, evicted=evicted)

    def _forget_quiet(self, now: float) -> None:
        """Drop the damping states that have decayed, and what refers to them."""
        self.damper.forget_quiet(now)
        fought = {}
        for where, regions in self._fought.items():
            kept = {region for region in regions if self.damper.tracks(region)}
            if kept:
                fought[where] = kept
        self._fought = fought
        self._forget_quiet_at = now + FORGET_QUIET_EVERY_S

    def _regions(
        self, dp: Any, rule: Rule, contested: Iterable[tuple[Rule, Relation]]
    ) -> list[Region]:
        """The damping regions a proposal takes part in: where its match meets each
        contested rule's (two apps fighting with overlapping matches, a /24 against a
        /32, meet in the same region whichever of them proposes), and those its match
        met before and that are still tracked (the winner re-asserting its /24 while
        the /32 is held back, uncontested now, is still in that fight)."""
        where = (dp.id, rule.table_id, rule.match)
        regions = set()
        for other, _ in contested:
            meet = rule.match.intersection(other.match)
            if meet is not None:
                region = (dp.id, rule.table_id, meet)
                regions.add(region)
                # The other side is in this fight too, when it proposes uncontested.
                self._fought.setdefault((dp.id, rule.table_id, other.match), set()).add(region)
        fought = self._fought.get(where)
        if fought is not None:
            regions |= {region for region in fought if self.damper.tracks(region)}
        if regions:
            self._fought[where] = regions.copy()
        elif fought is not None:
            del self._fought[where]
        return sorted(regions, key=lambda region: str(region[2]))

    def _decide(
        self, dp: Any, rule: Rule, previous: Placement | None, replay: bool
    ) -> Decision | None:
        """The Decision for ``rule``, or None when it is to be absorbed."""
        app, policy = rule.app, self.policy
        contested = self._index.conflicts(rule)
        contested = [(r, rel) for r, rel in contested if r.actions != rule.actions]
        now = self.clock()
        if now >= self._forget_quiet_at:
            self._forget_quiet(now)
        regions = self._regions(dp, rule, contested)
        for region in regions:
            state, newly = self.damper.propose(region, app, rule.actions)
            if newly:
                self.alert(region, state)
        for region in regions:
            damped = self.damper.state(region)
            if damped is None or not damped.suppressed:
                continue
            winner = self.kept(region)
            if app != winner:
                return Decision(
                    Outcome.HOLD,
                    rule,
                    policy.cite('damping'),
                    'region %s damped after %d flaps between %s; %s keeps it'
                    % (region[2], damped.flaps, ', '.join(sorted(damped.apps)), winner),
                )
            if previous is not None and previous.installed.actions == rule.actions:
                return None
        if not replay:
            limit = self._bucket(app, dp.id)
            if limit is not None and not limit.allow():
                return Decision(
                    Outcome.REFUSE,
                    rule,
                    policy.cite('apps.%s.flow_mod_rate' % app),
                    '%s is over its rate of %g flow-mods a second' % (app, limit.rate),
                )
        count = (
            0
            if policy.app(app).max_rules is None
            else self._index.count(app=app, dpid=dp.id) - (1 if previous else 0)
        )
        violation = rights_violation(rule, policy, count)
        if violation:
            return Decision(Outcome.REFUSE, rule, violation[0], violation[1])
        same = self.placed.get((dp.id, rule.table_id, rule.priority, rule.match))
        if same is not None and app not in same.asked and _mergeable(same, rule):
            return Decision(
                Outcome.MERGE,
                rule,
                'identical rules are shared',
                'the same rule as %s\'s: one shared rule' % '/'.join(sorted(same.asked)),
                placed=same.installed,
            )
        own = (
            [
                (p.installed, p.asked[app].priority)
                for p in (
                    self.placed.get(_key(r))
                    for r in self._index.overlapping(dp.id, rule.table_id, rule.match)
                )
                if p is not None and app in p.asked and p is not previous
            ]
            if contested
            else ()
        )  # they matter only where the rule may be moved
        decision = resolve(
            rule,
            contested,
            policy,
            own,
            owners=lambda r: tuple(self.placed[_key(r)].asked) if _key(r) in self.placed else None,
        )
        if (
            self.gate is not None
            and decision.outcome in (Outcome.INSTALL, Outcome.REWRITE)
            and decision.placed is not None
        ):
            broken = self.gate.check(
                self.index,
                decision.placed,
                evicted=decision.evict,
                replaced=None if previous is None else previous.installed,
            )
            if broken:
                return Decision(Outcome.REFUSE, rule, broken.clause, broken.reason)
        return decision

    def _bucket(self, app: str, dpid: int) -> TokenBucket | None:
        settings = self.policy.app(app)
        rate, burst = settings.flow_mod_rate, settings.flow_mod_burst
        if rate is None:
            return None
        bucket = self.buckets.get((app, dpid))
        if bucket is None:
            assert burst is not None  # the policy gives every rate its burst
            bucket = self.buckets[(app, dpid)] = TokenBucket(rate, burst, clock=self.clock)
        return bucket

    def _install(
        self, dp: Any, app: str, msg: Any, rule: Rule, proposed: Rule, decision: Decision
    ) -> None:
        """Install ``rule`` of ``app`` where ``decision`` placed it (``proposed``)."""
        placed = Rule(
            app=app,
            dpid=proposed.dpid,
            table_id=proposed.table_id,
            priority=proposed.priority,
            match=proposed.match,
            actions=proposed.actions,
            cookie=self.cookies.installed(app, rule.cookie),
        )
        ofp = dp.ofproto
        wants_removed = bool(msg.flags & ofp.OFPFF_SEND_FLOW_REM)
        msg.priority = placed.priority
        msg.cookie = placed.cookie
        if msg.idle_timeout or msg.hard_timeout:
            msg.flags |= ofp.OFPFF_SEND_FLOW_REM  # keeps the index in step
        displaced = self.placed.get(_key(placed))
        if displaced is not None:  # an ADD replaces a same-key rule
            self._forget(displaced)
        self._index.add(placed)
        self._send(dp, msg)
        placement = Placement(placed, bytes(msg.buf), decision, {app: rule})
        if wants_removed:
            placement.flow_removed_to.add(app)
        self.placed[placement.key] = placement
        self.asked[(app, dp.id, rule.table_id, rule.priority, rule.match)] = placement.key

    def _merge(
        self, dp: Any, app: str, msg: Any, rule: Rule, installed: Rule, decision: Decision
    ) -> None:
        """Share the ``installed`` rule with ``app``: it moves into the arbiter's range,
        so that it stays until every owner has deleted it; to-controller rules keep the
        longest max_len any owner asked for."""
        placement = self.placed[_key(installed)]
        placement.asked[app] = rule
        self.asked[(app, dp.id, rule.table_id, rule.priority, rule.match)] = placement.key
        if msg.flags & dp.ofproto.OFPFF_SEND_FLOW_REM:
            placement.flow_removed_to.add(app)
        shared = placement.message(dp)
        resend = False
        if not ARBITER.owns(placement.installed.cookie):
            self._shared_serial += 1
            cookie = ARBITER.cookie(SHARED_KIND, self._shared_serial)
            self._index.remove(placement.installed)
            placement.installed = dataclasses.replace(placement.installed, cookie=cookie)
            self._index.add(placement.installed)
            resend = True
        if _controller_max_len(msg) > _controller_max_len(shared):
            shared.instructions = msg.instructions
            resend = True
        if resend:
            shared.cookie = placement.installed.cookie
            self._send(dp, shared)
            placement.wire = bytes(shared.buf)
        self.notify(app, dp, msg, decision)

    def _evict(self, dp: Any, loser: Rule) -> Held:
        """Take ``loser`` off the switch; its owners' proposals are held (returned for
        the caller to propose again once the winner is in)."""
        placement = self.placed[_key(loser)]
        self._forget(placement)
        self._send_delete(dp, placement)
        app, rule = next(iter(placement.asked.items()))
        return Held(rule, placement.message(dp), placement.decision)

    # --- deletes and modifies --------------------------------------------------------------

    def _selected(
        self, dp: Any, app: str, msg: Any, match: TernaryMatch, strict: bool
    ) -> tuple[list[Placement], int]:
        """The app's placements a DELETE/MODIFY selects, by its own view of them."""
        ofp = dp.ofproto
        table = msg.table_id
        if table != ofp.OFPTT_ALL:
            table += self.policy.stage_of(app)[1]
        out_port = getattr(msg, 'out_port', ofp.OFPP_ANY)
        selected = []
        for placement in list(self.placed.values()):
            rule = placement.asked.get(app)
            if rule is None or rule.dpid != dp.id:
                continue
            if table != ofp.OFPTT_ALL and rule.table_id != table:
                continue
            if (rule.cookie ^ msg.cookie) & msg.cookie_mask:
                continue
            if strict:
                if rule.priority != msg.priority or rule.match != match:
                    continue
            elif not match.covers(rule.match):
                continue
            if (
                msg.command in (ofp.OFPFC_DELETE, ofp.OFPFC_DELETE_STRICT)
                and out_port != ofp.OFPP_ANY
                and not rule.outputs_to(out_port)
            ):
                continue
            selected.append(placement)
        return selected, table

    def _delete_single_app(
        self, dp: Any, app: str, msg: Any, match: TernaryMatch, strict: bool
    ) -> list[tuple[int, bytes, int, bytes]]:
        """The rules of ``app``'s single-app tables that its DELETE selects, taken out
        of their tables: [(table, key, cookie as asked, flow-mod)]; what _selected does
        for placements."""
        if not self.single_app:
            return []
        ofp = dp.ofproto
        table = msg.table_id
        if table != ofp.OFPTT_ALL:
            table += self.policy.stage_of(app)[1]
        tables = [
            (where, kept)
            for where, kept in self.single_app.items()
            if where[0] == dp.id
            and kept.app == app
            and (table == ofp.OFPTT_ALL or where[1] == table)
        ]
        if not tables:
            return []
        strict_key = None
        if strict:
            identity = match.closed_identity
            if identity is None:  # may still equal a closed match: go slow
                for where, _ in tables:
                    self._materialize(where)
                return []
            strict_key = rule_key(msg.priority, identity)
        out_port = getattr(msg, 'out_port', ofp.OFPP_ANY)
        cubes = [cube.fields for cube in match.cubes]
        freed = []
        for where, kept in tables:
            if strict_key is not None:
                keys = [strict_key] if strict_key in kept.rules else []
            elif not match.fields:  # everything
                keys = list(kept.rules)
            else:
                keys = [
                    key
                    for key in kept.rules
                    if any(cube_covers(cube, dict(key_identity(key)[1])) for cube in cubes)
                ]
            for key in keys:
                wire = kept.wire_of(key)
                cookie = kept.asked_of(key)[0]
                if (cookie ^ msg.cookie) & msg.cookie_mask:
                    continue
                if out_port != ofp.OFPP_ANY and not self._single_rule(
                    app, dp.id, where[1], key, cookie, wire
                ).outputs_to(out_port):
                    continue
                kept.drop(key)
                freed.append((where[1], key, cookie, wire))
            if not kept.rules:
                del self.single_app[where]
        return freed

    def _single_rule(
        self, app: str, dpid: int, table_id: int, key: bytes, cookie: int, wire: bytes
    ) -> Rule:
        """The installed Rule of a SingleAppTable's entry."""
        priority, identity = key_identity(key)
        return Rule(
            app=app,
            dpid=dpid,
            table_id=table_id,
            priority=priority,
            match=TernaryMatch.closed(identity),
            actions=self.wire_actions(dpid, wire),
            cookie=self.cookies.installed(app, cookie),
        )

    def _delete(self, dp: Any, app: str, msg: Any, match: TernaryMatch, strict: bool) -> None:
        single = self._delete_single_app(dp, app, msg, match, strict)
        selected, table = self._selected(dp, app, msg, match, strict)
        for ask in [
            k
            for k, held in self.held.items()
            if k[0] == app
            and k[1] == dp.id
            and (table == dp.ofproto.OFPTT_ALL or k[2] == table)
            and (k[3:] == (msg.priority, match) if strict else match.covers(k[4]))
        ]:
            del self.held[ask]
        # The app's own delete, narrowed to its range, does it when every rule selected
        # is its alone, at the priority it asked and in its range; otherwise per rule.
        own = self.cookies.app_id(app)
        exact = all(
            len(p.asked) == 1
            and p.installed.priority == p.asked[app].priority
            and p.installed.cookie >> APP_SHIFT == own
            for p in selected
        )
        freed = []
        for placement in selected:
            if self._release(placement, app, send_delete=not exact):
                freed.append(placement.installed)
        if not exact:  # the single-app tables' rules one by one too
            for table_id, key, cookie, wire in single:
                self._delete_rule(dp, self._single_rule(app, dp.id, table_id, key, cookie, wire))
        if exact:
            # (It also catches rules of the app from before the arbiter started.)
            msg.table_id = table
            msg.cookie, msg.cookie_mask = self.cookies.scope(app, msg.cookie, msg.cookie_mask)
            self._send(dp, msg)
        if selected or single:
            LOG.debug('%s deleted %d rules on %s', app, len(selected) + len(single), dp.id)
        self._reconsider(dp, freed)

    def _modify(self, dp: Any, app: str, msg: Any, match: TernaryMatch, strict: bool) -> None:
        """A MODIFY becomes an ADD of each selected rule with the new instructions, so
        the new actions are resolved like any proposal."""
        selected, _ = self._selected(dp, app, msg, match, strict)
        for placement in selected:
            rule = placement.asked[app]
            add = placement.message(dp)
            add.command = dp.ofproto.OFPFC_ADD
            add.instructions = msg.instructions
            add.priority, add.cookie, add.table_id = rule.priority, rule.cookie, rule.table_id
            self._add(dp, app, add, rule.match)

    def _release(self, placement: Placement, app: str, send_delete: bool) -> bool:
        """``app`` gives up its share of ``placement``; the rule leaves the switch (True)
        when no owner is left."""
        rule = placement.asked.pop(app)
        self.asked.pop((app, rule.dpid, rule.table_id, rule.priority, rule.match), None)
        placement.flow_removed_to.discard(app)
        if placement.asked:
            return False
        self._forget(placement)
        if send_delete:
            self._send_delete(self.datapaths[rule.dpid], placement)
        return True

    def _forget(self, placement: Placement) -> None:
        self.placed.pop(placement.key, None)
        self._index.remove(placement.installed)
        for app, rule in placement.asked.items():
            self.asked.pop((app, rule.dpid, rule.table_id, rule.priority, rule.match), None)

    def _send_delete(self, dp: Any, placement: Placement) -> None:
        self._delete_rule(dp, placement.installed)

    def _delete_rule(self, dp: Any, rule: Rule) -> None:
        """Send the strict delete of installed ``rule``."""
        ofp, parser = dp.ofproto, dp.ofproto_parser
        self._send(
            dp,
            parser.OFPFlowMod(
                datapath=dp,
                cookie=rule.cookie,
                cookie_mask=0xFFFFFFFFFFFFFFFF,
                table_id=rule.table_id,
                command=ofp.OFPFC_DELETE_STRICT,
                priority=rule.priority,
                out_port=ofp.OFPP_ANY,
                out_group=ofp.OFPG_ANY,
                match=parser13.OFPMatch(**rule.match.to_ofp_kwargs()),
            ),
        )

    def _reconsider(self, dp: Any, gone: Collection[Rule]) -> None:
        """Propose again the held rules that overlapped rules now gone."""
        if not gone:
            return
        for ask, held in list(self.held.items()):
            if ask[1] == dp.id and any(
                r.table_id == held.rule.table_id and r.match.intersects(held.rule.match)
                for r in gone
            ):
                if self.held.get(ask) is held:
                    self._propose_again(dp, held)

    # --- messages from the switch ------------------------------------------------------------

    def flow_removed(self, dp: Any, msg: Any) -> set[str] | None:
        """The switch removed a rule (timeout): forget it, propose again what it held
        back; returns the apps to tell (those that asked for flow-removed), or None if
        the rule is not the arbiter's to know."""
        match = read_match(msg.match)
        table = self.single_app.get((dp.id, msg.table_id))
        if table is not None:
            identity = match.closed_identity
            if identity is None:
                return None
            rule = rule_key(msg.priority, identity)
            if rule not in table.rules:
                return None
            cookie, removed = table.asked_of(rule)
            if self.cookies.installed(table.app, cookie) != msg.cookie:
                return None
            table.drop(rule)
            if not table.rules:
                del self.single_app[(dp.id, msg.table_id)]
            return {table.app} if removed else set()
        key = (dp.id, msg.table_id, msg.priority, match)
        placement = self.placed.get(key)
        if placement is None or placement.installed.cookie != msg.cookie:
            return None
        tell = set(placement.flow_removed_to)
        self._forget(placement)
        self._reconsider(dp, [placement.installed])
        return tell

    def packet_in_owners(self, dpid: int, cookie: int) -> set[str] | None:
        """The apps a packet-in sent by the rule with ``cookie`` belongs to, or None
        (everyone's) for a cookie the arbiter did not give out."""
        if ARBITER.owns(cookie):
            owners = {
                app
                for p in self.placed.values()
                if p.installed.cookie == cookie and p.installed.dpid == dpid
                for app in p.asked
            }
            for app in list(owners):
                group = self.elections.group_of(app)
                if group is not None:
                    owners.update(group.members)
            return owners or None
        owner = self.cookies.owner(cookie)
        if not owner or owner == 'arbiter':
            return None
        group = self.elections.group_of(owner)  # replicas all see what one's rule sends
        return {owner} if group is None else set(group.members)

    def as_asked(
        self, app: str, dpid: int, table_id: int, priority: int, match: Any, cookie: int
    ) -> tuple[int, int] | None:
        """(cookie, priority) as ``app`` asked for the rule the switch reports (in a
        flow-stats reply) at ``table_id``, ``priority`` with ``match`` (an OFPMatch) and
        ``cookie``; None if the rule is not the app's."""
        try:
            ternary = read_match(match)
        except ValueError:  # not a field the arbiter compares: its cookie says whose
            ternary = None
        if ternary is not None:
            placement = self.placed.get((dpid, table_id, priority, ternary))
            if placement is not None:
                rule = placement.asked.get(app)
                return None if rule is None else (rule.cookie, rule.priority)
            table = self.single_app.get((dpid, table_id))
            identity = ternary.closed_identity  # (a single-app table keeps closed ones)
            if table is not None and table.app == app and identity is not None:
                key = rule_key(priority, identity)
                if key in table.rules:
                    return table.asked_of(key)[0], priority
        if self.cookies.owner(cookie) != app:
            return None
        # a rule the arbiter did not place (from before it started): the app's own bits
        return (cookie if app in APP_IDS else cookie & OWN_BITS), priority

    def switch_gone(self, dpid: int) -> None:
        """Forget everything of a disconnected switch."""
        for placement in [p for p in self.placed.values() if p.installed.dpid == dpid]:
            self._forget(placement)
        self._index.remove_switch(dpid)
        for where in [w for w in self.single_app if w[0] == dpid]:
            del self.single_app[where]
        for ask in [k for k in self.held if k[1] == dpid]:
            del self.held[ask]
        for key in [k for k in self.groups if k[0] == dpid]:
            del self.groups[key]
        self.bundles.switch_gone(dpid)
        self.flow_stats.switch_gone(dpid)
        self.datapaths.pop(dpid, None)

    def save_switch(self, dpid: int) -> SwitchState:
        """What the arbiter knows of switch ``dpid`` now, and its records, for
        ``restore_switch`` to put back (a refused bundle leaves no trace). Costs one
        pass over the rules known to the arbiter."""
        return SwitchState(
            dpid=dpid,
            rules=self._index.rules_of(None, dpid),
            placed={
                key: dataclasses.replace(
                    p, asked=dict(p.asked), flow_removed_to=set(p.flow_removed_to)
                )
                for key, p in self.placed.items()
                if key[0] == dpid
            },
            asked={ask: key for ask, key in self.asked.items() if ask[1] == dpid},
            held={ask: held for ask, held in self.held.items() if ask[1] == dpid},
            groups={key: app for key, app in self.groups.items() if key[0] == dpid},
            single_app={
                where: table.copy() for where, table in self.single_app.items() if where[0] == dpid
            },
            decisions=collections.deque(self._decisions, maxlen=DECISIONS_KEPT),
            counts=collections.Counter(self._counts),
            fast_installs=dict(self._fast_installs),
        )

    def restore_switch(self, saved: SwitchState) -> None:
        """Put back what ``save_switch`` saved (damping and rate buckets go on: the
        proposals were made)."""
        dpid = saved.dpid
        self._index.remove_switch(dpid)
        for rule in saved.rules:
            self._index.add(rule)
        stores: list[tuple[dict[Any, Any], int, dict[Any, Any]]] = [
            (self.placed, 0, saved.placed),
            (self.asked, 1, saved.asked),
            (self.held, 1, saved.held),
            (self.groups, 0, saved.groups),
            (self.single_app, 0, saved.single_app),
        ]  # (store, where the dpid is in its keys, its saved part)
        for store, position, kept in stores:
            for key in [k for k in store if k[position] == dpid]:
                del store[key]
            store.update(kept)
        self._decisions = saved.decisions
        self._counts = saved.counts
        self._fast_installs = saved.fast_installs

    # --- group-mods ----------------------------------------------------------------------

    def group_mod(self, dp: Any, app: str, msg: Any) -> Decision | None:
        """Group ids are one namespace per switch: an app may add, change and delete
        only its own groups. Returns the Decision of a refusal, else None (sent)."""
        ofp = dp.ofproto
        self.datapaths[dp.id] = dp
        key = (dp.id, msg.group_id)
        if msg.command == ofp.OFPGC_DELETE and msg.group_id == ofp.OFPG_ALL:
            for dpid, group_id in [
                k for k, owner in self.groups.items() if owner == app and k[0] == dp.id
            ]:
                del self.groups[(dpid, group_id)]
                self._send(
                    dp, dp.ofproto_parser.OFPGroupMod(dp, ofp.OFPGC_DELETE, msg.type, group_id, [])
                )
            return None
        owner = self.groups.get(key)
        if owner is not None and owner != app:
            decision = Decision(
                Outcome.REFUSE,
                None,
                'group ids belong to one app',
                'group %d on switch %s is %s\'s' % (msg.group_id, dp.id, owner),
            )
            self.log_decision(app, dp.id, 'group_mod', decision, 'group %d' % msg.group_id)
            self.notify(app, dp, msg, decision)
            return decision
        if msg.command == ofp.OFPGC_DELETE:
            self.groups.pop(key, None)
        else:
            self.groups[key] = app
        self._send(dp, msg)
        return None

    # --- records -----------------------------------------------------------------------

    def record(self, dp: Any, rule: Rule, decision: Decision, replay: bool = False) -> None:
        """Keep and log the decision about ``rule``."""
        self._counts[(rule.app, decision.outcome.value)] += 1
        command = 're-proposed' if replay else 'add'
        self._decisions.append(
            DecisionRecord(
                time=time.time(),
                app=rule.app,
                dpid=dp.id,
                command=command,
                outcome=decision.outcome.value,
                clause=decision.clause,
                reason=decision.reason,
                rule=rule,
                placed_priority=decision.placed.priority if decision.placed is not None else None,
            )
        )
        level = logging.INFO if decision.outcome.changes or decision.evict else logging.DEBUG
        if LOG.isEnabledFor(level):
            LOG.log(
                level,
                'decision: %s %s dpid=%s table=%d priority=%d match=%s actions=%s -> %s',
                rule.app,
                command,
                dp.id,
                rule.table_id,
                rule.priority,
                rule.match,
                actions_text(rule.actions),
                decision,
            )

    def log_decision(
        self, app: str, dpid: int, command: str, decision: Decision, subject: str
    ) -> None:
        """Keep and log a decision about something that is not a rule (``subject``)."""
        self._counts[(app, decision.outcome.value)] += 1
        self._decisions.append(
            DecisionRecord(
                time=time.time(),
                app=app,
                dpid=dpid,
                command=command,
                outcome=decision.outcome.value,
                clause=decision.clause,
                reason=decision.reason,
                subject=subject,
            )
        )
        LOG.info('decision: %s %s dpid=%s %s -> %s', app, command, dpid, subject, decision)

    # --- views for REST ------------------------------------------------------------------

    def rule_counts(self) -> dict[str, dict[int, int]]:
        """{app: {dpid: rules installed}} (a shared rule counts for each owner)."""
        counts: collections.defaultdict[str, collections.Counter[int]] = collections.defaultdict(
            collections.Counter
        )
        for placement in self.placed.values():
            for app in placement.asked:
                counts[app][placement.installed.dpid] += 1
        for (dpid, _), table in self.single_app.items():
            if table.rules:
                counts[table.app][dpid] += len(table.rules)
        return {app: dict(per_switch) for app, per_switch in counts.items()}

    def conflicts(self) -> list[dict[str, Any]]:
        """The conflicts in force: rules held back, and rules placed otherwise than
        asked, each with what it lost or won against."""
        found = []
        for held in self.held.values():
            found.append(
                dict(
                    _rule_view(held.rule),
                    state='held back',
                    clause=held.decision.clause,
                    reason=held.decision.reason,
                )
            )
        for placement in self.placed.values():
            for rule in placement.asked.values():
                if rule.priority != placement.installed.priority:
                    found.append(
                        dict(
                            _rule_view(rule),
                            state='rewritten',
                            installed_priority=placement.installed.priority,
                            clause=placement.decision.clause,
                            reason=placement.decision.reason,
                        )
                    )
            if len(placement.asked) > 1:
                found.append(
                    dict(
                        _rule_view(placement.installed),
                        state='shared',
                        owners=sorted(placement.asked),
                    )
                )
        return found

    def explain(self, dpid: int, table_id: int, match: TernaryMatch) -> dict[str, Any]:
        """Everything about the region ``match`` of one table: the installed rules that
        overlap it (highest priority first, the one in effect first), the held ones,
        whether it is damped, and the decisions about it. Rules of equal priority are in
        the order of their match text: which of two overlapping equal-priority rules a
        switch applies is undefined in OpenFlow, so no order is "the one in effect"."""
        self._materialize((dpid, table_id))
        installed = sorted(
            self._index.overlapping(dpid, table_id, match),
            key=lambda r: (-r.priority, str(r.match), r.app),
        )
        rules = []
        for rule in installed:
            placement = self.placed.get(_key(rule))
            view = _rule_view(rule)
            if placement is not None:
                view.update(
                    owners=sorted(placement.asked),
                    asked_priority={a: r.priority for a, r in placement.asked.items()},
                    clause=placement.decision.clause,
                    reason=placement.decision.reason,
                )
            rules.append(view)
        held = [
            dict(_rule_view(h.rule), clause=h.decision.clause, reason=h.decision.reason)
            for h in self.held.values()
            if h.rule.dpid == dpid
            and h.rule.table_id == table_id
            and h.rule.match.intersects(match)
        ]
        text = str(match)
        state = self.damper.state((dpid, table_id, match))
        return {
            'dpid': dpid,
            'table': table_id,
            'match': text,
            'installed': rules,
            'held': held,
            'damped': bool(state and state.suppressed),
            'decisions': [
                d.as_dict()
                for d in self.decisions
                if d.dpid == dpid
                and d.table_id == table_id
                and d.rule is not None
                and d.rule.match.intersects(match)
            ],
        }

    def damped(self) -> list[dict[str, Any]]:
        now = self.clock()
        return [
            {
                'dpid': region[0],
                'table': region[1],
                'match': str(region[2]),
                'apps': sorted(state.apps),
                'flaps': state.flaps,
                'penalty': round(state.penalty, 1),
                'damped_for_s': round(state.suppressed_for(now), 1),
                'kept': self.kept(region),
            }
            for region, state in self.damper.damped(now)
        ]

    def kept(self, region: Region) -> str:
        """The app a damped region stays with: the policy's winner among the apps
        fighting over it; between equals, the one whose rule is installed."""
        state = self.damper.state(region)
        if state is None:
            raise KeyError('no damping state for region %s' % (region,))
        dpid, table_id, match = region
        installed = {
            app
            for p in self.placed.values()
            if p.installed.dpid == dpid
            and p.installed.table_id == table_id
            and p.installed.match.intersects(match)
            for app in p.asked
        }
        return min(
            sorted(state.apps), key=lambda app: (self.policy.rank(app), app not in installed)
        )


def read_match(match: Any) -> TernaryMatch:
    """The TernaryMatch of a flow-mod's match: a Ryu OFPMatch, or a class of its own
    that only serializes (controller/openflow.py's PackedMatch), read from its wire form.
    ValueError for a field outside OpenFlow 1.3's basic set."""
    given = getattr(match, 'given_fields', None)  # PackedMatch keeps what it was given
    if given is not None:
        return TernaryMatch.of(**given())
    if type(match) is not parser13.OFPMatch:
        buf = bytearray()
        match.serialize(buf, 0)
        match = parser13.OFPMatch.parser(bytes(buf), 0)
    return TernaryMatch.from_ofp(match)


def _key(rule: Rule) -> RuleKey:
    return rule.dpid, rule.table_id, rule.priority, rule.match


def _mergeable(placement: Placement, rule: Rule) -> bool:
    """Two apps' rules of the same match and priority are one rule if they act the same,
    or if both only send to the controller (the packet-ins go to both)."""
    installed = placement.installed
    if installed.actions == rule.actions:
        return True
    return all(
        r.outputs_to_controller and not r.output_ports and not r.modifies_headers
        for r in (installed, rule)
    )


def _controller_max_len(msg: Any) -> int:
    lengths = [
        getattr(action, 'max_len', 0)
        for inst in msg.instructions
        for action in getattr(inst, 'actions', ())
        if getattr(action, 'port', None) == 0xFFFFFFFD
    ]  # OFPP_CONTROLLER
    return max(lengths, default=0)


def actions_text(actions: ActionsKey) -> str:
    """An actions_key as text: 'output:2,goto:1', 'controller:128', 'drop'."""
    parts: list[str] = []
    for instruction in actions:
        if instruction[0] in ('apply', 'write'):
            parts.extend(':'.join(str(part) for part in action) for action in instruction[1])
        else:
            parts.append(':'.join(str(part) for part in instruction))
    return ','.join(parts) or 'drop'


def _rule_view(rule: Rule) -> dict[str, Any]:
    return {
        'app': rule.app,
        'dpid': rule.dpid,
        'table': rule.table_id,
        'priority': rule.priority,
        'match': str(rule.match),
        'cookie': hex(rule.cookie),
    }
