"""apps/l2_learning.py under the real ryu-manager against hostile emulated switches
(bench/ofemu.py, bench/flood_memory.py): a switch of 5,000 ports, a storm of 20,000
PORT_STATUS messages, a flood of new MACs, malformed packet-ins (and one cut short),
two connections with one dpid, and a worker loop that keeps failing.

Throughout, a well-behaved *witness* switch sends a packet-in every 0.1 s: it must be
answered within 1 s. The controller must stay up, with no traceback in its log and an
RSS under twice its idle figure. No root needed (no Mininet); about a minute.
"""

import asyncio
import textwrap
from typing import Any

import pytest

from bench import flood_memory, ofemu
from tests.harness.controller import RyuController

L2 = ['apps/l2_learning.py']


@pytest.fixture(scope='module')
def hostile_run(tmp_path_factory: Any) -> tuple[dict, str]:
    """The four hostile phases against one l2_learning (bench/flood_memory.py), at its
    default settings; the figures and the log."""
    log = str(tmp_path_factory.mktemp('hostile') / 'ryu.log')
    with RyuController(L2, log) as ctl:
        phases = asyncio.run(flood_memory.scenarios(ctl, macs=20000))
        text = ctl.log_text()
    return {p['phase']: p for p in phases}, text


def assert_served_and_bounded(phases: dict, name: str) -> None:
    idle, phase = phases['idle'], phases[name]
    assert phase['alive'], name
    assert phase['witness_unanswered'] == 0 and phase['witness_slowest_ms'] < 1000, phase
    assert phase['tracebacks'] == 0, phase
    assert phase['peak_rss_kib'] < 2 * idle['rss_kib'], (phase, idle)


def test_a_switch_of_5000_ports(hostile_run):
    phases, log = hostile_run
    assert_served_and_bounded(phases, 'big switch')
    assert (
        'switch 0000000000000bad announced 5000 ports: 1024 tracked (max_ports), '
        'ports 1025 and above ignored' in log
    )
    assert 'switch 0000000000000bad: taken over' in log


def test_a_storm_of_port_status_messages(hostile_run):
    phases, log = hostile_run
    assert_served_and_bounded(phases, 'port flaps')
    # The LLDP loop still sends out of every live port (about a thousand a second).
    assert phases['port flaps']['detail']['packet_outs_per_s_after'] > 500
    assert 'loop failed' not in log


def test_a_flood_of_new_macs(hostile_run):
    phases, _ = hostile_run
    assert_served_and_bounded(phases, 'MAC flood')


def test_malformed_packet_ins(hostile_run):
    phases, log = hostile_run
    assert_served_and_bounded(phases, 'malformed packet-ins')
    assert phases['malformed packet-ins']['detail']['cut_short_connection_closed']
    assert log.count('malformed packet-in dropped') == 1
    assert log.count('an OpenFlow message Ryu could not parse was dropped') == 1
    assert log.count('a switch sent an OpenFlow message cut short') == 1
    assert 'Traceback' not in log


async def _duplicate_dpid(port: int) -> dict:
    first = flood_memory.HostileSwitch(7, n_ports=4, port=port, cookie=ofemu.FROM_TABLE_MISS)
    await first.start(20.0)
    before = first.flow_mods
    second = flood_memory.HostileSwitch(7, n_ports=4, port=port, cookie=ofemu.FROM_TABLE_MISS)
    await second.start(20.0)
    await asyncio.sleep(flood_memory.SETTLE)  # taken over: its floods
    closed = first.error is not None
    # The second learns hosts; nothing of it reaches the first.
    done = second.start_traffic(ofemu.learning_stream(ofemu.make_hosts(7, 10, 4)), window=4)
    await asyncio.wait_for(done, 10.0)
    figures = {
        'first_closed': closed,
        'first_flow_mods': (before, first.flow_mods),
        'second_flow_mods': second.flow_mods,
        'second_answered': second.answered,
    }
    # The first comes back: it takes over in its turn.
    third = flood_memory.HostileSwitch(7, n_ports=4, port=port, cookie=ofemu.FROM_TABLE_MISS)
    await third.start(20.0)
    await asyncio.sleep(0.5)
    figures['second_closed'] = second.error is not None
    for switch in (first, second, third):
        switch.close()
    return figures


def test_two_connections_with_one_dpid_the_newest_wins(tmp_path):
    with RyuController(L2, str(tmp_path / 'ryu.log')) as ctl:
        figures = asyncio.run(_duplicate_dpid(ctl.ofp_port))
        log = ctl.log_text()
        assert ctl.alive()
    before, after = figures['first_flow_mods']
    assert figures['first_closed'] and before == after >= 2, figures
    assert figures['second_answered'] == 10 and figures['second_flow_mods'] > 20, figures
    assert figures['second_closed'], figures
    assert log.count('switch 0000000000000007: a second connection (from 127.0.0.1:') == 2
    assert 'Traceback' not in log


FAILING_APP = '''
from controller.app_base import SuiteApp, base_options, register_options

register_options('failing_loop', base_options(loop_failure_limit=3))


class FailingLoop(SuiteApp):
    CONFIG_GROUP = 'failing_loop'

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.spawn_loop('doomed', 1.0, self._tick)

    def _tick(self):
        raise RuntimeError('this loop never works')

    def new_switch(self, dp):
        return None
'''


def test_a_loop_that_keeps_failing_stops_the_controller_loudly(tmp_path):
    app = tmp_path / 'failing_loop.py'
    app.write_text(textwrap.dedent(FAILING_APP))
    ctl = RyuController([str(app)], str(tmp_path / 'ryu.log'))
    with ctl:
        status = ctl.process.wait(timeout=30)
    log = ctl.log_text()
    assert status == 70, log
    assert log.count('the doomed loop failed this round; it goes on') == 2
    assert (
        'FailingLoop: the doomed loop failed 3 rounds in a row; stopping the '
        'controller (exit status 70) rather than running without it' in log
    )
    assert 'RuntimeError: this loop never works' in log  # the last failure's traceback
