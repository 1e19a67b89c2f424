"""FAUCET's per-port options on a real switch (apps/vswitch_policy.py,
tests/mininet/policies/faucet_portopts.yaml; controller/vswitch/portopts.py): LLDP
beacons captured by tcpdump, receive_lldp and lldp_peer_mac, hairpin, loop_protect,
loop_protect_external and a coprocessor port, each with raw frames: what must arrive
arrives, and what must not does not.

One switch, six hosts: h1 hairpin and beacons; h2 receive_lldp; h3, h4 external; h5
the coprocessor; h6 loop_protect. VLAN 100 everywhere but on h5. Then
loop_protect_external across two stacked switches
(tests/mininet/policies/faucet_portopts_stack.yaml).
"""

import os
import shutil
import struct
import time

import pytest

from controller.vswitch import portopts
from tests.harness.frames import frame, received_headers, who_receives
from tests.harness.network import network_fixtures, wait_until
from topologies.linear import LinearTopo

POLICIES = os.path.join(os.path.dirname(__file__), 'policies')
BCAST = 'ff:ff:ff:ff:ff:ff'
VLAN_HOSTS = {'h1', 'h2', 'h3', 'h4', 'h6'}


def start_portopts_switch(controller, network, folder):
    policy = folder / 'faucet.yaml'
    shutil.copy(os.path.join(POLICIES, 'faucet_portopts.yaml'), policy)
    ctl = controller(
        ['apps/vswitch_policy.py'], config={'vswitch_policy': {'policy_file': str(policy)}}
    )
    net = network(LinearTopo(n=1, hosts_per_switch=6), ctl)
    assert wait_until(lambda: ctl.log_lines('connected:'), 20), ctl.log_tail()
    return ctl, net, folder


portopts_switch, shared_portopts_switch = network_fixtures(start_portopts_switch, 'portopts_switch')


def pcap_frames(path):
    """[(seconds, frame bytes)] of a pcap file (tcpdump -w)."""
    data = open(path, 'rb').read()
    frames, offset = [], 24
    while offset + 16 <= len(data):
        sec, usec, length, _ = struct.unpack_from('=IIII', data, offset)
        frames.append((sec + usec / 1e6, data[offset + 16 : offset + 16 + length]))
        offset += 16 + length
    return frames


def lldp_from(src, name):
    """An LLDP frame (hex) from ``src`` naming system ``name``."""
    beacon = portopts.beacon_frame(src, 9, portopts.Beacon(), name, None, 5)
    return beacon.hex()


class TestOneSwitch:
    """One switch for the options that leave no state in the way of another test's
    (loop_protect's ban, which holds for a minute, gets a switch of its own below)."""

    def test_lldp_beacons_leave_the_port_at_the_interval_with_the_tlvs(
        self, shared_portopts_switch
    ):
        """h1's port sends a beacon a second (send_interval: 1) with the switch's system
        name, the port description and the org TLV; h6's port, without lldp_beacon, none."""
        _, net, tmp_path = shared_portopts_switch
        captures = {}
        for name in ('h1', 'h6'):
            host = net.get(name)
            path = str(tmp_path / ('%s.pcap' % name))
            captures[name] = (
                host.popen(
                    [
                        'tcpdump',
                        '-U',
                        '-n',
                        '-i',
                        host.intf().name,
                        '-w',
                        path,
                        'ether proto 0x88cc',
                    ]
                ),
                path,
            )
        time.sleep(5.5)
        for proc, _ in captures.values():
            proc.terminate()
            proc.wait(timeout=5)
        beacons = pcap_frames(captures['h1'][1])
        times = [at for at, _ in beacons]
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        print('beacons on h1 in 5.5 s: %d, gaps %s' % (len(beacons), ['%.2f' % g for g in gaps]))
        assert 4 <= len(beacons) <= 7 and all(0.7 <= gap <= 1.5 for gap in gaps), gaps
        tlvs = portopts.lldp_tlvs(beacons[-1][1])
        assert tlvs[1] == b'\x04' + bytes.fromhex('0e0000000001')
        assert tlvs[2] == b'\x051' and tlvs[3] == (3).to_bytes(2, 'big')
        assert (tlvs[5], tlvs[4]) == (b'portopts-s1', b'to h1')
        assert tlvs[127] == bytes.fromhex('0012bb02' + '01406500')
        assert pcap_frames(captures['h6'][1]) == []

    def test_receive_lldp_takes_lldp_to_the_controller_from_the_peer_mac_only(
        self, shared_portopts_switch
    ):
        """LLDP from h2's port goes to the controller (logged, flooded to nobody); from a
        MAC other than lldp_peer_mac it is reported and ignored. LLDP from h6's port, which
        does not receive LLDP, is no business of the controller's."""
        ctl, net, _ = shared_portopts_switch
        h2, h6 = net.get('h2', 'h6')
        got = who_receives(
            net,
            [
                (h2, lldp_from('0e:00:00:00:02:02', 'peer-switch'), 'peer-switch'),
                (h2, lldp_from('0e:00:00:00:02:99', 'impostor'), 'impostor'),
            ],
        )
        assert got == {'peer-switch': set(), 'impostor': set()}, got
        assert wait_until(lambda: ctl.log_lines('LLDP peer 0e:00:00:00:02:02 peer-switch / 9'), 5)
        assert len(ctl.log_lines('s1 port 2: LLDP peer')) == 1  # three frames, one line
        assert ctl.log_lines('LLDP from 0e:00:00:00:02:99 (impostor / 9) ignored')
        who_receives(net, [(h6, lldp_from(h6.MAC(), 'not-asked'), 'not-asked')], seconds=1.0)
        assert not ctl.log_lines('not-asked'), ctl.log_tail()

    def test_hairpin_sends_floods_and_unicast_back_out_of_their_port(self, shared_portopts_switch):
        """h1's port is a hairpin port (two hosts behind one radio): its broadcast comes
        back to it; a frame to a MAC learned on it goes back to it and nowhere else."""
        ctl, net, _ = shared_portopts_switch
        h1, h2 = net.get('h1', 'h2')
        behind = '0e:00:00:00:01:02'  # the second host behind h1's port
        who_receives(net, [(h1, frame(BCAST, behind, 'learn-me'), 'learn-me')], seconds=1.0)
        assert wait_until(lambda: ctl.log_lines('host %s learned on s1 port 1' % behind), 5)
        got = who_receives(
            net,
            [
                (h1, frame(BCAST, h1.MAC(), 'h1-bcast'), 'h1-bcast'),
                (h1, frame(behind, h1.MAC(), 'to-behind'), 'to-behind'),
                (h2, frame(behind, h2.MAC(), 'h2-to-behind'), 'h2-to-behind'),
                (h2, frame(BCAST, h2.MAC(), 'h2-bcast'), 'h2-bcast'),
            ],
        )
        assert got == {
            'h1-bcast': {'h1', 'h2', 'h3', 'h6'},  # h3: the first external port only
            'to-behind': {'h1'},
            'h2-to-behind': {'h1'},
            'h2-bcast': {'h1', 'h3', 'h6'},
        }, got

    def test_loop_protect_external_floods_out_of_one_external_port_and_none_back(
        self, shared_portopts_switch
    ):
        """h3 and h4 lead to another network: a broadcast leaves by h3 only; one from an
        external port reaches the hosts but no external port; unicast from one external
        port to a host learned on the other is dropped, from a host it is delivered."""
        ctl, net, _ = shared_portopts_switch
        h2, h3, h4, h6 = net.get('h2', 'h3', 'h4', 'h6')
        who_receives(net, [(h4, frame(BCAST, h4.MAC(), 'learn-h4'), 'learn-h4')], seconds=1.0)
        assert wait_until(lambda: ctl.log_lines('host %s learned on s1 port 4' % h4.MAC()), 5), (
            ctl.log_tail()
        )
        got = who_receives(
            net,
            [
                (h2, frame(h4.MAC(), h2.MAC(), 'h2-to-h4'), 'h2-to-h4'),
                (h3, frame(h4.MAC(), h3.MAC(), 'h3-to-h4'), 'h3-to-h4'),
                (h6, frame(BCAST, h6.MAC(), 'h6-bcast'), 'h6-bcast'),
                (h3, frame(BCAST, h3.MAC(), 'h3-bcast'), 'h3-bcast'),
                (h4, frame(BCAST, h4.MAC(), 'h4-bcast'), 'h4-bcast'),
            ],
            seconds=6.0,  # five senders, one after the other, on a loaded machine
        )
        assert got == {
            'h6-bcast': {'h1', 'h2', 'h3'},
            'h3-bcast': {'h1', 'h2', 'h6'},
            'h4-bcast': {'h1', 'h2', 'h6'},
            'h3-to-h4': set(),
            'h2-to-h4': {'h4'},
        }, got

    def test_a_coprocessor_frame_leaves_by_the_port_its_vid_names(self, shared_portopts_switch):
        """h5 is a coprocessor (vlan_vid_base 0x200): a frame tagged 0x203 leaves by h3
        only, untagged; tagged 0x206 by h6 only; tagged with VLAN 100 it is flooded in
        VLAN 100 (one external port); untagged it goes nowhere."""
        _, net, _ = shared_portopts_switch
        h5 = net.get('h5')
        got = received_headers(
            net,
            [
                (h5, frame(BCAST, h5.MAC(), 'to-port-3', vids=(0x203,)), 'to-port-3'),
                (h5, frame('0e:00:00:00:00:66', h5.MAC(), 'to-port-6', vids=(0x206,)), 'to-port-6'),
                (h5, frame(BCAST, h5.MAC(), 'in-vlan-100', vids=(100,)), 'in-vlan-100'),
                (h5, frame(BCAST, h5.MAC(), 'untagged'), 'untagged'),
            ],
        )
        untagged = {'88b5'}
        assert got['to-port-3'] == {'h3': untagged}, got
        assert got['to-port-6'] == {'h6': untagged}, got
        assert got['in-vlan-100'] == {h: untagged for h in ('h1', 'h2', 'h3', 'h6')}, got
        assert got['untagged'] == {}, got


def test_loop_protect_bans_learning_on_a_port_a_host_jumps_to(portopts_switch):
    """h2's MAC shows up on h6's port (loop_protect) a moment after h2 sent: a loop.
    Learning on h6's port is banned: its new sources go nowhere while the ban holds;
    h2 keeps working."""
    ctl, net, _ = portopts_switch
    h2, h6 = net.get('h2', 'h6')
    who_receives(net, [(h2, frame(BCAST, h2.MAC(), 'h2-first'), 'h2-first')], seconds=1.0)
    assert wait_until(lambda: ctl.log_lines('learned on s1 port 2'), 5), ctl.log_tail()
    who_receives(net, [(h6, frame(BCAST, h2.MAC(), 'looped'), 'looped')], seconds=1.0)
    assert wait_until(lambda: ctl.log_lines('a loop; learning on port 6 banned'), 5), ctl.log_tail()
    flows = net.get('s1').cmd('ovs-ofctl -O OpenFlow13 --no-names dump-flows s1 table=3')
    assert 'hard_timeout=51, priority=1,in_port=6 actions=drop' in flows, flows
    got = who_receives(
        net,
        [
            (h6, frame(BCAST, '0e:00:00:00:06:66', 'new-source-on-h6'), 'new-source-on-h6'),
            (h2, frame(BCAST, h2.MAC(), 'h2-still'), 'h2-still'),
        ],
    )
    assert got == {'new-source-on-h6': set(), 'h2-still': {'h1', 'h3', 'h6'}}, got
    assert not ctl.log_lines('moved on s1 from port 2 to 6'), ctl.log_tail()


@pytest.fixture
def external_fabric(controller, network, tmp_path):
    policy = tmp_path / 'faucet.yaml'
    shutil.copy(os.path.join(POLICIES, 'faucet_portopts_stack.yaml'), policy)
    ctl = controller(
        ['apps/vswitch_policy.py'], config={'vswitch_policy': {'policy_file': str(policy)}}
    )
    net = network(LinearTopo(n=2, hosts_per_switch=3), ctl)
    assert wait_until(lambda: len(ctl.log_lines('connected:')) == 2, 20), ctl.log_tail()
    return ctl, net


def test_loop_protect_external_across_a_stack_fabric(external_fabric):
    """Two stacked switches, external ports h2, h3 (on s1, the root) and h5 (on s2):
    a VLAN's floods leave the fabric by s1's first external port (h2) only; what came
    in by an external port, on either switch, leaves by none (the PCP mark crosses
    the stack link) and is not delivered to a host learned on one; a host of s2 seen
    on s1's external port is not learned there and stays reached on s2."""
    ctl, net = external_fabric
    h1, h2, h3, h4, h5 = net.get('h1', 'h2', 'h3', 'h4', 'h5')
    learn = [(h, frame(BCAST, h.MAC(), 'learn-%s' % h.name), 'learn-%s' % h.name) for h in (h4, h5)]
    who_receives(net, learn, seconds=2.0)
    assert wait_until(
        lambda: all(
            ctl.log_lines('host %s learned on s2 port %d' % (h.MAC(), port))
            for h, port in ((h4, 1), (h5, 2))
        ),
        5,
    ), ctl.log_tail()
    got = who_receives(
        net,
        [
            (h2, frame(h5.MAC(), h2.MAC(), 'h2-to-h5'), 'h2-to-h5'),
            (h1, frame(h5.MAC(), h1.MAC(), 'h1-to-h5'), 'h1-to-h5'),
            (h4, frame(BCAST, h4.MAC(), 'h4-bcast'), 'h4-bcast'),
            (h1, frame(BCAST, h1.MAC(), 'h1-bcast'), 'h1-bcast'),
            (h5, frame(BCAST, h5.MAC(), 'h5-bcast'), 'h5-bcast'),
            (h2, frame(BCAST, h2.MAC(), 'h2-bcast'), 'h2-bcast'),
        ],
        seconds=7.0,
    )
    assert got == {
        'h2-to-h5': set(),
        'h1-to-h5': {'h5'},
        'h4-bcast': {'h1', 'h2', 'h6'},
        'h1-bcast': {'h2', 'h4', 'h6'},
        'h5-bcast': {'h1', 'h4', 'h6'},
        'h2-bcast': {'h1', 'h4', 'h6'},
    }, got
    # h4's MAC comes in by s1's external port h3: not learned there
    who_receives(net, [(h3, frame(BCAST, h4.MAC(), 'h4-echo'), 'h4-echo')], seconds=1.0)
    got = who_receives(net, [(h1, frame(h4.MAC(), h1.MAC(), 'h1-to-h4'), 'h1-to-h4')])
    assert got == {'h1-to-h4': {'h4'}}, got
    assert not ctl.log_lines('host %s moved' % h4.MAC()), ctl.log_tail()
