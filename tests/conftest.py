"""Fixtures of the Mininet regression harness.

- ``mininet_machine``: checks root, Open vSwitch and Mininet once per session and fails
  (never skips) with what is missing; holds a lock so that two runs on one machine do not
  build clashing networks.
- ``controller``: starts the real ``ryu-manager`` with the given apps on a free OpenFlow
  port, logging to the test's tmp dir; stopped by its pid afterwards.
- ``network``: builds a topology from topologies/ (OVS userspace datapath, OpenFlow 1.3,
  TX checksum offload off on hosts) against a controller and waits until every switch is
  connected; stops only that network afterwards (never ``mn -c``).
- ``shared_controller``, ``shared_network``: the same, kept for the tests of one class,
  which share a network because they only read it (traffic and what it did).
- On failure, the controller log and every switch's flow table are attached to the report.

Tests that need Mininet carry the ``mininet`` marker: those under tests/mininet/ build
networks (root, Open vSwitch); those under tests/topologies/ build Mininet topology
objects (the Mininet package, no root). ``-m "not mininet"`` runs the unit tests alone,
without root; where Mininet is not importable (another Python than the system one),
such a run does not even import the Mininet test modules.
"""

import fcntl
import importlib.util
import os

import pytest

from tests.harness import flows
from tests.harness.controller import RyuController
from tests.harness.network import wait_connected
from tests.harness.preflight import MININET_LOCK, missing_for_mininet

TESTS = os.path.dirname(os.path.abspath(__file__))
NEEDS_MININET = tuple(os.path.join(TESTS, folder) for folder in ('mininet', 'topologies'))


def _needs_mininet(path):
    return str(path).startswith(NEEDS_MININET)


def _deselects_mininet(config):
    """Whether the run's -m expression leaves out tests marked ``mininet``."""
    markexpr = config.getoption('markexpr')
    if not markexpr:
        return False
    from _pytest.mark.expression import Expression

    return not Expression.compile(markexpr).evaluate(lambda name, **_: name == 'mininet')


def pytest_ignore_collect(collection_path, config):
    # Importing these modules imports Mininet; a unit run on a Python without it must
    # not fail on what it would deselect anyway.
    if (
        _needs_mininet(collection_path)
        and _deselects_mininet(config)
        and importlib.util.find_spec('mininet') is None
    ):
        return True
    return None


def pytest_collection_modifyitems(items):
    for item in items:
        if _needs_mininet(item.path):
            item.add_marker(pytest.mark.mininet)


def _attach(request, title, produce):
    """Attach produce() to this test's report if the test fails."""
    request.node.__dict__.setdefault('_failure_sections', []).append((title, produce))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    # the test's own, and those of a network its class shares
    sections = [s for node in item.listchain() for s in node.__dict__.get('_failure_sections', [])]
    for title, produce in sections:
        try:
            text = produce()
        except Exception as error:  # the network may be half gone; say so, go on
            text = 'could not collect: %r' % error
        report.sections.append((title, text))


@pytest.fixture(scope='session')
def mininet_machine():
    missing = missing_for_mininet()
    if missing:
        pytest.fail(
            'This Mininet test cannot run here; missing:\n  - ' + '\n  - '.join(missing),
            pytrace=False,
        )
    with open(MININET_LOCK, 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
        fcntl.flock(lock, fcntl.LOCK_UN)


def _controllers(request, folder):
    """The ``controller`` fixtures' factory: controllers logging into ``folder``,
    stopped when the generator ends."""
    started = []

    def start(apps, config=None, extra_args=(), name='ryu', ofp_port=None, tls_dir=None):
        ctl = RyuController(
            apps,
            str(folder / ('%s.log' % name)),
            config,
            extra_args,
            ofp_port=ofp_port,
            tls_dir=tls_dir,
        )
        started.append(ctl)
        _attach(request, 'controller log (%s)' % name, lambda: ctl.log_tail(300))
        return ctl.start()

    yield start
    for ctl in started:
        ctl.stop()


def _networks(request):
    """The ``network`` fixtures' factory: networks stopped when the generator ends."""
    from topologies.common import build_network

    built = []

    def build(topo, ctl, connect_timeout=30.0):
        net = build_network(
            topo,
            controller_ip='127.0.0.1',
            controller_port=ctl.ofp_port,
            controller_protocol='ssl' if ctl.tls_dir else 'tcp',
        )
        built.append(net)
        _attach(
            request,
            'flow tables',
            lambda: flows.format_flows(flows.dump_all([s.name for s in net.switches])),
        )
        unconnected = wait_connected(net, connect_timeout)
        if unconnected:
            pytest.fail(
                'switches %s did not connect to the controller on port %d '
                'within %.0fs' % (unconnected, ctl.ofp_port, connect_timeout)
            )
        return net

    yield build
    for net in built:
        net.stop()


@pytest.fixture
def controller(request, tmp_path, mininet_machine):
    """controller(apps, config=None, extra_args=(), name='ryu', ofp_port=None,
    tls_dir=None) -> a started RyuController (on a free port unless ofp_port is given;
    TLS only with the certificates of tls_dir, which the network then uses too)."""
    yield from _controllers(request, tmp_path)


@pytest.fixture
def network(request, mininet_machine):
    """network(topo, controller, connect_timeout=30) -> started Mininet."""
    yield from _networks(request)


@pytest.fixture(scope='class')
def shared_controller(request, tmp_path_factory, mininet_machine):
    """``controller`` for a network that the tests of one class share, because they only
    read it (send traffic and look at what it did): built once, not once a test. Its
    network is stopped when the class's last test is done, before any other is built."""
    yield from _controllers(request, tmp_path_factory.mktemp('shared'))


@pytest.fixture(scope='class')
def shared_network(request, mininet_machine):
    """``network`` for the shared_controller's network."""
    yield from _networks(request)
