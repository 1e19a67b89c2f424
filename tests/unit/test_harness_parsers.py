"""The harness's parsers and analyses, on real-looking tool output (no root, no Mininet);
plus udp_seq.py, the parallel pings and iperf3 run for real on the loopback interface."""

import socket
import subprocess
import threading
import time

import pytest

from tests.harness import flows, traffic
from tests.harness.flows import FlowEntry, parse_dump_flows, parse_dump_ports, split_actions
from tests.harness.traffic import (
    Iperf3Error,
    Reachability,
    analyse_arrivals,
    parse_iperf3_json,
    parse_ping_output,
)

# ovs-ofctl -O OpenFlow13 dump-flows of OVS 3.1, with the header, port names in quotes
# (what --names or a terminal gives) and the instructions and flags OVS prints.
DUMP_FLOWS = '''\
OFPST_FLOW reply (OF1.3) (xid=0x2):
 cookie=0x0, duration=3.521s, table=0, n_packets=12, n_bytes=840, priority=65535,dl_dst=01:80:c2:00:00:0e,dl_type=0x88cc actions=CONTROLLER:65535
 cookie=0x1000000000000001, duration=0.117s, table=0, n_packets=7, n_bytes=686, priority=100,in_port="s1-eth1",dl_src=00:00:00:00:00:01 actions=goto_table:1
 cookie=0x0, duration=0.132s, table=0, n_packets=5, n_bytes=350, priority=0 actions=CONTROLLER:128,goto_table:1
 cookie=0x1000000000000001, duration=1.2s, table=1, n_packets=0, n_bytes=0, idle_timeout=60, hard_timeout=300, priority=100,dl_dst=00:00:00:00:00:02 actions=output:"s1-eth2"
 cookie=0x0, duration=0.088s, table=1, n_packets=2, n_bytes=196, send_flow_rem reset_counts priority=90,in_port=2,dl_dst=00:00:00:00:00:03 actions=set_field:00:00:00:00:00:09->eth_dst,output:3,output:1
 cookie=0x0, duration=0.084s, table=1, n_packets=0, n_bytes=0, priority=80,ip,nw_dst=10.0.0.3 actions=meter:1,write_actions(output:3),goto_table:2
 cookie=0x0, duration=0.064s, table=1, n_packets=0, n_bytes=0, priority=70,arp actions=clear_actions
 cookie=0x0, duration=0.053s, table=1, n_packets=9, n_bytes=900, priority=60,udp,tp_dst=53 actions=drop
 cookie=0x0, duration=0.072s, table=1, n_packets=0, n_bytes=0, priority=50,dl_vlan=10 actions=pop_vlan,LOCAL,CONTROLLER:128,group:1
 cookie=0x0, duration=0.042s, table=2, n_packets=4, n_bytes=0, priority=4,in_port=1 actions=set_field:00:00:00:00:00:05->eth_dst,output:2,controller(reason=no_match,max_len=100)
 cookie=0x0, duration=0.005s, table=3, n_packets=0, n_bytes=0, priority=6,ipv6,ipv6_dst=fe80::1 actions=learn(table=5,idle_timeout=10,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),output:2
 cookie=0x0, duration=0.047s, table=3, n_packets=0, n_bytes=0, send_flow_rem importance=7, priority=5 actions=apply_actions(output:4,output(port=5,max_len=100)),2
 cookie=0xff, duration=10.000s, table=4, n_packets=3, n_bytes=0, dl_type=0x0800 actions=FLOOD
'''


def test_parse_dump_flows_fields():
    entries = parse_dump_flows(DUMP_FLOWS)
    assert len(entries) == 13  # the header is not a flow
    lldp, src, miss, dst, moved = entries[:5]

    assert (
        lldp.cookie,
        lldp.duration,
        lldp.table,
        lldp.n_packets,
        lldp.n_bytes,
        lldp.priority,
    ) == (0, 3.521, 0, 12, 840, 65535)
    assert lldp.match == {'dl_dst': '01:80:c2:00:00:0e', 'dl_type': '0x88cc'}
    assert lldp.actions == 'CONTROLLER:65535'
    assert (lldp.idle_timeout, lldp.hard_timeout) == (0, 0)

    assert src.cookie == 0x1000000000000001
    assert src.match == {'in_port': 's1-eth1', 'dl_src': '00:00:00:00:00:01'}
    assert src.actions == 'goto_table:1'

    assert miss.priority == 0 and miss.match == {}

    assert (dst.table, dst.idle_timeout, dst.hard_timeout) == (1, 60, 300)
    assert dst.actions == 'output:"s1-eth2"'

    assert moved.flags == ['send_flow_rem', 'reset_counts']
    assert moved.match == {'in_port': '2', 'dl_dst': '00:00:00:00:00:03'}
    assert moved.actions == 'set_field:00:00:00:00:00:09->eth_dst,output:3,output:1'


def test_parse_dump_flows_shorthands_importance_and_default_priority():
    entries = parse_dump_flows(DUMP_FLOWS)
    assert entries[5].match == {'ip': '', 'nw_dst': '10.0.0.3'}
    assert entries[6].match == {'arp': ''}
    assert entries[10].match == {'ipv6': '', 'ipv6_dst': 'fe80::1'}
    assert (entries[11].importance, entries[11].priority, entries[11].flags) == (
        7,
        5,
        ['send_flow_rem'],
    )
    assert entries[12].priority == flows.DEFAULT_PRIORITY  # OVS omits the default
    assert entries[12].cookie == 0xFF


def test_openflow10_dump_header_and_ages():
    text = (
        'NXST_FLOW reply (xid=0x4):\n'
        ' cookie=0x0, duration=0.160s, table=0, n_packets=0, n_bytes=0, idle_age=0, '
        'hard_age=3, priority=65535,dl_dst=01:80:c2:00:00:0e,dl_type=0x88cc '
        'actions=CONTROLLER:65535\n'
    )
    [entry] = parse_dump_flows(text)
    assert entry.match == {'dl_dst': '01:80:c2:00:00:0e', 'dl_type': '0x88cc'}
    assert entry.is_lldp


def test_empty_dump_and_bad_line():
    assert parse_dump_flows('OFPST_FLOW reply (OF1.3) (xid=0x2):\n') == []
    with pytest.raises(ValueError, match='n_packets=lots'):
        parse_dump_flows(' cookie=0x0, table=0, n_packets=lots, priority=1 actions=drop')


def test_split_actions_respects_parentheses_and_quotes():
    assert split_actions('set_field:00:00:00:00:00:09->eth_dst,output:3') == [
        'set_field:00:00:00:00:00:09->eth_dst',
        'output:3',
    ]
    assert split_actions('learn(table=5,output:NXM_OF_IN_PORT[]),output:2') == [
        'learn(table=5,output:NXM_OF_IN_PORT[])',
        'output:2',
    ]
    assert split_actions('output:"odd,name",load:0x1->NXM_NX_REG0[0..15]') == [
        'output:"odd,name"',
        'load:0x1->NXM_NX_REG0[0..15]',
    ]


def test_flow_conveniences():
    entries = parse_dump_flows(DUMP_FLOWS)
    by_priority = {(e.table, e.priority): e for e in entries}
    assert [e.sends_to_controller for e in entries] == [
        True,
        False,
        True,
        False,
        False,
        False,
        False,
        False,
        True,
        True,
        False,
        False,
        False,
    ]
    assert [e.is_lldp for e in entries] == [True] + [False] * 12
    assert by_priority[(1, 90)].output_ports == [3, 1]
    assert by_priority[(1, 80)].output_ports == [3]  # inside write_actions
    assert by_priority[(1, 100)].output_ports == []  # a port name is not a number
    assert by_priority[(1, 60)].output_ports == []  # drop
    assert by_priority[(1, 50)].output_ports == []  # LOCAL, CONTROLLER, group
    assert by_priority[(2, 4)].output_ports == [2]
    assert by_priority[(3, 6)].output_ports == [2]  # learn()'s output: is not ours
    assert by_priority[(3, 5)].output_ports == [4, 5, 2]
    assert FlowEntry(actions='CONTROLLER').sends_to_controller
    assert FlowEntry(actions='output:CONTROLLER').sends_to_controller


def test_packet_in_count_excludes_lldp():
    entries = parse_dump_flows(DUMP_FLOWS)
    # table-miss CONTROLLER:128,goto_table:1 (5) + CONTROLLER:128 on the VLAN entry (0)
    # + controller(...) (4); the LLDP entry's 12 are discovery, not learning.
    assert flows.packet_in_count(entries) == 5 + 0 + 4
    # Ryu's simple_switch_13 table-miss
    [miss] = parse_dump_flows(
        ' cookie=0x0, duration=9.1s, table=0, n_packets=31, '
        'n_bytes=2814, priority=0 actions=CONTROLLER:65535'
    )
    assert flows.packet_in_count([miss]) == 31


def test_format_flows_is_readable():
    text = flows.format_flows({'s1': parse_dump_flows(DUMP_FLOWS), 's2': []})
    lines = text.splitlines()
    assert lines[0] == '== s1: 13 flow entries, 9 packet-ins'
    assert lines[1].strip().startswith('table=0 priority=65535 n_packets=12')
    assert (
        'table=1 priority=100 n_packets=0 cookie=0x1000000000000001 idle_timeout=60 '
        'hard_timeout=300 dl_dst=00:00:00:00:00:02 actions=output:"s1-eth2"'
    ) in text
    assert 'priority=70 n_packets=0 cookie=0x0 arp actions=clear_actions' in text
    assert lines[-1] == '== s2: 0 flow entries, 0 packet-ins'


def test_dump_flows_of_a_missing_bridge_says_why():
    with pytest.raises(flows.OfctlError, match='no-such-bridge-xyz'):
        flows.dump_flows('no-such-bridge-xyz')


DUMP_PORTS = '''\
OFPST_PORT reply (OF1.3) (xid=0x2): 3 ports
  port LOCAL: rx pkts=0, bytes=0, drop=0, errs=0, frame=0, over=0, crc=0
           tx pkts=0, bytes=0, drop=0, errs=0, coll=0
           duration=0.207s
  port  1: rx pkts=15, bytes=1206, drop=0, errs=0, frame=0, over=0, crc=0
           tx pkts=22, bytes=1800, drop=3, errs=0, coll=0
           duration=12.198s
  port  "s1-eth2": rx pkts=7, bytes=?, drop=?, errs=?, frame=?, over=?, crc=?
           tx pkts=8, bytes=640, drop=?, errs=?, coll=?
           duration=12.190s
'''


def test_parse_dump_ports():
    ports = parse_dump_ports(DUMP_PORTS)
    assert set(ports) == {'LOCAL', 1, 's1-eth2'}
    assert ports[1] == flows.PortCounters(
        rx_packets=15, tx_packets=22, rx_bytes=1206, tx_bytes=1800, rx_dropped=0, tx_dropped=3
    )
    named = ports['s1-eth2']
    assert (named.rx_packets, named.rx_bytes, named.tx_packets, named.tx_dropped) == (
        7,
        None,
        8,
        None,
    )
    assert 'tx 22 pkts 1800 B (drop 3)' in str(ports[1])


# -- ping ---------------------------------------------------------------------------

PING_WITH_LOSS_AND_DUP = '''\
PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.
64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.210 ms
64 bytes from 10.0.0.2: icmp_seq=2 ttl=64 time=0.050 ms
64 bytes from 10.0.0.2: icmp_seq=2 ttl=64 time=0.090 ms (DUP!)
64 bytes from 10.0.0.2: icmp_seq=6 ttl=64 time=0.070 ms
64 bytes from 10.0.0.2: icmp_seq=3 ttl=64 time=12.5 ms
64 bytes from 10.0.0.2: icmp_seq=8 ttl=64 time=0.070 ms

--- 10.0.0.2 ping statistics ---
8 packets transmitted, 5 received, +1 duplicates, 37.5% packet loss, time 71ms
rtt min/avg/max/mdev = 0.050/2.580/12.500/4.960 ms
'''


def test_parse_ping_loss_duplicates_reordering():
    result = parse_ping_output(PING_WITH_LOSS_AND_DUP, interval=0.01, label='ping h1 -> h2')
    assert result.sent == 8
    assert result.received_seqs == [1, 2, 3, 6, 8]
    assert result.received == 5
    assert result.lost_seqs == [4, 5, 7]
    assert result.loss_percent == 37.5
    assert result.duplicates == 1
    assert result.reordered == 1  # 3 after 6
    assert result.longest_gap_ms == pytest.approx(20.0)  # 4 and 5: two intervals
    assert result.errors == 0
    latency = result.latency
    assert (latency.kind, latency.min_ms, latency.max_ms) == ('rtt', 0.05, 12.5)
    assert latency.avg_ms == pytest.approx((0.21 + 0.05 + 0.07 + 12.5 + 0.07) / 5)
    summary = result.summary()
    assert summary.startswith(
        'ping h1 -> h2: 8 sent every 10.0 ms, 5 received, 37.5% '
        'loss, longest outage 20 ms, 1 duplicates, 1 reordered'
    )
    assert summary.endswith('lost 4-5, 7')


PING_UNREACHABLE = '''\
PING 10.0.0.9 (10.0.0.9) 56(84) bytes of data.
From 10.0.0.1 icmp_seq=1 Destination Host Unreachable
From 10.0.0.1 icmp_seq=2 Destination Host Unreachable
From 10.0.0.1 icmp_seq=3 Destination Host Unreachable

--- 10.0.0.9 ping statistics ---
3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 2041ms
pipe 3
'''


def test_parse_ping_unreachable_lines_are_errors_not_replies():
    result = parse_ping_output(PING_UNREACHABLE, interval=1.0)
    assert (result.sent, result.received, result.errors) == (3, 0, 3)
    assert result.lost_seqs == [1, 2, 3]
    assert result.longest_gap_ms == 3000.0
    assert result.latency is None
    assert 'lost 1-3' in result.summary() and '3 errors' in result.summary()


# ping -D -i 0.01 on a machine whose timers space pings 16 ms apart, not 10
PING_TIMESTAMPED = '''\
PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.
[1700000000.000000] 64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.300 ms
[1700000000.016000] 64 bytes from 10.0.0.2: icmp_seq=2 ttl=64 time=0.200 ms
[1700000000.016500] 64 bytes from 10.0.0.2: icmp_seq=2 ttl=64 time=0.700 ms (DUP!)
[1700000000.032000] 64 bytes from 10.0.0.2: icmp_seq=3 ttl=64 time=0.200 ms
[1700000000.100000] From 10.0.0.1 icmp_seq=6 Destination Host Unreachable
[1700000000.128000] 64 bytes from 10.0.0.2: icmp_seq=9 ttl=64 time=0.200 ms
[1700000000.144000] 64 bytes from 10.0.0.2: icmp_seq=10 ttl=64 time=0.200 ms

--- 10.0.0.2 ping statistics ---
10 packets transmitted, 5 received, +1 duplicates, +1 errors, 50% packet loss, time 144ms
rtt min/avg/max/mdev = 0.200/0.220/0.300/0.040 ms
'''


def test_parse_ping_timestamps_give_the_real_interval():
    result = parse_ping_output(PING_TIMESTAMPED, interval=0.01)
    assert result.interval_s == pytest.approx(0.016)
    assert result.lost_seqs == [4, 5, 6, 7, 8]
    assert result.longest_gap_ms == pytest.approx(5 * 16.0)  # not 5 * 10
    assert (result.duplicates, result.errors) == (1, 1)
    assert result.latency.max_ms == 0.3  # the DUP's 0.7 ms is not a round trip


def test_parse_ping_cut_short_uses_count():
    """A ping killed before its summary: what was not seen of ``count`` is lost."""
    text = (
        'PING 10.0.0.3 (10.0.0.3) 56(84) bytes of data.\r\n'
        '64 bytes from 10.0.0.3: icmp_seq=1 ttl=64 time=0.1 ms\r\n'
        '64 bytes from 10.0.0.3: icmp_seq=2 ttl=64 time=0.1 ms\r\n'
    )
    result = parse_ping_output(text, count=5, interval=0.2)
    assert (result.sent, result.received_seqs, result.lost_seqs) == (5, [1, 2], [3, 4, 5])
    assert result.longest_gap_ms == pytest.approx(600.0)
    assert parse_ping_output('ping: unknown host nowhere').sent == 0


# -- sequence analysis (UDP receiver results) ---------------------------------------


def test_analyse_arrivals_in_order():
    result = analyse_arrivals(list(range(100)), 100, 0.001, label='udp')
    assert (
        result.received,
        result.lost_seqs,
        result.duplicates,
        result.reordered,
        result.longest_gap_ms,
        result.loss_percent,
    ) == (100, [], 0, 0, 0.0, 0.0)


def test_analyse_arrivals_gaps_duplicates_reordering():
    # 0..19 sent; 5-9 lost (an outage), 15 lost, 3 twice, 12 after 13, 19 never came
    arrivals = [0, 1, 2, 3, 3, 4, 10, 11, 13, 12, 14, 16, 17, 18]
    result = analyse_arrivals(arrivals, 20, 0.001)
    assert result.lost_seqs == [5, 6, 7, 8, 9, 15, 19]
    assert result.duplicates == 1
    assert result.reordered == 1
    assert result.longest_gap_ms == pytest.approx(5.0)
    assert result.loss_percent == 35.0
    assert result.received_seqs == sorted(set(arrivals))


def test_analyse_arrivals_nothing_arrived_and_nothing_sent():
    result = analyse_arrivals([], 50, 0.01)
    assert result.lost_seqs == list(range(50))
    assert result.longest_gap_ms == pytest.approx(500.0)
    assert analyse_arrivals([], 0, 0.01).loss_percent == 0.0


def test_format_ranges_is_bounded():
    assert traffic.format_ranges([9, 3, 4, 5]) == '3-5, 9'
    assert traffic.format_ranges(range(0, 100, 2), limit=3) == '0, 2, 4, ... (47 more ranges)'


# -- reachability -------------------------------------------------------------------


def make_reachability():
    received = {(a, b): 1 for a in ('h1', 'h2', 'h3') for b in ('h1', 'h2', 'h3') if a != b}
    received[('h1', 'h3')] = 0
    return Reachability(hosts=['h1', 'h2', 'h3'], count=1, received=received)


def test_reachability_report():
    reach = make_reachability()
    assert reach.results[('h1', 'h2')] and not reach.results[('h1', 'h3')]
    assert reach.unreachable() == [('h1', 'h3')]
    assert reach.loss_percent == pytest.approx(100 / 6)
    assert reach.table().splitlines() == [
        '      h1  h2  h3',
        'h1     -  ok   X',
        'h2    ok   -  ok',
        'h3    ok  ok   -',
    ]
    assert str(reach).endswith('6 pairs, 1 unreachable, 16.7% loss')


def test_reachability_expect():
    reach = make_reachability()
    everyone = [(a, b) for a in ('h1', 'h2', 'h3') for b in ('h1', 'h2', 'h3') if a != b]
    assert reach.expect(everyone) == [('h1', 'h3')]
    assert reach.expect([p for p in everyone if p != ('h1', 'h3')]) == []
    assert reach.expect([]) == [p for p in everyone if p != ('h1', 'h3')]


# -- iperf3 -------------------------------------------------------------------------

IPERF3_TCP = '''{
  "start": {"version": "iperf 3.12",
            "test_start": {"protocol": "TCP", "num_streams": 1, "duration": 3}},
  "intervals": [],
  "end": {
    "sum_sent": {"start": 0, "end": 3.0, "seconds": 3.0, "bytes": 375000000,
                 "bits_per_second": 1000000000.0, "retransmits": 12, "sender": true},
    "sum_received": {"start": 0, "end": 3.0004, "seconds": 3.0004, "bytes": 374000000,
                     "bits_per_second": 997200000.0, "sender": true}
  }
}'''

IPERF3_UDP = '''{
  "start": {"test_start": {"protocol": "UDP", "num_streams": 1, "duration": 1}},
  "end": {
    "sum": {"seconds": 1.0002, "bytes": 6252544, "bits_per_second": 50013200.1,
            "jitter_ms": 0.0091, "lost_packets": 3, "packets": 284, "lost_percent": 1.06}
  }
}'''


def test_parse_iperf3_tcp():
    result = parse_iperf3_json(IPERF3_TCP)
    assert (result.protocol, result.mbps, result.sent_mbps, result.retransmits) == (
        'TCP',
        pytest.approx(997.2),
        pytest.approx(1000.0),
        12,
    )
    assert result.lost_percent is None
    assert result.raw['start']['version'] == 'iperf 3.12'
    assert str(result) == 'TCP 997.2 Mbit/s received (1000.0 sent) over 3.0 s, 12 retransmits'


def test_parse_iperf3_udp_with_sum_only():
    result = parse_iperf3_json(IPERF3_UDP)
    assert (result.protocol, result.lost_percent, result.jitter_ms) == ('UDP', 1.06, 0.0091)
    assert result.mbps == pytest.approx(50.0132, rel=1e-4)
    assert result.retransmits is None


def test_parse_iperf3_errors():
    refused = (
        '{"start": {"connected": []}, "intervals": [], "end": {}, '
        '"error": "unable to connect to server: Connection refused"}'
    )
    with pytest.raises(Iperf3Error, match='Connection refused'):
        parse_iperf3_json(refused)
    with pytest.raises(Iperf3Error, match='no JSON: iperf3: error - bad option'):
        parse_iperf3_json('iperf3: error - bad option\n')


# -- the real programs, on loopback -------------------------------------------------

# TEST-NET-2, documentation only: no one answers it (a gateway may say unreachable).
NOWHERE = '198.51.100.1'


class LoopbackHost:
    """Just what the traffic helpers use of a Mininet host, in the root namespace."""

    def __init__(self, name, ip='127.0.0.1'):
        self.name, self.ip = name, ip

    def IP(self):  # noqa: N802 (Mininet's name)
        return self.ip

    def cmd(self, line):
        done = subprocess.run(['bash', '-c', line], capture_output=True, text=True, timeout=60)
        return done.stdout + done.stderr

    def popen(self, args, **options):
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **options)

    def __str__(self):
        return self.name


def free_port(kind):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_udp_stream_on_loopback():
    """udp_seq.py's sender and receiver for real: 1 s at 200 datagrams/s."""
    here = LoopbackHost('a')
    result = traffic.udp_stream(
        here, LoopbackHost('b'), rate_pps=200, duration_s=1.0, port=free_port(socket.SOCK_DGRAM)
    )
    assert (
        result.sent,
        result.received,
        result.lost_seqs,
        result.duplicates,
        result.reordered,
        result.errors,
    ) == (200, 200, [], 0, 0, 0), result.summary()
    assert result.received_seqs == list(range(200))
    assert result.latency.kind == 'one-way' and 0 <= result.latency.min_ms < 100
    assert result.summary().startswith(
        'udp a -> b (127.0.0.1) 200 pps: 200 sent every '
        '5.0 ms, 200 received, 0.0% loss, longest outage 0 ms'
    )


def test_udp_stream_ends_early_when_told_and_counts_what_it_sent():
    """A 30 s stream stopped after about 1 s: the sender reports the datagrams it
    numbered, and every one of them arrived."""
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    began = time.monotonic()
    result = traffic.udp_stream(
        LoopbackHost('a'),
        LoopbackHost('b'),
        rate_pps=200,
        duration_s=30.0,
        port=free_port(socket.SOCK_DGRAM),
        stop=stop,
    )
    assert time.monotonic() - began < 5
    # ended long before its 6,000 datagrams (how many before the stop depends on how
    # soon the sender started: a loaded machine delays it)
    assert 0 < result.sent <= 400, result.summary()
    assert result.received_seqs == list(range(result.sent)), result.summary()


def test_udp_stream_to_nowhere_is_all_lost_and_ends():
    result = traffic.udp_stream(
        LoopbackHost('a'),
        LoopbackHost('b'),
        rate_pps=50,
        duration_s=0.2,
        port=free_port(socket.SOCK_DGRAM),
        dst_ip=NOWHERE,
    )
    assert (result.sent, result.received) == (10, 0), result.summary()
    assert result.lost_seqs == list(range(10))
    assert result.longest_gap_ms == pytest.approx(200.0)
    assert result.latency is None


def test_parallel_pings_are_told_apart():
    """The one-shell-line parallel pings, for real: loopback answers, NOWHERE does not."""
    hosts = [
        LoopbackHost('up1', '127.0.0.1'),
        LoopbackHost('up2', '127.0.0.2'),
        LoopbackHost('dead', NOWHERE),
    ]
    reach = traffic.reachability_matrix(hosts, timeout=0.5)
    assert reach.unreachable() == [('up1', 'dead'), ('up2', 'dead')], reach.table()
    assert reach.results[('dead', 'up1')]  # the root namespace answers any 127/8


def test_iperf3_on_loopback():
    here = LoopbackHost('a')
    result = traffic.iperf3_run(here, here, seconds=1, port=free_port(socket.SOCK_STREAM))
    assert result.protocol == 'TCP' and result.mbps > 10, result
    with pytest.raises(Iperf3Error, match='a -> nobody: iperf3: unable to connect'):
        traffic.iperf3_run(
            here,
            LoopbackHost('nobody', '127.0.0.1'),
            seconds=1,
            port=free_port(socket.SOCK_STREAM),
            dst_ip=NOWHERE,
        )
