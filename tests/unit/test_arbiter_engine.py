"""controller/arbiter/engine.py with a fake switch connection: cookie ranges, deletes
scoped to the app, shared table-misses, pipeline stages, held rules coming back, and the
app told of refusals."""

import pytest
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.arbiter.engine import THIRD_PARTY_BASE, Arbiter
from controller.arbiter.policy import load_arbiter_policy_text
from controller.arbiter.resolve import Outcome
from controller.cookies import APP_IDS, APP_SHIFT
from tests.harness.fakes import FakeDatapath


@pytest.fixture
def arbiter():
    def make(text=''):
        sent, told = [], []
        engine = Arbiter(
            load_arbiter_policy_text(text, 'p.yaml'),
            send=lambda dp, msg: sent.append(msg),
            notify=lambda app, dp, msg, decision: told.append((app, decision)),
        )
        return engine, FakeDatapath(), sent, told

    return make


def flow_mod(
    dp, priority, actions=None, command=ofp.OFPFC_ADD, cookie=0, cookie_mask=0, table_id=0, **match
):
    instructions = (
        [] if actions is None else [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
    )
    msg = parser.OFPFlowMod(
        dp,
        cookie=cookie,
        cookie_mask=cookie_mask,
        table_id=table_id,
        command=command,
        priority=priority,
        match=parser.OFPMatch(**match),
        instructions=instructions,
        out_port=ofp.OFPP_ANY,
        out_group=ofp.OFPG_ANY,
    )
    dp.set_xid(msg)
    return msg


def output(port, max_len=ofp.OFPCML_NO_BUFFER):
    return [parser.OFPActionOutput(port, max_len)]


def test_cookies_go_into_each_apps_range_and_deletes_stay_in_it(arbiter):
    engine, dp, sent, _ = arbiter()
    engine.flow_mod(
        dp, 'simple_switch_13', flow_mod(dp, 1, output(2), cookie=0x7, eth_dst='00:00:00:00:00:02')
    )
    engine.flow_mod(
        dp, 'l2_learning', flow_mod(dp, 1, output(3), cookie=0x7, eth_dst='00:00:00:00:00:03')
    )
    assert [m.cookie for m in sent] == [
        (THIRD_PARTY_BASE << APP_SHIFT) | 0x7,
        (APP_IDS['l2_learning'] << APP_SHIFT) | 0x7,
    ]
    sent.clear()
    engine.flow_mod(
        dp, 'simple_switch_13', flow_mod(dp, 0, command=ofp.OFPFC_DELETE, table_id=ofp.OFPTT_ALL)
    )
    (delete,) = sent
    assert delete.cookie >> APP_SHIFT == THIRD_PARTY_BASE
    assert delete.cookie_mask >> APP_SHIFT == 0xFFFF  # never another app's rules
    assert engine.rule_counts() == {'l2_learning': {1: 1}}


def test_two_table_misses_to_the_controller_are_one_shared_rule(arbiter):
    engine, dp, sent, told = arbiter()
    engine.flow_mod(dp, 'simple_switch_13', flow_mod(dp, 0, output(ofp.OFPP_CONTROLLER)))
    engine.flow_mod(dp, 'rest_firewall', flow_mod(dp, 0, output(ofp.OFPP_CONTROLLER, 128)))
    assert told[-1][1].outcome is Outcome.MERGE
    shared = sent[-1]  # re-sent in the arbiter's own range
    assert shared.cookie >> APP_SHIFT == APP_IDS['arbiter']
    assert shared.instructions[0].actions[0].max_len == ofp.OFPCML_NO_BUFFER
    assert engine.packet_in_owners(1, shared.cookie) == {'simple_switch_13', 'rest_firewall'}
    sent.clear()
    engine.flow_mod(dp, 'rest_firewall', flow_mod(dp, 0, command=ofp.OFPFC_DELETE_STRICT))
    assert sent == []  # simple_switch_13 still wants it
    engine.flow_mod(dp, 'simple_switch_13', flow_mod(dp, 0, command=ofp.OFPFC_DELETE_STRICT))
    (removal,) = sent
    assert removal.command == ofp.OFPFC_DELETE_STRICT and removal.cookie == shared.cookie


def test_a_pipeline_moves_stages_to_their_tables_and_normal_to_the_next(arbiter):
    engine, dp, sent, _ = arbiter('pipeline: [[rest_firewall], [simple_switch_13]]\n')
    engine.flow_mod(
        dp, 'rest_firewall', flow_mod(dp, 65534, output(ofp.OFPP_NORMAL), eth_type=0x806)
    )
    engine.flow_mod(dp, 'simple_switch_13', flow_mod(dp, 0, output(ofp.OFPP_CONTROLLER)))
    arp, miss = sent
    assert arp.table_id == 0 and [type(i).__name__ for i in arp.instructions] == [
        'OFPInstructionActions',
        'OFPInstructionGotoTable',
    ]
    assert arp.instructions[0].actions == [] and arp.instructions[1].table_id == 1
    assert miss.table_id == 1


def test_a_held_rule_is_installed_when_the_winner_deletes_its_own(arbiter):
    engine, dp, sent, told = arbiter('order: [steer_via_2, steer_via_3]\n')
    match = dict(eth_type=0x800, ipv4_dst='10.0.0.100')
    engine.flow_mod(dp, 'steer_via_2', flow_mod(dp, 100, output(2), **match))
    engine.flow_mod(dp, 'steer_via_3', flow_mod(dp, 100, output(3), **match))
    assert told[-1][0] == 'steer_via_3' and told[-1][1].outcome is Outcome.HOLD
    assert len(sent) == 1
    engine.flow_mod(dp, 'steer_via_2', flow_mod(dp, 100, command=ofp.OFPFC_DELETE_STRICT, **match))
    delete, back = sent[1:]
    assert delete.command == ofp.OFPFC_DELETE_STRICT
    assert back.command == ofp.OFPFC_ADD and back.instructions[0].actions[0].port == 3
    assert engine.rule_counts() == {'steer_via_3': {1: 1}}


def test_the_winner_evicts_an_installed_loser_which_is_held(arbiter):
    engine, dp, sent, _ = arbiter('order: [steer_via_2, steer_via_3]\n')
    match = dict(eth_type=0x800, ipv4_dst='10.0.0.100')
    engine.flow_mod(dp, 'steer_via_3', flow_mod(dp, 100, output(3), **match))
    engine.flow_mod(dp, 'steer_via_2', flow_mod(dp, 100, output(2), **match))
    assert [m.command for m in sent] == [ofp.OFPFC_ADD, ofp.OFPFC_DELETE_STRICT, ofp.OFPFC_ADD]
    assert engine.rule_counts() == {'steer_via_2': {1: 1}}
    assert [c['app'] for c in engine.conflicts()] == ['steer_via_3']


def test_refusals_are_told_and_recorded(arbiter):
    engine, dp, sent, told = arbiter(
        'apps: {guest: {max_rules: 1, flowspace: [{eth_type: 0x800}]}}\n'
    )
    engine.flow_mod(dp, 'guest', flow_mod(dp, 5, output(1), eth_type=0x806))
    engine.flow_mod(dp, 'guest', flow_mod(dp, 5, output(1), eth_type=0x800, ipv4_dst='10.0.0.1'))
    engine.flow_mod(dp, 'guest', flow_mod(dp, 5, output(1), eth_type=0x800, ipv4_dst='10.0.0.2'))
    assert len(sent) == 1
    assert [(app, d.outcome, d.clause.split(' ')[0]) for app, d in told] == [
        ('guest', Outcome.REFUSE, 'apps.guest.flowspace'),
        ('guest', Outcome.REFUSE, 'apps.guest.max_rules'),
    ]
    assert [d.outcome for d in engine.decisions] == ['refuse', 'install', 'refuse']


def test_group_ids_belong_to_the_app_that_made_them(arbiter):
    engine, dp, sent, told = arbiter()
    group = parser.OFPGroupMod(dp, ofp.OFPGC_ADD, ofp.OFPGT_ALL, 7, [])
    engine.group_mod(dp, 'a', group)
    decision = engine.group_mod(
        dp, 'b', parser.OFPGroupMod(dp, ofp.OFPGC_MODIFY, ofp.OFPGT_ALL, 7, [])
    )
    assert decision.outcome is Outcome.REFUSE and told[-1][0] == 'b'
    assert sent == [group]


def test_a_switch_that_leaves_is_forgotten(arbiter):
    engine, dp, _, _ = arbiter()
    engine.flow_mod(dp, 'a', flow_mod(dp, 1, output(2), eth_dst='00:00:00:00:00:02'))
    engine.switch_gone(1)
    assert engine.rule_counts() == {} and engine.index.count() == 0


def test_an_evicted_loser_is_told(arbiter):
    """steer_via_3's rule is on the switch when the policy's winner proposes the same
    match: it comes off, and steer_via_3 hears that it is held back, as the winner hears
    of its eviction."""
    engine, dp, _, told = arbiter('order: [steer_via_2, steer_via_3]\n')
    match = dict(eth_type=0x800, ipv4_dst='10.0.0.100')
    engine.flow_mod(dp, 'steer_via_3', flow_mod(dp, 100, output(3), **match))
    engine.flow_mod(dp, 'steer_via_2', flow_mod(dp, 100, output(2), **match))
    assert [(app, d.outcome) for app, d in told] == [
        ('steer_via_2', Outcome.INSTALL),
        ('steer_via_3', Outcome.HOLD),
    ]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def fight(text, first, second, rounds=50):
    """Two apps re-asserting their rules in turn, 0.1 s apart: (flow-mods that reached
    the switch, alerts raised, the engine)."""
    sent, alerts, clock = [], [], Clock()
    engine = Arbiter(
        load_arbiter_policy_text(text, 'p.yaml'),
        send=lambda dp, msg: sent.append(msg),
        notify=lambda app, dp, msg, decision: None,
        alert=lambda region, state: alerts.append((region, state.apps)),
        clock=clock,
    )
    dp = FakeDatapath()
    for _ in range(rounds):
        for app, priority, port, match in (first, second):
            engine.flow_mod(dp, app, flow_mod(dp, priority, output(port), **match))
            clock.now += 0.1
    return sent, alerts, engine


def test_a_fight_over_one_match_is_damped(arbiter):
    """Equal rank: each re-assertion overrides the other's rule. After two changes of
    hands the region is damped, one alert is raised, and from then on the switch gets
    nothing: 100 proposals cost a handful of flow-mods."""
    match = dict(eth_type=0x800, ipv4_dst='10.0.0.100')
    sent, alerts, engine = fight('', ('a', 100, 2, match), ('b', 100, 3, match))
    assert len(alerts) == 1 and alerts[0][1] == {'a', 'b'}
    assert len(sent) <= 8, [m.command for m in sent]
    ((region, kept),) = [(d['match'], d['kept']) for d in engine.damped()]
    assert engine.rule_counts() == {kept: {1: 1}}


def test_a_fight_over_overlapping_matches_is_damped(arbiter):
    """a steers 10.0.0.0/24 out of port 2, b steers 10.0.0.100 out of port 3, each
    re-asserting ten times a second. They meet on 10.0.0.100, which is damped there with
    one alert; a, the policy's winner, keeps its rule, b is held back, and the switch
    stops getting flow-mods."""
    sent, alerts, engine = fight(
        'order: [a, b]\n',
        ('a', 100, 2, dict(eth_type=0x800, ipv4_dst=('10.0.0.0', '255.255.255.0'))),
        ('b', 100, 3, dict(eth_type=0x800, ipv4_dst='10.0.0.100')),
    )
    assert len(alerts) == 1, alerts
    region, apps = alerts[0]
    assert apps == {'a', 'b'} and 'ipv4_dst=10.0.0.100' in str(region[2]).replace("'", ''), region
    assert len(sent) <= 8, [m.command for m in sent]
    assert engine.rule_counts() == {'a': {1: 1}}
    assert [d['kept'] for d in engine.damped()] == ['a']


def test_a_fight_long_over_is_forgotten():
    """Once a damped region's penalty has decayed, its state goes (the next proposal
    after FORGET_QUIET_EVERY_S clears it): the table is uncontested again."""
    match = dict(eth_type=0x800, ipv4_dst='10.0.0.100')
    sent, alerts, engine = fight('', ('a', 100, 2, match), ('b', 100, 3, match))
    assert engine.damper.regions_in((1, 0))
    engine.clock.now += 3600
    dp = FakeDatapath()
    engine.flow_mod(dp, 'a', flow_mod(dp, 100, output(2), eth_type=0x800, ipv4_dst='10.0.0.7'))
    assert not engine.damper.regions_in((1, 0)) and engine.damped() == []
