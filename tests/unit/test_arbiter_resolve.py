"""controller/arbiter/resolve.py: who wins where two apps' rules overlap, where the
proposal is placed, and the policy clause that decided."""

from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.arbiter.match import TernaryMatch
from controller.arbiter.policy import load_arbiter_policy_text
from controller.arbiter.resolve import Outcome, resolve, rights_violation, verdict
from controller.arbiter.rules import Rule, actions_key, classify

POLICY = load_arbiter_policy_text(
    """\
order: [firewall, router, switch]
apps:
  firewall: {security: true}
  guest:
    flowspace: [{eth_type: 0x800, ipv4_dst: 10.0.0.0/24}]
    may: [output]
    max_rules: 2
overrides:
  - {match: {eth_type: 0x800, ipv4_dst: 10.9.0.0/16}, winner: switch}
""",
    'p.yaml',
)


def output(port):
    return actions_key(
        [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [parser.OFPActionOutput(port)])]
    )


DROP = actions_key([])
TO_CONTROLLER = actions_key(
    [
        parser.OFPInstructionActions(
            ofp.OFPIT_APPLY_ACTIONS, [parser.OFPActionOutput(ofp.OFPP_CONTROLLER, 128)]
        )
    ]
)


def rule(app, priority, actions, **match):
    return Rule(
        app=app,
        dpid=1,
        table_id=0,
        priority=priority,
        match=TernaryMatch.of(**match),
        actions=actions,
    )


def decide(proposed, *installed, own=()):
    conflicts = [(r, classify(proposed, r)) for r in installed if classify(proposed, r) is not None]
    return resolve(proposed, conflicts, POLICY, own)


WEB = dict(eth_type=0x800, ipv4_dst='10.0.0.80')
NET = dict(eth_type=0x800, ipv4_dst=('10.0.0.0', '255.255.255.0'))


def test_no_overlap_or_the_same_actions_install_as_asked():
    assert decide(rule('switch', 10, output(2), **WEB)).outcome is Outcome.INSTALL
    same = decide(rule('switch', 10, output(2), **WEB), rule('router', 50, output(2), **NET))
    assert same.outcome is Outcome.INSTALL and same.clause == 'no conflict'


def test_the_order_puts_the_winner_above_the_loser():
    # The loser proposes above the winner's overlapping rule: it is moved below it.
    loser = decide(rule('switch', 100, output(3), **NET), rule('router', 50, output(2), **WEB))
    assert loser.outcome is Outcome.REWRITE and loser.placed.priority == 49
    assert loser.clause == 'order (p.yaml:1) router before switch'
    # The winner proposes below the loser's rule: it is moved above it.
    winner = decide(rule('router', 10, output(2), **WEB), rule('switch', 100, output(3), **NET))
    assert winner.outcome is Outcome.REWRITE and winner.placed.priority == 101
    assert winner.evict == ()


def test_a_loser_covered_by_the_winner_is_held_back():
    held = decide(rule('switch', 100, output(3), **WEB), rule('router', 50, output(2), **NET))
    assert held.outcome is Outcome.HOLD and held.placed is None
    assert 'covers it and wins' in held.reason and held.clause.startswith('order')


def test_a_winner_covering_a_loser_evicts_it():
    same = decide(rule('router', 100, output(2), **WEB), rule('switch', 100, output(3), **WEB))
    assert same.outcome is Outcome.INSTALL
    assert [r.app for r in same.evict] == ['switch']


def test_deny_wins_for_a_security_app_over_the_order():
    deny = rule('firewall', 5, DROP, **WEB)
    allow = rule('router', 10, output(2), **NET)
    decision = decide(allow, deny)
    assert decision.outcome is Outcome.REWRITE and decision.placed.priority == 4
    assert decision.clause == 'apps.firewall.security (p.yaml:3) deny wins'
    # A drop by an app that is not a security app is just a rule: the order decides.
    assert verdict(rule('switch', 5, DROP, **WEB), allow, None, POLICY).clause.startswith('order')


def test_an_override_beats_the_order_in_its_region():
    inside = dict(eth_type=0x800, ipv4_dst='10.9.1.1')
    decision = decide(
        rule('switch', 10, output(3), **inside), rule('router', 50, output(2), **inside)
    )
    assert decision.outcome is Outcome.INSTALL and decision.evict
    assert decision.clause == 'overrides.0 (p.yaml:9)'


def test_table_miss_rules_are_defaults_not_claims():
    miss = rule('firewall', 0, TO_CONTROLLER)
    decision = decide(rule('switch', 1, output(2), in_port=1, eth_dst='00:00:00:00:00:02'), miss)
    assert decision.outcome is Outcome.INSTALL
    assert decision.clause == 'table-miss rules are defaults'


def test_no_priority_below_a_winner_holds_the_proposal():
    floor = rule('router', 0, output(2), eth_type=0x800)
    decision = decide(
        rule('switch', 10, output(3), ipv4_dst='10.0.0.1', eth_type=0x800, in_port=1),
        rule('router', 0, output(2), eth_type=0x800, in_port=1),
    )
    assert decision.outcome is Outcome.HOLD
    assert floor.match.covers(decision.rule.match)


def test_the_app_keeps_the_order_of_its_own_overlapping_rules():
    # switch's own rule at asked priority 20 was installed at 30: a new rule it asked
    # above 20 must stay above 30, whereas the router's TCP rule only forces it below 60.
    own = [(rule('switch', 30, output(4), **NET), 20)]
    decision = decide(
        rule('switch', 25, output(3), **WEB),
        rule('router', 60, output(2), eth_type=0x800, ip_proto=6),
        own=own,
    )
    assert decision.outcome is Outcome.REWRITE and decision.placed.priority == 31
    assert decision.clause == "order of switch's own rules"


def test_rights_flowspace_may_and_budget():
    inside = rule('guest', 10, output(2), **WEB)
    assert rights_violation(inside, POLICY, installed_count=1) is None
    clause, reason = rights_violation(
        rule('guest', 10, output(2), eth_type=0x800, ipv4_dst='192.168.0.1'), POLICY
    )
    assert clause == 'apps.guest.flowspace (p.yaml:5)' and 'outside the flowspace' in reason
    clause, reason = rights_violation(rule('guest', 10, DROP, **WEB), POLICY)
    assert clause == 'apps.guest.may (p.yaml:6)' and 'may not drop' in reason
    clause, reason = rights_violation(rule('guest', 10, TO_CONTROLLER, **WEB), POLICY)
    assert 'may not controller' in reason
    clause, reason = rights_violation(inside, POLICY, installed_count=2)
    assert clause == 'apps.guest.max_rules (p.yaml:7)' and 'budget is 2' in reason
    assert rights_violation(rule('switch', 10, DROP, **WEB), POLICY) is None
