"""Facts about a running Mininet network that tests and the demo need: which switch port
each host and each link uses, and whether every switch reached its controller."""

import asyncio
import threading
import time


def port_of(intf):
    """(switch or host name, OpenFlow port number) of a Mininet interface."""
    return intf.node.name, intf.node.ports[intf]


def switch_links(net):
    """[((switch, port), (switch, port))] for every switch-to-switch link."""
    switches = {s.name for s in net.switches}
    return [
        (port_of(link.intf1), port_of(link.intf2))
        for link in net.links
        if link.intf1.node.name in switches and link.intf2.node.name in switches
    ]


def host_ports(net):
    """{host name: (switch name, port)} for every host's first link."""
    switches = {s.name for s in net.switches}
    attached = {}
    for link in net.links:
        for here, there in ((link.intf1, link.intf2), (link.intf2, link.intf1)):
            if here.node.name not in switches and there.node.name in switches:
                attached.setdefault(here.node.name, port_of(there))
    return attached


def wait_connected(net, timeout=30.0):
    """Wait until every switch reports its controller connection up; returns the names
    of the switches still unconnected at the deadline (empty on success)."""
    deadline = time.monotonic() + timeout
    pending = list(net.switches)
    while pending and time.monotonic() < deadline:
        pending = [s for s in pending if not s.connected()]
        if pending:
            time.sleep(0.2)
    return [s.name for s in pending]


def wait_until(predicate, timeout, interval=0.2):
    """Poll ``predicate`` until it returns a true value or the timeout passes; returns
    the last value (so callers can report what was still wrong)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


async def wait_until_async(predicate, timeout, interval=0.2):
    """wait_until for code in an asyncio loop (emulated switches): sleeps with
    asyncio.sleep, so the loop serves the switches meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        await asyncio.sleep(interval)


class Polling:
    """Calls ``step()`` over and over in a thread, ``interval`` s apart, for as long as
    the ``with`` block runs (a sampler of counters or tables during traffic)."""

    def __init__(self, step, interval=0.0):
        self.step, self.interval = step, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            self.step()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def silence_hosts(net):
    """Switch IPv6 off on every host of ``net``: left on, the kernel keeps sending router
    solicitations (with backoff, for minutes) and MLD reports, which a learning switch
    counts and learns like any frame. For tests whose traffic is their own raw frames."""
    for host in net.hosts:
        host.cmd('sysctl -qw net.ipv6.conf.all.disable_ipv6=1')


def add_switch(net, name, dpid, neighbours):
    """Add switch ``name`` to the running ``net`` with a link to each of ``neighbours``
    (running switches), and start it; returns it. The new ports on the neighbours are
    the next free port numbers there."""
    switch = net.addSwitch(name, dpid='%016x' % dpid)
    for neighbour in neighbours:
        link = net.addLink(neighbour, switch)
        near = link.intf1 if link.intf1.node is neighbour else link.intf2
        # As SilentPortsOVSSwitch does for its own ports (topologies/common.py).
        neighbour.cmd('sysctl -qw net.ipv6.conf.%s.disable_ipv6=1' % near.name)
        neighbour.attach(near)
    switch.start(net.controllers)
    return switch


def network_fixtures(start, name):
    """Two pytest fixtures for the network that ``start(controller, network, folder)``
    builds: ``name``, one for each test, and ``shared_<name>``, one shared by the tests
    of a class (see tests/conftest.py's shared_controller). Assign both at module level:
    ``tenants, shared_tenants = network_fixtures(start_tenants, 'tenants')``."""
    import pytest

    @pytest.fixture(name=name)
    def each(controller, network, tmp_path):
        return start(controller, network, tmp_path)

    @pytest.fixture(name='shared_' + name, scope='class')
    def shared(shared_controller, shared_network, tmp_path_factory):
        return start(shared_controller, shared_network, tmp_path_factory.mktemp(name))

    return each, shared
