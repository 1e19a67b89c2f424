"""apps/l2_learning.py without a switch: its handlers and hooks driven with fake switches
(tests/harness/fake_switch.py) and a fake clock, the messages it sends read back. The
Mininet tests (tests/mininet/test_l2_learning.py) run the same paths on Open vSwitch."""

from ryu import cfg
from ryu.ofproto import ofproto_v1_3 as ofp

from controller.cookies import CookieSpace
from controller.l2 import pipeline as pipe
from controller.lldp import lldp_frame
from controller.openflow import mac_bytes
from tests.harness.fake_switch import (
    FakeSwitch,
    connected,
    dead,
    describe,
    flow_removed,
    packet_in,
    port,
    port_status,
)

CONF = cfg.CONF
H1, H2, H3, H4 = ('00:00:00:00:00:%02x' % n for n in (1, 2, 3, 4))
CONTROLLER = ofp.OFPP_CONTROLLER
PROBE = 2.5


def sent(dp):
    return [describe(m, pipe.COOKIES) for m in dp.take()]


def frame(src, dst='ff:ff:ff:ff:ff:ff'):
    return mac_bytes(dst) + mac_bytes(src) + b'\x08\x00' + bytes(46)


def connect(app, dpid, ports=(1, 2)):
    dp = FakeSwitch(dpid, ports)
    app._base_state_change(connected(dp))
    return dp


def start(app, clock, dpid, ports=(1, 2)):
    """A switch connected and taken over; what it was sent is taken."""
    dp = connect(app, dpid, ports)
    clock.now += PROBE
    app._probe_tick()
    dp.take()
    return dp


def cable(app, a, a_port, b, b_port):
    """LLDP heard both ways between a:a_port and b:b_port."""
    for (src, src_port), (dst, dst_port) in (
        ((a, a_port), (b, b_port)),
        ((b, b_port), (a, a_port)),
    ):
        app._packet_in(
            packet_in(
                dst,
                dst_port,
                lldp_frame(src.id, src_port, src.ports[src_port].hw_addr),
                pipe.LLDP_COOKIE,
            )
        )


def probe_ends(app, clock, dp):
    """The probe loop just before the probe time ends (nothing is sent), then at its
    end."""
    clock.now += PROBE - 0.1
    app._probe_tick()
    assert sent(dp) == []
    clock.now += 0.1
    app._probe_tick()


def learn(app, dp, in_port, mac):
    app._packet_in(packet_in(dp, in_port, frame(mac), pipe.MISS_COOKIE))


def add(table, priority, match, kind, outputs=(), timeouts=(0, 0)):
    return ('add', table, priority, match, kind, outputs, timeouts)


def delete(table, match, kind, out_port=None, strict_priority=None):
    return ('del', table, match, kind, out_port, strict_priority)


def drop(p):
    return add(0, pipe.PRIO_PORT_DROP, {'in_port': p}, pipe.PORT_DROP)


def flood(p, *outs):
    return add(1, pipe.PRIO_FLOOD, {'in_port': p}, pipe.FLOOD, outs)


def no_drop(p):
    return delete(0, {'in_port': p}, pipe.PORT_DROP, strict_priority=pipe.PRIO_PORT_DROP)


def no_flood(p):
    return delete(1, {'in_port': p}, pipe.FLOOD, strict_priority=pipe.PRIO_FLOOD)


def host_pair(mac, p):
    return [
        add(0, pipe.PRIO_LEARNED, {'in_port': p, 'eth_src': mac}, pipe.SRC, ('goto1',), (0, 225)),
        add(1, pipe.PRIO_LEARNED, {'eth_dst': mac}, pipe.DST, (p,), (300, 0)),
    ]


def host_gone(mac):
    return [delete(0, {'eth_src': mac}, pipe.SRC), delete(1, {'eth_dst': mac}, pipe.DST)]


FLUSH = [delete(None, {}, pipe.SRC), delete(None, {}, pipe.DST)]


def test_a_switch_gets_its_base_rules_and_is_taken_over_after_the_probe_time(app, clock, caplog):
    dp = connect(app, 1)
    assert sent(dp) == [
        ('out', 1),
        ('out', 2),  # LLDP out of every live port
        add(
            0, 65535, {'eth_type': 0x88CC, 'eth_dst': '01:80:c2:00:00:0e'}, pipe.LLDP, (CONTROLLER,)
        ),
        add(0, 0, {}, pipe.MISS, (CONTROLLER, 'goto1')),
    ]
    assert 'switch 0000000000000001 connected with 2 live ports' in caplog.text

    # Until the take-over, a previous run's rules are left alone and nothing is learned.
    learn(app, dp, 1, H1)
    probe_ends(app, clock, dp)
    assert sent(dp) == FLUSH + [no_drop(1), no_drop(2), flood(1, 2), flood(2, 1)]
    assert 'switch 0000000000000001: taken over after 2.5s of LLDP' in caplog.text
    app._probe_tick()
    assert sent(dp) == []


def test_a_take_over_removes_a_previous_runs_flood_of_a_port_that_is_down(app, clock):
    dp = FakeSwitch(1, (1, 2))
    dp.ports[3] = port(3, up=False)
    app._base_state_change(connected(dp))
    dp.take()
    clock.now += PROBE
    app._probe_tick()
    assert sent(dp) == FLUSH + [no_drop(1), no_drop(2), no_flood(3), flood(1, 2), flood(2, 1)]


def test_without_a_probe_time_a_switch_is_taken_over_at_once(make_app):
    app = make_app(probe_time=0)
    dp = connect(app, 1)
    assert sent(dp)[4:] == FLUSH + [no_drop(1), no_drop(2), flood(1, 2), flood(2, 1)]


def test_a_port_that_comes_up_drops_while_probed_then_forwards(app, clock, caplog):
    dp = start(app, clock, 1)
    app._base_port_status(port_status(dp, port(3), ofp.OFPPR_ADD))
    assert sent(dp) == [('out', 3), drop(3)]
    assert 'port 0000000000000001:3 up; probing for 2.5s' in caplog.text

    probe_ends(app, clock, dp)
    assert sent(dp) == [flood(1, 2, 3), flood(2, 1, 3), flood(3, 1, 2), no_drop(3)]
    assert 'switch 0000000000000001: forwarding ports [1, 2, 3], blocked []' in caplog.text


def test_a_link_discovered_blocks_the_port_that_closes_a_loop(app, clock, caplog):
    s1, s2, s3 = (start(app, clock, dpid, (1, 2, 3)) for dpid in (1, 2, 3))
    cable(app, s1, 2, s2, 2)
    cable(app, s1, 3, s3, 2)
    for dp in (s1, s2, s3):
        dp.take()
    cable(app, s2, 3, s3, 3)
    assert 'link 0000000000000002:3 -> 0000000000000003:3 discovered' in caplog.text
    # The tree from s1 goes s1-s2 and s1-s3: s2:3 and s3:3 close a loop, and block
    # before the floods leave them out.
    assert sent(s2) == [drop(3), no_flood(3), flood(1, 2), flood(2, 1)]
    assert sent(s3) == [drop(3), no_flood(3), flood(1, 2), flood(2, 1)]
    assert sent(s1) == []
    assert app.tree_ports == {1: {2, 3}, 2: {2}, 3: {2}}

    # Frames from the blocked port are not learned.
    learn(app, s2, 3, H1)
    assert sent(s2) == [] and H1 not in app.switches[2].macs


def test_a_tree_change_flushes_what_was_learned(app, clock, caplog):
    s1, s2 = start(app, clock, 1), start(app, clock, 2)
    learn(app, s1, 1, H1)
    learn(app, s2, 1, H2)
    assert sent(s1) == host_pair(H1, 1)
    s2.take()
    cable(app, s1, 2, s2, 2)
    assert 'spanning tree recomputed: 2 switches, 1 tree links' in caplog.text
    assert sent(s1)[:2] == FLUSH and sent(s2)[:2] == FLUSH
    assert len(app.switches[1].macs) == 0 and len(app.switches[2].macs) == 0
    # A switch not taken over yet keeps its entries until it is.
    s3 = connect(app, 3)
    s3.take()
    cable(app, s2, 1, s3, 1)
    assert FLUSH[0] not in sent(s3)


def test_learning_writes_the_host_pair_in_one_write(app, clock, caplog, monkeypatch):
    dp = start(app, clock, 1)
    writes = []
    monkeypatch.setattr(dp, 'send', lambda data, send=dp.send: (writes.append(data), send(data)))
    learn(app, dp, 1, H1)
    assert len(writes) == 1
    source, destination = dp.sent
    assert sent(dp) == host_pair(H1, 1)
    assert destination.flags == ofp.OFPFF_SEND_FLOW_REM and source.flags == 0
    assert 'host %s learned on switch 0000000000000001 port 1' % H1 in caplog.text
    assert app.switches[1].macs.lookup(H1) == 1
    # Seen again on the same port: the pair is written again (it refreshes the entries).
    learn(app, dp, 1, H1)
    assert sent(dp) == host_pair(H1, 1)


def test_packet_ins_that_are_not_learned(make_app, clock):
    app = make_app(packet_in_rate=0.001, packet_in_burst=3)
    dp = start(app, clock, 1)
    app._packet_in(packet_in(dp, 1, frame('01:00:5e:00:00:01'), pipe.MISS_COOKIE))
    app._packet_in(packet_in(dp, ofp.OFPP_LOCAL, frame(H1), pipe.MISS_COOKIE))
    other_app = CookieSpace('stable_routing').cookie(1)
    app._packet_in(packet_in(dp, 1, frame(H1), other_app))
    stale = FakeSwitch(1)
    app._packet_in(packet_in(stale, 1, frame(H1), pipe.MISS_COOKIE))
    assert sent(dp) == [] and stale.sent == [] and len(app.switches[1].macs) == 0
    # Over the packet-in budget (3, two of them spent above): ignored.
    learn(app, dp, 1, H1)
    learn(app, dp, 2, H2)
    assert sent(dp) == host_pair(H1, 1)


def test_a_mac_move_forgets_the_host_everywhere(app, clock, caplog):
    s1, s2 = start(app, clock, 1, (1, 2, 4)), start(app, clock, 2)
    cable(app, s1, 2, s2, 2)
    clock.now += PROBE
    app._probe_tick()
    learn(app, s1, 1, H1)
    learn(app, s2, 2, H1)
    s1.take(), s2.take()
    learn(app, s1, 4, H1)
    assert 'host %s moved on switch 0000000000000001 from port 1 to 4' % H1 in caplog.text
    assert sent(s1) == host_gone(H1) + host_pair(H1, 4)
    assert sent(s2) == host_gone(H1)
    assert app.switches[1].macs.lookup(H1) == 4 and H1 not in app.switches[2].macs


def test_a_host_port_over_its_mac_limit_is_banned(make_app, clock, caplog):
    app = make_app(max_macs_per_port=2, ban_time=60)
    dp = start(app, clock, 1)
    learn(app, dp, 1, H1)
    learn(app, dp, 1, H2)
    dp.take()
    learn(app, dp, 1, H3)
    assert sent(dp) == [add(0, pipe.PRIO_BAN, {'in_port': 1}, pipe.BAN, (), (0, 60))]
    assert (
        'switch 0000000000000001 port 1: more than 2 MACs; new MACs refused for 60s' in caplog.text
    )
    learn(app, dp, 1, H4)
    assert sent(dp) == []
    # A host already known there still refreshes.
    learn(app, dp, 1, H1)
    assert sent(dp) == host_pair(H1, 1)


def test_an_idle_destination_is_forgotten_with_its_source(app, clock, caplog):
    dp = start(app, clock, 1)
    learn(app, dp, 1, H1)
    dp.take()
    other_app = CookieSpace('stable_routing').cookie(pipe.DST)
    app._flow_removed(flow_removed(dp, other_app, {'eth_dst': H1}))
    app._flow_removed(flow_removed(dp, pipe.DST_COOKIE, {'eth_dst': H1}, reason=ofp.OFPRR_DELETE))
    app._flow_removed(flow_removed(dp, pipe.SRC_COOKIE, {'eth_dst': H1}))
    assert sent(dp) == [] and H1 in app.switches[1].macs
    app._flow_removed(flow_removed(dp, pipe.DST_COOKIE, {'eth_dst': H1}))
    assert sent(dp) == host_gone(H1)
    assert H1 not in app.switches[1].macs
    assert 'host %s expired on switch 0000000000000001 (idle 300s)' % H1 in caplog.text


def test_a_port_going_down_flushes_its_hosts(app, clock, caplog):
    dp = start(app, clock, 1, (1, 2, 3))
    learn(app, dp, 1, H1)
    dp.take()
    app._base_port_status(port_status(dp, port(1, up=False)))
    assert sent(dp) == [
        delete(0, {'in_port': 1}, pipe.SRC),
        delete(1, {}, pipe.DST, 1),
        no_flood(1),
        flood(2, 3),
        flood(3, 2),
    ]
    assert 'port 0000000000000001:1 down; flushed 1 learned MACs' in caplog.text
    assert H1 not in app.switches[1].macs


def test_a_link_that_goes_with_its_port_changes_the_tree(app, clock, caplog):
    s1, s2 = start(app, clock, 1), start(app, clock, 2)
    cable(app, s1, 2, s2, 2)
    s1.take(), s2.take()
    app._base_port_status(port_status(s1, port(2), ofp.OFPPR_DELETE))
    assert 'link on 0000000000000001:2 gone with the port' in caplog.text
    assert app.tree_ports == {1: set(), 2: set()}
    assert sent(s1) == [delete(0, {'in_port': 2}, pipe.SRC), delete(1, {}, pipe.DST, 2)] + FLUSH + [
        no_flood(2),
        flood(1),
    ]


def test_links_not_heard_of_expire(app, clock, caplog):
    s1, s2 = start(app, clock, 1), start(app, clock, 2)
    cable(app, s1, 2, s2, 2)
    clock.now += app.conf.link_timeout + 0.1
    app._lldp_tick()
    assert 'link 0000000000000001:2 -> 0000000000000002:2 gone (no LLDP for 3.5s)' in caplog.text
    assert app.tree_ports == {1: set(), 2: set()} and not app.graph.links


def test_a_switch_that_disconnects_takes_its_links_along(app, clock, caplog):
    s1, s2 = start(app, clock, 1), start(app, clock, 2)
    cable(app, s1, 2, s2, 2)
    app._base_state_change(dead(s2))
    assert 'switch 0000000000000002 disconnected' in caplog.text
    assert list(app.switches) == [1] and app.tree_ports == {1: set()}
