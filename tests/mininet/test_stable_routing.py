"""apps/stable_routing.py on real Mininet networks with Open vSwitch."""

import importlib
import itertools

import pytest

from tests.harness import stable
from tests.harness.network import host_ports
from tests.harness.traffic import reachability_matrix

APP = ['apps/stable_routing.py']


def make_topo(name, *args):
    return importlib.import_module('topologies.' + name).topos[name](*args)


def start(controller, network, topo, config=None):
    ctl = controller(APP, config={'stable_routing': config} if config else None)
    net = network(topo, ctl)
    # The first pings are flooded (hosts unknown); they teach the controller every host.
    reachability_matrix(net.hosts)
    status = stable.wait_for_epoch(ctl, net)
    assert status['epoch'], 'no epoch with every host installed: %s\n%s' % (
        status, ctl.log_tail())
    return ctl, net, status


@pytest.mark.parametrize('topo_args', [('ring', 4), ('fattree', 4)], ids=['ring4', 'fattree4'])
def test_pingall_follows_the_sft(controller, network, topo_args):
    ctl, net, status = start(controller, network, make_topo(*topo_args))
    reach = reachability_matrix(net.hosts)
    assert reach.loss_percent == 0, reach.table()
    attached = host_ports(net)
    for src, dst in itertools.permutations(net.hosts, 2):
        src_switch = attached[src.name][0]
        expected = stable.sft_path(ctl, net, src_switch, dst)
        assert stable.flow_path(net, src_switch, dst, status['epoch']) == expected
