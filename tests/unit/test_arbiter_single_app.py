"""The arbiter's single-app tables (controller/arbiter/engine.py SingleAppTable): rules of
a table only one app proposes into skip the conflict index, and are put into it the
moment something needs it. Whatever the sequence of flow-mods, an arbiter with them
must send the same messages, tell the apps the same, and end with the same index,
placements, decisions and views as one without them (``single_app_tables=False``).
Also: the interposed send_together writes what the arbiter sends as one buffer, and the
interposed Datapath.send passes through what is not a whole message."""

import logging
import struct
import types

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ryu.ofproto import ofproto_parser
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller import openflow
from controller.arbiter.engine import DECISIONS_KEPT, Arbiter
from controller.arbiter.gate import InvariantGate
from controller.arbiter.match import TernaryMatch
from controller.arbiter.policy import load_arbiter_policy_text
from controller.arbiter.rulekey import key_identity
from controller.l2 import pipeline as l2_pipe
from controller.openflow import PackedMatch
from tests.harness.fakes import FakeDatapath
from tests.harness.interposed import RyuDatapath, interpose_arbiter

APPS = ('l2_learning', 'simple_switch_13', 'rest_firewall')
POLICIES = (
    '',
    'order: [rest_firewall, l2_learning]\napps: {rest_firewall: {security: true}}\n',
    'apps: {simple_switch_13: {max_rules: 3}}\n',
    'pipeline: [[rest_firewall], [l2_learning, simple_switch_13]]\n',
)
MACS = ['02:00:00:00:00:0%d' % n for n in range(1, 5)]
# Matches: PackedMatch as l2_learning writes them, Ryu OFPMatch ones that are one closed
# cube (fast path possible), and ones that are not (always the full path).
MATCHES = (
    [('packed', {'in_port': port, 'eth_src': mac}) for port in (1, 2) for mac in MACS[:2]]
    + [('packed', {'eth_dst': mac}) for mac in MACS]
    + [('ofp', {'eth_dst': mac}) for mac in MACS[:2]]
    + [
        ('ofp', {}),
        ('ofp', {'eth_dst': ('02:00:00:00:00:00', 'ff:ff:ff:ff:ff:f0')}),
        ('ofp', {'eth_type': 0x800, 'ipv4_dst': '10.0.0.1'}),
        ('ofp', {'ipv4_dst': '10.0.0.1'}),
        ('ofp', {'tcp_dst': 80}),
    ]
)
ACTIONS = ('out2', 'out3', 'drop', 'controller', 'goto1')


def _instructions(kind):
    if kind == 'drop':
        return []
    if kind == 'goto1':
        return [parser.OFPInstructionGotoTable(1)]
    port, max_len = (
        (ofp.OFPP_CONTROLLER, 128)
        if kind == 'controller'
        else (int(kind[-1]), ofp.OFPCML_NO_BUFFER)
    )
    return [
        parser.OFPInstructionActions(
            ofp.OFPIT_APPLY_ACTIONS, [parser.OFPActionOutput(port, max_len)]
        )
    ]


def _match(spec):
    kind, fields = spec
    return PackedMatch(**fields) if kind == 'packed' else parser.OFPMatch(**fields)


def _flow_mod(
    dp,
    command,
    table,
    priority,
    spec,
    actions='out2',
    cookie=0,
    cookie_mask=0,
    timeout=0,
    out_port=ofp.OFPP_ANY,
):
    msg = parser.OFPFlowMod(
        dp,
        cookie=cookie,
        cookie_mask=cookie_mask,
        table_id=table,
        command=command,
        priority=priority,
        match=_match(spec),
        instructions=_instructions(actions),
        idle_timeout=timeout,
        out_port=out_port,
        out_group=ofp.OFPG_ANY,
        buffer_id=ofp.OFP_NO_BUFFER,
        flags=ofp.OFPFF_SEND_FLOW_REM if timeout else 0,
    )
    dp.set_xid(msg)
    return msg


class Run:
    """One arbiter and what it did."""

    def __init__(self, policy_text, single_app_tables, gate=False):
        self.sent, self.told = [], []
        policy = load_arbiter_policy_text(policy_text, 'p.yaml')
        self.engine = Arbiter(
            policy,
            send=lambda dp, msg: self.sent.append(bytes(msg.buf)),
            notify=lambda app, dp, msg, d: self.told.append(
                (app, d.outcome.value, d.clause, d.reason)
            ),
            gate=InvariantGate(policy) if gate else None,
            clock=lambda: 1000.0,
            single_app_tables=single_app_tables,
        )
        self.dp = FakeDatapath()
        self.results = []

    def do(self, op):
        kind, app = op[0], op[1]
        dp, engine = self.dp, self.engine
        if kind == 'add':
            _, _, table, priority, match, actions, timeout, *cookie = op
            engine.flow_mod(
                dp,
                app,
                _flow_mod(
                    dp,
                    ofp.OFPFC_ADD,
                    table,
                    priority,
                    MATCHES[match],
                    actions,
                    cookie=cookie[0] if cookie else 7,
                    timeout=timeout,
                ),
            )
        elif kind == 'delete':
            _, _, table, priority, match, strict, out_port, *cookie = op
            cookie, mask = cookie[0] if cookie else (0, 0)
            engine.flow_mod(
                dp,
                app,
                _flow_mod(
                    dp,
                    ofp.OFPFC_DELETE_STRICT if strict else ofp.OFPFC_DELETE,
                    ofp.OFPTT_ALL if table is None else table,
                    priority,
                    MATCHES[match],
                    out_port=out_port,
                    cookie=cookie,
                    cookie_mask=mask,
                ),
            )
        elif kind == 'modify':
            _, _, table, priority, match, actions = op
            engine.flow_mod(
                dp, app, _flow_mod(dp, ofp.OFPFC_MODIFY, table, priority, MATCHES[match], actions)
            )
        elif kind == 'removed':
            rule = op[2]
            if rule is not None:
                msg = types.SimpleNamespace(
                    table_id=rule[0],
                    priority=rule[1],
                    cookie=rule[3],
                    match=parser.OFPMatch(**rule[2].to_ofp_kwargs()),
                )
                told = engine.flow_removed(dp, msg)
                self.results.append(None if told is None else sorted(told))
        elif kind == 'explain':
            _, _, table, match = op
            region = TernaryMatch.of(**_match_fields(MATCHES[match]))
            self.results.append(_without_times(engine.explain(1, table, region)))

    def state(self):
        """Everything observable, the single-app tables put into the index first."""
        engine = self.engine
        views = (
            engine.rule_counts(),
            _sorted(engine.conflicts()),
            [_without_times(d.as_dict()) for d in engine.decisions],
            dict(engine.counts),
        )
        index = engine.index  # materializes
        assert not engine.single_app
        rules = sorted(
            (r.dpid, r.table_id, r.priority, str(r.match), r.app, r.cookie, r.actions)
            for r in index.rules_of(None)
        )
        placed = sorted(
            (
                repr(key),
                p.installed,
                sorted(p.asked.items()),
                sorted(p.flow_removed_to),
                p.wire,
                p.decision.outcome,
                p.decision.clause,
                p.decision.reason,
            )
            for key, p in engine.placed.items()
        )
        asked = sorted(map(repr, engine.asked.items()))
        return views, rules, placed, asked, self.sent, self.told, self.results


def _match_fields(spec):
    return spec[1]


def _sorted(views):
    return sorted(views, key=repr)


def _without_times(view):
    if isinstance(view, dict):
        return {k: _without_times(v) for k, v in view.items() if k != 'time'}
    if isinstance(view, list):
        return [_without_times(v) for v in view]
    return view


def _installed_rule(run, pick):
    """(table, priority, match, cookie) of an installed rule, chosen by ``pick``."""
    engine = run.engine
    rules = [
        (
            w[1],
            key_identity(key)[0],
            TernaryMatch(key_identity(key)[1]),
            engine.cookies.installed(t.app, t.asked_of(key)[0]),
        )
        for w, t in engine.single_app.items()
        for key in t.rules
    ]
    rules += [
        (p.installed.table_id, p.installed.priority, p.installed.match, p.installed.cookie)
        for p in engine.placed.values()
    ]
    if not rules:
        return None
    rules.sort(key=repr)
    return rules[pick % len(rules)]


def replay(policy_text, ops, gate=False):
    """Both arbiters through ``ops``; their states."""
    lazy, eager = Run(policy_text, True, gate), Run(policy_text, False, gate)
    for op in ops:
        if op[0] == 'removed':
            rule = _installed_rule(eager, op[2])  # the same rule for both
            assert rule == _installed_rule(lazy, op[2])
            op = ('removed', None, rule)
        lazy.do(op)
        eager.do(op)
        # step by step too: a difference the later operations would wipe out
        assert lazy.engine.rule_counts() == eager.engine.rule_counts(), op
        assert (lazy.sent, lazy.told) == (eager.sent, eager.told), op
    return lazy, eager


apps = st.sampled_from(APPS)
tables = st.sampled_from((0, 1))
priorities = st.sampled_from((0, 1, 100))
matches = st.integers(0, len(MATCHES) - 1)
cookies = st.sampled_from((7, 8))
operations = st.one_of(
    st.tuples(
        st.just('add'),
        apps,
        tables,
        priorities,
        matches,
        st.sampled_from(ACTIONS),
        st.sampled_from((0, 30)),
        cookies,
    ),
    st.tuples(
        st.just('add'),
        st.just('l2_learning'),
        tables,
        st.just(100),
        matches,
        st.sampled_from(ACTIONS),
        st.just(0),
    ),
    st.tuples(
        st.just('delete'),
        apps,
        st.sampled_from((0, 1, None)),
        priorities,
        matches,
        st.booleans(),
        st.sampled_from((ofp.OFPP_ANY, 2)),
        st.sampled_from(((0, 0), (7, 0xFF), (8, 0xF))),
    ),
    st.tuples(st.just('modify'), apps, tables, priorities, matches, st.sampled_from(ACTIONS)),
    st.tuples(st.just('removed'), st.none(), st.integers(0, 1000)),
    st.tuples(st.just('explain'), st.none(), tables, matches),
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(policy=st.sampled_from(POLICIES), ops=st.lists(operations, max_size=30))
# Found by hypothesis: explain listed two equal-priority rules in index order on one
# path and in insertion order on the other.
@example(
    policy='',
    ops=[
        ('add', 'l2_learning', 1, 100, 1, 'out2', 0),
        ('add', 'l2_learning', 0, 0, 0, 'out2', 0, 7),
        ('add', 'l2_learning', 1, 100, 4, 'out2', 0),
        ('add', 'l2_learning', 1, 100, 0, 'out2', 0),
        ('removed', None, 3),
        ('explain', None, 1, 0),
    ],
)
def test_single_app_tables_change_nothing_observable(policy, ops):
    lazy, eager = replay(policy, ops)
    assert lazy.state() == eager.state()


TABLE = [
    # l2_learning alone, then another app in its table: conflicts found as eagerly
    [
        ('add', 'l2_learning', 0, 100, 4, 'out2', 30),
        ('add', 'l2_learning', 0, 100, 5, 'out3', 0),
        ('add', 'simple_switch_13', 0, 100, 8, 'out3', 0),
        ('add', 'simple_switch_13', 0, 1, 10, 'out3', 0),
    ],
    # its own deletes (all tables, one table, strict, by out_port) on its store
    [
        ('add', 'l2_learning', 0, 100, 0, 'goto1', 0),
        ('add', 'l2_learning', 1, 100, 4, 'out2', 30),
        ('add', 'l2_learning', 1, 100, 5, 'out3', 30),
        ('delete', 'l2_learning', 1, 0, 4, False, 3),
        ('delete', 'l2_learning', 1, 100, 4, True, ofp.OFPP_ANY),
        ('delete', 'l2_learning', None, 0, 9, False, ofp.OFPP_ANY),
    ],
    # a delete over a single-app table and a shared one (per-rule deletes)
    [
        ('add', 'l2_learning', 0, 0, 9, 'controller', 0),
        ('add', 'simple_switch_13', 0, 0, 9, 'controller', 0),
        ('add', 'l2_learning', 1, 100, 4, 'out2', 0),
        ('delete', 'l2_learning', None, 0, 9, False, ofp.OFPP_ANY),
    ],
    # flow-removed of a single-app rule, explain, modify
    [
        ('add', 'l2_learning', 1, 100, 4, 'out2', 30),
        ('removed', None, 0),
        ('add', 'l2_learning', 1, 100, 5, 'out2', 30),
        ('explain', None, 1, 9),
        ('add', 'l2_learning', 1, 100, 6, 'out2', 0),
        ('modify', 'l2_learning', 1, 100, 6, 'out3'),
    ],
    # a rule proposed again moves to the end of the order, as in the index (the
    # first rule found that beats a proposal is the one its decision names)
    [
        ('add', 'l2_learning', 0, 0, 0, 'out2', 0),
        ('add', 'l2_learning', 1, 100, 1, 'out2', 0),
        ('add', 'l2_learning', 1, 100, 0, 'out2', 0),
        ('add', 'l2_learning', 1, 100, 1, 'out2', 0),
        ('add', 'simple_switch_13', 1, 100, 4, 'out3', 0),
    ],
    # deletes by cookie
    [
        ('add', 'l2_learning', 1, 100, 4, 'out2', 0, 7),
        ('add', 'l2_learning', 1, 100, 5, 'out2', 0, 8),
        ('delete', 'l2_learning', 1, 0, 10, False, ofp.OFPP_ANY, (8, 0xF)),
        ('add', 'simple_switch_13', 1, 1, 10, 'out3', 0),
    ],
    # a match that is not a closed cube, into a single-app table
    [
        ('add', 'l2_learning', 0, 100, 4, 'out2', 0),
        ('add', 'l2_learning', 0, 5, 13, 'drop', 0),
        ('delete', 'l2_learning', 0, 5, 12, True, ofp.OFPP_ANY),
    ],
]


@pytest.mark.parametrize('policy', POLICIES)
@pytest.mark.parametrize('ops', TABLE)
def test_single_app_tables_table_driven(policy, ops):
    lazy, eager = replay(policy, ops)
    assert lazy.state() == eager.state()


def test_a_learning_switch_alone_skips_the_index_until_another_app_comes():
    run = Run('', True)
    for n in range(len(MACS)):
        run.do(('add', 'l2_learning', 1, 100, 4 + n, 'out2', 30))
    engine = run.engine
    assert engine._index.count() == 0 and len(engine.single_app[(1, 1)].rules) == 4
    assert engine.rule_counts() == {'l2_learning': {1: 4}}
    assert [d.outcome for d in engine.decisions] == ['install'] * 4
    assert str(engine.decisions[0].rule.match) == 'eth_dst=02:00:00:00:00:01'
    run.do(('add', 'simple_switch_13', 1, 1, 10, 'out3', 0))  # matches everything
    assert not engine.single_app and engine._index.count() == 5
    last = engine.decisions[-1]
    assert (last.app, last.outcome) == ('simple_switch_13', 'install')
    assert last.clause.startswith('incumbent')  # it overlaps l2_learning's rules


def test_with_an_active_gate_every_rule_goes_the_full_path():
    policy = 'topology: {links: [[1, 2, 2, 1]]}\n'
    run = Run(policy, True, gate=True)
    run.do(('add', 'l2_learning', 1, 100, 4, 'out2', 0))
    assert not run.engine.single_app and run.engine._index.count() == 1


def test_a_policy_reload_puts_the_single_app_tables_into_the_index():
    run = Run('', True)
    run.do(('add', 'l2_learning', 1, 100, 4, 'out2', 0))
    assert run.engine.single_app
    run.engine.set_policy(
        load_arbiter_policy_text('apps: {l2_learning: {max_rules: 1}}\n', 'p.yaml')
    )
    assert not run.engine.single_app and run.engine._index.count() == 1
    run.do(('add', 'l2_learning', 1, 100, 5, 'out2', 0))
    assert run.told[-1][1] == 'refuse'


@pytest.fixture
def interposed(monkeypatch):
    """An arbiter interposed in Ryu (restored after the test), and a Ryu Datapath with no
    socket whose writes stay in its ``send_q``."""
    return interpose_arbiter(monkeypatch), RyuDatapath(1)


def test_interposed_send_together_writes_one_buffer_per_switch(interposed):
    engine, dp = interposed
    mods = [
        openflow.flow_add(
            dp, 0, 100, PackedMatch(in_port=1, eth_src=MACS[0]), [openflow.goto_table(dp, 1)], 5
        ),
        parser.OFPBarrierRequest(dp),
        openflow.flow_add(
            dp,
            1,
            100,
            PackedMatch(eth_dst=MACS[0]),
            [openflow.apply_actions(dp, [openflow.output(dp, 2)])],
            6,
        ),
    ]
    openflow.send_together(dp, mods)
    ((buf, _),) = dp.send_q  # one write, the messages in their order
    assert buf == b''.join(bytes(m.buf) for m in mods)
    unknown = engine.cookies.app_id('unknown')  # no app on the stack here
    assert [m.cookie >> 48 for m in (mods[0], mods[2])] == [unknown, unknown]
    assert engine.rule_counts() == {'unknown': {1: 2}}


def test_interposed_send_stamped_hands_the_templates_messages_to_the_arbiter(interposed):
    """l2_learning's packet-in path stamps bytes from templates; under the arbiter they
    reach it as messages with packed matches, like send_together's, in one write."""
    engine, dp = interposed
    templates = l2_pipe.host_rule_templates(225, 300)
    openflow.send_stamped(dp, templates, openflow.mac_bytes(MACS[0]), 3)
    ((buf, _),) = dp.send_q
    assert engine.rule_counts() == {'unknown': {1: 2}}  # on switch 1
    first_length = ofproto_parser.header(buf)[2]
    sent = [
        ofproto_parser.msg(dp, *ofproto_parser.header(chunk), chunk)
        for chunk in (buf[:first_length], buf[first_length:])
    ]
    assert [dict(m.match.items()) for m in sent] == [
        {'in_port': 3, 'eth_src': MACS[0]},
        {'eth_dst': MACS[0]},
    ]


@pytest.mark.parametrize(
    'tail',
    [
        struct.pack('!BBHI', ofp.OFP_VERSION, ofp.OFPT_HELLO, 0, 7),  # a length of 0
        b'\x04\x00\x00',  # not a header
    ],
    ids=['zero-length header', 'partial header'],
)
def test_interposed_send_passes_a_tail_that_is_no_message_through(interposed, tail, monkeypatch):
    """The flow-mods of a buffer written with Datapath.send go to the arbiter, and what
    follows them that is not a whole message goes to the switch as it is (as it would
    without the arbiter). A header of length 0 made send loop for ever; bytes too few
    for a header were dropped."""
    from controller.arbiter import interpose

    engine, dp = interposed
    written = []

    def original_send(datapath, buf, close_socket=False):
        written.append(bytes(buf))
        assert len(written) < 10, 'Datapath.send loops: %r' % written[-3:]
        return True

    monkeypatch.setattr(interpose, '_ORIGINAL_SEND', original_send)
    mod = openflow.flow_add(
        dp, 0, 100, PackedMatch(in_port=1, eth_src=MACS[0]), [openflow.goto_table(dp, 1)], 5
    )
    dp.set_xid(mod)
    mod.serialize()
    dp.send(bytes(mod.buf) + tail)
    assert engine.rule_counts() == {'unknown': {1: 1}}
    assert written[1:] == [tail]  # after the flow-mod as the arbiter sent it


def _l2_arbiter(policy=''):
    sent = []
    engine = Arbiter(
        load_arbiter_policy_text(policy),
        send=lambda dp, msg: sent.append(bytes(msg.buf)),
        notify=lambda app, dp, msg, decision: None,
    )
    return engine, sent


def test_stamped_adds_send_and_keep_what_the_object_path_does():
    """Arbiter.stamped takes l2_learning's templates as bytes (no message built or
    parsed); the switch gets the same bytes, and the single-app tables, decisions and
    counts hold the same, as when the templates' messages go through flow_mod."""
    templates = l2_pipe.host_rule_templates(225, 300)
    by_bytes, _ = _l2_arbiter()
    by_objects, sent = _l2_arbiter()
    dp_bytes, dp_objects = FakeDatapath(), FakeDatapath()
    stamped = []
    for port, mac in enumerate(MACS + MACS[:1], start=1):  # the last one replaces a rule
        stamped += by_bytes.stamped(
            dp_bytes, 'l2_learning', templates, openflow.mac_bytes(mac), port
        )
        for template in templates:
            msg = template.message(openflow.mac_bytes(mac), port)
            dp_objects.set_xid(msg)
            by_objects.flow_mod(dp_objects, 'l2_learning', msg)
    assert [bytes(wire) for wire in stamped] == sent
    # The object path keeps each flow-mod; stamped, a rule keeps only its port and is
    # stamped again when needed (with xid 0).
    assert all(
        isinstance(kept, int) for t in by_bytes.single_app.values() for kept in t.rules.values()
    )
    assert _tables(by_bytes) == _tables(by_objects)
    # five sources (the last MAC again, on another port), four destinations
    assert by_bytes.rule_counts() == by_objects.rule_counts() == {'l2_learning': {1: 9}}
    records = [
        [{k: v for k, v in r.as_dict().items() if k != 'time'} for r in engine.decisions]
        for engine in (by_bytes, by_objects)
    ]
    assert records[0] == records[1] and len(records[0]) == 10


def test_stamped_decisions_are_the_latest_as_the_object_paths_and_logged(caplog):
    """One record per stamped pair, read as one decision per rule: past DECISIONS_KEPT
    the same latest decisions as the object path's, and each install at DEBUG."""
    templates = l2_pipe.host_rule_templates(225, 300)
    by_bytes, _ = _l2_arbiter()
    by_objects, _ = _l2_arbiter()
    dp_bytes, dp_objects = FakeDatapath(), FakeDatapath()
    hosts = DECISIONS_KEPT // 2 + 100
    for number in range(hosts):
        mac, port = (0x020000000000 + number).to_bytes(6, 'big'), 1 + number % 4
        if number == hosts - 1:
            caplog.set_level(logging.DEBUG, logger='arbiter')
        by_bytes.stamped(dp_bytes, 'l2_learning', templates, mac, port)
        for template in templates:
            msg = template.message(mac, port)
            dp_objects.set_xid(msg)
            by_objects.flow_mod(dp_objects, 'l2_learning', msg)
    records = [
        [_without_times(r.as_dict()) for r in engine.decisions] for engine in (by_bytes, by_objects)
    ]
    assert records[0] == records[1] and len(records[0]) == DECISIONS_KEPT
    assert by_bytes.counts == by_objects.counts == {('l2_learning', 'install'): 2 * hosts}
    logged = [r.getMessage() for r in caplog.records if r.name == 'arbiter']
    assert len(logged) == 4  # the last pair, by each way
    assert logged[:2] == logged[2:]


def _tables(engine):
    """The single-app tables: each rule's flow-mod (xid left out), what the app asked."""
    return {
        where: (
            {key: _without_xid(table.wire_of(key)) for key in table.rules},
            table.asked,
            table.unusual,
        )
        for where, table in engine.single_app.items()
    }


def _without_xid(wire):
    return wire[:4] + bytes(4) + wire[8:]


def test_stamped_rules_materialize_as_the_object_paths_do():
    """A table of stamped rules that keeps only their ports goes into the index as the
    object path's table does: the same rules, placements and flow-mods (xid aside)."""
    templates = l2_pipe.host_rule_templates(225, 300)
    by_bytes, _ = _l2_arbiter()
    by_objects, _ = _l2_arbiter()
    dp_bytes, dp_objects = FakeDatapath(), FakeDatapath()
    for port, mac in enumerate(MACS + MACS[:1], start=1):
        by_bytes.stamped(dp_bytes, 'l2_learning', templates, openflow.mac_bytes(mac), port)
        for template in templates:
            msg = template.message(openflow.mac_bytes(mac), port)
            dp_objects.set_xid(msg)
            by_objects.flow_mod(dp_objects, 'l2_learning', msg)
    views = []
    for engine in (by_bytes, by_objects):
        rules = sorted(map(repr, engine.index.rules_of(None)))
        placed = sorted(
            (repr(key), p.installed, sorted(p.asked.items()), sorted(p.flow_removed_to))
            for key, p in engine.placed.items()
        )
        wires = sorted(_without_xid(p.wire) for p in engine.placed.values())
        views.append((rules, placed, wires, sorted(map(repr, engine.asked.items()))))
    assert views[0] == views[1] and len(views[0][0]) == 9


def test_stamped_adds_leave_to_flow_mod_what_is_not_for_the_fast_path():
    """Another app's rule in one of the tables, or a policy that moves the app's tables:
    stamped does nothing and says so (None), and the object path decides."""
    templates = l2_pipe.host_rule_templates(225, 300)
    mac = openflow.mac_bytes(MACS[0])
    engine, _ = _l2_arbiter()
    dp = FakeDatapath()
    msg = _flow_mod(dp, ofp.OFPFC_ADD, 1, 5, ('ofp', {'eth_dst': MACS[1]}), 'out2')
    engine.flow_mod(dp, 'simple_switch_13', msg)
    assert engine.stamped(dp, 'l2_learning', templates, mac, 3) is None
    assert engine.rule_counts() == {'simple_switch_13': {1: 1}}
    staged, _ = _l2_arbiter('pipeline: [[rest_firewall], [l2_learning]]\n')
    assert staged.stamped(FakeDatapath(), 'l2_learning', templates, mac, 3) is None
    assert staged.rule_counts() == {}
