"""controller/vswitch/switch.py: one switch under a policy, on a FakeDatapath: what a
connect installs, what a packet-in learns, and what a reload sends (the per-switch diff
and the hosts forgotten)."""

import textwrap

from ryu.ofproto import ofproto_v1_3 as ofp

from controller import openflow as of
from controller.learning import Learned
from controller.vswitch import load_policy_text, pipeline
from controller.vswitch.switch import LearningSettings, PolicySwitch
from tests.harness.fakes import FakeDatapath

POLICY = textwrap.dedent('''
    vlans:
      red: {vid: 100}
      green: {vid: 200, max_hosts: 2}
    dps:
      s1:
        dp_id: 1
        interfaces:
          1: {native_vlan: red}
          2: {native_vlan: green, max_hosts: 1}
          3: {tagged_vlans: [red, green]}
          4: {native_vlan: green}
''')
SETTINGS = LearningSettings.from_options(
    idle_timeout=300, relearn_fraction=0.75, default_max_hosts=8
)


def policy(text=POLICY):
    return load_policy_text(text, 'test.yaml')


def switch(text=POLICY, dpid=1):
    return PolicySwitch.of(FakeDatapath(dpid), policy(text))


def tagged_frame(src, vid, dst='ff:ff:ff:ff:ff:ff'):
    return (
        of.mac_bytes(dst)
        + of.mac_bytes(src)
        + b'\x81\x00'
        + vid.to_bytes(2, 'big')
        + b'\x08\x00'
        + bytes(46)
    )


def test_settings_relearn_sources_before_destinations_expire():
    assert SETTINGS == LearningSettings(300, 225, 8)
    assert LearningSettings.from_options(1, 0.5, 8).hard_timeout == 1  # at least 1 s


def test_a_switch_the_policy_does_not_name_gets_no_state():
    assert PolicySwitch.of(FakeDatapath(2), policy()) is None
    sw = switch()
    assert sw.name == 's1' and sorted(sw.plans) == [1, 2, 3, 4]


def test_install_deletes_the_apps_rules_then_adds_every_static_rule():
    sw = switch()
    messages = sw.install()
    first, meters, adds = messages[0], messages[1:3], messages[3:]
    assert first.command == ofp.OFPFC_DELETE and first.table_id == ofp.OFPTT_ALL
    assert (first.cookie, first.cookie_mask) == pipeline.COOKIES.all_rules()
    # no packetin_pps / slowpath_pps: their meters, if an earlier run left them, go
    assert [(m.command, m.meter_id) for m in meters] == [
        (ofp.OFPMC_DELETE, ofp.OFPM_CONTROLLER),
        (ofp.OFPMC_DELETE, ofp.OFPM_SLOWPATH),
    ]
    assert len(adds) == len(sw.installed) > 0
    assert all(msg.command == ofp.OFPFC_ADD for msg in adds)
    assert [(m.table_id, m.priority) for m in adds] == [
        (s.table, s.priority) for s in sorted(sw.installed)
    ]


def test_learning_a_host_sends_its_two_rules():
    sw = switch()
    seen = sw.learn(1, tagged_frame('0e:00:00:00:00:01', 100), SETTINGS)
    assert (seen.mac, seen.vid, seen.port, seen.result, seen.previous) == (
        '0e:00:00:00:00:01',
        100,
        1,
        Learned.NEW,
        None,
    )
    assert [(m.table_id, m.hard_timeout, m.idle_timeout) for m in seen.messages] == [
        (pipeline.ETH_SRC, 225, 0),
        (pipeline.ETH_DST, 0, 300),
    ]
    again = sw.learn(1, tagged_frame('0e:00:00:00:00:01', 100), SETTINGS)
    assert again.result is Learned.REFRESHED and len(again.messages) == 2
    moved = sw.learn(3, tagged_frame('0e:00:00:00:00:01', 100), SETTINGS)
    assert (moved.result, moved.previous, moved.port) == (Learned.MOVED, 1, 3)


def test_frames_that_teach_nothing():
    sw = switch()
    untagged = tagged_frame('0e:00:00:00:00:01', 100)[:12] + b'\x08\x00' + bytes(50)
    assert sw.learn(1, untagged, SETTINGS) is None
    assert sw.learn(1, b'\x00' * 17, SETTINGS) is None  # too short
    assert sw.learn(1, tagged_frame('0e:00:00:00:00:01', 200), SETTINGS) is None
    assert sw.learn(9, tagged_frame('0e:00:00:00:00:01', 100), SETTINGS) is None
    assert sw.learn(1, tagged_frame('01:00:5e:00:00:01', 100), SETTINGS) is None


def test_max_hosts_of_the_port_and_of_the_vlan():
    sw = switch()
    assert sw.learn(2, tagged_frame('0e:00:00:00:00:01', 200), SETTINGS).result is Learned.NEW
    over_port = sw.learn(2, tagged_frame('0e:00:00:00:00:02', 200), SETTINGS)
    assert over_port.result is Learned.BANNED and over_port.messages == []
    assert sw.learn(2, tagged_frame('0e:00:00:00:00:03', 200), SETTINGS).result is Learned.REFUSED
    assert sw.learn(4, tagged_frame('0e:00:00:00:00:04', 200), SETTINGS).result is Learned.NEW
    full = sw.learn(3, tagged_frame('0e:00:00:00:00:05', 200), SETTINGS)
    assert full.result is Learned.FULL and full.messages == []  # VLAN max 2


def test_forget_deletes_the_hosts_rules_of_that_port_and_vlan():
    sw = switch()
    sw.learn(1, tagged_frame('0e:00:00:00:00:01', 100), SETTINGS)
    src, dst = sw.forget(1, 100)
    assert '0e:00:00:00:00:01' not in sw.hosts[100]
    assert (src.command, src.table_id, dict(src.match.items())) == (
        ofp.OFPFC_DELETE,
        pipeline.ETH_SRC,
        {'in_port': 1, 'vlan_vid': 0x1064},
    )
    assert (src.cookie, src.cookie_mask) == pipeline.COOKIES.rules_of_kind(pipeline.LEARN_SRC)
    assert (dst.table_id, dst.out_port, dict(dst.match.items())) == (
        ofp.OFPTT_ALL,  # ETH_DST, or EGRESS under egress ACLs: the cookie kind says
        1,
        {'vlan_vid': 0x1064},
    )
    assert (dst.cookie, dst.cookie_mask) == pipeline.COOKIES.rules_of_kind(pipeline.LEARN_DST)
    assert len(sw.forget(2, 300)) == 2  # nothing learned there: still deleted


def test_the_same_policy_again_changes_nothing():
    sw = switch()
    installed = sw.installed
    change = sw.apply(policy())
    assert (change.added, change.deleted, change.forgotten, change.messages) == (0, 0, [], [])
    assert len(change) == 0 and sw.installed == installed


def test_a_port_moved_to_another_vlan_is_a_small_diff_and_forgets_only_it():
    sw = switch()
    sw.learn(1, tagged_frame('0e:00:00:00:00:01', 100), SETTINGS)
    sw.learn(3, tagged_frame('0e:00:00:00:00:03', 100), SETTINGS)
    before = sw.installed
    change = sw.apply(policy(POLICY.replace('1: {native_vlan: red}', '1: {native_vlan: green}')))
    assert change.forgotten == [(1, 100)]
    assert '0e:00:00:00:00:01' not in sw.hosts[100]
    assert '0e:00:00:00:00:03' in sw.hosts[100]
    assert 0 < change.added and 0 < change.deleted and len(change) < len(before)
    # make before break: the ADDs first, then the strict deletes, then the forgets
    adds = change.messages[: change.added]
    deletes = change.messages[change.added : change.added + change.deleted]
    forgets = change.messages[change.added + change.deleted :]
    assert change.make == adds and change.retire == deletes + forgets
    assert all(m.command == ofp.OFPFC_DELETE_STRICT for m in deletes)
    assert all(m.cookie_mask == pipeline.COOKIES.all_rules()[1] for m in deletes)
    assert all(m.command == ofp.OFPFC_ADD for m in adds)
    assert [m.table_id for m in forgets] == [pipeline.ETH_SRC, ofp.OFPTT_ALL]
    assert sw.plans[1].native_vid == 200 and sw.vlan_max_hosts[200] == 2


def test_a_policy_that_no_longer_names_the_switch_takes_its_rules_away():
    sw = switch()
    rules = len(sw.installed)
    change = sw.apply(policy(POLICY.replace('dp_id: 1', 'dp_id: 2')))
    assert (change.added, change.deleted) == (0, rules)
    assert change.forgotten == [(1, 100), (2, 200), (3, 100), (3, 200), (4, 200)]
    assert sw.model is None and sw.plans == {} and sw.installed == frozenset()
    assert sw.name == '%016x' % 1
    assert sw.learn(1, tagged_frame('0e:00:00:00:00:01', 100), SETTINGS) is None
