"""N-version voting: controller/arbiter/voting.py's ballots (pure), the policy's
``voting`` groups, and the arbiter sending only what a majority of a group proposes."""

import pytest
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.arbiter.engine import Arbiter
from controller.arbiter.match import TernaryMatch
from controller.arbiter.policy import load_arbiter_policy_text
from controller.arbiter.resolve import Outcome
from controller.arbiter.rules import actions_key
from controller.arbiter.voting import (
    Elections,
    VotingGroup,
    behaviour,
    behaviour_text,
    packet_ballot,
    rule_ballot,
)
from controller.config import ConfigError
from tests.harness.fakes import FakeDatapath

MEMBERS = ('simple_switch_13', 'learning_replica', 'misrouting_replica')
GROUP = VotingGroup('l2', MEMBERS, quorum=2, window=0.5, match_on=('eth_dst',), clause='v')
A, B = '00:00:00:00:00:01', '00:00:00:00:00:02'


def actions(*acts, goto=None):
    instructions = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, list(acts))]
    if goto is not None:
        instructions.append(parser.OFPInstructionGotoTable(goto))
    return behaviour(actions_key(instructions))


def out(port, max_len=ofp.OFPCML_NO_BUFFER):
    return parser.OFPActionOutput(port, max_len)


def ballot(**match):
    return rule_ballot(GROUP, 1, 0, TernaryMatch.of(**match))


# --- equivalence -------------------------------------------------------------------------


def test_equivalence_is_on_forwarding_not_on_how_a_rule_is_written():
    # simple_switch_13's rule and a replica's: other fields, max_len, a goto aside.
    assert ballot(in_port=1, eth_src=A, eth_dst=B) == ballot(eth_dst=B)
    assert actions(out(2)) == actions(out(2, 128), goto=3)
    assert ballot(eth_dst=B) != ballot(eth_dst=A)
    assert actions(out(2)) != actions(out(3))
    assert actions(out(2)) != actions(out(ofp.OFPP_IN_PORT))
    assert actions(out(2), out(3)) == actions(out(3), out(2))  # a set of ports
    rewrite = parser.OFPActionSetField(eth_dst=A)
    assert actions(rewrite, out(2)) != actions(out(2))
    assert behaviour_text(actions(out(ofp.OFPP_FLOOD))) == 'output:FLOOD'
    assert behaviour_text(actions(out(ofp.OFPP_CONTROLLER))) == 'output:controller'
    assert behaviour_text(actions()) == 'drop'
    everything = VotingGroup('all', MEMBERS, 2)  # no match_on: every field compared
    assert rule_ballot(everything, 1, 0, TernaryMatch.of(in_port=1, eth_dst=B)) != rule_ballot(
        everything, 1, 0, TernaryMatch.of(eth_dst=B)
    )


# --- ballots -----------------------------------------------------------------------------


def test_a_majority_carries_the_first_agreeing_members_proposal_and_refuses_the_dissent():
    votes = Elections([GROUP])
    key = ballot(eth_dst=B)
    wrong = votes.cast(key, 'misrouting_replica', actions(out(ofp.OFPP_IN_PORT)), 'w', 0.0)
    replica = votes.cast(key, 'learning_replica', actions(out(2)), 'r', 0.1)
    assert not (wrong.carried or wrong.agreed or wrong.refused)  # waiting
    assert not replica.carried and not replica.refused  # still one vote each
    ss13 = votes.cast(key, 'simple_switch_13', actions(out(2)), 's', 0.2)
    assert ss13.carried == [('simple_switch_13', 's')]  # first agreeing in the group's order
    assert ss13.agreed == [('learning_replica', 'r', 'simple_switch_13')]
    ((who, what, why),) = ss13.refused
    assert (who, what) == ('misrouting_replica', 'w')
    assert 'outvoted in l2' in why and 'output:IN_PORT' in why and 'output:2' in why
    (record,) = votes.records
    assert record.outcome == 'carried' and record.carrier == 'simple_switch_13'
    assert record.dissent == ('misrouting_replica',)
    assert record.votes['misrouting_replica'] == 'output:IN_PORT'
    view = votes.view()
    assert view['disagreements'][0]['dissent'] == ['misrouting_replica']
    assert view['groups']['l2']['counts'] == {
        'rule carried': 1,
        'rule dissent:misrouting_replica': 1,
    }


def test_votes_after_the_decision_are_settled_at_once():
    votes = Elections([GROUP])
    key = ballot(eth_dst=B)
    votes.cast(key, 'learning_replica', actions(out(2)), 'r1', 0.0)
    carried = votes.cast(key, 'misrouting_replica', actions(out(2)), 'm1', 0.1)
    assert carried.carried == [('learning_replica', 'r1')]  # ss13 has not voted: next agreeing
    late = votes.cast(key, 'simple_switch_13', actions(out(2)), 's1', 0.2)
    assert late.agreed == [('simple_switch_13', 's1', 'learning_replica')]
    again = votes.cast(key, 'learning_replica', actions(out(2)), 'r2', 5.0)
    assert again.carried == [('learning_replica', 'r2')]  # the carrier's next rule goes at once
    dissent = votes.cast(key, 'misrouting_replica', actions(out(3)), 'm2', 5.1)
    assert dissent.refused and not dissent.carried
    (record,) = votes.records  # the late votes are in the ballot's record
    assert record.votes == {
        'learning_replica': 'output:2',
        'misrouting_replica': 'output:3',
        'simple_switch_13': 'output:2',
    }
    assert record.dissent == ('misrouting_replica',)
    assert votes.view()['disagreements'][0]['dissent'] == ['misrouting_replica']


def test_a_new_majority_carries_the_new_behaviour():
    """A host moved: two members now send B's frames out of port 3."""
    votes = Elections([GROUP])
    key = ballot(eth_dst=B)
    votes.cast(key, 'simple_switch_13', actions(out(2)), 's1', 0.0)
    votes.cast(key, 'learning_replica', actions(out(2)), 'r1', 0.0)
    moved = votes.cast(key, 'learning_replica', actions(out(3)), 'r2', 9.0)
    assert moved.refused and not moved.carried  # the decision stands: one vote for port 3
    carried = votes.cast(key, 'simple_switch_13', actions(out(3)), 's2', 9.1)
    assert carried.carried == [('simple_switch_13', 's2')]  # but the vote counted
    assert [r.outcome for r in votes.records] == ['carried', 'carried']


def test_no_majority_within_the_window_refuses_every_proposal():
    votes = Elections([GROUP])
    key = ballot(eth_dst=B)
    votes.cast(key, 'simple_switch_13', actions(out(2)), 's', 0.0)
    votes.cast(key, 'misrouting_replica', actions(out(3)), 'm', 0.1)
    assert not votes.expire(0.4).refused  # the window is not over
    expired = votes.expire(0.6)
    assert sorted((m, p) for m, p, _ in expired.refused) == [
        ('misrouting_replica', 'm'),
        ('simple_switch_13', 's'),
    ]
    assert 'no majority in l2 within 0.5s' in expired.refused[0][2]
    assert not votes.ballots
    (record,) = votes.records
    assert record.outcome == 'no majority' and record.dissent == (
        'misrouting_replica',
        'simple_switch_13',
    )


def test_packet_out_ballots_are_counted_not_recorded_and_end_with_their_window():
    votes = Elections([GROUP])
    key = packet_ballot(GROUP, 1, 1, b'frame')
    votes.cast(key, 'simple_switch_13', actions(out(2)), 's', 0.0)
    done = votes.cast(key, 'learning_replica', actions(out(2)), 'r', 0.0)
    assert done.carried == [('simple_switch_13', 's')]
    assert not votes.records and votes.stats[('l2', 'carried', 'packet')] == 1
    votes.expire(1.0)
    assert not votes.ballots


def test_a_group_of_two_needs_both():
    pair = VotingGroup('pair', ('a', 'b'), quorum=2)
    votes = Elections([pair])
    key = rule_ballot(pair, 1, 0, TernaryMatch.of(eth_dst=B))
    assert not votes.cast(key, 'a', actions(out(2)), 'a1', 0.0).carried
    assert not votes.cast(key, 'b', actions(out(3)), 'b1', 0.0).carried
    assert len(votes.expire(2.0).refused) == 2


# --- the policy ------------------------------------------------------------------------------


def test_the_policy_declares_voting_groups():
    policy = load_arbiter_policy_text(
        'voting:\n  l2:\n    members: [a, b, c]\n    window: 0.25\n    match_on: [eth_dst]\n',
        'p.yaml',
    )
    (group,) = policy.voting
    assert (group.name, group.members, group.quorum, group.window, group.match_on) == (
        'l2',
        ('a', 'b', 'c'),
        2,
        0.25,
        ('eth_dst',),
    )
    assert group.clause == 'voting.l2 (p.yaml:2)'


@pytest.mark.parametrize(
    'text, message',
    [
        ('voting:\n  l2:\n    members: [a]\n', 'voting.l2.members: expected a list of two or more'),
        (
            'voting:\n  l2:\n    members: [a, b, c]\n    quorum: 1\n',
            'p.yaml:4:13: voting.l2.quorum: 1 is not a majority of the 3 members; expected 2..3',
        ),
        (
            'voting:\n  x: {members: [a, b]}\n  y: {members: [b, c]}\n',
            "voting.y.members.0: app 'b' votes in group 'x' already",
        ),
        (
            'voting:\n  l2:\n    members: [a, b]\n    match_on: [eth_dest]\n',
            'voting.l2.match_on.0: expected an OpenFlow 1.3 match field name',
        ),
        ('voting:\n  l2: {members: [a, b], window: 0}\n', 'voting.l2.window: 0 is out of range'),
        ('voting:\n  l2: {quorum: 2}\n', "voting.l2: missing key 'members'"),
    ],
)
def test_a_wrong_voting_group_is_reported_where_it_is(text, message):
    with pytest.raises(ConfigError) as raised:
        load_arbiter_policy_text(text, 'p.yaml')
    assert message in str(raised.value)


# --- the arbiter ------------------------------------------------------------------------------

POLICY = (
    'voting:\n  l2:\n'
    '    members: [simple_switch_13, learning_replica, misrouting_replica]\n'
    '    window: 0.5\n    match_on: [eth_dst]\n'
)


class Run:
    def __init__(self, policy=POLICY):
        self.now = 0.0
        self.sent, self.told = [], []
        self.engine = Arbiter(
            load_arbiter_policy_text(policy, 'p.yaml'),
            send=lambda dp, msg: self.sent.append(msg),
            notify=lambda app, dp, msg, decision: self.told.append((app, decision)),
            clock=lambda: self.now,
        )
        self.dp = FakeDatapath()

    def add(self, app, port, priority=1, cookie=0, **match):
        msg = parser.OFPFlowMod(
            self.dp,
            cookie=cookie,
            priority=priority,
            match=parser.OFPMatch(**match),
            instructions=[parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [out(port)])],
        )
        self.dp.set_xid(msg)
        self.engine.flow_mod(self.dp, app, msg)
        return msg

    def packet_out(self, app, port, data=b'frame'):
        msg = parser.OFPPacketOut(
            self.dp, ofp.OFP_NO_BUFFER, 1, [parser.OFPActionOutput(port)], data
        )
        self.engine.packet_out(self.dp, app, msg)
        return msg


def test_the_wrong_replicas_rules_never_reach_the_switch():
    run = Run()
    ss13 = run.add('simple_switch_13', 2, in_port=1, eth_src=A, eth_dst=B)
    wrong = run.add('misrouting_replica', ofp.OFPP_IN_PORT, priority=10, eth_dst=B)
    assert run.sent == []  # one vote each: nothing yet
    run.add('learning_replica', 2, priority=10, eth_dst=B)
    assert run.sent == [ss13]  # the carrier's rule, once
    assert run.engine.rule_counts() == {'simple_switch_13': {1: 1}}
    told = {app: d for app, d in run.told}
    assert told['misrouting_replica'].outcome is Outcome.REFUSE
    assert told['learning_replica'].outcome is Outcome.MERGE
    assert told['misrouting_replica'].clause == 'voting.l2 (p.yaml:2)'
    outcomes = {(d.app, d.outcome) for d in run.engine.decisions}
    assert outcomes == {
        ('simple_switch_13', 'install'),
        ('learning_replica', 'merge'),
        ('misrouting_replica', 'refuse'),
    }
    assert wrong not in run.sent
    # Packet-ins of the carried rule's cookie go to every member.
    assert run.engine.packet_in_owners(1, ss13.cookie) == set(MEMBERS)
    # An app outside the group is not voted on.
    other = run.add('rest_firewall', 3, priority=5, eth_dst=A)
    assert run.sent[-1] is other


def test_packet_outs_of_the_group_are_voted_and_sent_once():
    run = Run()
    run.packet_out('misrouting_replica', ofp.OFPP_IN_PORT)
    first = run.packet_out('simple_switch_13', 2)
    assert run.sent == []
    run.packet_out('learning_replica', 2)
    assert run.sent == [first]
    assert run.told == []  # a packet-out is counted, not told
    view = run.engine.elections.view()
    assert view['groups']['l2']['counts']['packet carried'] == 1


def test_the_window_ends_on_the_arbiters_clock():
    run = Run()
    run.add('simple_switch_13', 2, in_port=1, eth_src=A, eth_dst=B)
    run.add('misrouting_replica', ofp.OFPP_IN_PORT, eth_dst=B)
    run.now = 0.6
    run.engine.expire_votes()
    assert run.sent == []
    assert sorted(app for app, d in run.told if d.outcome is Outcome.REFUSE) == [
        'misrouting_replica',
        'simple_switch_13',
    ]
    assert 'no majority' in run.engine.decisions[-1].reason


def test_a_policy_reload_without_the_group_stops_voting():
    run = Run()
    run.add('simple_switch_13', 2, in_port=1, eth_src=A, eth_dst=B)
    run.engine.set_policy(load_arbiter_policy_text('', 'p.yaml'))
    assert not run.engine.elections.ballots
    msg = run.add('simple_switch_13', 3, in_port=2, eth_src=B, eth_dst=A)
    assert run.sent == [msg]


def test_votes_are_served_over_rest():
    from ryu.app.wsgi import WSGIApplication

    from controller.arbiter.rest import DATA_KEY, ArbiterController
    from tests.unit.test_rest_guard import call

    run = Run()
    run.add('simple_switch_13', 2, in_port=1, eth_src=A, eth_dst=B)
    run.add('learning_replica', 2, priority=10, eth_dst=B)
    run.add('misrouting_replica', ofp.OFPP_IN_PORT, priority=10, eth_dst=B)
    app = WSGIApplication()
    app.register(ArbiterController, {DATA_KEY: run.engine})
    reply = call(app, '/arbiter/votes?limit=5')
    assert reply.status_int == 200, reply.body
    (ballot,) = reply.json['disagreements']
    assert ballot['dissent'] == ['misrouting_replica'] and ballot['carrier'] == 'simple_switch_13'
    assert ballot['votes']['misrouting_replica'] == 'output:IN_PORT'
    assert ballot['where'].startswith('dpid=1 table=0 eth_dst=0x2/')
    assert reply.json['groups']['l2']['members'] == list(MEMBERS)
    bad = call(app, '/arbiter/votes?limit=x')
    assert bad.status_int == 400 and 'limit must be an integer' in bad.json['error']
