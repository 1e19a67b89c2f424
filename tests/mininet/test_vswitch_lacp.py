"""apps/vswitch_policy.py's LACP (FAUCET's ``lacp`` port options) against a real
partner: an Open vSwitch bond with LACP (this kernel has no bonding driver).

    h1 -- 1                      1 \\
    h2 -- 2  s1 (controller)  3 ==== 1  s2: bond0 = ports 1 + 2,   3 -- h3
                              4 ==== 2     lacp=active, balance-slb, standalone

s1 is driven by the controller with tests/mininet/policies/lacp.yaml (ports 3 and 4:
LAG 1). s2 is an OVS bridge on its own (no controller, fail mode standalone: a
learning switch) whose two ports to s1 are the LACP bond bond0.
"""

import os
import re
import shutil
import subprocess
import threading
import time

from controller.vswitch import lacp
from tests.harness import flows
from tests.harness.network import network_fixtures, wait_until
from tests.harness.traffic import udp_stream
from topologies.common import NoTxOffloadHost, NumberedTopo
from topologies.numbering import host_ip, host_mac

POLICY = os.path.join(os.path.dirname(__file__), 'policies', 'lacp.yaml')
MEMBERS = (3, 4)
UP_BOTH = 'LAG 1 on s1 carries over ports [3, 4]'
CUT_LOSS_BOUND_MS = 4000  # a member cut: the partner's own carrier detection, then ours


class LagTopo(NumberedTopo):
    def build(self):
        s1, s2 = self.add_switch(), self.add_switch()
        self.add_hosts(s1, 2)
        self.addLink(s1, s2, port1=3, port2=1)
        self.addLink(s1, s2, port1=4, port2=2)
        h3 = self.addHost('h3', cls=NoTxOffloadHost, mac=host_mac(3), ip=host_ip(3))
        self.addLink(h3, s2, port1=0, port2=3)


def vsctl(*args):
    return _run(['ovs-vsctl'] + list(args))


def appctl(*args):
    return _run(['ovs-appctl'] + list(args))


def _run(argv):
    done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, (argv, done.stderr)
    return done.stdout


def bond_members_enabled(text):
    """{member name: enabled?} from ``ovs-appctl bond/show``."""
    return {
        name: state == 'enabled'
        for name, state in re.findall(r'^(?:member|slave) (\S+): (\w+)', text, re.M)
    }


def start_lag(controller, network, folder):
    policy = folder / 'policy.yaml'
    shutil.copy(POLICY, policy)
    ctl = controller(
        ['apps/vswitch_policy.py'],
        config={'vswitch_policy': {'policy_file': str(policy), 'reload_poll': 0.5}},
    )
    net = network(LagTopo(), ctl)
    # s2 becomes the partner: on its own, its ports to s1 one LACP bond
    vsctl('del-controller', 's2')
    vsctl('set-fail-mode', 's2', 'standalone')
    vsctl(
        'del-port', 's2', 's2-eth1', '--', 'del-port', 's2', 's2-eth2', '--',
        'add-bond', 's2', 'bond0', 's2-eth1', 's2-eth2', 'lacp=active',
        'bond_mode=balance-slb', 'other_config:lacp-time=fast',
    )  # fmt: skip
    assert wait_until(lambda: ctl.log_lines(UP_BOTH), 30), ctl.log_tail()
    assert wait_until(lambda: all(bond_members_enabled(appctl('bond/show', 'bond0')).values()), 15)
    return ctl, net


shared_lag = network_fixtures(start_lag, 'lag')[1]


def count_arrivals(hosts, token, send, seconds=2.0):
    """{host name: how many frames carrying ``token`` it received} while ``send()``
    ran."""
    script = (
        "python3 - <<'EOF' > /tmp/count-%(name)s 2>&1 &\n"
        'import socket, time\n'
        's = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))\n'
        "s.bind(('%(intf)s', 0)); s.settimeout(0.2)\n"
        'n, end = 0, time.time() + %(seconds)f\n'
        'while time.time() < end:\n'
        '    try:\n'
        '        data, address = s.recvfrom(2048)\n'
        '    except socket.timeout:\n'
        '        continue\n'
        '    if address[2] != socket.PACKET_OUTGOING and %(token)r.encode() in data:\n'
        '        n += 1\n'
        'print(n)\n'
        'EOF'
    )
    for host in hosts:
        host.cmd(
            script
            % {'name': host.name, 'intf': host.intf().name, 'seconds': seconds, 'token': token}
        )
    time.sleep(0.5)
    send()
    time.sleep(seconds)
    counts = {}
    for host in hosts:
        host.cmd('wait')
        counts[host.name] = int(host.cmd('cat /tmp/count-%s' % host.name).strip() or -1)
    return counts


def send_once(host, token, dst='ff:ff:ff:ff:ff:ff'):
    frame = (
        dst.replace(':', '')
        + host.MAC().replace(':', '')
        + '88b5'
        + token.encode().ljust(46, b'.').hex()
    )
    host.cmd(
        'python3 -c "import socket; s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); '
        "s.bind(('%s', 0)); s.send(bytes.fromhex('%s'))\"" % (host.intf().name, frame)
    )


class TestOneLag:
    """One LAG for the three tests; the member cut comes last and ends with both
    members carrying again."""

    def test_the_lag_comes_up_with_both_members(self, shared_lag):
        """Both members negotiated on the partner's side, with our system id and LAG id
        as its partner; our log says both carry."""
        ctl, _ = shared_lag
        shown = appctl('lacp/show', 'bond0')
        assert 'status: active negotiated' in shown, shown
        assert 'partner sys_id: %s' % lacp.system_mac(1) in shown or lacp.system_mac(1) in shown
        assert bond_members_enabled(appctl('bond/show', 'bond0')) == {
            's2-eth1': True,
            's2-eth2': True,
        }
        assert len(re.findall(r'^\s*partner key: 1$', shown, re.M)) == 2, shown

    def test_traffic_through_the_lag_without_loss_or_duplicates(self, shared_lag):
        """h1 <-> h3 (behind the bond) and h2 <-> h3: pings lose nothing and repeat
        nothing; a broadcast sent once arrives once at every other host, both ways, and
        no frame comes back into s1 from the bond (no loop through the two members)."""
        _, net = shared_lag
        h1, h2, h3 = net.get('h1', 'h2', 'h3')
        for src, dst in ((h1, h3), (h3, h2), (h2, h3)):
            out = src.cmd('ping -c 20 -i 0.05 -W 1 %s' % dst.IP())
            assert ' 0% packet loss' in out and 'DUP!' not in out, out
        flows.wait_for_counters()
        before = flows.port_stats('s1')
        counts = count_arrivals([h2, h3], 'lag-bcast-h1', lambda: send_once(h1, 'lag-bcast-h1'))
        assert counts == {'h2': 1, 'h3': 1}, counts
        counts = count_arrivals([h1, h2], 'lag-bcast-h3', lambda: send_once(h3, 'lag-bcast-h3'))
        assert counts == {'h1': 1, 'h2': 1}, counts
        flows.wait_for_counters()
        after = flows.port_stats('s1')
        sent_into_lag = sum(after[p].tx_packets - before[p].tx_packets for p in MEMBERS)
        came_from_lag = sum(after[p].rx_packets - before[p].rx_packets for p in MEMBERS)
        # one frame out into the LAG (h1's), one in (h3's); LACPDUs: about 1/s each way
        # and member over the ~6 s
        assert sent_into_lag <= 1 + 2 * 10, (sent_into_lag, before, after)
        assert came_from_lag <= 1 + 2 * 10, (came_from_lag, before, after)

    def test_a_member_cut_loses_a_bounded_outage_and_comes_back(self, shared_lag):
        """A 200 pps UDP stream h1 -> h3 while the member it uses is cut at 2 s: the
        stream goes on over the other member after a bounded outage (recorded); the LAG
        carries over one member, then both again once the link is back. Packet-ins stay
        bounded (no flood loop through the members)."""
        ctl, net = shared_lag
        h1, h3 = net.get('h1', 'h3')
        used = flows.busiest_port('s1', MEMBERS, lambda: h1.cmd('ping -c 10 -i 0.02 %s' % h3.IP()))
        intf = 's1-eth%d' % used
        packet_ins = flows.total_packet_ins(['s1'])
        ups = len(ctl.log_lines(UP_BOTH))
        cut = threading.Timer(2.0, lambda: net.get('s1').cmd('ip link set %s down' % intf))
        cut.start()
        try:
            result = udp_stream(h1, h3, 200, 8)
        finally:
            cut.cancel()
        print('LACP member cut (port %d): %s' % (used, result.summary()))
        remaining = [p for p in MEMBERS if p != used]
        assert wait_until(
            lambda: ctl.log_lines('LAG 1 on s1 carries over ports %s' % remaining), 10
        ), ctl.log_tail()
        assert result.duplicates == 0, result.summary()
        assert result.received >= result.sent - CUT_LOSS_BOUND_MS / 5, result.summary()
        assert result.longest_gap_ms <= CUT_LOSS_BOUND_MS, result.summary()
        flows.wait_for_counters()
        assert flows.total_packet_ins(['s1']) - packet_ins < 200, 'packet-ins during the cut'
        net.get('s1').cmd('ip link set %s up' % intf)
        assert wait_until(lambda: len(ctl.log_lines(UP_BOTH)) > ups, 30), ctl.log_tail()
        out = h1.cmd('ping -c 10 -i 0.05 -W 1 %s' % h3.IP())
        assert ' 0% packet loss' in out and 'DUP!' not in out, out
