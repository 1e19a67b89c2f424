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

import collections
import dataclasses
import logging
import struct
import time
from dataclasses import dataclass, field

from ryu.ofproto import ofproto_parser
from ryu.ofproto import ofproto_v1_3_parser as parser13

from controller.arbiter.damping import FlapDamper
from controller.arbiter.match import TernaryMatch
from controller.arbiter.index import RuleIndex
from controller.arbiter.resolve import Decision, Outcome, resolve, rights_violation
from controller.arbiter.rules import Rule, actions_key
from controller.cookies import APP_IDS, APP_MASK, APP_SHIFT, THIRD_PARTY_BASE, CookieSpace
from controller.rate_limit import TokenBucket

LOG = logging.getLogger('arbiter')

OWN_BITS = (1 << APP_SHIFT) - 1    # the cookie bits an app keeps
SHARED_KIND = 1                    # kind of a shared rule's cookie in the arbiter's range
ARBITER = CookieSpace('arbiter')
DECISIONS_KEPT = 1000
_HEADER = struct.Struct('!BBHI')


class CookieRanges:
    """The cookie range (app id in bits 63..48) of every app."""

    def __init__(self):
        self.ids = dict(APP_IDS)
        self._apps = {number: app for app, number in self.ids.items()}
        self._next = THIRD_PARTY_BASE

    def app_id(self, app):
        if app not in self.ids:
            self.ids[app] = self._next
            self._apps[self._next] = app
            self._next += 1
        return self.ids[app]

    def installed(self, app, cookie):
        """The cookie of ``app``'s rule on the switch, given the cookie it asked for."""
        return (self.app_id(app) << APP_SHIFT) | (cookie & OWN_BITS)

    def scope(self, app, cookie, mask):
        """(cookie, mask) of an app's delete or modify, narrowed to its own range."""
        return self.installed(app, cookie), APP_MASK | (mask & OWN_BITS)

    def owner(self, cookie):
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
    asked: dict = field(default_factory=dict)      # app -> Rule as proposed
    flow_removed_to: set = field(default_factory=set)   # apps that asked for it
    decision: Decision = None

    @property
    def key(self):
        r = self.installed
        return r.dpid, r.table_id, r.priority, r.match

    def message(self, dp):
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
    msg: object
    decision: Decision


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
    rule: Rule = None
    placed_priority: int = None
    subject: str = ''           # what a record without a rule is about ('group 7')

    @property
    def table_id(self):
        return self.rule.table_id if self.rule is not None else None

    def as_dict(self):
        rule = self.rule
        return {'time': self.time, 'app': self.app, 'dpid': self.dpid,
                'command': self.command, 'outcome': self.outcome, 'clause': self.clause,
                'reason': self.reason, 'placed_priority': self.placed_priority,
                'table_id': self.table_id,
                'priority': rule.priority if rule is not None else None,
                'match': str(rule.match) if rule is not None else self.subject,
                'actions': actions_text(rule.actions) if rule is not None else ''}


class Arbiter:
    """Every app's rules pass here. See the module's docstring."""

    def __init__(self, policy, send, notify, alert=lambda region, state: None,
                 gate=None, clock=time.monotonic):
        self.policy = policy
        self.send = send
        self.notify = notify
        self.alert = alert
        self.gate = gate
        self.clock = clock
        self.cookies = CookieRanges()
        self.index = RuleIndex()
        self.damper = FlapDamper(policy.damping, clock)
        self.placed = {}            # (dpid, table, priority, match) -> Placement
        self.asked = {}             # (app, dpid, table, asked priority, match) -> key
        self.held = {}              # (app, dpid, table, asked priority, match) -> Held
        self.groups = {}            # (dpid, group id) -> app
        self.datapaths = {}         # dpid -> datapath
        self.buckets = {}           # (app, dpid) -> TokenBucket
        self.decisions = collections.deque(maxlen=DECISIONS_KEPT)
        self.counts = collections.Counter()     # (app, outcome) -> decisions
        self._shared_serial = 0

    # --- policy --------------------------------------------------------------------------

    def set_policy(self, policy):
        """Use ``policy`` from now on (installed rules stay as they are)."""
        self.policy = policy
        self.damper.config = policy.damping
        self.buckets.clear()

    # --- flow-mods -----------------------------------------------------------------------

    def flow_mod(self, dp, app, msg):
        """Handle one FlowMod of ``app``: send what the switch should get, tell the app
        what became of it."""
        self.datapaths[dp.id] = dp
        ofp = dp.ofproto
        command = msg.command
        try:
            match = read_match(msg.match)
        except ValueError as error:
            # A field outside OpenFlow 1.3's basic set (a Nicira extension): the
            # arbiter cannot compare it, so the rule goes as it is, in the app's range.
            LOG.warning('%s: not arbitrated, sent as is: %s', app, error)
            msg.cookie, msg.cookie_mask = self.cookies.scope(app, msg.cookie,
                                                             msg.cookie_mask)
            self._send(dp, msg)
            return
        if command == ofp.OFPFC_ADD:
            self._translate(dp, app, msg)
            self._add(dp, app, msg, match)
        elif command in (ofp.OFPFC_DELETE, ofp.OFPFC_DELETE_STRICT):
            self._delete(dp, app, msg, match, strict=command == ofp.OFPFC_DELETE_STRICT)
        elif command in (ofp.OFPFC_MODIFY, ofp.OFPFC_MODIFY_STRICT):
            self._modify(dp, app, msg, match, strict=command == ofp.OFPFC_MODIFY_STRICT)
        else:
            self._send(dp, msg)

    def _send(self, dp, msg):
        """Serialize ``msg`` (a fresh xid if it has none) and write it to the switch."""
        if msg.xid is None:
            dp.set_xid(msg)
        msg.serialize()
        self.send(dp, msg)

    def _translate(self, dp, app, msg):
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
                kept = [a for a in inst.actions if not (
                    isinstance(a, parser.OFPActionOutput) and a.port == ofp.OFPP_NORMAL)]
                if len(kept) != len(inst.actions):
                    goto = parser.OFPInstructionGotoTable(next_base)
                    inst = parser.OFPInstructionActions(inst.type, kept)
            instructions.append(inst)
        msg.instructions = instructions + ([goto] if goto else [])

    def _add(self, dp, app, msg, match=None, replay=False):
        rule = Rule(app=app, dpid=dp.id, table_id=msg.table_id, priority=msg.priority,
                    match=match if match is not None else read_match(msg.match),
                    actions=actions_key(msg.instructions), cookie=msg.cookie)
        ask = (app, dp.id, rule.table_id, rule.priority, rule.match)
        self.held.pop(ask, None)
        previous = self.placed.get(self.asked.get(ask))
        region = (dp.id, rule.table_id, rule.match)
        decision = self._decide(dp, rule, previous, region, replay)
        if decision is None:
            return                   # the same rule again, absorbed while damped
        self._record(dp, rule, decision, replay)
        if decision.outcome in (Outcome.REFUSE, Outcome.HOLD):
            if decision.outcome is Outcome.HOLD:
                self.held[ask] = Held(rule, msg, decision)
                if previous is not None:       # its earlier version goes: it lost now
                    self._release(previous, app, send_delete=True)
            if not replay or decision.outcome is Outcome.REFUSE:
                self.notify(app, dp, msg, decision)
            return
        if previous is not None:
            self._release(previous, app, send_delete=previous.key != (
                dp.id, rule.table_id, decision.placed.priority if decision.placed
                else rule.priority, rule.match))
        if decision.outcome is Outcome.MERGE:
            self._merge(dp, app, msg, rule, decision)
            return
        evicted = [self._evict(dp, loser) for loser in decision.evict]
        self._install(dp, app, msg, rule, decision)
        if decision.outcome.changes or evicted:
            self.notify(app, dp, msg, decision)
        for held in evicted:
            self._propose_again(dp, held)

    def _propose_again(self, dp, held):
        held.msg.xid = None
        held.msg.buffer_id = dp.ofproto.OFP_NO_BUFFER     # the packet went long ago
        self._add(dp, held.rule.app, held.msg, held.rule.match, replay=True)

    def _decide(self, dp, rule, previous, region, replay):
        """The Decision for ``rule``, or None when it is to be absorbed."""
        app, policy = rule.app, self.policy
        contested = self.index.conflicts(rule)
        contested = [(r, rel) for r, rel in contested if r.actions != rule.actions]
        if contested or self.damper.state(region) is not None:
            state, newly = self.damper.propose(region, app, rule.actions)
            if newly:
                self.alert(region, state)
        if self.damper.suppressed(region):
            winner = self.kept(region)
            if app != winner:
                return Decision(Outcome.HOLD, rule, policy.cite('damping'),
                                'region damped after %d flaps between %s; %s keeps it'
                                % (self.damper.state(region).flaps,
                                   ', '.join(sorted(self.damper.state(region).apps)),
                                   winner))
            if previous is not None and previous.installed.actions == rule.actions:
                return None
        if not replay:
            limit = self._bucket(app, dp.id)
            if limit is not None and not limit.allow():
                return Decision(Outcome.REFUSE, rule,
                                policy.cite('apps.%s.flow_mod_rate' % app),
                                '%s is over its rate of %g flow-mods a second'
                                % (app, policy.app(app).flow_mod_rate))
        count = 0 if policy.app(app).max_rules is None else \
            self.index.count(app=app, dpid=dp.id) - (1 if previous else 0)
        violation = rights_violation(rule, policy, count)
        if violation:
            return Decision(Outcome.REFUSE, rule, violation[0], violation[1])
        same = self.placed.get((dp.id, rule.table_id, rule.priority, rule.match))
        if same is not None and app not in same.asked and _mergeable(same, rule):
            return Decision(Outcome.MERGE, rule, 'identical rules are shared',
                            'the same rule as %s\'s: one shared rule'
                            % '/'.join(sorted(same.asked)), placed=same.installed)
        own = [(p.installed, p.asked[app].priority) for p in
               (self.placed.get(_key(r)) for r in
                self.index.overlapping(dp.id, rule.table_id, rule.match))
               if p is not None and app in p.asked and p is not previous] \
            if contested else ()      # they matter only where the rule may be moved
        decision = resolve(rule, contested, policy, own,
                           owners=lambda r: tuple(self.placed[_key(r)].asked)
                           if _key(r) in self.placed else None)
        if self.gate is not None and decision.outcome in (Outcome.INSTALL,
                                                          Outcome.REWRITE):
            broken = self.gate.check(self.index, decision.placed, replaced=previous and
                                     previous.installed, evicted=decision.evict)
            if broken:
                return Decision(Outcome.REFUSE, rule, broken.clause, broken.reason)
        return decision

    def _bucket(self, app, dpid):
        settings = self.policy.app(app)
        if settings.flow_mod_rate is None:
            return None
        bucket = self.buckets.get((app, dpid))
        if bucket is None:
            bucket = self.buckets[(app, dpid)] = TokenBucket(
                settings.flow_mod_rate, settings.flow_mod_burst, clock=self.clock)
        return bucket

    def _install(self, dp, app, msg, rule, decision):
        placed = dataclasses.replace(decision.placed, app=app,
                                     cookie=self.cookies.installed(app, rule.cookie))
        ofp = dp.ofproto
        wants_removed = bool(msg.flags & ofp.OFPFF_SEND_FLOW_REM)
        msg.priority = placed.priority
        msg.cookie = placed.cookie
        if msg.idle_timeout or msg.hard_timeout:
            msg.flags |= ofp.OFPFF_SEND_FLOW_REM     # keeps the index in step
        displaced = self.placed.get(_key(placed))
        if displaced is not None:                     # an ADD replaces a same-key rule
            self._forget(displaced)
        self.index.add(placed)
        self._send(dp, msg)
        placement = Placement(placed, bytes(msg.buf), {app: rule}, decision=decision)
        if wants_removed:
            placement.flow_removed_to.add(app)
        self.placed[placement.key] = placement
        self.asked[(app, dp.id, rule.table_id, rule.priority, rule.match)] = placement.key

    def _merge(self, dp, app, msg, rule, decision):
        """Share an installed rule with ``app``: it moves into the arbiter's range, so
        that it stays until every owner has deleted it; to-controller rules keep the
        longest max_len any owner asked for."""
        placement = self.placed[_key(decision.placed)]
        placement.asked[app] = rule
        self.asked[(app, dp.id, rule.table_id, rule.priority, rule.match)] = placement.key
        if msg.flags & dp.ofproto.OFPFF_SEND_FLOW_REM:
            placement.flow_removed_to.add(app)
        shared = placement.message(dp)
        resend = False
        if not ARBITER.owns(placement.installed.cookie):
            self._shared_serial += 1
            cookie = ARBITER.cookie(SHARED_KIND, self._shared_serial)
            self.index.remove(placement.installed)
            placement.installed = dataclasses.replace(placement.installed, cookie=cookie)
            self.index.add(placement.installed)
            resend = True
        if _controller_max_len(msg) > _controller_max_len(shared):
            shared.instructions = msg.instructions
            resend = True
        if resend:
            shared.cookie = placement.installed.cookie
            self._send(dp, shared)
            placement.wire = bytes(shared.buf)
        self.notify(app, dp, msg, decision)

    def _evict(self, dp, loser):
        """Take ``loser`` off the switch; its owners' proposals are held (returned for
        the caller to propose again once the winner is in)."""
        placement = self.placed[_key(loser)]
        self._forget(placement)
        self._send_delete(dp, placement)
        app, rule = next(iter(placement.asked.items()))
        return Held(rule, placement.message(dp), placement.decision)

    # --- deletes and modifies --------------------------------------------------------------

    def _selected(self, dp, app, msg, match, strict):
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
            if msg.command in (ofp.OFPFC_DELETE, ofp.OFPFC_DELETE_STRICT) and \
                    out_port != ofp.OFPP_ANY and not rule.outputs_to(out_port):
                continue
            selected.append(placement)
        return selected, table

    def _delete(self, dp, app, msg, match, strict):
        selected, table = self._selected(dp, app, msg, match, strict)
        for ask in [k for k, held in self.held.items() if k[0] == app and k[1] == dp.id
                    and (table == dp.ofproto.OFPTT_ALL or k[2] == table)
                    and (k[3:] == (msg.priority, match) if strict
                         else match.covers(k[4]))]:
            del self.held[ask]
        # The app's own delete, narrowed to its range, does it when every rule selected
        # is its alone, at the priority it asked and in its range; otherwise per rule.
        own = self.cookies.app_id(app)
        exact = all(len(p.asked) == 1 and p.installed.priority == p.asked[app].priority
                    and p.installed.cookie >> APP_SHIFT == own for p in selected)
        freed = []
        for placement in selected:
            if self._release(placement, app, send_delete=not exact):
                freed.append(placement.installed)
        if exact:
            # (It also catches rules of the app from before the arbiter started.)
            msg.table_id = table
            msg.cookie, msg.cookie_mask = self.cookies.scope(app, msg.cookie,
                                                             msg.cookie_mask)
            self._send(dp, msg)
        if selected:
            LOG.debug('%s deleted %d rules on %s', app, len(selected), dp.id)
        self._reconsider(dp, freed)

    def _modify(self, dp, app, msg, match, strict):
        """A MODIFY becomes an ADD of each selected rule with the new instructions, so
        the new actions are resolved like any proposal."""
        selected, _ = self._selected(dp, app, msg, match, strict)
        for placement in selected:
            rule = placement.asked[app]
            add = placement.message(dp)
            add.command = dp.ofproto.OFPFC_ADD
            add.instructions = msg.instructions
            add.priority, add.cookie, add.table_id = rule.priority, rule.cookie, \
                rule.table_id
            self._add(dp, app, add, rule.match)

    def _release(self, placement, app, send_delete):
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

    def _forget(self, placement):
        self.placed.pop(placement.key, None)
        self.index.remove(placement.installed)
        for app, rule in placement.asked.items():
            self.asked.pop((app, rule.dpid, rule.table_id, rule.priority, rule.match), None)

    def _send_delete(self, dp, placement):
        ofp, parser = dp.ofproto, dp.ofproto_parser
        rule = placement.installed
        self._send(dp, parser.OFPFlowMod(
            datapath=dp, cookie=rule.cookie, cookie_mask=0xFFFFFFFFFFFFFFFF,
            table_id=rule.table_id, command=ofp.OFPFC_DELETE_STRICT,
            priority=rule.priority, out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY,
            match=parser13.OFPMatch(**rule.match.to_ofp_kwargs())))

    def _reconsider(self, dp, gone):
        """Propose again the held rules that overlapped rules now gone."""
        if not gone:
            return
        for ask, held in list(self.held.items()):
            if ask[1] == dp.id and any(r.table_id == held.rule.table_id and
                                       r.match.intersects(held.rule.match) for r in gone):
                if self.held.get(ask) is held:
                    self._propose_again(dp, held)

    # --- messages from the switch ------------------------------------------------------------

    def flow_removed(self, dp, msg):
        """The switch removed a rule (timeout): forget it, propose again what it held
        back; returns the apps to tell (those that asked for flow-removed), or None if
        the rule is not the arbiter's to know."""
        key = (dp.id, msg.table_id, msg.priority, read_match(msg.match))
        placement = self.placed.get(key)
        if placement is None or placement.installed.cookie != msg.cookie:
            return None
        tell = set(placement.flow_removed_to)
        self._forget(placement)
        self._reconsider(dp, [placement.installed])
        return tell

    def packet_in_owners(self, dpid, cookie):
        """The apps a packet-in sent by the rule with ``cookie`` belongs to, or None
        (everyone's) for a cookie the arbiter did not give out."""
        if ARBITER.owns(cookie):
            return {app for p in self.placed.values() if p.installed.cookie == cookie
                    and p.installed.dpid == dpid for app in p.asked} or None
        owner = self.cookies.owner(cookie)
        return {owner} if owner and owner != 'arbiter' else None

    def switch_gone(self, dpid):
        """Forget everything of a disconnected switch."""
        for placement in [p for p in self.placed.values() if p.installed.dpid == dpid]:
            self._forget(placement)
        self.index.remove_switch(dpid)
        for ask in [k for k in self.held if k[1] == dpid]:
            del self.held[ask]
        for key in [k for k in self.groups if k[0] == dpid]:
            del self.groups[key]
        self.datapaths.pop(dpid, None)

    # --- group-mods ----------------------------------------------------------------------

    def group_mod(self, dp, app, msg):
        """Group ids are one namespace per switch: an app may add, change and delete
        only its own groups. Returns the Decision."""
        ofp = dp.ofproto
        self.datapaths[dp.id] = dp
        key = (dp.id, msg.group_id)
        if msg.command == ofp.OFPGC_DELETE and msg.group_id == ofp.OFPG_ALL:
            for dpid, group_id in [k for k, owner in self.groups.items()
                                   if owner == app and k[0] == dp.id]:
                del self.groups[(dpid, group_id)]
                self._send(dp, dp.ofproto_parser.OFPGroupMod(
                    dp, ofp.OFPGC_DELETE, msg.type, group_id, []))
            return None
        owner = self.groups.get(key)
        if owner is not None and owner != app:
            decision = Decision(Outcome.REFUSE, None, 'group ids belong to one app',
                                'group %d on switch %s is %s\'s' % (msg.group_id, dp.id,
                                                                    owner))
            self._log(app, dp.id, 'group_mod', decision, 'group %d' % msg.group_id)
            self.notify(app, dp, msg, decision)
            return decision
        if msg.command == ofp.OFPGC_DELETE:
            self.groups.pop(key, None)
        else:
            self.groups[key] = app
        self._send(dp, msg)
        return None

    # --- records -----------------------------------------------------------------------

    def _record(self, dp, rule, decision, replay):
        self.counts[(rule.app, decision.outcome.value)] += 1
        command = 're-proposed' if replay else 'add'
        self.decisions.append(DecisionRecord(
            time=time.time(), app=rule.app, dpid=dp.id, command=command,
            outcome=decision.outcome.value, clause=decision.clause, reason=decision.reason,
            rule=rule, placed_priority=decision.placed.priority
            if decision.placed is not None else None))
        level = logging.INFO if decision.outcome.changes or decision.evict else \
            logging.DEBUG
        if LOG.isEnabledFor(level):
            LOG.log(level, 'decision: %s %s dpid=%s table=%d priority=%d match=%s '
                    'actions=%s -> %s', rule.app, command, dp.id, rule.table_id,
                    rule.priority, rule.match, actions_text(rule.actions), decision)

    def _log(self, app, dpid, command, decision, subject):
        self.counts[(app, decision.outcome.value)] += 1
        self.decisions.append(DecisionRecord(
            time=time.time(), app=app, dpid=dpid, command=command,
            outcome=decision.outcome.value, clause=decision.clause, reason=decision.reason,
            subject=subject))
        LOG.info('decision: %s %s dpid=%s %s -> %s', app, command, dpid, subject, decision)

    # --- views for REST ------------------------------------------------------------------

    def rule_counts(self):
        """{app: {dpid: rules installed}} (a shared rule counts for each owner)."""
        counts = collections.defaultdict(collections.Counter)
        for placement in self.placed.values():
            for app in placement.asked:
                counts[app][placement.installed.dpid] += 1
        return {app: dict(per_switch) for app, per_switch in counts.items()}

    def conflicts(self):
        """The conflicts in force: rules held back, and rules placed otherwise than
        asked, each with what it lost or won against."""
        found = []
        for held in self.held.values():
            found.append(dict(_rule_view(held.rule), state='held back',
                              clause=held.decision.clause, reason=held.decision.reason))
        for placement in self.placed.values():
            for app, rule in placement.asked.items():
                if rule.priority != placement.installed.priority:
                    found.append(dict(_rule_view(rule), state='rewritten',
                                      installed_priority=placement.installed.priority,
                                      clause=placement.decision.clause,
                                      reason=placement.decision.reason))
            if len(placement.asked) > 1:
                found.append(dict(_rule_view(placement.installed), state='shared',
                                  owners=sorted(placement.asked)))
        return found

    def explain(self, dpid, table_id, match):
        """Everything about the region ``match`` of one table: the installed rules that
        overlap it (highest priority first, the one in effect first), the held ones,
        whether it is damped, and the decisions about it."""
        installed = sorted(self.index.overlapping(dpid, table_id, match),
                           key=lambda r: -r.priority)
        rules = []
        for rule in installed:
            placement = self.placed.get(_key(rule))
            view = _rule_view(rule)
            if placement is not None:
                view.update(owners=sorted(placement.asked),
                            asked_priority={a: r.priority for a, r in
                                            placement.asked.items()},
                            clause=placement.decision and placement.decision.clause,
                            reason=placement.decision and placement.decision.reason)
            rules.append(view)
        held = [dict(_rule_view(h.rule), clause=h.decision.clause, reason=h.decision.reason)
                for h in self.held.values() if h.rule.dpid == dpid and
                h.rule.table_id == table_id and h.rule.match.intersects(match)]
        text = str(match)
        state = self.damper.state((dpid, table_id, match))
        return {
            'dpid': dpid, 'table': table_id, 'match': text, 'installed': rules,
            'held': held, 'damped': bool(state and state.suppressed),
            'decisions': [d.as_dict() for d in self.decisions
                          if d.dpid == dpid and d.table_id == table_id and
                          d.rule is not None and d.rule.match.intersects(match)],
        }

    def damped(self):
        now = self.clock()
        return [{'dpid': region[0], 'table': region[1], 'match': str(region[2]),
                 'apps': sorted(state.apps), 'flaps': state.flaps,
                 'penalty': round(state.penalty, 1),
                 'damped_for_s': round(now - state.suppressed_since, 1),
                 'kept': self.kept(region)}
                for region, state in self.damper.damped(now)]

    def kept(self, region):
        """The app a damped region stays with: the policy's winner among the apps
        fighting over it; between equals, the one whose rule is installed."""
        dpid, table_id, match = region
        installed = {app for p in self.placed.values()
                     if p.installed.dpid == dpid and p.installed.table_id == table_id
                     and p.installed.match == match for app in p.asked}
        return min(sorted(self.damper.state(region).apps),
                   key=lambda app: (self.policy.rank(app), app not in installed))


def read_match(match):
    """The TernaryMatch of a flow-mod's match: a Ryu OFPMatch, or a class of its own
    that only serializes (controller/openflow.py's PackedMatch), read from its wire form.
    ValueError for a field outside OpenFlow 1.3's basic set."""
    given = getattr(match, '_given', None)      # PackedMatch keeps what it was given
    if given is not None:
        return TernaryMatch.of(**given)
    if type(match) is not parser13.OFPMatch:
        buf = bytearray()
        match.serialize(buf, 0)
        match = parser13.OFPMatch.parser(bytes(buf), 0)
    return TernaryMatch.from_ofp(match)


def _key(rule):
    return rule.dpid, rule.table_id, rule.priority, rule.match


def _mergeable(placement, rule):
    """Two apps' rules of the same match and priority are one rule if they act the same,
    or if both only send to the controller (the packet-ins go to both)."""
    installed = placement.installed
    if installed.actions == rule.actions:
        return True
    return all(r.outputs_to_controller and not r.output_ports and not r.modifies_headers
               for r in (installed, rule))


def _controller_max_len(msg):
    lengths = [getattr(action, 'max_len', 0) for inst in msg.instructions
               for action in getattr(inst, 'actions', ())
               if getattr(action, 'port', None) == 0xfffffffd]     # OFPP_CONTROLLER
    return max(lengths, default=0)


def actions_text(actions):
    """An actions_key as text: 'output:2,goto:1', 'controller:128', 'drop'."""
    parts = []
    for instruction in actions:
        if instruction[0] in ('apply', 'write'):
            parts.extend(':'.join(str(part) for part in action)
                         for action in instruction[1])
        else:
            parts.append(':'.join(str(part) for part in instruction))
    return ','.join(parts) or 'drop'


def _rule_view(rule):
    return {'app': rule.app, 'dpid': rule.dpid, 'table': rule.table_id,
            'priority': rule.priority, 'match': str(rule.match), 'cookie': hex(rule.cookie)}
