"""The consistent update (controller/stable/update.py) against fake switches: what goes
into which phase, a phase refused or never confirmed, the drain and the cleanup, a switch
that disconnects mid-update, a reconnected switch whose rules are unknown. The bundles
are answered at once (tests/harness/stable_fakes.py); the Mininet tests
(tests/mininet/test_stable_routing.py) run the same protocol on Open vSwitch."""

import logging
import time
from time import perf_counter

import pytest
from ryu.ofproto import ofproto_v1_3 as ofp

from controller.stable import pipeline as pipe
from controller.stable.epochs import EpochRecord
from controller.stable.sft import compute_sft
from controller.stable.update import SwitchRules, Updater, plan_update
from tests.harness.fakes import FakeDatapath
from tests.harness.stable_fakes import LINE, TRIANGLE, FakeBundles, fields, flow_mods, group_mods

DRAIN = 0.5


class Fabric:
    """Three connected fake switches and an Updater sending them FakeBundles. ``slept``
    holds (seconds, bundles sent by then) of every sleep; ``during_drain`` runs in it."""

    def __init__(self):
        self.switches = {dpid: SwitchRules(FakeDatapath(dpid)) for dpid in (1, 2, 3)}
        self.bundles = FakeBundles()
        self.slept, self.during_drain = [], None
        self.updater = Updater(
            self.bundles.send,
            self._sleep,
            lambda sw: self.switches.get(sw.dp.id) is sw,
            install_timeout=0.1,
            drain_time=DRAIN,
            logger=logging.getLogger('test_stable_update'),
        )
        self.last_epoch = 0

    def _sleep(self, seconds):
        self.slept.append((seconds, len(self.bundles.sent)))
        if self.during_drain:
            self.during_drain()

    def epoch(self, snapshot):
        """Install the next epoch of ``snapshot`` on the connected switches; its record."""
        self.last_epoch += 1
        record = EpochRecord(self.last_epoch, time.time(), [])
        targets = [
            self.switches[dpid] for dpid in sorted(snapshot.switches) if dpid in self.switches
        ]
        plan = plan_update(record.number, snapshot, compute_sft(snapshot), targets)
        if self.updater.stamp(record, plan, started=perf_counter()):
            self.updater.retire(record, plan)
        return record


@pytest.fixture
def fabric():
    return Fabric()


def test_an_update_goes_in_three_phases_and_new_links_are_admitted_first(fabric):
    first = fabric.epoch(LINE)
    assert first.state == 'installed'
    calls = len(fabric.bundles.sent)
    second = fabric.epoch(TRIANGLE)
    assert second.state == 'installed'
    assert second.install_ms > 0 and second.cleanup_ms >= 0
    internal, ingress, cleanup = fabric.bundles.phases(calls)

    # Phase 1: every switch gets the forward rules of the new version, and s1 and s3
    # admit tagged frames on the new link (port 3) before anyone stamps the version.
    vid = pipe.VID_PRESENT | pipe.version_of(second.number)
    for dpid in (1, 2, 3):
        routes = flow_mods(internal[dpid], pipe.FORWARD_TABLE)
        assert routes and {fields(m)['vlan_vid'] for m in routes} == {vid}
        assert not flow_mods(internal[dpid], pipe.INGRESS_TABLE)
    for dpid in (1, 3):
        admitted = flow_mods(internal[dpid], pipe.ADMISSION_TABLE)
        assert [(fields(m)['in_port'], m.cookie) for m in admitted] == [
            (3, pipe.COOKIES.cookie(pipe.LINK))
        ]
        assert [
            fields(m)
            for m in flow_mods(internal[dpid], pipe.ADMISSION_TABLE, ofp.OFPFC_DELETE_STRICT)
        ] == [{'in_port': 3}]
    assert not flow_mods(internal[2], pipe.ADMISSION_TABLE)

    # Phase 2: the ingress rule stamps the new version; the link admission is not sent
    # again (phase 1 put it there).
    for dpid in (1, 2, 3):
        stamps = flow_mods(ingress[dpid], pipe.INGRESS_TABLE)
        assert [m.cookie for m in stamps] == [pipe.epoch_cookie(pipe.INGRESS, second.number)]
        assert all(
            fields(m).get('vlan_vid') != pipe.TAGGED
            for m in flow_mods(ingress[dpid], pipe.ADMISSION_TABLE)
        )

    # Phase 3: the previous epoch's forward rules go.
    for dpid in (1, 2, 3):
        deleted = flow_mods(cleanup[dpid], pipe.FORWARD_TABLE, ofp.OFPFC_DELETE)
        assert [m.cookie for m in deleted] == [pipe.epoch_cookie(pipe.ROUTE, first.number)]


def test_a_refused_phase_1_leaves_the_epoch_in_force(fabric):
    """s2 refuses the new epoch's forward rules: no switch is told to stamp the new
    version, the half-installed rules are deleted everywhere, and the next epoch
    rewrites the port rules of every switch in full."""
    fabric.epoch(LINE)
    calls = len(fabric.bundles.sent)
    fabric.bundles.refuse = {calls + 1}  # s2's bundle of phase 1
    record = fabric.epoch(TRIANGLE)
    assert record.state == 'failed'
    assert record.problems == ['internal rules not confirmed by every switch']
    assert len(fabric.bundles.sent) == calls + 3  # phase 1 only
    for sw in fabric.switches.values():
        (deleted,) = [m for m in sw.dp.sent if m.command == ofp.OFPFC_DELETE]
        assert (deleted.table_id, deleted.cookie) == (
            pipe.FORWARD_TABLE,
            pipe.epoch_cookie(pipe.ROUTE, record.number),
        )
        assert sw.port_rules is None
    fabric.bundles.refuse = set()
    again = fabric.epoch(TRIANGLE)
    assert again.state == 'installed'
    _, ingress, _ = fabric.bundles.phases(calls + 3)
    for dpid in (1, 2, 3):
        wiped = flow_mods(ingress[dpid], command=ofp.OFPFC_DELETE)
        assert {pipe.COOKIES.kind_of(m.cookie) for m in wiped} == {
            pipe.LINK,
            pipe.HOST,
            pipe.FLOOD,
            pipe.INGRESS,
        }


def test_a_link_no_longer_routed_admits_tagged_frames_until_phase_3(fabric):
    """s1:3 - s3:3 goes: frames of the previous epoch may still cross it after some
    switches stamp the new version, so s1 and s3 keep admitting tagged frames on port 3
    through phase 2 and stop in phase 3."""
    fabric.epoch(TRIANGLE)
    calls = len(fabric.bundles.sent)
    record = fabric.epoch(LINE)
    assert record.state == 'installed'
    internal, ingress, cleanup = fabric.bundles.phases(calls)
    tagged_on_3 = {'in_port': 3, 'vlan_vid': pipe.TAGGED}
    for dpid in (1, 3):
        assert tagged_on_3 not in [
            fields(m)
            for m in flow_mods(ingress[dpid], pipe.ADMISSION_TABLE, ofp.OFPFC_DELETE_STRICT)
        ]
        assert tagged_on_3 in [
            fields(m)
            for m in flow_mods(cleanup[dpid], pipe.ADMISSION_TABLE, ofp.OFPFC_DELETE_STRICT)
        ]
        assert fabric.switches[dpid].port_rules == pipe.port_rules(LINE, dpid) | {
            pipe.ingress_rule(record.number)
        }
    assert not flow_mods(cleanup[2], pipe.ADMISSION_TABLE, ofp.OFPFC_DELETE_STRICT)


def test_a_refused_phase_2_leaves_both_epochs_for_the_next_to_finish(fabric):
    """s2 refuses to stamp the new version: nothing is deleted (both epochs' rules are
    everywhere), and the next epoch rewrites every switch's port rules and removes both
    older epochs' forward rules."""
    first = fabric.epoch(LINE)
    calls = len(fabric.bundles.sent)
    fabric.bundles.refuse = {calls + 4}  # s2's bundle of phase 2
    record = fabric.epoch(TRIANGLE)
    assert record.state == 'failed' and record.install_ms == 0
    assert record.problems == ['ingress rules not confirmed by every switch']
    assert len(fabric.bundles.sent) == calls + 6  # phases 1 and 2, no cleanup
    assert fabric.slept == [(DRAIN, 6)]  # only the first epoch's drain
    for sw in fabric.switches.values():
        assert not sw.dp.sent  # no discarding either
        assert sw.port_rules is None
        assert sw.route_epochs == {first.number, record.number}
    fabric.bundles.refuse = set()
    calls = len(fabric.bundles.sent)
    again = fabric.epoch(TRIANGLE)
    assert again.state == 'installed'
    _, ingress, cleanup = fabric.bundles.phases(calls)
    for dpid in (1, 2, 3):
        assert flow_mods(ingress[dpid], command=ofp.OFPFC_DELETE)  # wiped, rewritten
        deleted = flow_mods(cleanup[dpid], pipe.FORWARD_TABLE, ofp.OFPFC_DELETE)
        assert [m.cookie for m in deleted] == [
            pipe.epoch_cookie(pipe.ROUTE, old) for old in (first.number, record.number)
        ]
        assert fabric.switches[dpid].route_epochs == {again.number}


def test_a_switch_that_never_confirms_fails_the_phase(fabric, caplog):
    fabric.bundles.unanswered = {2}  # s3's bundle of phase 1
    with caplog.at_level(logging.ERROR):
        record = fabric.epoch(LINE)
    assert record.state == 'failed'
    assert (
        'epoch 1: switch 0000000000000003 did not confirm internal rules within 0.1s' in caplog.text
    )
    assert len(fabric.bundles.sent) == 3


def test_the_old_rules_go_after_the_drain_and_a_refused_cleanup_is_redone(fabric):
    fabric.epoch(LINE)
    assert fabric.slept == [(DRAIN, 6)]  # after phases 1 and 2, before phase 3
    fabric.bundles.refuse = {len(fabric.bundles.sent) + 6}  # s1's bundle of phase 3
    record = fabric.epoch(TRIANGLE)
    assert record.state == 'installed'  # the new version is stamped all the same
    assert record.problems == ['old rules removed not confirmed by every switch']
    for sw in fabric.switches.values():
        assert sw.port_rules is None  # the next epoch rewrites them
        assert sw.route_epochs == {1, 2}


def test_the_cleanup_skips_a_switch_that_disconnected_during_the_drain(fabric):
    fabric.epoch(LINE)
    gone = fabric.switches[3]
    fabric.during_drain = lambda: fabric.switches.pop(3)
    calls = len(fabric.bundles.sent)
    record = fabric.epoch(TRIANGLE)
    assert record.state == 'installed' and not record.problems
    assert [dpid for dpid, _ in fabric.bundles.sent[calls + 6 :]] == [1, 2]
    assert gone.route_epochs == {1, 2}  # as phase 2 left it
    assert [sw.route_epochs for sw in fabric.switches.values()] == [{2}, {2}]


def test_a_switch_that_disconnects_in_phase_1_is_not_sent_the_discard(fabric):
    """BundleClient.forget_switch fails the disconnected switch's bundles: the epoch
    fails, and its rules are deleted from the switches still connected. The switch is
    not at fault (it gets all its rules when it is back): on_fault is not told."""
    reported = []
    fabric.updater.on_fault = lambda *args: reported.append(args) or ''
    send = fabric.bundles.send

    def send_and_lose_s3(dp, msgs):
        transaction = send(dp, msgs)
        if dp.id == 3:
            fabric.switches.pop(3)
            transaction.errors.append(('disconnected', None))
        return transaction

    fabric.updater.send_bundle = send_and_lose_s3
    gone = fabric.switches[3]
    record = fabric.epoch(LINE)
    assert record.state == 'failed'
    assert [len(sw.dp.sent) for sw in fabric.switches.values()] == [1, 1]
    assert not gone.dp.sent
    assert reported == []
    assert record.faults == [
        {
            'switch': '%016x' % 3,
            'phase': 'internal rules',
            'reason': 'disconnected during internal rules',
        }
    ]


def test_a_reconnected_switch_gets_all_its_rules_again(fabric):
    """A new connection of s1: nothing is known of its contents, so phase 1 admits
    every link and adds every group it uses, and phase 2 clears and rewrites its port
    rules in one bundle; s2, known, gets only the changes."""
    fabric.epoch(TRIANGLE)
    fabric.switches[1] = SwitchRules(FakeDatapath(1))
    calls = len(fabric.bundles.sent)
    record = fabric.epoch(TRIANGLE)
    assert record.state == 'installed'
    internal, ingress, _ = fabric.bundles.phases(calls)
    assert sorted(fields(m)['in_port'] for m in flow_mods(internal[1], pipe.ADMISSION_TABLE)) == [
        2,
        3,
    ]
    assert group_mods(internal[1]) and not group_mods(internal[2])
    wipe = ingress[1][:4]
    assert [(m.command, pipe.COOKIES.kind_of(m.cookie)) for m in wipe] == [
        (ofp.OFPFC_DELETE, kind) for kind in (pipe.LINK, pipe.HOST, pipe.FLOOD, pipe.INGRESS)
    ]
    rewritten = flow_mods(ingress[1])
    assert len(rewritten) == len(pipe.port_rules(TRIANGLE, 1)) + 1
    assert not flow_mods(ingress[2], command=ofp.OFPFC_DELETE)
    assert [m.cookie for m in flow_mods(ingress[2])] == [
        pipe.epoch_cookie(pipe.INGRESS, record.number)
    ]


def test_groups_are_added_once_and_deleted_after_their_last_user(fabric):
    first = fabric.epoch(TRIANGLE)
    added = {
        dpid: {m.group_id for m in group_mods(msgs)}
        for dpid, msgs in fabric.bundles.phases(0)[0].items()
    }
    assert all(added.values())
    assert {dpid: fabric.switches[dpid].groups for dpid in added} == added
    calls = len(fabric.bundles.sent)
    fabric.epoch(TRIANGLE)
    internal, _, cleanup = fabric.bundles.phases(calls)
    assert not any(group_mods(msgs) for msgs in internal.values())
    assert not any(group_mods(msgs, ofp.OFPGC_DELETE) for msgs in cleanup.values())
    calls = len(fabric.bundles.sent)
    fabric.epoch(LINE)  # a line has no loop-free backups
    internal, _, cleanup = fabric.bundles.phases(calls)
    for dpid, msgs in cleanup.items():
        assert {m.group_id for m in group_mods(msgs, ofp.OFPGC_DELETE)} == added[dpid]
        assert not fabric.switches[dpid].groups
    assert first.state == 'installed'


def test_a_phase_has_one_deadline_and_a_silent_bundle_is_given_up(fabric, caplog):
    """Two silent switches cost one install_timeout, not two; their bundles are
    abandoned (no xids kept for them); each is reported to on_fault and logged once
    with what becomes of it."""
    reported = []
    fabric.updater.on_fault = lambda sw, phase, reason: (
        reported.append((sw.dp.id, phase, reason)) or 'left out'
    )
    transactions = []
    send = fabric.bundles.send
    fabric.updater.send_bundle = lambda dp, msgs: (
        transactions.append(send(dp, msgs)) or transactions[-1]
    )
    fabric.bundles.silent = {1, 3}
    started = time.monotonic()
    with caplog.at_level(logging.ERROR):
        record = fabric.epoch(LINE)
    assert time.monotonic() - started < 0.19  # install_timeout is 0.1
    assert record.state == 'failed'
    assert reported == [
        (dpid, 'internal rules', 'did not confirm internal rules within 0.1s') for dpid in (1, 3)
    ]
    assert record.faults == [
        {
            'switch': '%016x' % dpid,
            'phase': 'internal rules',
            'reason': 'did not confirm internal rules within 0.1s',
        }
        for dpid in (1, 3)
    ]
    assert [t.errors for t in transactions] == [[('abandoned', None)], [], [('abandoned', None)]]
    assert caplog.messages == [
        'epoch 1: switch %016x did not confirm internal rules within 0.1s; left out' % dpid
        for dpid in (1, 3)
    ]
