"""FAUCET's LACP: the protocol state of a switch's LAG members (controller/vswitch/lacp.py)
with fake time and real LACPDU bytes, the options' validation, the rules the compiler
makes of a LAG (pipeline.py), and a switch moving its rules as members come and go
(switch.py)."""

import textwrap

import pytest
from ryu.lib.packet import ethernet, packet, slow
from ryu.ofproto import ofproto_v1_3 as ofp

from controller import openflow as of
from controller.config import ConfigError
from controller.flowspec import diff
from controller.learning import Learned
from controller.ofmatch import OFPVID_PRESENT
from controller.vswitch import lacp, load_policy_text, pipeline
from controller.vswitch.lacp import LacpOptions, Lags
from controller.vswitch.switch import LearningSettings, PolicySwitch, nominate_lags
from tests.harness.fakes import FakeDatapath

PARTNER = '52:54:00:aa:bb:cc'
OTHER = '52:54:00:dd:ee:ff'
US = lacp.system_mac(1)


def partner_pdu(port, sync=True, system=PARTNER, key=7, collecting=True):
    """An LACPDU as a partner (Open vSwitch's bond) sends it: its bytes."""
    frame = packet.Packet()
    frame.add_protocol(
        ethernet.ethernet(dst=lacp.LACP_MAC, src='52:54:00:00:00:%02x' % port, ethertype=0x8809)
    )
    frame.add_protocol(
        slow.lacp(
            actor_system_priority=65534,
            actor_system=system,
            actor_key=key,
            actor_port_priority=65535,
            actor_port=port + 10,
            actor_state_activity=1,
            actor_state_aggregation=1,
            actor_state_synchronization=int(sync),
            actor_state_collecting=int(collecting and sync),
            actor_state_distributing=int(collecting and sync),
        )
    )
    frame.serialize()
    return bytes(frame.data)


def lags(**options):
    """LAG 1 over ports 1 and 2, with ``options`` on both; timeout 5 s."""
    return Lags.of(US, 5, {1: LacpOptions(1, **options), 2: LacpOptions(1, **options)})


def decoded(frame):
    pdu = packet.Packet(frame).get_protocol(slow.lacp)
    assert pdu is not None
    return pdu


# --- the protocol ------------------------------------------------------------------


def test_a_member_carries_once_its_partner_is_in_sync_and_answers_it():
    state = lags()
    assert state.carrying(0.0) == {1: frozenset()}
    answer = state.receive(1, partner_pdu(1), 0.0)
    assert state.carrying(0.0) == {1: frozenset({1})}
    pdu = decoded(answer)
    # our actor: the system id, the LAG id as key, the port; in sync, collecting,
    # distributing (selected); short timeout (the partner sends every second)
    assert (pdu.actor_system, pdu.actor_key, pdu.actor_port) == (US, 1, 1)
    assert (
        pdu.actor_state_synchronization,
        pdu.actor_state_collecting,
        pdu.actor_state_distributing,
        pdu.actor_state_timeout,
        pdu.actor_state_activity,
    ) == (1, 1, 1, 1, 0)
    # its partner as heard
    assert (pdu.partner_system, pdu.partner_key, pdu.partner_port) == (PARTNER, 7, 11)
    assert pdu.partner_state_synchronization == 1
    state.receive(2, partner_pdu(2), 0.5)
    assert state.carrying(0.5) == {1: frozenset({1, 2})}


def test_a_partner_out_of_sync_or_silent_past_the_timeout_stops_its_member():
    state = lags()
    state.receive(1, partner_pdu(1), 0.0)
    state.receive(2, partner_pdu(2), 0.0)
    state.receive(2, partner_pdu(2, sync=False), 1.0)
    assert state.carrying(1.0) == {1: frozenset({1})}
    assert state.carrying(5.0) == {1: frozenset({1})}  # 5 s: still within lacp_timeout
    assert state.carrying(5.1) == {1: frozenset()}
    state.tick(5.1)  # the silent partner is forgotten
    assert state.members[1].partner is None
    state.receive(1, partner_pdu(1), 6.0)
    assert state.carrying(6.0) == {1: frozenset({1})}


def test_a_member_whose_link_goes_down_forgets_its_partner():
    state = lags()
    state.receive(1, partner_pdu(1), 0.0)
    assert state.link(1, False) is True and state.link(1, False) is False
    assert state.carrying(0.1) == {1: frozenset()}
    assert state.link(1, True) is True
    assert state.carrying(0.2) == {1: frozenset()}  # until its partner is heard again
    state.receive(1, partner_pdu(1), 0.3)
    assert state.carrying(0.3) == {1: frozenset({1})}


def test_members_cabled_to_another_system_carry_nothing():
    state = lags()
    state.receive(1, partner_pdu(1), 0.0)
    state.receive(2, partner_pdu(2, system=OTHER), 0.0)
    assert state.carrying(0.0) == {1: frozenset({1})}  # the lowest member's partner wins


def test_answers_are_rate_limited_unless_the_partner_changed():
    state = lags()
    assert state.receive(1, partner_pdu(1), 0.0) is not None
    assert state.receive(1, partner_pdu(1), 0.5) is None  # same, within resp_interval
    assert state.receive(1, partner_pdu(1), 1.0) is not None
    assert state.receive(1, partner_pdu(1, sync=False), 1.2) is not None  # changed
    assert state.receive(1, b'\x01\x80\xc2\x00\x00\x02' + bytes(60), 1.3) is None  # no PDU
    assert state.receive(3, partner_pdu(3), 1.4) is None  # not a member


def test_an_active_member_speaks_first_every_second_a_passive_one_waits():
    passive, active = lags(), lags(active=True)
    assert passive.tick(0.0) == []
    first = active.tick(0.0)
    assert [port for port, _ in first] == [1, 2]
    assert decoded(first[0][1]).actor_state_activity == 1
    assert decoded(first[0][1]).actor_state_defaulted == 1  # no partner heard yet
    assert active.tick(0.5) == []
    assert len(active.tick(1.0)) == 2
    active.receive(1, partner_pdu(1), 1.5)
    assert [port for port, _ in active.tick(2.5)] == [2]  # port 1 answers its partner


def test_forced_selection_states():
    state = Lags.of(
        US,
        30,
        {
            1: LacpOptions(1, forced='unselected'),
            2: LacpOptions(1, forced='standby'),
            3: LacpOptions(1, forced='selected'),
        },
    )
    for port in (1, 2, 3):
        state.receive(port, partner_pdu(port), 0.0)
    assert state.carrying(0.0) == {1: frozenset({2, 3})}  # standby: selected here
    state.elsewhere = frozenset({1})  # the LAG is nominated to another switch
    assert state.carrying(0.0) == {1: frozenset({3})}  # forced selected stays
    flags = {
        port: (
            decoded(state.pdu(port)).actor_state_synchronization,
            decoded(state.pdu(port)).actor_state_collecting,
        )
        for port in (1, 2, 3)
    }
    assert flags == {1: (0, 0), 2: (1, 0), 3: (1, 1)}
    assert [m['role'] for m in state.status(0.0)] == ['unselected', 'standby', 'selected']


def test_a_passthrough_member_is_silent_and_down_while_a_peer_is_down():
    state = Lags.of(US, 30, {1: LacpOptions(1, passthrough=(5,)), 5: LacpOptions(2)})
    assert state.receive(1, partner_pdu(1), 0.0) is not None
    assert state.carrying(0.0)[1] == {1}
    state.link(5, False)
    assert state.carrying(0.1)[1] == frozenset()
    assert state.receive(1, partner_pdu(1, sync=False), 0.2) is None


def test_a_new_policy_keeps_the_partners_of_members_still_in_their_lag():
    state = lags()
    state.receive(1, partner_pdu(1), 0.0)
    state.receive(2, partner_pdu(2), 0.0)
    state.renew(US, 5, {1: LacpOptions(1, active=True), 2: LacpOptions(2)})
    assert state.carrying(0.0) == {1: frozenset({1}), 2: frozenset()}  # 2 moved LAG
    assert state.members[1].options.active


def test_nomination_most_members_up_then_the_root_then_the_lowest_dp_id():
    assert lacp.nominate({1: 1, 2: 2}, root=1) == 2
    assert lacp.nominate({1: 2, 2: 2}, root=2) == 2
    assert lacp.nominate({3: 1, 2: 1}, root=None) == 2
    assert lacp.nominate({1: 0, 2: 0}, root=1) is None


def test_system_id_is_a_local_mac_of_the_dp_id():
    assert lacp.system_mac(0x1) == '0e:00:00:00:00:01'
    assert lacp.system_mac(0xAB_0102030405) == '0e:01:02:03:04:05'


def test_a_truncated_pdu_is_none():
    assert lacp.parse(partner_pdu(1)[:30]) is None


# --- the options --------------------------------------------------------------------

POLICY = textwrap.dedent('''
    vlans:
      v100: {vid: 100}
      v200: {vid: 200}
    dps:
      s1:
        dp_id: 1
        lacp_timeout: 5
        interfaces:
          1: {native_vlan: v100, lacp: 1, lacp_active: true}
          2: {native_vlan: v100, lacp: 1, lacp_active: true}
          3: {native_vlan: v100}
          4: {tagged_vlans: [v100, v200]}
''')


def policy(text=POLICY):
    return load_policy_text(text, 'test.yaml')


def errors(text):
    with pytest.raises(ConfigError) as caught:
        policy(text)
    return [(e.line, e.path, e.message) for e in caught.value.errors]


def test_options_load_and_round_trip():
    loaded = policy(
        POLICY.replace(
            '2: {native_vlan: v100, lacp: 1, lacp_active: true}',
            '2: {native_vlan: v100, lacp: 1, lacp_standby: true, lacp_port_priority: 3, '
            'lacp_port_id: 9, lacp_passthrough: [3], lacp_resp_interval: 2}',
        )
    )
    dp = loaded.dps['s1']
    assert dp.lacp_timeout == 5 and dp.lags == {1: (1, 2)}
    assert dp.interfaces[2].lacp == LacpOptions(
        1, forced='standby', passthrough=(3,), port_priority=3, port_id=9, resp_interval=2
    )
    assert load_policy_text_data(loaded) == loaded
    assert policy(POLICY.replace('lacp: 1, lacp_active: true}', 'lacp: 0}')).dps['s1'].lags == {}


def load_policy_text_data(loaded):
    import yaml

    return load_policy_text(yaml.safe_dump(loaded.to_data()), 'again.yaml')


def test_min_lacp_health_is_read_and_kept():
    text = POLICY.replace('lacp_timeout: 5', 'lacp_timeout: 5\n    stack: {min_lacp_health: 0.5}')
    # a switch with stack settings but no stack port is accepted, as FAUCET does
    assert policy(text).dps['s1'].min_lacp_health == 0.5


@pytest.mark.parametrize(
    'line, message',
    [
        (
            '3: {native_vlan: v100, lacp_active: true}',
            'lacp_active applies to a LAG member: set lacp (the LAG id)',
        ),
        (
            '3: {native_vlan: v100, lacp: 2, lacp_selected: true, lacp_standby: true}',
            'cannot force two LACP selection states: lacp_selected and lacp_standby',
        ),
        (
            '3: {native_vlan: v200, lacp: 1}',
            'the members of LAG 1 carry different VLANs: port 1 and port 3 (a LAG is one '
            'port to its VLANs)',
        ),
        (
            '3: {native_vlan: v100, lacp: 2, lacp_passthrough: [9]}',
            'port 9 is not another port of this switch',
        ),
        ('3: {native_vlan: v100, lacp: 70000}', 'a LAG id 1..65535 (0: not a LAG member)'),
        ('3: {mirror: 4, lacp: 3}', 'port 3 is a mirror port: it cannot be a LAG member'),
    ],
)
def test_bad_options_are_refused_at_their_line(line, message):
    found = errors(POLICY.replace('3: {native_vlan: v100}', line))
    assert len(found) == 1
    assert found[0][0] == 12 and message in found[0][2]


# --- the rules ----------------------------------------------------------------------


def compiled(carrying=None, text=POLICY):
    loaded = policy(text)
    return pipeline.compile_datapath(loaded, loaded.dps['s1'], carrying=carrying)


def flood_outs(rules, in_port, vid=100):
    (rule,) = [
        r
        for r in rules
        if r.table == pipeline.ETH_DST
        and r.match_dict() == {'vlan_vid': OFPVID_PRESENT | vid, 'in_port': in_port}
    ]
    return [a[1] for a in rule.instructions[0][1] if a[0] == 'output']


def test_members_send_lacpdus_to_the_controller_and_drop_the_rest_until_they_carry():
    rules = compiled()
    lacp_rules = {
        (r.priority, tuple(sorted(r.match_dict().items())), r.instructions)
        for r in rules
        if r.cookie == pipeline.COOKIES.cookie(pipeline.LACP)
    }
    for port in (1, 2):
        assert (
            pipeline.PRIO_LACP,
            (('eth_dst', lacp.LACP_MAC), ('eth_type', 0x8809), ('in_port', port)),
            (('apply', (('controller', pipeline.WHOLE_PACKET),)),),
        ) in lacp_rules
        assert (pipeline.PRIO_OUTPUT_ONLY, (('in_port', port),), ()) in lacp_rules
    assert len(lacp_rules) == 4
    carrying = compiled({1: frozenset({2})})
    drops = {r.match_dict()['in_port'] for r in carrying if r.priority == pipeline.PRIO_OUTPUT_ONLY}
    assert drops == {1}


def test_floods_go_out_of_one_carrying_member_and_never_back_into_the_lag():
    rules = compiled()  # no member carries: floods reach no member
    assert flood_outs(rules, 3) == [4]
    rules = compiled({1: frozenset({1, 2})})
    assert flood_outs(rules, 3) == [4, 1]  # trunk first, then one member of the LAG
    assert flood_outs(rules, 4) == [1, 3]  # access ports after one pop
    assert flood_outs(rules, 1) == [4, 3]  # from the LAG: not back into it
    assert flood_outs(rules, 2) == [4, 3]
    rules = compiled({1: frozenset({2})})
    assert flood_outs(rules, 3) == [4, 2]


def test_without_combinatorial_flood_members_get_their_own_flood():
    text = POLICY.replace('lacp_timeout: 5', 'lacp_timeout: 5\n    combinatorial_port_flood: false')
    rules = compiled({1: frozenset({1, 2})}, text)
    (per_vid,) = [
        r
        for r in rules
        if r.table == pipeline.ETH_DST and r.match_dict() == {'vlan_vid': OFPVID_PRESENT | 100}
    ]
    assert [a[1] for a in per_vid.instructions[0][1] if a[0] == 'output'] == [4, 1, 3]
    for member in (1, 2):
        assert flood_outs(rules, member) == [4, 3]
    assert all(
        r.priority == pipeline.PRIO_LAG_FLOOD
        for r in rules
        if r.table == pipeline.ETH_DST and 'in_port' in r.match_dict()
    )


def test_a_lag_host_is_known_from_every_member_and_reached_by_the_lag_group():
    loaded = policy()
    plans = pipeline.port_plans(loaded, loaded.dps['s1'])
    src1, src2, dst = pipeline.learned_rules(plans[1], 100, '00:00:00:00:00:01', 300, 200)
    assert {src1.match_dict()['in_port'], src2.match_dict()['in_port']} == {1, 2}
    group = pipeline.lag_group_id(1)
    assert dst.instructions == (('apply', (('pop_vlan',), ('group', group))),)
    assert pipeline.lag_groups(loaded.dps['s1'], {1: frozenset({2, 1})}) == {group: (1, 2)}
    assert pipeline.lag_groups(loaded.dps['s1'], {}) == {group: ()}


# --- a switch -----------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def switch():
    sw = PolicySwitch.of(FakeDatapath(1), policy())
    assert sw is not None
    sw.clock = Clock()
    return sw


def groups_sent(messages):
    return [
        (m.group_id, [b.actions[0].port for b in m.buckets])
        for m in messages
        if hasattr(m, 'buckets')
    ]


def test_a_switch_answers_lacpdus_and_moves_its_rules_to_the_members_that_carry():
    sw = switch()
    group = pipeline.lag_group_id(1)
    assert (group, []) in groups_sent(sw.install())  # no member carries yet
    (out,) = sw.lacp_in(1, partner_pdu(1))
    assert out.actions[0].port == 1 and decoded(out.data).actor_key == 1
    assert sw.lag_news() == {1: (frozenset(), frozenset({1}))}
    change = sw.relag()
    assert groups_sent(change.messages) == [(group, [1])]
    assert change.deleted == 1  # port 1's drop
    assert change.forgotten == []
    assert sw.lag_news() == {}
    sw.lacp_in(2, partner_pdu(2))
    change = sw.relag()
    assert groups_sent(change.messages) == [(group, [1, 2])]
    # the partner of port 1 falls silent: after lacp_timeout it carries nothing
    sw.clock.now = 5.5
    sw.lacp_in(2, partner_pdu(2))
    sw.lacp_tick()
    assert sw.lag_news() == {1: (frozenset({1, 2}), frozenset({2}))}
    change = sw.relag()
    assert groups_sent(change.messages) == [(group, [2])]
    assert len(diff(change_rules(sw, {1: frozenset({2})}), sw.installed)) == 0


def change_rules(sw, carrying):
    return pipeline.compile_datapath(sw.policy, sw.model, carrying=carrying)


def test_a_host_on_either_member_is_one_host_of_the_lag():
    sw = switch()
    settings = LearningSettings.from_options(300, 0.75, 8)
    frame = (
        of.mac_bytes('ff:ff:ff:ff:ff:ff')
        + of.mac_bytes('00:00:00:00:00:0a')
        + b'\x81\x00'
        + (100).to_bytes(2, 'big')
        + bytes(48)
    )
    first = sw.learn(2, frame, settings)
    assert first is not None and first.result is Learned.NEW and first.port == 1
    again = sw.learn(1, frame, settings)
    assert again is not None and again.result is not Learned.MOVED
    deletes = sw.forget(1, 100)
    assert {m.match.get('in_port') for m in deletes if m.table_id == pipeline.ETH_SRC} == {1, 2}
    assert all(m.command == ofp.OFPFC_DELETE for m in deletes)


# --- a LAG spanning the switches of a stack ---------------------------------------------

MCLAG = textwrap.dedent('''
    vlans:
      v100: {vid: 100}
    dps:
      s1:
        dp_id: 1
        stack: {priority: 1, min_lacp_health: 0.5}
        interfaces:
          1: {stack: {dp: s2, port: 1}}
          2: {native_vlan: v100}
          3: {native_vlan: v100, lacp: 1}
          4: {native_vlan: v100, lacp: 1}
      s2:
        dp_id: 2
        interfaces:
          1: {stack: {dp: s1, port: 1}}
          2: {native_vlan: v100}
          3: {native_vlan: v100, lacp: 1, lacp_standby: true}
''')


def test_a_lag_spanning_a_stack_is_one_system_and_carries_on_the_nominated_switch():
    loaded = policy(MCLAG)
    s1 = PolicySwitch.of(FakeDatapath(1), loaded)
    s2 = PolicySwitch.of(FakeDatapath(2), loaded)
    assert s1 is not None and s2 is not None
    assert s1.lags.system == s2.lags.system == lacp.system_mac(1)  # one partner system
    s1.clock = s2.clock = Clock()
    for sw, ports in ((s1, (3, 4)), (s2, (3,))):
        for port in ports:
            sw.lacp_in(port, partner_pdu(port))
    nominate_lags([s1, s2], root=1)  # 2 members up on s1, 1 on s2
    assert (s1.lags.elsewhere, s2.lags.elsewhere) == (frozenset(), frozenset({1}))
    assert s2.lags.role(3) == 'standby' and s2.lags.carrying(0.0) == {1: frozenset()}
    assert s1.lags.carrying(0.0) == {1: frozenset({3, 4})}
    assert decoded(s2.lags.pdu(3)).actor_state_collecting == 0
    assert loaded.dps['s1'].min_lacp_health == 0.5
    # s1's partner falls silent: s2 has more members up, the LAG moves there
    s1.clock.now = 31.0
    s2.lacp_in(3, partner_pdu(3))
    nominate_lags([s1, s2], root=1)
    assert (s1.lags.elsewhere, s2.lags.elsewhere) == (frozenset({1}), frozenset())
    assert s2.lag_news() == {1: (frozenset(), frozenset({3}))}


def test_a_stack_port_cannot_be_a_lag_member():
    found = errors(
        MCLAG.replace('1: {stack: {dp: s2, port: 1}}', '1: {stack: {dp: s2, port: 1}, lacp: 2}')
    )
    assert [m for _, _, m in found] == ['port 1 is a stack port: it cannot be a LAG member']


def test_rest_shows_each_members_state():
    from types import SimpleNamespace

    from controller.vswitch import rest

    sw = switch()
    sw.lacp_in(1, partner_pdu(1))
    body = rest.lacp_status(SimpleNamespace(switches={1: sw}))
    assert body == {
        '0000000000000001': {
            'dp_name': 's1',
            'members': [
                {
                    'port': 1,
                    'lag': 1,
                    'role': 'selected',
                    'link_up': True,
                    'partner_up': True,
                    'partner': PARTNER,
                    'partner_port': 11,
                    'carrying': True,
                },
                {
                    'port': 2,
                    'lag': 1,
                    'role': 'selected',
                    'link_up': True,
                    'partner_up': False,
                    'partner': None,
                    'partner_port': None,
                    'carrying': False,
                },
            ],
        }
    }


def test_min_lacp_health_is_said_in_the_connect_line():
    loaded = policy(MCLAG)
    s1 = PolicySwitch.of(FakeDatapath(1), loaded)
    s2 = PolicySwitch.of(FakeDatapath(2), loaded)
    assert s1 is not None and s2 is not None
    assert s1.hardware_note == ' (min_lacp_health: not counted in the stack root election)'
    assert s2.hardware_note == ''


def test_a_reload_that_changes_lacp_options_leaves_the_lag_carrying_and_the_rules_alone():
    sw = switch()
    sw.lacp_in(1, partner_pdu(1))
    sw.lacp_in(2, partner_pdu(2))
    sw.relag()
    change = sw.apply(policy(POLICY.replace('lacp_active: true}', 'lacp_port_priority: 7}')))
    assert len(change) == 0 and change.messages == []
    assert sw.carrying == {1: frozenset({1, 2})}
    assert decoded(sw.lags.pdu(1)).actor_port_priority == 7
