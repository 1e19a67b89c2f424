"""The OpenFlow channel over TLS with Open vSwitch: certificates from scripts/make_certs.sh,
``ovs-vsctl set-ssl`` for the switches, ``ssl:`` controllers, ``ryu-manager`` with
``--ctl-privkey/--ctl-cert/--ca-certs``. Every switch of a looped network connects and
forwards; a bridge that tries plain TCP is refused."""

import subprocess

import pytest

from tests.harness import l2
from tests.harness.network import wait_until
from tests.harness.traffic import reachability_matrix
from tests.unit.test_tls_channel import make_certs
from topologies.ring import RingTopo


def ovs(*args):
    return subprocess.run(
        ['ovs-vsctl', '--timeout=10'] + list(args), check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def ovs_tls(tmp_path, mininet_machine):
    """Open vSwitch's SSL settings (machine-wide) for the test, removed afterwards."""
    certs = make_certs(tmp_path / 'certs')
    ovs('set-ssl', certs + '/switch-key.pem', certs + '/switch-cert.pem', certs + '/ca-cert.pem')
    yield certs
    ovs('del-ssl')


@pytest.fixture
def rogue_bridge(mininet_machine):
    """A userspace bridge of our own, outside Mininet, removed afterwards."""
    name = 'tlsrogue0'
    subprocess.run(['ovs-vsctl', '--if-exists', 'del-br', name], check=True)
    yield name
    subprocess.run(['ovs-vsctl', '--if-exists', 'del-br', name], check=True)


def test_looped_network_over_tls(controller, network, ovs_tls, rogue_bridge):
    ctl = controller(['apps/l2_learning.py'], tls_dir=ovs_tls)
    net = network(RingTopo(3), ctl)  # waits until every switch is connected
    for switch in net.switches:
        assert ovs('get-controller', switch.name) == 'ssl:127.0.0.1:%d' % ctl.ofp_port

    reach = _reachable_after_probing(net)
    assert reach.loss_percent == 0, reach.table()

    # A bridge without TLS (tcp:) towards the same port never gets in.
    ovs(
        'add-br',
        rogue_bridge,
        '--',
        'set',
        'bridge',
        rogue_bridge,
        'datapath_type=netdev',
        'protocols=OpenFlow13',
        'fail-mode=secure',
        '--',
        'set-controller',
        rogue_bridge,
        'tcp:127.0.0.1:%d' % ctl.ofp_port,
    )
    refused = wait_until(lambda: len(ctl.log_lines('TLS: refused the connection')) >= 2, 10)
    assert refused, ctl.log_tail()
    assert ovs('get', 'controller', _controller_of(rogue_bridge), 'is_connected') == 'false'
    assert 'Traceback' not in ctl.log_text()
    # The TLS switches are still served.
    assert _reachable_after_probing(net).loss_percent == 0


def _controller_of(bridge):
    return ovs('get', 'bridge', bridge, 'controller').strip('[]')


def _reachable_after_probing(net):
    """pingall once the app's ports have passed their LLDP probe time."""
    problems = l2.wait_ready(net)
    assert not problems, 'flooding tree not ready: %s' % problems
    return reachability_matrix(net.hosts)
