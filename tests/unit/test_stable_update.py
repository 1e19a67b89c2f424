"""The consistent update (controller/stable/update.py) against fake switches: what goes
into which phase (only the changed forward entries, as overlays, then as stable
rules), a phase refused or never confirmed, the drain and the cleanup, a switch that
disconnects mid-update, a reconnected switch whose rules are unknown, and that a frame
of any version in flight meets one epoch's entries only at every step. The bundles
are answered at once (tests/harness/stable_fakes.py); the Mininet tests
(tests/mininet/test_stable_routing.py) run the same protocol on Open vSwitch."""

import logging
import time
from collections import Counter
from time import perf_counter

import pytest
from ryu.ofproto import ofproto_v1_3 as ofp

from bench.stable import fat_tree
from controller.stable import pipeline as pipe
from controller.stable.epochs import EpochRecord
from controller.stable.sft import Snapshot, compute_sft
from controller.stable.update import ALL_BITS, SwitchRules, Updater, plan_update
from tests.harness.fakes import FakeDatapath
from tests.harness.stable_fakes import (
    LINE,
    TRIANGLE,
    FakeBundles,
    ForwardTables,
    entry_diff,
    fields,
    flow_mods,
    group_mods,
    rule_actions,
)
from topologies.numbering import host_mac

DRAIN = 0.5


class Fabric:
    """Connected fake switches (s1-s3 unless told) and an Updater sending them
    FakeBundles. ``slept`` holds (seconds, bundles sent by then) of every sleep;
    ``during_drain`` runs in it; ``sfts`` holds each epoch's table by number."""

    def __init__(self, dpids=(1, 2, 3)):
        self.switches = {dpid: SwitchRules(FakeDatapath(dpid)) for dpid in dpids}
        self.bundles = FakeBundles()
        self.sfts = {}
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
        self.sfts[record.number] = sft = compute_sft(snapshot)
        plan = plan_update(record.number, snapshot, sft, targets)
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

    # Phase 1: each switch gets an overlay (the new version only, above the stable
    # rules) for each entry that differs from its stable one, and nothing else in the
    # forward table; s1 and s3 admit tagged frames on the new link (port 3) before
    # anyone stamps the version.
    vid = pipe.VID_PRESENT | pipe.version_of(second.number)
    for dpid in (1, 2, 3):
        changed, removed = entry_diff(fabric.sfts[first.number], fabric.sfts[second.number], dpid)
        assert changed and not removed
        overlays = flow_mods(internal[dpid], pipe.FORWARD_TABLE)
        assert sorted(fields(m)['eth_dst'] for m in overlays) == sorted(changed)
        assert {(fields(m)['vlan_vid'], m.priority, m.cookie) for m in overlays} == {
            (vid, 200, pipe.epoch_cookie(pipe.NEXT, second.number))
        }
        assert len(internal[dpid]) == len(overlays) + len(group_mods(internal[dpid])) + (
            2 if dpid != 2 else 0
        )
        # The ingress table is not touched: the first epoch's phase 3 admitted the new
        # version from links ahead.
        assert not flow_mods(internal[dpid], pipe.INGRESS_TABLE)
        assert fabric.switches[dpid].next_admitted == second.number + 1
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
    assert second.changed == sum(
        len(entry_diff(fabric.sfts[first.number], fabric.sfts[second.number], d)[0])
        for d in (1, 2, 3)
    )

    # Phase 2: the ingress rule stamps the new version; the link admission is not sent
    # again (phase 1 put it there).
    for dpid in (1, 2, 3):
        stamps = flow_mods(ingress[dpid], pipe.INGRESS_TABLE)
        assert [m.cookie for m in stamps] == [pipe.epoch_cookie(pipe.INGRESS, second.number)]
        assert all(
            fields(m).get('vlan_vid') != pipe.TAGGED
            for m in flow_mods(ingress[dpid], pipe.ADMISSION_TABLE)
        )

    # Phase 3, one bundle: the changed entries become stable rules (written by the new
    # epoch, replacing the old ones in place), then every overlay goes.
    for dpid in (1, 2, 3):
        changed, _ = entry_diff(fabric.sfts[first.number], fabric.sfts[second.number], dpid)
        stable = flow_mods(cleanup[dpid], pipe.FORWARD_TABLE)
        assert sorted(fields(m)['eth_dst'] for m in stable) == sorted(changed)
        assert {(fields(m)['vlan_vid'], m.priority, m.cookie) for m in stable} == {
            (pipe.TAGGED, 100, pipe.epoch_cookie(pipe.ROUTE, second.number))
        }
        forward = [m for m in cleanup[dpid] if getattr(m, 'table_id', None) == pipe.FORWARD_TABLE]
        assert forward[: len(stable)] == stable
        deleted = flow_mods(cleanup[dpid], pipe.FORWARD_TABLE, ofp.OFPFC_DELETE)
        assert forward[len(stable) :] == deleted
        assert [(m.cookie, m.cookie_mask) for m in deleted] == [
            pipe.COOKIES.rules_of_kind(pipe.NEXT)
        ]
        # Links admit the new version only from now on, and the next one's ahead (in
        # the same bundle).
        versions = [m for m in cleanup[dpid] if getattr(m, 'table_id', None) == 1]
        assert [(m.command, m.cookie, m.cookie_mask) for m in versions[:3]] == [
            (ofp.OFPFC_DELETE,) + pipe.COOKIES.rules_of_kind(pipe.VERSION),
            (ofp.OFPFC_ADD, pipe.epoch_cookie(pipe.VERSION, second.number), 0),
            (ofp.OFPFC_ADD, pipe.epoch_cookie(pipe.VERSION, second.number + 1), 0),
        ]
        assert fabric.switches[dpid].stable is fabric.sfts[second.number]


def test_the_first_epoch_sends_every_entry_and_phase_3_replaces_all_stable_rules(fabric):
    """Nothing is known of a new connection's forward table: every entry is an overlay
    in phase 1, and phase 3 deletes every stable rule (of any epoch) before adding the
    new ones, in the same atomic bundle."""
    record = fabric.epoch(TRIANGLE)
    internal, _, cleanup = fabric.bundles.phases(0)
    for dpid in (1, 2, 3):
        entries = pipe.switch_entries(fabric.sfts[record.number], dpid)
        assert sorted(fields(m)['eth_dst'] for m in flow_mods(internal[dpid], 2)) == sorted(entries)
        forward = [m for m in cleanup[dpid] if getattr(m, 'table_id', None) == pipe.FORWARD_TABLE]
        assert (forward[0].command, forward[0].cookie, forward[0].cookie_mask) == (
            (ofp.OFPFC_DELETE,) + pipe.COOKIES.rules_of_kind(pipe.ROUTE)
        )
        assert sorted(fields(m)['eth_dst'] for m in forward[1:-1]) == sorted(entries)
        assert (forward[-1].command, forward[-1].cookie) == (
            ofp.OFPFC_DELETE,
            pipe.COOKIES.cookie(pipe.NEXT),
        )
    assert record.changed == sum(
        len(pipe.switch_entries(fabric.sfts[record.number], d)) for d in (1, 2, 3)
    )


def test_a_refused_phase_1_leaves_the_epoch_in_force(fabric):
    """s2 refuses the new epoch's overlays: no switch is told to stamp the new
    version, the half-installed overlays are deleted everywhere, the stable rules are
    still known (phase 1 never touches them), and the next epoch rewrites the port
    rules of every switch in full."""
    fabric.epoch(LINE)
    calls = len(fabric.bundles.sent)
    fabric.bundles.refuse = {calls + 1}  # s2's bundle of phase 1
    record = fabric.epoch(TRIANGLE)
    assert record.state == 'failed'
    assert record.problems == ['internal rules not confirmed by every switch']
    assert len(fabric.bundles.sent) == calls + 3  # phase 1 only
    for sw in fabric.switches.values():
        deleted = [m for m in sw.dp.sent if m.command == ofp.OFPFC_DELETE]
        assert [(m.table_id, m.cookie, m.cookie_mask) for m in deleted] == [
            (pipe.FORWARD_TABLE, pipe.epoch_cookie(pipe.NEXT, record.number), ALL_BITS),
            (pipe.INGRESS_TABLE, pipe.epoch_cookie(pipe.VERSION, record.number), ALL_BITS),
        ]
        assert sw.port_rules is None
        assert sw.stable is fabric.sfts[record.number - 1]
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
    """s2 refuses to stamp the new version: nothing is deleted (the stable rules are the
    old epoch's, the overlays the new one's, everywhere), and the stable rules are still
    known. The next epoch diffs against them, adds its own overlays beside the failed
    epoch's (frames stamped with that version may still travel), rewrites every
    switch's port rules, and its phase 3 deletes both epochs' overlays."""
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
        assert sw.stable is fabric.sfts[first.number]
    fabric.bundles.refuse = set()
    calls = len(fabric.bundles.sent)
    again = fabric.epoch(TRIANGLE)
    assert again.state == 'installed' and again.changed == record.changed
    internal, ingress, cleanup = fabric.bundles.phases(calls)
    for dpid in (1, 2, 3):
        changed, _ = entry_diff(fabric.sfts[first.number], fabric.sfts[again.number], dpid)
        overlays = flow_mods(internal[dpid], pipe.FORWARD_TABLE)
        assert sorted(fields(m)['eth_dst'] for m in overlays) == sorted(changed)
        assert {m.cookie for m in overlays} == {pipe.epoch_cookie(pipe.NEXT, again.number)}
        assert flow_mods(ingress[dpid], command=ofp.OFPFC_DELETE)  # wiped, rewritten
        deleted = flow_mods(cleanup[dpid], pipe.FORWARD_TABLE, ofp.OFPFC_DELETE)
        assert [(m.cookie, m.cookie_mask) for m in deleted] == [
            pipe.COOKIES.rules_of_kind(pipe.NEXT)  # both epochs' overlays
        ]
        assert fabric.switches[dpid].stable is fabric.sfts[again.number]


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
    """s1 refuses phase 3: the new version is stamped all the same; s1's stable and port
    rules are unknown, so the next epoch sends it every entry and rewrites it, while s2
    and s3, which confirmed, get nothing in their forward tables."""
    fabric.epoch(LINE)
    assert fabric.slept == [(DRAIN, 6)]  # after phases 1 and 2, before phase 3
    fabric.bundles.refuse = {len(fabric.bundles.sent) + 6}  # s1's bundle of phase 3
    record = fabric.epoch(TRIANGLE)
    assert record.state == 'installed'  # the new version is stamped all the same
    assert record.problems == ['old rules removed not confirmed by every switch']
    s1, s2, s3 = fabric.switches.values()
    assert s1.port_rules is None and s1.stable is None  # the next epoch rewrites them
    for sw in (s2, s3):
        assert sw.port_rules is not None and sw.stable is fabric.sfts[record.number]
    fabric.bundles.refuse = set()
    calls = len(fabric.bundles.sent)
    again = fabric.epoch(TRIANGLE)
    internal, _, cleanup = fabric.bundles.phases(calls)
    entries = pipe.switch_entries(fabric.sfts[again.number], 1)
    assert len(flow_mods(internal[1], pipe.FORWARD_TABLE)) == len(entries) == again.changed
    assert not flow_mods(internal[2], pipe.FORWARD_TABLE)
    assert not flow_mods(internal[3], pipe.FORWARD_TABLE)
    assert flow_mods(cleanup[1], pipe.FORWARD_TABLE, ofp.OFPFC_DELETE)[0].cookie == (
        pipe.COOKIES.cookie(pipe.ROUTE)
    )
    assert all(sw.stable is fabric.sfts[again.number] for sw in (s1, s2, s3))


def test_the_cleanup_skips_a_switch_that_disconnected_during_the_drain(fabric):
    fabric.epoch(LINE)
    gone = fabric.switches[3]
    fabric.during_drain = lambda: fabric.switches.pop(3)
    calls = len(fabric.bundles.sent)
    record = fabric.epoch(TRIANGLE)
    assert record.state == 'installed' and not record.problems
    assert [dpid for dpid, _ in fabric.bundles.sent[calls + 6 :]] == [1, 2]
    assert gone.stable is fabric.sfts[1]  # as phase 2 left it
    assert [sw.stable for sw in fabric.switches.values()] == [fabric.sfts[2]] * 2


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
    assert [len(sw.dp.sent) for sw in fabric.switches.values()] == [2, 2]  # overlays, version
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
    # Its forward entries: all of them, as overlays; s2's did not change: none.
    assert len(flow_mods(internal[1], pipe.FORWARD_TABLE)) == len(
        pipe.switch_entries(fabric.sfts[record.number], 1)
    )
    assert not flow_mods(internal[2], pipe.FORWARD_TABLE)
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


# --- incremental epochs on a fat-tree, and consistency at every step -------------------

FAT4_SWITCHES = range(1, 21)


def fat4_without(*pairs, hosts=None):
    """fat-tree k=4 without the links between the switch ``pairs``; ``hosts``
    replaces its host map."""
    full = fat_tree(4)
    links = [link for link in full.links if (link[0], link[2]) not in pairs]
    assert len(links) == len(full.links) - len(pairs)
    return Snapshot.make(
        full.switches, links, full.host_map() if hosts is None else hosts, dict(full.ports)
    )


def forward_overlays(bundles, first_call):
    """{dpid: [eth_dst of each overlay]} of the phase 1 bundles from ``first_call``."""
    internal = bundles.phases(first_call)[0]
    return {
        dpid: [fields(m)['eth_dst'] for m in flow_mods(msgs, 2)] for dpid, msgs in internal.items()
    }


def test_a_link_change_on_a_fat_tree_sends_only_the_changed_entries():
    """s5 (aggregation, pod 1) loses its link to core s1: phase 1 sends an overlay for
    each entry that changed, on the switches where it changed, and nothing elsewhere;
    phase 3 makes exactly those stable."""
    fabric = Fabric(FAT4_SWITCHES)
    full = fabric.epoch(fat_tree(4))
    everything = sum(len(pipe.switch_entries(fabric.sfts[1], d)) for d in FAT4_SWITCHES)
    assert full.changed == everything == 20 * 16
    calls = len(fabric.bundles.sent)
    cut = fabric.epoch(fat4_without((1, 5)))
    assert cut.state == 'installed'
    sent = forward_overlays(fabric.bundles, calls)
    expected = {d: sorted(entry_diff(fabric.sfts[1], fabric.sfts[2], d)[0]) for d in sent}
    assert {d: sorted(macs) for d, macs in sent.items()} == expected
    assert cut.changed == sum(map(len, sent.values())) and 0 < cut.changed <= everything // 8
    # Only core and aggregation switches route differently; every edge switch is as
    # before, and is sent nothing in phase 1 (its links admit the version ahead).
    assert {1, 5} <= {d for d, macs in sent.items() if macs} <= set(range(1, 13))
    internal = fabric.bundles.phases(calls)[0]
    assert all(internal[d] == [] for d in range(13, 21))
    cleanup = fabric.bundles.phases(calls)[2]
    for dpid, msgs in cleanup.items():
        stable = flow_mods(msgs, pipe.FORWARD_TABLE)
        assert sorted(fields(m)['eth_dst'] for m in stable) == expected[dpid]
        assert not flow_mods(msgs, pipe.FORWARD_TABLE, ofp.OFPFC_DELETE_STRICT)


def test_phase_2_goes_to_the_switches_with_hosts_or_changed_port_rules():
    """s3 loses its link to aggregation s12: phase 2 (the new version stamped) goes to
    the edge switches, which have the hosts, and to the switches whose link or flood
    rules change (s3 and s12, and those the flooding tree now reaches another way);
    the other core and aggregation switches stamp nothing a host sends and their rules
    do not change, so their ingress rule changes in their phase 3 bundle."""
    fabric = Fabric(FAT4_SWITCHES)
    before, after = fat_tree(4), fat4_without((3, 12))
    fabric.epoch(before)
    calls = len(fabric.bundles.sent)
    assert fabric.epoch(after).state == 'installed'
    internal, ingress, cleanup = fabric.bundles.phases(calls)
    assert set(internal) == set(cleanup) == set(FAT4_SWITCHES)
    rules_changed = {
        d for d in FAT4_SWITCHES if pipe.port_rules(before, d) != pipe.port_rules(after, d)
    }
    assert {3, 12} <= rules_changed
    assert set(ingress) == rules_changed | set(range(13, 21)) != set(FAT4_SWITCHES)
    stamp_2 = pipe.epoch_cookie(pipe.INGRESS, 2)
    for dpid, msgs in cleanup.items():
        stamps = [m for m in flow_mods(msgs, pipe.INGRESS_TABLE) if m.priority == 10]
        assert [m.cookie for m in stamps] == ([] if dpid in ingress else [stamp_2]), dpid


def test_a_host_move_changes_only_that_hosts_entries():
    """h1 moves from s13:1 to s14:1 (where h3 is): phase 1 sends overlays for h1's MAC
    only, on every switch whose entry for it changed (its new switch delivers it; its
    old switch now forwards it); a host that leaves is sent nothing in phase 1, and its
    stable rules are strictly deleted in phase 3."""
    fabric = Fabric(FAT4_SWITCHES)
    fabric.epoch(fat_tree(4))
    hosts = fat_tree(4).host_map()
    hosts[host_mac(1)] = (14, 1)
    calls = len(fabric.bundles.sent)
    moved = fabric.epoch(fat4_without(hosts=hosts))
    sent = forward_overlays(fabric.bundles, calls)
    assert {mac for macs in sent.values() for mac in macs} == {host_mac(1)}
    assert (
        {d for d, macs in sent.items() if macs}
        == {d for d in FAT4_SWITCHES if entry_diff(fabric.sfts[1], fabric.sfts[2], d)[0]}
        >= {13, 14}
    )
    assert moved.changed == sum(map(len, sent.values()))

    del hosts[host_mac(16)]
    calls = len(fabric.bundles.sent)
    gone = fabric.epoch(fat4_without(hosts=hosts))
    assert gone.state == 'installed' and gone.changed == 0
    assert not any(forward_overlays(fabric.bundles, calls).values())
    cleanup = fabric.bundles.phases(calls)[2]
    for msgs in cleanup.values():
        deleted = flow_mods(msgs, pipe.FORWARD_TABLE, ofp.OFPFC_DELETE_STRICT)
        assert [fields(m) for m in deleted] == [{'vlan_vid': pipe.TAGGED, 'eth_dst': host_mac(16)}]
        assert pipe.COOKIES.kind_of(deleted[0].cookie) == pipe.ROUTE


def test_every_frame_in_flight_meets_one_epochs_entries_at_every_step():
    """A sequence of epochs on fat-tree k=4 (links lost and back, a host appearing on
    a switch that was sent no phase 2 before, a host moving, one epoch whose phase 2
    is refused part-way, one whose phase 3 a switch sent no phase 2 refuses, a
    reconnected switch), with the forward, version and ingress rules replayed from the
    FLOW_MODs sent (tests/harness/stable_fakes.py's ForwardTables). After every phase,
    a frame stamped with any version that may be in flight meets, on every switch,
    exactly the entry of the epoch of that version for every host that epoch has there;
    every switch stamps a version in flight or one no switch admits (its frames are
    dropped at the first link); and from phase 2 on every switch with hosts stamps the
    new version."""
    fabric = Fabric(FAT4_SWITCHES)
    tables = ForwardTables()
    send = fabric.bundles.send
    refuse = {}  # dpid -> which of its bundles of the epoch (from 0) it refuses
    sent_to = Counter()  # dpid -> bundles sent to it in the epoch

    def send_and_apply(dp, msgs):
        refused = sent_to[dp.id] == refuse.get(dp.id)
        sent_to[dp.id] += 1
        if refused:
            fabric.bundles.refuse = {len(fabric.bundles.sent)}
        transaction = send(dp, msgs)
        fabric.bundles.refuse = set()
        if not transaction.errors:  # an atomic bundle is applied whole or not at all
            tables.apply(dp.id, msgs)
        return transaction

    fabric.updater.send_bundle = send_and_apply
    in_flight = {}  # epoch -> its SFT, for every version a frame may carry
    snapshot = fat_tree(4)

    def check(stamping=None, everywhere=False):
        """``stamping``: the epoch every switch with hosts stamps (``everywhere``: every
        switch whose rules are known)."""
        for epoch, sft in in_flight.items():
            version = pipe.version_of(epoch)
            for dpid in fabric.switches:
                for mac, entry in pipe.switch_entries(sft, dpid).items():
                    expected = rule_actions(pipe.forward_rule(mac, entry, epoch))
                    assert tables.lookup(dpid, version, mac) == expected, (epoch, dpid, mac)
        # Links admit the versions that may be in flight and at most the next one
        # (ahead; nothing stamps it yet): a frame stamped with any other version by a
        # switch left behind is dropped at the first link it crosses.
        flying = set(map(pipe.version_of, in_flight))
        ahead = pipe.version_of(max(in_flight) + 1)
        for dpid, sw in fabric.switches.items():
            if sw.stable is not None:
                assert flying <= tables.admitted(dpid) <= flying | {ahead}, dpid
            elsewhere = set().union(*(tables.admitted(d) for d in fabric.switches if d != dpid))
            stamped = tables.stamped(dpid)
            assert stamped in flying or stamped not in elsewhere, (dpid, stamped)
        if stamping is None:
            return
        hosts_at = {dpid for _, (dpid, _) in snapshot.hosts}
        for dpid, sw in fabric.switches.items():
            if dpid in hosts_at or (everywhere and sw.stable is not None):
                assert tables.stamped(dpid) == pipe.version_of(stamping), dpid

    fabric.during_drain = lambda: check(fabric.last_epoch)  # after phase 2
    hosts = fat_tree(4).host_map()
    moved = dict(hosts, **{host_mac(1): (20, 1)})
    on_s5 = dict(hosts, **{host_mac(17): (5, 3)})  # s5:3 is free once s5-s1 is cut
    steps = [
        (fat_tree(4), None),
        (fat4_without((1, 5)), None),
        (fat4_without((1, 5), hosts=on_s5), 'host on s5'),
        (fat4_without((1, 5), (6, 13)), 'refuse phase 2'),
        (fat4_without((6, 13), hosts=moved), None),
        (fat4_without(hosts=moved), 'refuse phase 3'),
        (fat_tree(4), 'reconnect s7'),
        (fat4_without((2, 5), (3, 8)), None),
    ]
    for snapshot, trouble in steps:
        sent_to.clear()
        refuse.clear()
        if trouble == 'refuse phase 2':
            refuse[16] = 1  # s16 has hosts: its second bundle is its phase 2
        elif trouble == 'refuse phase 3':
            refuse[10] = 1  # s10 has no host and no port rule changes: no phase 2
        elif trouble == 'reconnect s7':
            fabric.switches[7] = SwitchRules(FakeDatapath(7))
        number = fabric.last_epoch + 1
        in_flight[number] = compute_sft(snapshot)
        record = fabric.epoch(snapshot)
        if record.state == 'installed':
            # After phase 3 (past the drain), only this epoch's version is in flight.
            in_flight = {number: in_flight[number]}
            check(number, everywhere=True)
        else:
            check()
        assert record.state == ('failed' if trouble == 'refuse phase 2' else 'installed')
        if trouble == 'host on s5':
            assert sent_to[5] == 3  # phases 1, 2 and 3: it stamps its new host's frames
        if trouble == 'refuse phase 3':
            assert sent_to[10] == 2  # phases 1 and 3
            assert fabric.switches[10].stable is None  # the next epoch sends it all
