"""apps/stable_routing.py on real Mininet networks with Open vSwitch, and Ryu's
simple_switch_stp_13 on the same link failure as the comparison."""

import importlib
import itertools
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.harness import flows, stable
from tests.harness.frames import frame, received_headers
from tests.harness.network import add_switch, host_ports, switch_links, wait_until
from tests.harness.traffic import reachability_matrix, send_from_random_macs, udp_stream

APP = ['apps/stable_routing.py']
# Traffic lost when a protected link loses carrier is recorded (the target is under
# 50 ms; runs here measured 5-18 ms). The test asserts only what proves the switch failed
# over by itself: without the fast-failover group, traffic would wait for the next epoch
# (quiet_window 0.5 s + compute + install, over 1 s).
FAILOVER_BOUND_MS = 300


def make_topo(name, *args):
    return importlib.import_module('topologies.' + name).topos[name](*args)


def start(controller, network, topo, config=None):
    ctl = controller(APP, config={'stable_routing': config} if config else None)
    net = network(topo, ctl)
    # The first pings are flooded (hosts unknown); they teach the controller every host.
    reachability_matrix(net.hosts)
    status = stable.wait_for_epoch(ctl, net)
    assert status['epoch'], 'no epoch with every host installed: %s\n%s' % (status, ctl.log_tail())
    return ctl, net, status


def settle(ctl, net, after_epoch):
    """Wait for an installed epoch newer than ``after_epoch`` with nothing pending."""
    status = wait_until(
        lambda: (
            lambda s: (
                s['epoch']
                and s['epoch'] > after_epoch
                and s['pending_triggers'] == 0
                and s['epoch'] == s['last_epoch_cut']
                and s
            )
        )(ctl.rest('/stable/epoch')),
        20,
        interval=0.2,
    )
    assert status, 'no new epoch after %d: %s\n%s' % (
        after_epoch,
        ctl.rest('/stable/epoch'),
        ctl.log_tail(),
    )
    return status


def link_port_rx(net):
    """{(switch, port): received packets} for every switch-to-switch port."""
    counts = {}
    stats = {s.name: flows.port_stats(s.name) for s in net.switches}
    for (a, pa), (b, pb) in switch_links(net):
        counts[(a, pa)] = stats[a][pa].rx_packets
        counts[(b, pb)] = stats[b][pb].rx_packets
    return counts


@pytest.mark.parametrize('topo_args', [('ring', 4), ('fattree', 4)], ids=['ring4', 'fattree4'])
def test_pingall_follows_the_sft(controller, network, topo_args):
    """0% loss, and every host pair's path in the flow tables is the SFT's path."""
    ctl, net, status = start(controller, network, make_topo(*topo_args))
    reach = reachability_matrix(net.hosts)
    assert reach.loss_percent == 0, reach.table()
    attached = host_ports(net)
    sfts, rules = {}, {}  # each switch's SFT and flow table read once: nothing changes
    for src, dst in itertools.permutations(net.hosts, 2):
        src_switch = attached[src.name][0]
        expected = stable.sft_path(ctl, net, src_switch, dst, sfts)
        assert stable.flow_path(net, src_switch, dst, status['epoch'], rules) == expected
    # The CLI shows the same epoch and tables.
    url = 'http://127.0.0.1:%d' % ctl.wsapi_port
    epoch_text = sdn_stable(url, 'epoch')
    assert epoch_text.startswith('epoch %d (version VID %d)' % (status['epoch'], status['epoch']))
    assert 'pending triggers: 0' in epoch_text
    history = sdn_stable(url, 'history').splitlines()
    assert history[0].split()[:3] == ['epoch', 'cut', 'at'] and len(history) >= 2
    switch, port = attached['h1']
    assert '%s  deliver on port %d' % (net.get('h1').MAC(), port) in sdn_stable(
        url, 'sft', '%x' % stable.dpid_of(switch)
    )


def sdn_stable(url, *args):
    """Run the sdn-stable CLI of the environment running the tests."""
    command = [os.path.join(os.path.dirname(sys.executable), 'sdn-stable'), '--url', url]
    done = subprocess.run(command + list(args), capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_carrier_loss_fails_over_in_the_switch(controller, network, record_property):
    """fat-tree k=4, h1 (s13) -> h16 (s20) leaves s13 for s5 (lowest-dpid tie-break).
    Cutting s13-s5 under a 1000 pps stream: s13's fast-failover group moves the
    traffic to s6 at once; the next epoch then makes s13-s6 the stable next hop."""
    ctl, net, status = start(controller, network, make_topo('fattree', 4))
    h1, h16 = net.get('h1', 'h16')
    assert stable.flow_path(net, 's13', h16, status['epoch'])[:2] == ['s13', 's5']
    table = ctl.rest('/stable/sft/%016x' % 13)
    entry = next(e for e in table['entries'] if e['host'] == h16.MAC())
    assert (entry['next_hop'], entry['backup_next_hop']) == ('%016x' % 5, '%016x' % 6)

    with ThreadPoolExecutor(1) as pool:
        stream = pool.submit(udp_stream, h1, h16, 1000, 6)
        time.sleep(2.5)
        net.configLinkStatus('s13', 's5', 'down')
        result = stream.result()
    record_property('failover_longest_outage_ms', result.longest_gap_ms)
    record_property('failover_lost_packets', len(result.lost_seqs))
    print('carrier loss on s13-s5: %s' % result.summary())
    assert result.received > 0 and not result.duplicates, result.summary()
    assert result.longest_gap_ms <= FAILOVER_BOUND_MS, result.summary()

    after = settle(ctl, net, status['epoch'])
    path = stable.flow_path(net, 's13', h16, after['epoch'])
    assert path[:2] == ['s13', 's6'] and len(path) == 5, path
    assert path == stable.sft_path(ctl, net, 's13', h16)
    assert reachability_matrix(net.hosts).loss_percent == 0


def sft_tables(ctl, switches):
    """{switch: {host MAC: its entry}} of the epoch in force, from REST."""
    return {
        s: {e['host']: e for e in ctl.rest('/stable/sft/%016x' % stable.dpid_of(s))['entries']}
        for s in switches
    }


def test_a_link_cut_installs_only_the_changed_entries(controller, network, record_property):
    """fat-tree k=4, a 1000 pps stream h1 -> h16 (s13, s5, s1, s11, s20), carrier loss on
    s5-s1: s5's fast-failover group moves the stream to s2 at once, and the next epoch
    installs only the forward entries that changed, as overlays (priority 200, its
    version only), which phase 3 makes stable. Its `changed` in the history is the
    number of (switch, host) entries whose REST tables differ between the two epochs, a
    small part of all of them; the overlays seen on the switches while it is installed
    (drain_time 2 s, so that a sweep of dump-flows sees them) are no more than that,
    none is left afterwards, and the stream loses no more than the fast failover
    allows."""
    ctl, net, status = start(
        controller, network, make_topo('fattree', 4), config={'drain_time': 2.0}
    )
    switches = [s.name for s in net.switches]
    h1, h16 = net.get('h1', 'h16')
    assert stable.flow_path(net, 's13', h16, status['epoch'])[:3] == ['s13', 's5', 's1']
    before = sft_tables(ctl, switches)
    everything = sum(map(len, before.values()))
    assert everything == 20 * 16
    # The first epoch's overlays go in its phase 3, drain_time after it is in force.
    assert wait_until(lambda: all(stable.overlays_on(s) == 0 for s in switches), 10)

    with stable.OverlaySampler(switches) as sampler, ThreadPoolExecutor(1) as pool:
        stream = pool.submit(udp_stream, h1, h16, 1000, 6)
        time.sleep(2.5)
        net.configLinkStatus('s5', 's1', 'down')
        result = stream.result()
        after = settle(ctl, net, status['epoch'])
        time.sleep(2.5)  # phase 3 comes drain_time after the epoch is in force
    print('carrier loss on s5-s1: %s' % result.summary())
    assert result.received > 0 and not result.duplicates, result.summary()
    assert result.longest_gap_ms <= FAILOVER_BOUND_MS, result.summary()

    new = [e for e in ctl.rest('/stable/history?limit=20') if e['number'] > status['epoch']]
    assert [e['state'] for e in new] == ['installed'], new  # one epoch for the cut
    tables = sft_tables(ctl, switches)
    differ = sum(
        1 for s in switches for mac, entry in tables[s].items() if before[s].get(mac) != entry
    )
    seen = sum(sampler.peak.values())
    record_property('link_cut_changed_entries', new[0]['changed'])
    record_property('link_cut_overlays_seen', seen)
    print(
        'link cut: %d of %d entries changed, %d overlays seen at most'
        % (new[0]['changed'], everything, seen)
    )
    assert new[0]['changed'] == differ and 0 < differ <= everything // 8, (new[0], differ)
    assert 0 < seen <= differ, sampler.peak
    assert all(stable.overlays_on(s) == 0 for s in switches)
    path = stable.flow_path(net, 's13', h16, after['epoch'])
    assert path[:3] == ['s13', 's5', 's2'] and path == stable.sft_path(ctl, net, 's13', h16)
    assert reachability_matrix(net.hosts).loss_percent == 0


def stream_during(pairs, rate_pps, seconds, changes):
    """Run a UDP stream per (src, dst) pair while ``changes`` (a callable) runs; returns
    the StreamResults."""
    with ThreadPoolExecutor(len(pairs)) as pool:
        streams = [
            pool.submit(udp_stream, src, dst, rate_pps, seconds, port=5001 + i)
            for i, (src, dst) in enumerate(pairs)
        ]
        changes()
        return [s.result() for s in streams]


def test_planned_changes_lose_nothing_and_never_loop(controller, network, record_property):
    """ring(6) under two 300 pps streams: a link comes back (s1-s2), then a new switch
    s7 is added with links to s1 and s4, which shortens h1 -> h4 from 3 hops to 2. Each
    change is a new epoch installed in two phases: no packet lost, none duplicated,
    and each link carried at most the streams that some installed epoch routes over
    it, once each (a packet crossing a link twice, or a loop, would exceed that; so
    would a stream leaking onto a link no epoch uses)."""
    topo = make_topo('ring', 6)
    ctl = controller(APP)
    net = network(topo, ctl)
    net.configLinkStatus('s1', 's2', 'down')
    reachability_matrix(net.hosts)
    status = stable.wait_for_epoch(ctl, net)
    assert status['epoch'], ctl.log_tail()
    h1, h3, h4, h6 = net.get('h1', 'h3', 'h4', 'h6')
    assert stable.flow_path(net, 's1', h4, status['epoch']) == ['s1', 's6', 's5', 's4']
    epochs_before = status['epoch']

    def changes():
        time.sleep(2)
        net.configLinkStatus('s1', 's2', 'up')
        settle(ctl, net, epochs_before)
        time.sleep(1)
        add_switch(net, 's7', 7, [net.get('s1'), net.get('s4')])
        wait_until(
            lambda: (
                len(ctl.rest('/stable/sft/%016x' % 7).get('entries', []))
                if _has_table(ctl, 7)
                else False
            ),
            20,
        )

    flows.wait_for_counters()
    rx_before = link_port_rx(net)
    rate, seconds = 300, 12
    pairs = [(h1, h4), (h3, h6)]
    with stable.PathRecorder(ctl, net, pairs) as recorder:
        results = stream_during(pairs, rate, seconds, changes)
    flows.wait_for_counters()
    rx_after = link_port_rx(net)
    final = ctl.rest('/stable/epoch')
    record_property('planned_change_epochs', final['epoch'] - epochs_before)
    for result in results:
        print('planned changes: %s' % result.summary())
        assert not result.lost_seqs and not result.duplicates, result.summary()
    installed = {
        e['number']
        for e in ctl.rest('/stable/history?limit=50')
        if e['number'] >= epochs_before and e['state'] == 'installed'
    }
    assert installed <= set(recorder.paths), (installed, recorder.paths)
    # The most each link port may receive: every stream that an epoch routes over
    # that link, once; plus LLDP (about one a second per port) and a few ARPs.
    port_facing = {}
    for (a, pa), (b, pb) in switch_links(net):
        port_facing[(a, b)], port_facing[(b, a)] = (b, pb), (a, pa)
    allowance = 2 * (seconds + 5) + 20
    most = dict.fromkeys(rx_after, allowance)
    for (src, dst), result in zip(pairs, results, strict=True):
        for hop in recorder.hops(src, dst):
            most[port_facing[hop]] += result.sent
    over = {
        port: (rx_after[port] - rx_before.get(port, 0), most[port])
        for port in rx_after
        if rx_after[port] - rx_before.get(port, 0) > most[port]
    }
    assert not over, (
        'link ports that received more than the epochs route there '
        '(received, most): %s; paths: %s' % (over, recorder.paths)
    )
    record_property(
        'planned_change_paths',
        {e: {'%s-%s' % k: v for k, v in p.items()} for e, p in recorder.paths.items()},
    )
    assert final['epoch'] >= epochs_before + 2, final
    assert stable.flow_path(net, 's1', h4, final['epoch']) == ['s1', 's7', 's4']
    assert stable.sft_path(ctl, net, 's1', h4) == ['s1', 's7', 's4']


def _has_table(ctl, dpid):
    try:
        ctl.rest('/stable/sft/%016x' % dpid)
        return True
    except Exception:  # 404 until an epoch includes the switch
        return False


def test_host_move_reroutes_without_disturbing_others(controller, network):
    """h1's MAC and IP reappear behind s4 of ring(6) while h2 -> h5 streams, as a VM
    that migrates: its old port stays up (the old host goes quiet under another MAC).
    The move is a host-moved trigger, the next epoch routes h1's MAC to s4, and
    h2 -> h5 loses nothing."""
    ctl, net, status = start(controller, network, make_topo('ring', 6))
    h1, h2, h3, h4, h5 = net.get('h1', 'h2', 'h3', 'h4', 'h5')
    mac, ip = h1.MAC(), h1.IP()

    def move():
        time.sleep(1.5)
        old = h1.intf()
        h1.cmd('ip addr flush dev %s; ip link set %s address 02:00:00:00:99:01' % (old, old))
        intf = h4.intf()
        h4.cmd(
            'ip addr flush dev %s; ip link set %s address %s; ip addr add %s/16 dev %s'
            % (intf, intf, mac, ip, intf)
        )
        h4.cmd('ping -c1 -W1 %s' % h3.IP())  # a moved VM speaks first
        settle(ctl, net, status['epoch'])

    [result] = stream_during([(h2, h5)], 300, 8, move)
    print('during the move: %s' % result.summary())
    assert not result.lost_seqs and not result.duplicates, result.summary()
    assert ctl.log_lines('host-moved: %s from 0000000000000001:1 to 0000000000000004:1' % mac), (
        ctl.log_tail()
    )
    final = ctl.rest('/stable/epoch')
    table = ctl.rest('/stable/sft/%016x' % 4)
    assert {'host': mac, 'deliver_port': 1} in table['entries']
    after = reachability_matrix([h2, h3, h5], count=1)
    assert after.loss_percent == 0
    assert stable.flow_path(net, 's2', h4, final['epoch'])[-1] == 's4'


@pytest.mark.parametrize(
    'leading_edge, epochs', [(True, 2), (False, 1)], ids=['leading', 'trailing']
)
def test_burst_of_triggers_makes_two_epochs_at_most(controller, network, leading_edge, epochs):
    """20 new hosts appear 20 ms apart, within the quiet window: the first one's
    trigger is cut at once (the leading edge), the 19 others, debounced by the window,
    are one more epoch; without the leading edge, one epoch takes all 20."""
    ctl, net, status = start(
        controller,
        network,
        make_topo('linear', 2),
        config={'quiet_window': 1.5, 'max_delay': 10, 'leading_edge': leading_edge},
    )
    h1 = net.get('h1')
    # The first host's trigger leads only after a quiet window without any trigger
    # (the hosts learned by start() came less than that before).
    time.sleep(1.6)
    status = ctl.rest('/stable/epoch')
    send_from_random_macs(h1, 20, gap_s=0.02)
    after = settle(ctl, net, status['epoch'])
    time.sleep(2)  # another epoch, if the burst were split more, would be cut by now
    history = ctl.rest('/stable/history?limit=50')
    new = [e for e in history if e['number'] > status['epoch']]
    assert [e['state'] for e in new] == ['installed'] * epochs, new
    assert sum(e['trigger_count'] for e in new) == 20, new
    if leading_edge:  # cut before the burst was over, not a quiet window after it
        assert new[0]['trigger_count'] < 5, new[0]
        assert new[0]['cut_at'] - new[0]['first_trigger_at'] < 0.5, new[0]
    assert {t['kind'] for e in new for t in e['triggers']} == {'host-seen'}
    assert ctl.rest('/stable/epoch')['epoch'] == after['epoch']


def test_controller_restart_loses_nothing(controller, network, record_property):
    """ryu-manager stops and a new one starts on the same port under a stream across
    ring(4): the switches keep the rules they hold; the new run reads back the hosts
    and epoch numbers and replaces the rules with its own epoch consistently."""
    ctl, net, status = start(controller, network, make_topo('ring', 4))
    h1, h3 = net.get('h1', 'h3')

    def restart():
        time.sleep(1)
        ctl.stop()
        time.sleep(1)
        restarted = controller(APP, name='restarted', ofp_port=ctl.ofp_port)
        new = stable.wait_for_epoch(restarted, net, timeout=40)
        assert new['epoch'] and new['epoch'] > status['epoch'], new

    [result] = stream_during([(h1, h3)], 300, 12, restart)
    record_property('restart_lost_packets', len(result.lost_seqs))
    print('controller restart: %s' % result.summary())
    assert not result.lost_seqs and not result.duplicates, result.summary()


# How long the STP comparison waits for traffic back after its cut.
RECONVERGE_BOUND_S = 50


def _outage_then_back(switch, port, rate, timeout):
    """Wait until ``port`` of ``switch`` sent under half of ``rate`` packets in a second
    (the outage), then at least that many again (traffic back; BPDUs, every 2 s, never
    come near). Whether both were seen within ``timeout``."""
    deadline = time.monotonic() + timeout
    last, outage = flows.port_stats(switch)[port].tx_packets, False
    while time.monotonic() < deadline:
        time.sleep(1)
        sent = flows.port_stats(switch)[port].tx_packets
        busy, last = sent - last >= rate // 2, sent
        if outage and busy:
            return True
        outage = outage or not busy
    return False


def test_simple_switch_stp_13_on_the_same_failure(controller, network, record_property):
    """The comparison: Ryu's spanning-tree learning switch on ring(4), the tree link
    s1-s2 cut under h1 -> h3 traffic. STP re-converges through its listening and
    learning states: tens of seconds without traffic, or none at all.

    None at all in 4 of the 6 runs of 2026-12-07 (the others: 29-30 s): at the cut, the
    controller gets two port-status messages for each end, the first without
    LINK_DOWN (OVS clears the port's LIVE bit and sets LINK_DOWN apart, presumably in
    either order). stplib takes any port status without LINK_DOWN for a link up: it
    makes the far switch's root port a designated one, listening, so that the LINK_DOWN
    after it no longer costs that switch its root port, and no tree is computed again
    (s3's blocked port stays blocked, h1 -> h3 black-holed). The test records which
    happened and asserts what both show: seconds of outage, not milliseconds."""
    ctl = controller(['ryu.app.simple_switch_stp_13'])
    net = network(make_topo('ring', 4), ctl)
    h1, h3 = net.get('h1', 'h3')
    converged = wait_until(
        lambda: reachability_matrix(net.hosts, timeout=0.5).loss_percent == 0, 120, interval=2
    )
    assert converged, 'STP never converged:\n%s' % ctl.log_tail()
    # The outage, when STP re-converges, is 30 s or more (forward delay 15 s, listening
    # then learning; 38 s seen on a loaded machine): the stream waits for it up to
    # RECONVERGE_BOUND_S after the cut, and ends a little after h3's port carries the
    # stream again, so that the figure recorded has the traffic back.
    rate = 100
    h3_switch, h3_port = host_ports(net)['h3']
    back = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        stream = pool.submit(udp_stream, h1, h3, rate, 8 + RECONVERGE_BOUND_S + 5, stop=back)
        time.sleep(3)
        # Which link is on the tree depends on STP's port roles: cut the one h1 -> h3
        # uses (s1:2 goes to s2, s1:3 to s4).
        used = flows.busiest_port('s1', (2, 3), lambda: time.sleep(1.5))
        net.configLinkStatus('s1', 's2' if used == 2 else 's4', 'down')
        recovered = _outage_then_back(h3_switch, h3_port, rate, RECONVERGE_BOUND_S)
        if recovered:
            time.sleep(2)  # a tail of delivered datagrams after the outage
        back.set()
        result = stream.result()
    record_property('stp_failover_recovered', recovered)
    record_property('stp_failover_longest_outage_ms', result.longest_gap_ms)
    print(
        'simple_switch_stp_13, tree link cut: %s; %s'
        % (
            result.summary(),
            'traffic back' if recovered else 'no traffic %d s after the cut' % RECONVERGE_BOUND_S,
        )
    )
    # The point of the comparison: seconds, not milliseconds.
    assert result.longest_gap_ms > 1000, result.summary()
    if recovered:  # and the figure is the whole outage: the stream outlived it
        assert result.received_seqs[-1] >= result.sent - rate, result.summary()
    else:  # never back: nothing arrived in the stream's last 45 s (of the 50 s waited)
        last_45_s = result.sent - (RECONVERGE_BOUND_S - 5) * rate
        assert result.received_seqs[-1] < last_45_s, result.summary()


def test_tenant_vlan_tags_cross_the_fabric_unchanged(controller, network):
    """The version tag is an outer S-tag: a tenant's 802.1Q-tagged frame (VID 100)
    from h1 to h3 across ring(4) arrives at h3 with its C-tag as sent, and no S-tag."""
    ctl, net, status = start(controller, network, make_topo('ring', 4))
    h1, h3 = net.get('h1', 'h3')
    got = received_headers(
        net,
        [
            (h1, frame(h3.MAC(), h1.MAC(), 'tenant-100', vids=[100]), 'tenant-100'),
            (h1, frame(h3.MAC(), h1.MAC(), 'untagged'), 'untagged'),
        ],
    )
    assert got['tenant-100'] == {'h3': {'8100006488b5'}}, got
    assert got['untagged'] == {'h3': {'88b5'}}, got
    # Routed by the epoch's rules, not flooded: s1 sent them to s2 tagged with the version.
    flows.wait_for_counters()
    assert stable.forward_rules('s1', status['epoch'])[h3.MAC()].n_packets >= 6
