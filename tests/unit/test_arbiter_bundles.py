"""controller/arbiter/bundles.py: the arbiter opens ONF bundles, arbitrates each inner
flow-mod and group-mod like any other, and keeps the bundle atomic: forwarded with the
arbitrated messages when all of them are installed, refused whole (the arbiter's state
unchanged, the app told as a switch would tell it) when one is refused or held back."""

import pytest
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller import openflow
from controller.arbiter import interpose
from controller.arbiter.bundles import MAX_OPEN_PER_SWITCH
from controller.arbiter.engine import Arbiter
from controller.arbiter.match import TernaryMatch
from controller.arbiter.policy import load_arbiter_policy_text
from controller.arbiter.resolve import Outcome
from controller.bundles import BundleClient
from controller.cookies import APP_IDS, APP_SHIFT
from tests.harness.fakes import FakeDatapath
from tests.harness.interposed import RyuDatapath, interpose_arbiter
from tests.unit.test_bundles import (
    Reply,
    messages,
)  # the wire as controller/bundles.py's tests read it

FLAGS = ofp.ONF_BF_ATOMIC | ofp.ONF_BF_ORDERED
STABLE = APP_IDS['stable_routing']


class Run:
    def __init__(self, policy=''):
        self.sent, self.told = [], []
        self.engine = Arbiter(
            load_arbiter_policy_text(policy, 'p.yaml'),
            send=lambda dp, msg: self.sent.append(msg),
            notify=lambda app, dp, msg, decision: self.told.append((app, msg.xid, decision)),
        )
        self.dp = FakeDatapath()

    def mod(self, app, msg):
        self.dp.set_xid(msg)
        self.engine.flow_mod(self.dp, app, msg)

    def bundle(self, app, msgs, bundle_id=7):
        """Send ``msgs`` as one bundle of ``app``; returns (open, adds, commit)."""
        dp = self.dp
        opened = parser.ONFBundleCtrlMsg(dp, bundle_id, ofp.ONF_BCT_OPEN_REQUEST, FLAGS, [])
        adds = [parser.ONFBundleAddMsg(dp, bundle_id, FLAGS, msg, []) for msg in msgs]
        commit = parser.ONFBundleCtrlMsg(dp, bundle_id, ofp.ONF_BCT_COMMIT_REQUEST, FLAGS, [])
        for msg in [opened, *adds, commit]:
            dp.set_xid(msg)
            self.engine.bundles.message(dp, app, msg)
        return opened, adds, commit


def route(dp, dst, port, priority=10, command=ofp.OFPFC_ADD):
    return parser.OFPFlowMod(
        dp,
        cookie=0x5,
        table_id=0,
        command=command,
        priority=priority,
        match=parser.OFPMatch(eth_type=0x800, ipv4_dst=dst),
        instructions=[
            parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [parser.OFPActionOutput(port)])
        ],
        out_port=ofp.OFPP_ANY,
        out_group=ofp.OFPG_ANY,
    )


def kinds(sent):
    """What went to the switch: ('open'|'commit'|'discard', bundle id) or ('add', inner)."""
    names = {
        ofp.ONF_BCT_OPEN_REQUEST: 'open',
        ofp.ONF_BCT_COMMIT_REQUEST: 'commit',
        ofp.ONF_BCT_DISCARD_REQUEST: 'discard',
    }
    out = []
    for msg in sent:
        if isinstance(msg, parser.ONFBundleAddMsg):
            out.append(('add', msg.message))
        elif isinstance(msg, parser.ONFBundleCtrlMsg):
            out.append((names[msg.type], msg.bundle_id))
        else:
            out.append(('plain', msg))
    return out


def test_a_bundle_all_installed_goes_to_the_switch_arbitrated_with_the_apps_xids():
    run = Run()
    dp = run.dp
    opened, adds, commit = run.bundle(
        'stable_routing', [route(dp, '10.0.0.1', 2), route(dp, '10.0.0.2', 3)]
    )
    sent = kinds(run.sent)
    assert [k for k, _ in sent] == ['open', 'add', 'add', 'commit']
    assert run.sent[0] is opened and run.sent[-1] is commit
    for (_, inner), add, msg in zip(sent[1:3], adds, run.sent[1:3], strict=True):
        assert inner.cookie >> APP_SHIFT == STABLE  # in the app's range
        assert msg.xid == add.xid == inner.xid  # errors come back with the app's xids
    # Serialized as the switch reads it: the inner flow-mod whole after the add's header.
    wire = bytes(run.sent[1].buf)
    again = interpose._parse_bundle(dp, wire)
    assert again.bundle_id == 7 and again.flags == FLAGS
    assert again.message.cookie == sent[1][1].cookie and again.message.priority == 10
    assert run.engine.rule_counts() == {'stable_routing': {1: 2}}
    assert [d.outcome for d in run.engine.decisions] == ['install', 'install']
    assert run.told == [] and run.engine.bundles.committed == 1
    assert not run.engine.bundles.open


def test_one_refused_message_refuses_the_whole_bundle_and_leaves_no_trace():
    run = Run('apps: {stable_routing: {flowspace: [{eth_type: 0x800, ipv4_dst: 10.0.0.0/24}]}}\n')
    dp = run.dp
    run.mod('stable_routing', route(dp, '10.0.0.9', 4))  # in force before the bundle
    before_counts = run.engine.rule_counts()
    before_decisions = [d.as_dict() for d in run.engine.decisions]
    run.sent.clear()
    opened, adds, commit = run.bundle(
        'stable_routing',
        [
            route(dp, '10.0.0.9', 0, command=ofp.OFPFC_DELETE_STRICT),  # the old epoch's
            route(dp, '10.0.0.1', 2),
            route(dp, '10.0.1.1', 3),  # outside its flowspace
        ],
    )
    assert kinds(run.sent) == [('open', 7), ('discard', 7)]  # nothing applied
    assert run.engine.rule_counts() == before_counts  # the deleted rule is still known
    assert run.engine.index.count(app='stable_routing', dpid=1) == 1
    # Told as a switch tells a failed atomic bundle: the message's xid, then the commit's.
    (refused, whole) = run.told
    assert refused[0] == 'stable_routing' and refused[1] == adds[2].xid
    assert refused[2].outcome is Outcome.REFUSE and 'flowspace' in refused[2].clause
    assert whole[1] == commit.xid and whole[2].clause == 'bundles are atomic'
    assert 'refused whole: 1 of its 3 messages' in whole[2].reason
    decisions = [d.as_dict() for d in run.engine.decisions]
    assert decisions[: len(before_decisions)] == before_decisions
    assert [(d['command'], d['outcome']) for d in decisions[len(before_decisions) :]] == [
        ('add', 'refuse'),
        ('bundle', 'refuse'),
    ]
    assert run.engine.bundles.refused == 1


def test_a_rewritten_message_goes_in_the_bundle_at_its_new_priority():
    run = Run('order: [rest_firewall, stable_routing]\n')
    dp = run.dp
    run.mod('rest_firewall', route(dp, '10.0.0.1', 3))
    run.sent.clear()
    _, adds, _ = run.bundle('stable_routing', [route(dp, '10.0.0.0/24', 2)])
    sent = kinds(run.sent)
    assert [k for k, _ in sent] == ['open', 'add', 'commit']
    assert sent[1][1].priority < 10  # under the firewall's rule that beats it
    ((app, xid, decision),) = run.told  # told after the commit, as usual
    assert (app, xid, decision.outcome) == ('stable_routing', adds[0].xid, Outcome.REWRITE)


def test_a_message_held_back_refuses_the_bundle_and_is_not_kept_held():
    run = Run('order: [rest_firewall, stable_routing]\n')
    dp = run.dp
    run.mod('rest_firewall', route(dp, '10.0.0.1', 3))
    run.sent.clear()
    run.bundle('stable_routing', [route(dp, '10.0.0.2', 2), route(dp, '10.0.0.1', 2)])
    assert kinds(run.sent) == [('open', 7), ('discard', 7)]
    assert not run.engine.held  # a bundle is not held half
    assert run.engine.rule_counts() == {'rest_firewall': {1: 1}}
    refused, whole = run.told
    assert refused[2].outcome is Outcome.REFUSE and 'atomic bundle' in refused[2].reason


def test_an_eviction_goes_into_the_same_bundle():
    run = Run('order: [stable_routing, rest_firewall]\n')
    dp = run.dp
    run.mod('rest_firewall', route(dp, '10.0.0.1', 3))
    firewall_cookie = run.sent[0].cookie
    run.sent.clear()
    run.bundle('stable_routing', [route(dp, '10.0.0.0/24', 2)])
    sent = kinds(run.sent)
    assert sent[0] == ('open', 7) and sent[-1] == ('commit', 7)
    inner = [m for k, m in sent if k == 'add']
    deletes = [m for m in inner if m.command == ofp.OFPFC_DELETE_STRICT]
    assert [m.cookie for m in deletes] == [firewall_cookie]  # applied with the winner
    assert any(m.command == ofp.OFPFC_ADD and m.cookie >> APP_SHIFT == STABLE for m in inner)
    assert [h.rule.app for h in run.engine.held.values()] == ['rest_firewall']


def test_a_group_mod_of_another_apps_group_refuses_the_bundle():
    run = Run()
    dp = run.dp
    run.engine.group_mod(dp, 'l2_learning', openflow.failover_group(dp, 5, (1, 2)))
    run.sent.clear()
    run.bundle('stable_routing', [openflow.failover_group(dp, 5, (3, 4)), route(dp, '10.0.0.1', 5)])
    assert kinds(run.sent) == [('open', 7), ('discard', 7)]
    assert run.engine.groups == {(1, 5): 'l2_learning'}
    assert run.engine.rule_counts() == {}
    assert [d['command'] for d in (d.as_dict() for d in run.engine.decisions)][-2:] == [
        'group_mod',
        'bundle',
    ]


def test_messages_of_a_bundle_not_opened_by_the_app_are_refused():
    run = Run()
    dp = run.dp
    opened = parser.ONFBundleCtrlMsg(dp, 3, ofp.ONF_BCT_OPEN_REQUEST, FLAGS, [])
    dp.set_xid(opened)
    run.engine.bundles.message(dp, 'l2_learning', opened)
    add = parser.ONFBundleAddMsg(dp, 3, FLAGS, route(dp, '10.0.0.1', 2), [])
    dp.set_xid(add)
    run.engine.bundles.message(dp, 'simple_switch_13', add)  # into another app's bundle
    commit = parser.ONFBundleCtrlMsg(dp, 9, ofp.ONF_BCT_COMMIT_REQUEST, FLAGS, [])
    dp.set_xid(commit)
    run.engine.bundles.message(dp, 'simple_switch_13', commit)  # of no bundle
    assert kinds(run.sent) == [('open', 3)]
    assert [(app, xid) for app, xid, _ in run.told] == [
        ('simple_switch_13', add.xid),
        ('simple_switch_13', commit.xid),
    ]
    assert all(d.outcome is Outcome.REFUSE for _, _, d in run.told)
    discard = parser.ONFBundleCtrlMsg(dp, 3, ofp.ONF_BCT_DISCARD_REQUEST, FLAGS, [])
    run.engine.bundles.message(dp, 'l2_learning', discard)
    assert not run.engine.bundles.open and kinds(run.sent)[-1] == ('discard', 3)


def test_open_bundles_are_bounded_per_switch_and_forgotten_with_it():
    run = Run()
    dp = run.dp
    for bundle_id in range(MAX_OPEN_PER_SWITCH + 1):
        opened = parser.ONFBundleCtrlMsg(dp, bundle_id, ofp.ONF_BCT_OPEN_REQUEST, FLAGS, [])
        dp.set_xid(opened)
        run.engine.bundles.message(dp, 'stable_routing', opened)
    assert len(run.engine.bundles.open) == MAX_OPEN_PER_SWITCH
    assert [d.outcome for _, _, d in run.told] == [Outcome.REFUSE]
    run.engine.switch_gone(dp.id)
    assert not run.engine.bundles.open


@pytest.fixture
def interposed(monkeypatch):
    told = []
    engine = interpose_arbiter(
        monkeypatch,
        'apps: {unknown: {flowspace: [{eth_type: 0x800, ipv4_dst: 10.0.0.0/24}]}}\n',
        notify=lambda app, dp, msg, decision: told.append((msg.xid, decision)),
    )
    return engine, RyuDatapath(1), told


def test_bundle_client_bundles_are_arbitrated_through_the_interposition(interposed):
    """controller/bundles.py's BundleClient, as stable_routing uses it: an accepted
    bundle is written in one buffer with its barrier; a refused one is told with xids
    of the transaction, which then ends failed, as when a switch refuses."""
    engine, dp, told = interposed
    client = BundleClient()
    transaction = client.send(dp, [route(dp, '10.0.0.1', 2), route(dp, '10.0.0.2', 3)])
    ((buffer, _),) = dp.send_q
    control = [ctrl for _, _, _, ctrl in messages(buffer)]
    assert control == [ofp.ONF_BCT_OPEN_REQUEST, None, None, ofp.ONF_BCT_COMMIT_REQUEST, None]
    assert messages(buffer)[-1][0] == ofp.OFPT_BARRIER_REQUEST
    assert {xid for _, xid, _, _ in messages(buffer)} == {x for _, x in transaction.keys}
    assert engine.rule_counts() == {'unknown': {1: 2}}

    dp.send_q.clear()
    refused = client.send(dp, [route(dp, '10.0.0.3', 2), route(dp, '10.9.0.1', 2)])
    ((buffer, _),) = dp.send_q
    written = messages(buffer)
    assert [ctrl for _, _, _, ctrl in written] == [
        ofp.ONF_BCT_OPEN_REQUEST,
        ofp.ONF_BCT_DISCARD_REQUEST,
        None,  # the barrier
    ]
    assert engine.rule_counts() == {'unknown': {1: 2}}
    keys = {xid for _, xid in refused.keys}
    assert len(told) == 2 and {xid for xid, _ in told} <= keys
    for xid, _ in told:  # what apps/arbiter.py delivers as errors to the app
        client.on_error(Reply(dp, xid, ofp.OFPET_FLOW_MOD_FAILED, ofp.OFPFMFC_EPERM))
    client.on_barrier_reply(Reply(dp, written[-1][1]))
    assert refused.answered and not refused.ok


def test_bundles_written_as_bytes_are_opened_too(interposed):
    engine, dp, _ = interposed
    out = [
        parser.ONFBundleCtrlMsg(dp, 4, ofp.ONF_BCT_OPEN_REQUEST, FLAGS, []),
        parser.ONFBundleAddMsg(dp, 4, FLAGS, route(dp, '10.0.0.7', 2), []),
        parser.ONFBundleCtrlMsg(dp, 4, ofp.ONF_BCT_COMMIT_REQUEST, FLAGS, []),
    ]
    for msg in out:
        dp.set_xid(msg)
        msg.serialize()
    dp.send(b''.join(bytes(msg.buf) for msg in out))
    assert engine.rule_counts() == {'unknown': {1: 1}}
    (rule,) = engine.index.rules_of('unknown', 1)
    assert rule.match == TernaryMatch.of(eth_type=0x800, ipv4_dst='10.0.0.7')
