"""Hostile switches against a controller: its memory and whether it still answers.

    .venv/bin/python -m bench.flood_memory [--quick]     # alone (no root needed)
    .venv/bin/python -m bench.run --only flood_memory     # from the suite (optional)

Each controller (apps/l2_learning.py and ryu.app.simple_switch_13, at their defaults, at
WARNING log level) runs in a fresh ryu-manager; FAUCET (bench/faucet.py, WARNING log) in
a fresh process of its own venv, its faucet.yaml naming the three emulated switches
(witness, hostile, and the one that sends a message cut short) and every port of each:
FAUCET ignores a switch or a port its config does not name. The emulated switches send
FAUCET the packet-ins of its pipeline (bench/faucet.py), and its witness a new host
each time: FAUCET does not answer a host it learned on the same port less than
``cache_update_guard_time`` (150 s) ago, where our apps refresh its rules. A controller
that has not taken the big switch within ``HANDSHAKE_TIMEOUT`` ends its run there;
FAUCET, which does not take 5,000 ports in that time, then runs again, fresh, against a
hostile switch of ``SMALL_PORTS`` ports, for the phases after it.

A *witness* switch (bench/ofemu.py) connects first and sends one packet-in every 0.1 s
throughout, from a few hosts on one port: its answer times say whether the controller
still serves a well-behaved switch. Then, one after the other:

- ``big switch``: a switch announcing 5,000 ports connects (and stays);
- ``port flaps``: it sends 20,000 PORT_STATUS messages, ports going down and up;
- ``MAC flood``: 100,000 packet-ins, each from a new source MAC, over its ports, sent
  as fast as the controller reads them (no waiting for answers);
- ``malformed packet-ins``: 2,000 packet-ins a switch should never send (frames
  shorter than an Ethernet header, no in_port, an OXM Ryu cannot parse, a total_len
  that lies).

Recorded per phase: the controller's RSS (idle, after the phase, and the peak sampled
every 0.1 s), the witness's slowest answer and its unanswered packet-ins, whether the
controller is still running, and the tracebacks in its log (and, for FAUCET, whose log
lines carry their level, its ERROR lines). Results go to
bench/results/flood_memory.json (bench/results-quick/ with --quick).

The scenarios are the functions below, which tests/unit/test_l2_hostile_switches.py
runs too, with assertions.
"""

import argparse
import asyncio
import itertools
import json
import os
import re
import struct
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

from bench import faucet, ofemu
from bench.machine import QUICK_RESULTS_DIR, REPO, RESULTS_DIR, machine
from tests.harness.controller import RyuController

WARNING = ['--default-log-level', '30']
CONTROLLERS = {
    'l2_learning': ['apps/l2_learning.py'],
    'simple_switch_13': ['ryu.app.simple_switch_13'],
}
FAUCET = 'faucet'  # after CONTROLLERS, in its own venv
WITNESS_DPID = 1
HOSTILE_DPID = 0xBAD
BIG_PORTS = 5000
FLAPS = 20000
MACS = 100000
MALFORMED = 2000
SETTLE = 3.5  # seconds: l2_learning's probe time (2.5 s) and a margin
WITNESS_PORTS = 4
# FAUCET takes the ports of a PORT_DESC reply one at a time, rebuilding the VLAN's flood
# rules over all its ports for each (py-spy: Valve.port_desc_stats_reply_handler ->
# port_add -> _build_flood_rules): seconds a port, 5,000 ports take hours, its event
# loop held all along.
HANDSHAKE_TIMEOUT = 600.0  # a tenth with --quick
SMALL_PORTS = 64  # the hostile switch FAUCET gets when it cannot take BIG_PORTS
CUTTER_DPID = HOSTILE_DPID + 1
ERROR_LINE = re.compile(r'\sERROR\s')  # FAUCET's log format: time, logger, level, message
EXCEPTION_LINE = re.compile(r'^\w+(Error|Exception): ')  # a traceback's last line
FROM_TABLE_MISS = {'cookie': ofemu.FROM_TABLE_MISS}  # our apps' packet-ins


# --- switches ----------------------------------------------------------------------------


class HostileSwitch(ofemu.EmulatedSwitch):
    """An emulated switch that can also send what it likes (``send_raw``) and wait for
    the controller to have read it all (``echo``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._echoes: dict[int, asyncio.Future] = {}  # xid -> future of its reply

    def send_raw(self, data: bytes) -> None:
        self._send(data)

    async def echo(self, timeout: float = 30.0) -> float:
        """Round trip of an ECHO_REQUEST: the controller has read everything before it
        (Ryu answers echoes in the loop that reads the connection)."""
        xid = self._next_xid()
        future = self._echoes[xid] = self._loop.create_future()
        started = time.perf_counter()
        self._send(ofemu.echo_request(xid, b'drain'))
        try:
            await asyncio.wait_for(future, timeout)
        finally:
            self._echoes.pop(xid, None)
        return time.perf_counter() - started

    def _fail(self, error):
        super()._fail(error)
        for future in self._echoes.values():  # the connection is gone: no reply coming
            if not future.done():
                future.set_exception(error)

    def _on_control(self, t, msg):
        if t == ofemu.OFPT_ECHO_REPLY:
            future = self._echoes.get(int.from_bytes(msg[4:8], 'big'))
            if future is not None and not future.done():
                future.set_result(None)
                return
        super()._on_control(t, msg)


class Witness:
    """A well-behaved switch sending one packet-in every ``period`` seconds from a few
    hosts on port 1 (broadcast ARP: a learning switch answers each, a known host with a
    refreshed rule pair), or with ``new_hosts`` from a new host each time:
    ``slowest()`` and ``unanswered()`` since the last ``reset()``. ``packet_in``: the
    EmulatedSwitch options that shape its packet-ins for the controller."""

    HOSTS = 8

    def __init__(
        self,
        port: int,
        period: float = 0.1,
        packet_in: dict = FROM_TABLE_MISS,
        new_hosts: bool = False,
    ) -> None:
        self.switch = HostileSwitch(
            WITNESS_DPID, n_ports=WITNESS_PORTS, port=port, response_timeout=1.0, **packet_in
        )
        self.period = period
        self.new_hosts = new_hosts
        self._timeouts = 0

    async def start(self) -> None:
        await self.switch.start(20.0)

    def send(self) -> None:
        hosts = itertools.count() if self.new_hosts else itertools.cycle(range(self.HOSTS))
        self.switch.start_traffic(
            map(self._frame, hosts), window=1, rate=1.0 / self.period, record_latency=True
        )
        self.reset()

    def _frame(self, i: int) -> tuple:
        """Host ``i``'s broadcast ARP request: (in_port, source, destination, frame)."""
        mac = (ofemu.learn_mac if self.new_hosts else ofemu.host_mac)(WITNESS_DPID, i)
        ip = bytes((10, 0, i // 250 % 256, i % 250 + 1))
        return 1, mac, ofemu.BROADCAST, ofemu.arp_request_frame(mac, ip, ofemu.PROBE_IP)

    def reset(self) -> None:
        self.switch.take_latencies()
        self._timeouts = self.switch.timeouts

    def slowest(self) -> float | None:
        samples = self.switch.take_latencies()
        return max(samples) if samples else None

    def unanswered(self) -> int:
        return self.switch.timeouts - self._timeouts

    def close(self) -> None:
        self.switch.close()


# --- what a hostile switch sends -------------------------------------------------------------


def port_flaps(dpid: int, count: int, n_ports: int) -> list[bytes]:
    """``count`` PORT_STATUS messages: ports 1..n_ports going down and up in turn."""
    return [
        ofemu.port_status(0, dpid, i % n_ports + 1, ofemu.OFPPR_MODIFY, up=(i // n_ports) % 2 == 1)
        for i in range(count)
    ]


def mac_flood(
    dpid: int, count: int, n_ports: int, builder: ofemu.PacketInBuilder | None = None
) -> Iterator[bytes]:
    """``count`` packet-ins from as many new source MACs, over ports 1..n_ports, shaped by
    ``builder`` (cookie, reason, table, VLAN tag; default: a table miss)."""
    builder = builder or ofemu.PacketInBuilder()
    for n in range(count):
        mac = ofemu.learn_mac(dpid, n)
        yield builder.build(
            0,
            n % n_ports + 1,
            ofemu.arp_request_frame(mac, bytes((10, 1, (n >> 8) & 0xFF, n & 0xFF)), ofemu.PROBE_IP),
        )


def raw_packet_in(
    oxms: bytes,
    frame: bytes,
    total_len: int | None = None,
    cookie: int = 0,
    reason: int = ofemu.OFPR_NO_MATCH,
    table_id: int = 0,
) -> bytes:
    """A PACKET_IN whose match holds the OXM TLVs ``oxms`` (bytes) as they are, and whose
    total_len says what it is told."""
    match_len = 4 + len(oxms)
    match = struct.pack('!HH', 1, match_len) + oxms + bytes(-match_len % 8)
    body = struct.pack(
        '!IHBBQ',
        ofemu.OFP_NO_BUFFER,
        len(frame) if total_len is None else total_len,
        reason,
        table_id,
        cookie,
    )
    return ofemu._msg(ofemu.OFPT_PACKET_IN, 0, body + match + b'\0\0' + frame)


def oxm_tlv(oxm_class: int, field: int, payload: bytes) -> bytes:
    """One OXM TLV, unmasked, of any class, field and length."""
    return struct.pack('!HBB', oxm_class, field << 1, len(payload)) + payload


def malformed_packet_ins(
    cookie: int = 0, in_port: int = 1, reason: int = ofemu.OFPR_NO_MATCH, table_id: int = 0
) -> dict[str, bytes]:
    """{kind: a PACKET_IN no switch should send}: kinds our handlers must drop (counted)
    and kinds Ryu cannot parse at all (it drops them itself). ``cookie``, ``reason`` and
    ``table_id`` as the controller's pipeline sends them, so that it looks further."""

    def packet_in(oxms: bytes, frame: bytes, total_len: int | None = None) -> bytes:
        return raw_packet_in(oxms, frame, total_len, cookie, reason, table_id)

    frame = ofemu.arp_request_frame(ofemu.learn_mac(9, 9), bytes(4), ofemu.PROBE_IP)
    port = oxm_tlv(0x8000, 0, struct.pack('!I', in_port))
    return {
        'short frame': packet_in(port, frame[:9]),
        'empty frame': packet_in(port, b''),
        'no in_port': packet_in(b'', frame),
        'in_port 0': packet_in(oxm_tlv(0x8000, 0, bytes(4)), frame),
        'total_len lies short': packet_in(port, frame, total_len=5),
        'total_len lies long': packet_in(port, frame[:10], total_len=1500),
        'unknown OXM field': packet_in(port + oxm_tlv(0x8000, 120, b'\1\2'), frame),
        'experimenter OXM': packet_in(port + oxm_tlv(0xFFFF, 1, bytes(8)), frame),
        'in_port of 2 bytes': packet_in(oxm_tlv(0x8000, 0, b'\0\1'), frame),
    }


def cut_short_packet_in() -> bytes:
    """A PACKET_IN whose match holds an OXM longer than the match: Ryu ends the
    connection on it."""
    return raw_packet_in(b'\x00\x00\x00\x03', b'')


async def send_all(switch: HostileSwitch, messages: Iterable[bytes], batch: int = 500) -> None:
    """Write ``messages`` in batches, letting the connection be read in between; then
    wait until the controller has read them all. Raises the switch's BenchError if the
    connection ends meanwhile."""
    chunk = []
    for msg in messages:
        chunk.append(msg)
        if len(chunk) == batch:
            if switch.error is not None:
                raise switch.error
            switch.send_raw(b''.join(chunk))
            chunk = []
            await _drain(switch)
    if chunk:
        switch.send_raw(b''.join(chunk))
    # FAUCET reads a flood only as fast as it handles it (some hundreds a second)
    await switch.echo(timeout=600.0)


async def _drain(switch: HostileSwitch) -> None:
    transport = switch.transport
    while transport is not None and transport.get_write_buffer_size() > 1 << 20:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0)


# --- a run ------------------------------------------------------------------------------


def rss_kib(pid: int) -> int | None:
    """The RSS of process ``pid``, None once it has exited (a controller can die)."""
    try:
        return ofemu.rss_kib(pid)
    except (OSError, ValueError):
        return None


class RssSampler:
    """The peak RSS of a process, sampled every ``period`` seconds while running."""

    def __init__(self, pid: int, period: float = 0.1) -> None:
        self.pid = pid
        self.period = period
        self.peak = 0
        self._task: asyncio.Task | None = None

    def __enter__(self) -> 'RssSampler':
        self.peak = rss_kib(self.pid) or 0
        self._task = asyncio.ensure_future(self._sample())
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._task is not None:
            self._task.cancel()
        self.peak = max(self.peak, rss_kib(self.pid) or 0)

    async def _sample(self):
        while True:
            await asyncio.sleep(self.period)
            self.peak = max(self.peak, rss_kib(self.pid) or 0)


async def phase(
    name: str,
    ctl: RyuController,
    witness: Witness,
    action: Callable[[], Awaitable[dict]],
    settle: float = 1.0,
) -> dict:
    """Run ``action()`` (a coroutine function) while the witness sends; then settle.
    Returns the phase's figures."""
    witness.reset()
    started = time.perf_counter()
    with RssSampler(ctl.pid) as rss:
        result = await action()
        await asyncio.sleep(settle)
    log = ctl.log_text()
    alive = ctl.alive()
    exceptions = [line for line in log.splitlines() if EXCEPTION_LINE.match(line)]
    return {
        'phase': name,
        'seconds': round(time.perf_counter() - started, 2),
        'rss_kib': rss_kib(ctl.pid),
        'peak_rss_kib': rss.peak,
        'witness_slowest_ms': _ms(witness.slowest()),
        'witness_unanswered': witness.unanswered(),
        'alive': alive,
        'last_exception': None if alive or not exceptions else exceptions[-1],
        'tracebacks': log.count('Traceback'),
        'error_lines': sum(1 for line in log.splitlines() if ERROR_LINE.search(line)),
        'witness_connection_lost': None
        if witness.switch.error is None
        else str(witness.switch.error),
        'detail': result,
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


async def scenarios(
    ctl: RyuController,
    ports: int = BIG_PORTS,
    flaps: int = FLAPS,
    macs: int = MACS,
    malformed: int = MALFORMED,
    packet_in: dict = FROM_TABLE_MISS,
    new_witness_hosts: bool = False,
    handshake_timeout: float = HANDSHAKE_TIMEOUT,
) -> list[dict]:
    """The four hostile phases against a running controller; returns their figures.
    ``packet_in``: the EmulatedSwitch options that shape every switch's packet-ins;
    ``new_witness_hosts``: the witness sends from a new host each time (Witness). If
    the big switch's handshake is not done within ``handshake_timeout`` seconds, the
    phases end there (the big switch's detail says why)."""
    witness = Witness(ctl.ofp_port, packet_in=packet_in, new_hosts=new_witness_hosts)
    await witness.start()
    await asyncio.sleep(SETTLE)
    witness.send()
    await asyncio.sleep(2.0)
    phases = [
        {
            'phase': 'idle',
            'rss_kib': ofemu.rss_kib(ctl.pid),
            'witness_slowest_ms': _ms(witness.slowest()),
            'witness_unanswered': witness.unanswered(),
            'alive': ctl.alive(),
        }
    ]

    def new_hostile() -> HostileSwitch:
        return HostileSwitch(HOSTILE_DPID, n_ports=ports, port=ctl.ofp_port, **packet_in)

    hostile = new_hostile()

    async def flooded(messages: Iterable[bytes]) -> dict:
        """send_all to the hostile switch; {} or how its connection ended meanwhile."""
        try:
            await send_all(hostile, messages)
        except ofemu.BenchError as exc:
            return {'connection_lost': str(exc)}
        return {}

    def on_live_switch(action: Callable[[], Awaitable[dict]]) -> Callable[[], Awaitable[dict]]:
        """``action``, after connecting the hostile switch again if the controller
        dropped it (as a switch would reconnect)."""

        async def run() -> dict:
            nonlocal hostile
            if hostile.error is None:
                return await action()
            hostile.close()
            hostile = new_hostile()
            try:
                await hostile.start(handshake_timeout)
            except ofemu.BenchError as exc:
                return {'reconnect_failed': str(exc)}
            return {'reconnected': True, **(await action())}

        return run

    async def big_switch():
        started = time.perf_counter()
        try:
            await hostile.start(handshake_timeout)
        except ofemu.BenchError as exc:  # a result too: the controller never took it
            return {'ports': ports, 'handshake_failed': str(exc)}
        return {'ports': ports, 'handshake_s': round(time.perf_counter() - started, 1)}

    async def port_storm():
        lost = await flooded(port_flaps(HOSTILE_DPID, flaps, 64))
        # The LLDP loop still runs: frames go out of the switch's ports.
        before = hostile.packet_outs
        await asyncio.sleep(2.0)
        return {
            'port_status': flaps,
            'packet_outs_per_s_after': (hostile.packet_outs - before) / 2.0,
            **lost,
        }

    async def mac_storm():
        shape = ofemu.PacketInBuilder(
            hostile.cookie, hostile.reason, hostile.table_id, hostile.vlan_vid
        )
        return {'packet_ins': macs, **(await flooded(mac_flood(HOSTILE_DPID, macs, ports, shape)))}

    async def malformed_storm():
        kinds = list(
            malformed_packet_ins(
                hostile.cookie, reason=hostile.reason, table_id=hostile.table_id
            ).values()
        )
        lost = await flooded(kinds[i % len(kinds)] for i in range(malformed))
        # and one message cut short, on a connection of its own: Ryu ends it
        cutter = HostileSwitch(CUTTER_DPID, n_ports=WITNESS_PORTS, port=ctl.ofp_port)
        figures = {'packet_ins': malformed, 'kinds': len(kinds), **lost}
        try:
            await cutter.start(20.0)
        except ofemu.BenchError as exc:  # the controller may not be there any more
            return {**figures, 'cutter_not_connected': str(exc)}
        cutter.send_raw(cut_short_packet_in())
        await asyncio.sleep(1.0)
        cutter.close()
        return {**figures, 'cut_short_connection_closed': cutter.error is not None}

    try:
        phases.append(await phase('big switch', ctl, witness, big_switch, settle=SETTLE))
        if 'handshake_failed' in phases[-1]['detail']:
            return phases  # no switch to flood from
        for name, storm in (
            ('port flaps', port_storm),
            ('MAC flood', mac_storm),
            ('malformed packet-ins', malformed_storm),
        ):
            if not ctl.alive():
                break  # the controller died in the phase before: nothing left to measure
            phases.append(await phase(name, ctl, witness, on_live_switch(storm)))
    finally:
        hostile.close()
        witness.close()
    return phases


def faucet_switches(ports: int = BIG_PORTS) -> dict[int, range]:
    """{dp_id: ports} of the emulated switches, for FAUCET's config: it ignores a switch
    or a port its config does not name."""
    few = range(1, WITNESS_PORTS + 1)
    return {WITNESS_DPID: few, HOSTILE_DPID: range(1, ports + 1), CUTTER_DPID: few}


def faucet_config_text(switches: dict[int, range]) -> str:
    """What FAUCET's config had to hold, in words for the report."""
    dps = ', '.join(
        '%#x (ports %d-%d)' % (dpid, ports[0], ports[-1]) for dpid, ports in switches.items()
    )
    return (
        'dp_ids %s, every port a native access port of one VLAN, max_hosts 0 (no host '
        'limit) and ignore_learn_ins 0' % dps
    )


def controller(name: str, logdir: str, ports: int = BIG_PORTS) -> RyuController:
    """The controller ``name`` (of CONTROLLERS, or FAUCET for a big switch of ``ports``
    ports) at WARNING log, not started."""
    log = os.path.join(logdir, 'flood-memory-%s-%d.log' % (name, ports))
    if name == FAUCET:
        config = faucet.switches_yaml(faucet_switches(ports))
        return faucet.FaucetController(config, log, 'WARNING')
    return RyuController(CONTROLLERS[name], log, extra_args=WARNING)


def handshake_failed(phases: list[dict]) -> bool:
    """Whether the big switch's handshake did not complete (scenarios stopped there)."""
    return any('handshake_failed' in p.get('detail', {}) for p in phases)


def run(quick: bool, logdir: str) -> list[dict]:
    """Every controller through the scenarios; the figures, one entry per controller.
    A FAUCET that does not take the big switch in time is measured again, fresh, with a
    hostile switch of SMALL_PORTS ports, for the phases after it."""
    results = []
    versions = faucet.ensure_venv()
    scale = 10 if quick else 1
    runs = [(name, BIG_PORTS) for name in [*CONTROLLERS, FAUCET]]
    while runs:
        name, ports = runs.pop(0)
        label = name if ports == BIG_PORTS else '%s (hostile switch of %d ports)' % (name, ports)
        entry: dict = {'controller': label}
        with controller(name, logdir, ports) as ctl:
            shape: dict = FROM_TABLE_MISS
            if isinstance(ctl, faucet.FaucetController):
                shape = ctl.packet_in
                entry.update(versions=versions, config=faucet_config_text(faucet_switches(ports)))
            phases = asyncio.run(
                scenarios(
                    ctl,
                    ports=ports,
                    flaps=FLAPS // scale,
                    macs=MACS // scale,
                    malformed=MALFORMED // scale,
                    packet_in=shape,
                    new_witness_hosts=name == FAUCET,
                    handshake_timeout=HANDSHAKE_TIMEOUT / (10 if quick else 1),
                )
            )
        entry['phases'] = phases
        if name == FAUCET and ports == BIG_PORTS and handshake_failed(phases):
            runs.append((FAUCET, SMALL_PORTS))
        results.append(entry)
        idle = phases[0]['rss_kib']
        for p in phases:
            print(
                'flood_memory %-40s %-22s RSS %s KiB (x%.2f idle, peak %s), witness '
                'slowest %s ms, unanswered %s, alive %s, tracebacks %s, ERROR lines %s'
                % (
                    label,
                    p['phase'],
                    p['rss_kib'],
                    (p['rss_kib'] or 0) / idle,
                    p.get('peak_rss_kib', '-'),
                    p['witness_slowest_ms'],
                    p['witness_unanswered'],
                    p['alive'],
                    p.get('tracebacks', 0),
                    p.get('error_lines', 0),
                )
            )
    return results


def report(data: dict, machine_line: str) -> tuple[list[str], list[tuple]]:
    """The RESULTS.md section (bench/report.py) and its targets, from the JSON."""
    out = [
        '## Hostile switches: memory and answers (bench/flood_memory.py)',
        '',
        machine_line,
        '',
        'A witness switch sends a packet-in every 0.1 s while a hostile switch connects '
        'with 5,000 ports, then sends 20,000 PORT_STATUS, packet-ins from 100,000 new '
        'MACs, and malformed packet-ins. RSS after each phase (and its peak), as a '
        'multiple of the idle figure; the witness\'s slowest answer and its packet-ins '
        'not answered within 1 s; whether the controller still runs after the phase. '
        'ERROR lines: FAUCET\'s log lines at level ERROR (ryu-manager\'s log lines do '
        'not carry their level).',
        '',
        '| controller | phase | RSS KiB | x idle | peak KiB | witness slowest ms | '
        'unanswered | alive | tracebacks in log | ERROR lines |',
        '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
    ]
    targets = []
    for entry in data['results']:
        phases = entry['phases']
        idle = phases[0]['rss_kib']
        for p in phases:
            out.append(
                '| %s | %s | %s | %s | %s | %s | %d | %s | %s | %s |'
                % (
                    entry['controller'],
                    p['phase'],
                    '-' if p['rss_kib'] is None else p['rss_kib'],
                    '-' if p['rss_kib'] is None else '%.2f' % (p['rss_kib'] / idle),
                    p.get('peak_rss_kib', '-'),
                    p['witness_slowest_ms'],
                    p['witness_unanswered'],
                    'yes' if p['alive'] else '**no**',
                    p.get('tracebacks', '-'),
                    p.get('error_lines', '-') if entry['controller'].startswith(FAUCET) else '-',
                )
            )
        if entry['controller'] == 'l2_learning':
            peak = max(p.get('peak_rss_kib', p['rss_kib'] or 0) for p in phases)
            slowest = max(p['witness_slowest_ms'] or 0 for p in phases)
            targets += [
                ('RSS under hostile switches < 2x idle (l2_learning)', peak / idle, 2.0, 'x'),
                (
                    'witness answered under hostile switches < 1000 ms (l2_learning)',
                    slowest,
                    1000.0,
                    'ms',
                ),
            ]
    notes = _handshakes(data['results']) + _endings(data['results'])
    return out + notes + _faucet_note(data['results']), targets


def _handshakes(results: list[dict]) -> list[str]:
    """How long each controller took to take the big switch (its handshake: features,
    port description, echo), or that it never did within the time given."""
    said = []
    for entry in results:
        detail = next((p['detail'] for p in entry['phases'] if p['phase'] == 'big switch'), {})
        if 'handshake_failed' in detail:
            said.append(
                '%s: **not done**, the later phases not run (%s)'
                % (entry['controller'], detail['handshake_failed'])
            )
        elif 'handshake_s' in detail:
            said.append('%s %.1f s' % (entry['controller'], detail['handshake_s']))
    return ['', 'Handshake of the big switch: %s.' % '; '.join(said)] if said else []


# what a phase's detail may say ended, in the report's words
ENDINGS = {
    'reconnected': 'the hostile switch reconnected first',
    'connection_lost': 'the controller dropped the hostile switch (%s)',
    'reconnect_failed': 'the hostile switch could not reconnect (%s)',
    'cutter_not_connected': 'the switch with the cut-short message could not connect (%s)',
}


def _endings(results: list[dict]) -> list[str]:
    """The connections that ended during a phase (the hostile switch then reconnects
    for the next one), the witness's, and a controller that exited."""
    said = []
    for entry in results:
        for p in entry['phases']:
            detail = p.get('detail', {})
            where = '%s, %s: ' % (entry['controller'], p['phase'])
            for key, words in ENDINGS.items():
                if detail.get(key):
                    said.append(where + (words % detail[key] if '%s' in words else words))
            if p.get('witness_connection_lost'):
                said.append(
                    where + 'the witness\'s connection ended (%s)' % p['witness_connection_lost']
                )
            if not p['alive']:
                last = p.get('last_exception')
                said.append(where + '**the controller exited**' + (' (%s)' % last if last else ''))
    return ['', 'What ended during the phases: %s.' % '; '.join(said)] if said else []


def _faucet_note(results: list[dict]) -> list[str]:
    entry = next((e for e in results if e['controller'] == FAUCET), None)
    if entry is None:
        return ['', 'FAUCET: not in this run (bench/flood_memory.py from before FAUCET ran here).']
    out = [
        '',
        'FAUCET (faucet %s on os-ken %s, WARNING log; RSS of its osken-manager process) '
        'takes a switch only if its faucet.yaml names it, and a port only if named too; '
        'its config had to contain: %s. Every emulated switch sends it the packet-ins of '
        'its pipeline (reason ACTION, its cookie, table eth_src, the frame tagged with '
        'the VLAN), the malformed ones too. Its witness sends from a new host each time, '
        'as FAUCET does not answer a host learned on the same port less than 150 s ago '
        '(cache_update_guard_time); our apps\' witness cycles over 8 hosts.'
        % (entry['versions']['faucet'], entry['versions']['os_ken'], entry['config']),
    ]
    again = next((e for e in results if e['controller'].startswith(FAUCET + ' (')), None)
    if again is not None:
        out += [
            '',
            'FAUCET did not take the %d-port switch in time: it adds the ports of a '
            'PORT_DESC reply one by one, rebuilding its VLAN\'s flood rules over all ports '
            'each time, with its event loop held (the witness waits meanwhile). The '
            'phases after it ran against a fresh FAUCET whose config had: %s (row "%s").'
            % (BIG_PORTS, again['config'], again['controller']),
        ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='a tenth of each flood')
    args = parser.parse_args()
    results_dir = QUICK_RESULTS_DIR if args.quick else RESULTS_DIR
    os.makedirs(results_dir, exist_ok=True)
    logdir = tempfile.mkdtemp(prefix='sdn-bench-')
    print('controller logs in %s' % logdir)
    started = time.monotonic()
    data = {'machine': machine(), 'quick': args.quick, 'results': run(args.quick, logdir)}
    data['seconds'] = round(time.monotonic() - started, 1)
    path = os.path.join(results_dir, 'flood_memory.json')
    with open(path, 'w') as f:
        json.dump(data, f, indent=1)
    print('wrote %s' % os.path.relpath(path, REPO))


if __name__ == '__main__':
    main()
