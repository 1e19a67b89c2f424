"""FAUCET's per-port options (controller/vswitch/portopts.py) and the stack root
election options (controller/vswitch/stack_root.py): validation as FAUCET validates
them, the rules compiled, and what a switch sends (LLDP beacons, the loop_protect ban,
LLDP heard)."""

import textwrap

import pytest
import yaml

from controller.config import ConfigError
from controller.learning import Learned
from controller.ofmatch import OFPP_IN_PORT
from controller.vswitch import load_policy_text, pipeline, portopts, stack_root
from controller.vswitch.fabric import Fabric
from controller.vswitch.pipeline import ETH_DST, ETH_SRC, VLAN, compile_datapath
from controller.vswitch.switch import PolicySwitch
from tests.harness.fakes import FakeDatapath
from tests.unit.test_vswitch_switch import SETTINGS, tagged_frame

P = 0x1000  # OFPVID_PRESENT


def load(text):
    return load_policy_text(textwrap.dedent(text), 'faucet.yaml')


def messages_of(text):
    with pytest.raises(ConfigError) as caught:
        load(text)
    return [(e.path, e.message) for e in caught.value.errors]


def rules(policy, name='s1'):
    return compile_datapath(policy, policy.dps[name])


def find(specs, table, **match):
    return [s for s in specs if s.table == table and s.match_dict() == match]


# --- FAUCET's own configs (tests/unit/faucet/test_config.py) load -----------------------

LLDP_ALL = '''
vlans:
    office:
        vid: 100
dps:
    sw1:
        dp_id: 0x1
        lldp_beacon:
            system_name: test_system
            send_interval: 10
            max_per_interval: 10
        interfaces:
            testing:
                number: 1
                native_vlan: office
                lldp_beacon:
                    enable: true
                    system_name: port_system
                    port_descr: port_description
                    org_tlvs:
                        - {oui: 0x12bb, subtype: 2, info: "01406500"}
'''

STACK_OPTIONS = '''
vlans:
    vlan100:
        vid: 100
dps:
    sw1:
        dp_id: 1
        stack: {priority: 1, down_time_multiple: 1, route_learning: True, min_stack_health: 0.5}
        interfaces:
            1:
                native_vlan: vlan100
            2:
                stack: {dp: sw2, port: 2}
    sw2:
        dp_id: 2
        stack: {priority: 2}
        interfaces:
            1:
                native_vlan: vlan100
            2:
                stack: {dp: sw1, port: 2}
'''


def test_faucets_lldp_and_stack_configs_load_and_round_trip():
    for text in (LLDP_ALL, STACK_OPTIONS):
        policy = load(text)
        assert load(yaml.safe_dump(policy.to_data())) == policy
    intf = load(LLDP_ALL).dps['sw1'].interfaces[1]
    assert intf.lldp_beacon == portopts.Beacon(
        'port_system', 'port_description', ((0x12BB, 2, '01406500'),)
    )
    sw1 = load(STACK_OPTIONS).dps['sw1']
    assert (sw1.down_time_multiple, sw1.route_learning, sw1.min_stack_health) == (1, True, 0.5)
    assert load(STACK_OPTIONS).dps['sw2'].down_time_multiple == 3  # FAUCET's default


def test_a_beacon_without_enable_sends_nothing():
    text = LLDP_ALL.replace('enable: true', 'enable: false')
    assert load(text).dps['sw1'].interfaces[1].lldp_beacon is None


@pytest.mark.parametrize(
    'port, path, expected',
    [
        (
            '3: {native_vlan: office, lldp_peer_mac: "11:22:33:44:55"}',
            'dps.s1.interfaces.3.lldp_peer_mac',
            'is not a MAC address',
        ),
        (
            '3: {coprocessor: {strategy: mpls}}',
            'dps.s1.interfaces.3.coprocessor.strategy',
            "vlan_vid (FAUCET's only strategy)",
        ),
        (
            '3: {coprocessor: {vlan_vid_base: 10}}',
            'dps.s1.interfaces.3.coprocessor',
            "missing key 'strategy'",
        ),
        (
            '3: {coprocessor: {strategy: vlan_vid}, native_vlan: office}',
            'dps.s1.interfaces.3.native_vlan',
            'coprocessor port, which carries no VLAN of its own',
        ),
        (
            '3: {coprocessor: {strategy: vlan_vid}, hairpin: true}',
            'dps.s1.interfaces.3.hairpin',
            'coprocessor port, which carries no VLAN traffic: hairpin',
        ),
        (
            '3: {mirror: 1, lldp_beacon: {enable: true}}',
            'dps.s1.interfaces.3.lldp_beacon',
            'mirror or output_only port, which carries no VLAN traffic',
        ),
        (
            '3: {native_vlan: office, lldp_beacon: {enable: true, org_tlvs: [{oui: 1, info: x}]}}',
            'dps.s1.interfaces.3.lldp_beacon.org_tlvs.0',
            "missing key 'subtype'",
        ),
        (
            '3: {native_vlan: office, lldp_beacon: {enable: true, ttl: 3}}',
            'dps.s1.interfaces.3.lldp_beacon.ttl',
            "unknown key 'ttl'",
        ),
        (
            '3: {native_vlan: office, loop_protect: 1}',
            'dps.s1.interfaces.3.loop_protect',
            'expected true or false',
        ),
    ],
)
def test_bad_port_options_are_errors_at_their_place(port, path, expected):
    text = (
        '''
    vlans: {office: {vid: 100}}
    dps:
      s1:
        dp_id: 1
        interfaces:
          1: {native_vlan: office}
          %s
    '''
        % port
    )
    found = messages_of(text)
    assert len(found) == 1 and found[0][0] == path and expected in found[0][1], found


def test_port_options_on_a_stack_port_are_errors():
    text = STACK_OPTIONS.replace(
        'stack: {dp: sw2, port: 2}\n',
        'stack: {dp: sw2, port: 2}\n                receive_lldp: true\n',
    )
    [(path, message)] = messages_of(text)
    assert path == 'dps.sw1.interfaces.2.receive_lldp'
    assert 'a stack port, which carries no VLAN traffic: receive_lldp' in message


def test_min_stack_health_is_a_fraction_written_with_a_point():
    for value, message in (('1', 'written with a point'), ('1.5', 'a fraction 0.0..1.0')):
        text = STACK_OPTIONS.replace('min_stack_health: 0.5', 'min_stack_health: %s' % value)
        [(path, found)] = messages_of(text)
        assert path == 'dps.sw1.stack.min_stack_health' and message in found


# --- compiled rules -----------------------------------------------------------------

PORTS = '''
vlans: {office: {vid: 100}, guest: {vid: 200}}
dps:
  s1:
    dp_id: 1
    interfaces:
      1: {native_vlan: office, hairpin: true}
      2: {native_vlan: office}
      3: {tagged_vlans: [office, guest], loop_protect_external: true}
      4: {native_vlan: office, loop_protect_external: true}
      5: {native_vlan: office, receive_lldp: true, loop_protect: true}
      6: {coprocessor: {strategy: vlan_vid, vlan_vid_base: 0x200}}
      7: {native_vlan: guest}
'''


def flood_of(specs, vid, in_port):
    [rule] = find(specs, ETH_DST, vlan_vid=P | vid, in_port=in_port)
    [(kind, actions)] = rule.instructions
    return [a[1] if a[0] == 'output' else a[0] for a in actions]


def test_floods_hairpin_back_out_and_leave_by_the_first_external_port_only():
    specs = rules(load(PORTS))
    # from the hairpin port: back out of it (IN_PORT), the first external (3) only
    assert flood_of(specs, 100, 1) == [3, 'pop_vlan', OFPP_IN_PORT, 2, 5]
    assert flood_of(specs, 100, 2) == [3, 'pop_vlan', 1, 5]
    # from an external port: to no external port
    assert flood_of(specs, 100, 3) == ['pop_vlan', 1, 2, 5]
    assert flood_of(specs, 100, 4) == ['pop_vlan', 1, 2, 5]
    # VLAN 200 has one external port, which gets floods from the others
    assert flood_of(specs, 200, 7) == [3]
    assert flood_of(specs, 200, 3) == ['pop_vlan', 7]


def test_without_combinatorial_flood_hairpin_and_external_ports_keep_their_own_floods():
    specs = rules(
        load(PORTS.replace('dp_id: 1\n', 'dp_id: 1\n    combinatorial_port_flood: false\n'))
    )
    [vlan_wide] = find(specs, ETH_DST, vlan_vid=P | 100)
    assert [a[1] for a in vlan_wide.instructions[0][1] if a[0] == 'output'] == [3, 1, 2, 5]
    assert {
        s.match_dict()['in_port']
        for s in specs
        if 'in_port' in s.match_dict()
        and s.table == ETH_DST
        and s.priority == pipeline.PRIO_FLOOD + 1
    } == {1, 3, 4}
    assert flood_of(specs, 100, 4) == ['pop_vlan', 1, 2, 5]
    assert not find(specs, ETH_DST, vlan_vid=P | 100, in_port=2)


def test_frames_are_marked_by_where_they_came_in_when_a_port_is_external():
    specs = rules(load(PORTS))
    [access] = find(specs, VLAN, in_port=4, vlan_vid=0)
    assert access.instructions[0][1][-1] == ('set_field', 'vlan_pcp', portopts.FROM_EXTERNAL)
    [inside] = find(specs, VLAN, in_port=2, vlan_vid=0)
    assert inside.instructions[0][1][-1] == ('set_field', 'vlan_pcp', portopts.FROM_INSIDE)
    [trunk] = find(specs, VLAN, in_port=3, vlan_vid=P | 200)
    assert trunk.instructions[0] == (
        'apply',
        (('set_field', 'vlan_pcp', portopts.FROM_EXTERNAL),),
    )
    # no external port: no marks
    plain = rules(load(PORTS.replace('loop_protect_external: true', 'max_hosts: 9')))
    [unmarked] = find(plain, VLAN, in_port=2, vlan_vid=0)
    assert all(a[0] != 'set_field' or a[1] != 'vlan_pcp' for a in unmarked.instructions[0][1])


FABRIC = '''
vlans: {office: {vid: 100}}
dps:
  s1:
    dp_id: 1
    stack: {priority: 1}
    interfaces:
      1: {native_vlan: office}
      5: {stack: {dp: s2, port: 4}}
  s2:
    dp_id: 2
    interfaces:
      1: {native_vlan: office}
      2: {native_vlan: office, loop_protect_external: true}
      4: {stack: {dp: s1, port: 5}}
      5: {stack: {dp: s3, port: 4}}
  s3:
    dp_id: 3
    interfaces:
      1: {native_vlan: office}
      2: {native_vlan: office, loop_protect_external: true}
      4: {stack: {dp: s2, port: 5}}
'''


def test_on_a_fabric_floods_leave_by_one_switchs_external_port():
    policy = load(FABRIC)
    assert portopts.external_flooders(policy, Fabric.of(policy)) == {100: 2}
    s1, s2, s3 = (rules(policy, name) for name in ('s1', 's2', 's3'))
    # s1 has no external port but marks what its hosts send
    [in1] = find(s1, VLAN, in_port=1, vlan_vid=0)
    assert ('set_field', 'vlan_pcp', portopts.FROM_INSIDE) in in1.instructions[0][1]
    # s2 is the VLAN's exit: from a host, or from the fabric unmarked: out of port 2
    assert flood_of(s2, 100, 1) == [4, 5, 'pop_vlan', 2]
    assert flood_of(s2, 100, 4) == [5, 'pop_vlan', 1, 2]
    [marked] = find(s2, ETH_DST, vlan_vid=P | 100, in_port=4, vlan_pcp=portopts.FROM_EXTERNAL)
    assert [a[1] for a in marked.instructions[0][1] if a[0] == 'output'] == [5, 1]
    # s3 is not: its external port gets no flood, from anywhere
    assert flood_of(s3, 100, 1) == [4]
    assert flood_of(s3, 100, 4) == ['pop_vlan', 1]
    assert flood_of(s3, 100, 2) == [4, 'pop_vlan', 1]


def test_a_host_held_on_another_switch_is_not_learned_on_an_external_port():
    policy = load(FABRIC)
    s2 = PolicySwitch.of(FakeDatapath(2), policy)
    s3 = PolicySwitch.of(FakeDatapath(3), policy)
    host = '0e:00:00:00:00:31'
    assert learn_at(s3, 1.0, 1, tagged_frame(host, 100)).result is Learned.NEW
    assert s3.holds_locally(100, host) and not s2.holds_locally(100, host)
    seen = s2.learn(2, tagged_frame(host, 100), SETTINGS, held_elsewhere=s3.holds_locally)
    assert seen.result is Learned.REFUSED and seen.messages == []
    # on an ordinary port it is learned (it moved)
    assert (
        s2.learn(1, tagged_frame(host, 100), SETTINGS, held_elsewhere=s3.holds_locally).result
        is Learned.NEW
    )
    # and a host only seen on external ports is learned there
    other = '0e:00:00:00:00:32'
    assert (
        s2.learn(2, tagged_frame(other, 100), SETTINGS, held_elsewhere=s3.holds_locally).result
        is Learned.NEW
    )
    assert not s2.holds_locally(100, other)


def test_receive_lldp_sends_the_ports_lldp_to_the_controller():
    [rule] = find(rules(load(PORTS)), VLAN, in_port=5, eth_type=0x88CC)
    assert rule.instructions == (('apply', (('controller', 0xFFFF),)),)
    assert rule.priority > pipeline.PRIO_VLAN
    assert rule.cookie == pipeline.COOKIES.cookie(pipeline.LLDP_IN)


def test_a_coprocessor_ports_vid_picks_the_output_port_else_its_vlan():
    specs = rules(load(PORTS))
    for port in (1, 2, 3, 4, 5, 7):
        [direct] = find(specs, VLAN, in_port=6, vlan_vid=P | (0x200 + port))
        assert direct.instructions == (('apply', (('pop_vlan',), ('output', port))),)
    assert not find(specs, VLAN, in_port=6, vlan_vid=P | 0x206)  # not to itself
    # a VLAN's tag: on to forwarding, past the VLAN ACLs and learning
    [inject] = find(specs, VLAN, in_port=6, vlan_vid=P | 100)
    assert inject.instructions == (  # marked as from inside (the switch has externals)
        ('apply', (('set_field', 'vlan_pcp', portopts.FROM_INSIDE),)),
        ('goto', ETH_DST),
    )
    assert inject.priority < direct.priority
    assert flood_of(specs, 100, 6) == [3, 'pop_vlan', 1, 2, 5]
    assert not find(specs, VLAN, in_port=6, vlan_vid=0)  # untagged: dropped (a miss)


def test_learned_hosts_of_hairpin_and_external_ports():
    plans = pipeline.port_plans(load(PORTS), load(PORTS).dps['s1'])
    hairpin = pipeline.learned_rules(plans[1], 100, '0e:00:00:00:00:01', 300, 225)
    [back] = [s for s in hairpin if s.match_dict().get('in_port') == 1 and s.table == ETH_DST]
    assert back.instructions == (('apply', (('pop_vlan',), ('output', OFPP_IN_PORT))),)
    assert back.priority > pipeline.PRIO_LEARNED
    external = pipeline.learned_rules(plans[4], 100, '0e:00:00:00:00:04', 300, 225)
    [kept] = [s for s in external if s.cookie == pipeline.COOKIES.cookie(pipeline.EXTERNAL)]
    assert kept.match_dict() == {
        'vlan_pcp': portopts.FROM_EXTERNAL,
        'vlan_vid': P | 100,
        'eth_dst': '0e:00:00:00:00:04',
    }
    assert kept.instructions == () and kept.priority > pipeline.PRIO_LEARNED
    assert len(pipeline.learned_rules(plans[2], 100, '0e:00:00:00:00:02', 300, 225)) == 2


# --- what a switch sends ------------------------------------------------------------------

BEACONS = '''
vlans: {office: {vid: 100}}
dps:
  s1:
    dp_id: 1
    lldp_beacon: {send_interval: 10, max_per_interval: 2, system_name: edge}
    interfaces:
      1: {native_vlan: office, description: desk, lldp_beacon: {enable: true}}
      2:
        native_vlan: office
        lldp_beacon:
          enable: true
          system_name: own
          port_descr: two
          org_tlvs:
            - {oui: 0x12bb, subtype: 2, info: "01406500"}
            - {oui: 0xa0b0c, subtype: 1, info: hello}
      3: {native_vlan: office, lldp_beacon: {enable: true}}
      4: {native_vlan: office}
'''


def sent_ports(messages):
    return [m.actions[0].port for m in messages]


def test_beacons_go_out_every_send_interval_on_at_most_max_per_interval_ports():
    sw = PolicySwitch.of(FakeDatapath(1), load(BEACONS))
    assert sent_ports(sw.beacons(100.0)) == [1, 2]
    assert sw.beacons(105.0) == []  # within the interval
    assert sent_ports(sw.beacons(110.0)) == [3, 1]  # the one waiting longest first
    assert sent_ports(sw.beacons(120.0)) == [2, 1]  # then the lower port


def test_a_beacon_carries_the_configured_tlvs():
    sw = PolicySwitch.of(FakeDatapath(1), load(BEACONS))
    frames = {m.actions[0].port: bytes(m.data) for m in sw.beacons(0.0)}
    one, two = portopts.lldp_tlvs(frames[1]), portopts.lldp_tlvs(frames[2])
    assert frames[1][:6] == bytes.fromhex('0180c200000e')
    assert one[1] == b'\x04' + bytes.fromhex('0e0000000001')  # chassis: FAUCET's MAC
    assert one[2] == b'\x051' and one[3] == (30).to_bytes(2, 'big')  # port 1, TTL 3 x 10
    assert (one[5], one[4]) == (b'edge', b'desk')  # the switch's name, the description
    assert (two[5], two[4]) == (b'own', b'two')
    assert two[127] == bytes.fromhex('0012bb02' + '01406500')
    assert frames[2].endswith(bytes.fromhex('fe090a0b0c01') + b'hello' + b'\x00\x00')


def test_no_beacons_without_the_switchs_lldp_beacon():
    text = BEACONS.replace(
        '    lldp_beacon: {send_interval: 10, max_per_interval: 2, system_name: edge}\n', ''
    )
    sw = PolicySwitch.of(FakeDatapath(1), load(text))
    assert sw.beacons(0.0) == []


def test_lldp_heard_is_logged_once_and_a_wrong_peer_mac_is_ignored():
    text = PORTS.replace(
        'receive_lldp: true', 'receive_lldp: true, lldp_peer_mac: "0E:00:00:00:00:09"'
    )
    sw = PolicySwitch.of(FakeDatapath(1), load(text))
    beacon = portopts.beacon_frame('0e:00:00:00:00:09', 7, portopts.Beacon(), 'peer', None, 5)
    assert sw.lldp_heard(5, beacon) == ('info', 's1 port 5: LLDP peer 0e:00:00:00:00:09 peer / 7')
    assert sw.lldp_heard(5, beacon) is None
    other = portopts.beacon_frame('0e:00:00:00:00:08', 7, portopts.Beacon(), 'peer', None, 5)
    level, message = sw.lldp_heard(5, other)
    assert level == 'warning' and 'ignored: lldp_peer_mac is 0e:00:00:00:00:09' in message


def learn_at(sw, now, port, frame):
    """What ``sw`` learns from ``frame`` on ``port`` at ``now`` (its clock's seconds)."""
    sw.clock = lambda: now
    return sw.learn(port, frame, SETTINGS)


def test_loop_protect_bans_learning_on_a_port_a_host_jumps_to():
    sw = PolicySwitch.of(FakeDatapath(1), load(PORTS))
    host = '0e:00:00:00:00:22'
    assert learn_at(sw, 10.0, 2, tagged_frame(host, 100)).result is Learned.NEW
    seen = learn_at(sw, 11.0, 5, tagged_frame(host, 100))
    assert seen.looped and seen.result is Learned.REFUSED and seen.previous == 2
    [ban] = seen.messages
    assert ban.table_id == ETH_SRC and ban.match['in_port'] == 5 and ban.instructions == []
    assert ban.hard_timeout == portopts.LOOP_BAN_SECONDS
    assert ban.priority == pipeline.PRIO_LOOP_BAN
    # the ban holds while the port keeps sending new sources
    assert learn_at(sw, 40.0, 5, tagged_frame('0e:00:00:00:00:23', 100)).looped
    # a move after the guard time (half the idle timeout) is a move, not a loop
    late = PolicySwitch.of(FakeDatapath(1), load(PORTS))
    learn_at(late, 10.0, 2, tagged_frame(host, 100))
    assert learn_at(late, 200.0, 5, tagged_frame(host, 100)).result is Learned.MOVED
    # a port without loop_protect just learns the move
    other = PolicySwitch.of(FakeDatapath(1), load(PORTS))
    learn_at(other, 10.0, 2, tagged_frame(host, 100))
    assert learn_at(other, 11.0, 1, tagged_frame(host, 100)).result is Learned.MOVED


def test_a_host_leaving_an_external_port_takes_its_drops_along():
    sw = PolicySwitch.of(FakeDatapath(1), load(PORTS))
    host = '0e:00:00:00:00:44'
    learned = learn_at(sw, 1.0, 4, tagged_frame(host, 100))
    assert len(learned.messages) == 3  # source, destination, the drop from port 3
    moved = learn_at(sw, 500.0, 2, tagged_frame(host, 100))
    delete = moved.messages[0]
    assert delete.command == delete.datapath.ofproto.OFPFC_DELETE
    assert delete.cookie == pipeline.COOKIES.cookie(pipeline.EXTERNAL)
    assert len(sw.forget(4, 100)) == 3  # and a delete of its port's hairpin-like extras
    assert len(sw.forget(2, 100)) == 2


# --- the stack root election ------------------------------------------------------------


def candidate(dp_id, priority, up=2, of=2, live=0.0, health=1.0, down_time=3):
    return stack_root.Candidate(dp_id, priority, of, up, health, down_time, live)


def test_the_root_stays_while_healthy_and_the_best_healthy_takes_over():
    a, b, c = candidate(1, 1), candidate(2, 2), candidate(3, 3)
    assert stack_root.first_root([b, c, a]) == 1
    assert stack_root.elect([a, b, c], 1, 5.0) == 1
    # the root loses a stack port (min_stack_health 1.0): the next takes over
    assert stack_root.elect([candidate(1, 1, up=1), b, c], 1, 5.0) == 2
    # with min_stack_health 0.5 it stays
    assert stack_root.elect([candidate(1, 1, up=1, health=0.5), b, c], 1, 5.0) == 1
    # a root back to health does not take the root back from a healthy one
    assert stack_root.elect([a, b, c], 2, 5.0) == 2
    # more stack ports up wins before priority
    assert (
        stack_root.elect(
            [candidate(1, 1, up=0), candidate(2, 2, up=1, health=0.5), candidate(3, 3, health=0.5)],
            1,
            5.0,
        )
        == 3
    )


def test_a_root_disconnected_longer_than_down_time_multiple_intervals_gives_way():
    b = candidate(2, 2, live=100.0)
    gone = candidate(1, 1, live=60.0, down_time=3)  # 3 x 10 s
    assert stack_root.elect([gone, b], 1, 89.0) == 1
    assert stack_root.elect([gone, b], 1, 91.0) == 2
    assert stack_root.elect([candidate(1, 1, live=60.0, down_time=5), b], 1, 91.0) == 1
    # nobody healthy: the root stays while connected, else the best connected one
    sick = [candidate(1, 1, up=0, live=100.0), candidate(2, 2, up=1, live=100.0)]
    assert stack_root.elect(sick, 1, 100.0) == 1
    assert (
        stack_root.elect([candidate(1, 1, live=None), candidate(2, 2, up=0, live=100.0)], 1, 100.0)
        == 2
    )
    assert stack_root.elect([candidate(1, 1, live=None)], 1, 100.0) == 1


def test_an_elected_root_roots_the_flood_tree():
    policy = load(STACK_OPTIONS)
    assert Fabric.of(policy).root == 1
    moved = Fabric.of(policy, root=2)
    assert moved.root == 2 and moved.tree == Fabric.of(policy).tree  # one link: same ports
    assert Fabric.of(policy, root=99).root == 1  # not a candidate: the static root
