"""FAUCET's ACL tunnel over the stack fabric, on a real looped network: the ring of
four of tests/mininet/test_vswitch_fabric.py (its network and start-up, reused) with
tests/mininet/policies/tunnel.yaml, which sends what h1 (s1 port 1, red) sends as
EtherType 0x88b5 or to UDP port 5001 into tunnel VLAN 900, to h8 (s3 port 2, green).

    h1 h2 h3     h4 h5 h6     h7 h8 h9     h10 h11 h12
      s1 ---------- s2 ---------- s3 ---------- s4        s1 -> s3: via s2,
       \\_____________________________________/            fast-failover backup s4

h8 is another tenant's host two switches away: plain forwarding never joins it to h1,
so whatever h8 gets from h1 came through the tunnel.
"""

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.harness import flows
from tests.harness.frames import frame, received_headers, who_receives
from tests.harness.network import network_fixtures, wait_until
from tests.harness.tenants import same_vlan_pairs
from tests.harness.traffic import reachability_matrix, udp_stream
from tests.mininet import test_vswitch_fabric as ring

POLICY = os.path.join(os.path.dirname(__file__), 'policies', 'tunnel.yaml')
TUNNEL_VID, PCP_TUNNEL = 900, 3
TUNNELLED = 0x88B5  # what h1 sends of this EtherType goes into the tunnel
UNTAGGED_88B5 = '88b5'  # the header of a frame that arrived untagged


def start_tunnel(controller, network, folder):
    """The ring of test_vswitch_fabric.py, started by its own start() with this policy."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ring, 'POLICY', POLICY)
        return ring.start(controller, network, folder)


shared_tunnel = network_fixtures(start_tunnel, 'tunnel')[1]


class TestOneTunnel:
    """One ring for the three tests, the stack link cut last."""

    def test_tunnelled_frames_reach_only_the_tunnel_exit_untagged(self, shared_tunnel):
        """h1's 0x88b5 broadcasts arrive at h8 only (untagged: the tunnel tag is popped at
        s3), while h1's other broadcasts flood red as before; h2's 0x88b5 (green, no
        tunnel ACL) floods green; a frame a host sends already tagged with the tunnel's
        VID and PCP (on any port) goes nowhere: only stack ports take tunnel frames in."""
        _, net, _, _ = shared_tunnel
        h1, h2, h4, h7 = net.get('h1', 'h2', 'h4', 'h7')
        bcast = 'ff:ff:ff:ff:ff:ff'
        forged = (PCP_TUNNEL << 13) | TUNNEL_VID
        probes = [
            (h1, frame(bcast, h1.MAC(), 'tun-h1-%d' % i, ethertype=TUNNELLED), 'tun-h1-%d' % i)
            for i in range(5)
        ] + [
            (h1, frame(bcast, h1.MAC(), 'plain-h1', ethertype=0x88B6), 'plain-h1'),
            (h2, frame(bcast, h2.MAC(), 'green-h2', ethertype=TUNNELLED), 'green-h2'),
            (h4, frame(bcast, h4.MAC(), 'forged-h4', (forged,), TUNNELLED), 'forged-h4'),
            (h7, frame(h1.MAC(), h7.MAC(), 'forged-h7', (forged,), TUNNELLED), 'forged-h7'),
        ]
        got = received_headers(net, probes, seconds=4.0)
        for i in range(5):
            assert got['tun-h1-%d' % i] == {'h8': {UNTAGGED_88B5}}, got
        assert set(got['plain-h1']) == {'h4', 'h7', 'h10'}, got
        assert set(got['green-h2']) == {'h5', 'h8', 'h11'}, got
        assert got['forged-h4'] == {} and got['forged-h7'] == {}, got

    def test_the_flow_tables_hold_the_tunnel_rules(self, shared_tunnel):
        """s1 encapsulates (push VID 900, PCP 3) into its fast-failover group towards s3 and
        pops again; s2 and s4 take VID 900/PCP 3 in from their stack ports only and send it
        on towards s3; s3 pops it and outputs to port 2. No host port matches VID 900."""
        _, _, _, _ = shared_tunnel
        tables = {name: flows.dump_flows(name, table=0) for name in ring.STACK_PORTS}
        tunnel_in = {
            name: sorted(
                (int(e.match['in_port']), e.actions)
                for e in entries
                if e.match.get('dl_vlan', e.match.get('vlan_vid')) == str(TUNNEL_VID)
            )
            for name, entries in tables.items()
        }
        for name, ports in ring.STACK_PORTS.items():
            assert [port for port, _ in tunnel_in[name]] == sorted(ports), flows.format_flows(
                tables
            )
            for match in [e.match for e in tables[name] if 'dl_vlan' in e.match]:
                assert match.get('dl_vlan_pcp') == str(PCP_TUNNEL), match
        assert all(actions == 'pop_vlan,output:2' for _, actions in tunnel_in['s3']), tunnel_in
        assert all(actions == 'output:4' for _, actions in tunnel_in['s2']), tunnel_in
        assert all(actions == 'output:5' for _, actions in tunnel_in['s4']), tunnel_in
        assert all(actions.startswith('group:') for _, actions in tunnel_in['s1']), tunnel_in
        entry = [
            e for e in tables['s1'] if e.match.get('in_port') == '1' and 'push_vlan' in e.actions
        ]
        assert len(entry) == 2, flows.format_flows(tables)  # the 0x88b5 and the UDP rule
        for e in entry:
            assert 'set_field:%d->vlan_vid' % (0x1000 | TUNNEL_VID) in e.actions, e
            assert 'set_field:%d->vlan_pcp' % PCP_TUNNEL in e.actions, e
            assert e.actions.endswith('pop_vlan'), e

    def test_tunnel_traffic_survives_a_stack_link_cut_on_its_path(
        self, shared_tunnel, record_property
    ):
        """h1 -> h8 over the tunnel at 1000 UDP packets/s (h1 knows h8's green address by a
        static neighbour entry: no ARP crosses tenants). Cutting s1-s2, the first link of
        the tunnel's path, under the stream: s1's fast-failover group moves the tunnel to
        s4 at once. No other host sees one datagram of the stream, and afterwards the
        tenants still reach their own hosts only."""
        ctl, net, endpoints, _ = shared_tunnel
        h1, h8 = net.get('h1', 'h8')
        h8_ip = ring.ip_of(endpoints, 'h8')
        h1.cmd('ip neigh replace %s lladdr %s dev %s' % (h8_ip, h8.MAC(), h1.intf().name))
        others = [h for h in net.hosts if h.name not in ('h1', 'h8')]
        for host in others:
            host.cmd(
                # one line per datagram seen ('... > 10.3.0.8.5001: UDP, length 16')
                "timeout 12 tcpdump -l -n -i %s udp dst port 5001 2>/dev/null | grep -c ': UDP' "
                '> /tmp/tun-%s &' % (host.intf().name, host.name)
            )
        time.sleep(1.0)
        with ThreadPoolExecutor(1) as pool:
            stream = pool.submit(udp_stream, h1, h8, 1000, 5, 5001, h8_ip)
            time.sleep(2.0)
            net.configLinkStatus('s1', 's2', 'down')
            result = stream.result()
        record_property('tunnel_failover_longest_outage_ms', result.longest_gap_ms)
        record_property('tunnel_failover_lost_packets', len(result.lost_seqs))
        print('tunnel h1 -> h8, stack link s1-s2 cut: %s' % result.summary())
        assert result.received > 0 and not result.duplicates, result.summary()
        assert result.longest_gap_ms < ring.FAILOVER_BOUND_MS, result.summary()
        assert wait_until(lambda: ctl.log_lines('3 live stack links'), 10), ctl.log_tail()
        for host in others:
            host.cmd('wait')
        leaked = {h.name: int(h.cmd('cat /tmp/tun-%s' % h.name).strip() or 0) for h in others}
        assert set(leaked.values()) == {0}, leaked
        # the tunnel goes on over the new routes (s1 -> s4 -> s3), and no tenant leaks
        again = who_receives(
            net,
            [(h1, frame('ff:ff:ff:ff:ff:ff', h1.MAC(), 'after-cut', (), TUNNELLED), 'after-cut')],
        )
        assert again == {'after-cut': {'h8'}}, again
        reach = reachability_matrix(endpoints, timeout=0.5)
        assert not reach.expect(same_vlan_pairs(endpoints)), reach.table()
