"""What /metrics costs: flow setup of apps/l2_learning.py with metrics on and off.

    .venv/bin/python -m bench.metrics_cost [--quick] [--rounds N]   # no root needed

bench/ofemu.py (the cbench equivalent, as bench/run.py's flowsetup), 16 emulated
switches with 100 hosts each, WARNING log, l2_learning's benchmark settings
(bench/machine.py), in three set-ups:

off             bench/apps/metrics_off.py loaded after the app: Ryu's functions put
                back, nothing counted (as before metrics existed);
on              metrics on, as shipped (the OpenFlow counters count every message;
                learned hosts are read only when scraped), nobody scraping;
on, scraped 1/s GET /metrics once a second during the run, as a Prometheus with a 1 s
                scrape interval would (15 s is the usual: this is the worst case).

Rounds alternate the set-ups (off, on, scraped, off, ...) so that the load of a shared
machine falls on all three alike; the figure is the median over rounds of each run's
median answered/s, and the cost is 1 - on/off; and the controller's CPU time per
answered packet-in (from /proc, from the end of the warm-up to the last loop), whose
cost is on/off - 1. Target: under 5%.

On a machine other work shares, end-to-end rates swing by more than the cost looked
for; so the hot path is also timed in-process (``hot path``, no switch, no root): what
the wrappers of Ryu add to a packet-in (its event made, the two flow-mods of a learned
host sent), against what l2_learning's packet-in handler itself takes on a fake switch,
the best of several interleaved rounds of each.

Results: bench/results/metrics_cost.json (bench/results-quick/ with --quick).
"""

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import types
import urllib.request
from collections.abc import Callable
from typing import Any

from ryu.base import app_manager  # noqa: F401  (ryu.controller.controller needs it first)
from ryu.controller import controller as ryu_controller
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from bench import ofemu
from bench.machine import L2_UNLIMITED, QUICK_RESULTS_DIR, RESULTS_DIR, machine, machine_line
from controller.metrics import openflow as of_metrics
from tests.harness.controller import RyuController

WARNING = ['--default-log-level', '30']
SETUPS = {
    'off': ['apps/l2_learning.py', 'bench/apps/metrics_off.py'],
    'on': ['apps/l2_learning.py'],
    'on, scraped 1/s': ['apps/l2_learning.py'],
}
SCRAPE_INTERVAL = 1.0
TARGET_COST = 0.05


class Scraper:
    """GET /metrics every ``interval`` seconds in a thread, until stopped."""

    def __init__(self, port: int, interval: float) -> None:
        self.url = 'http://127.0.0.1:%d/metrics' % port
        self.interval = interval
        self.scrapes: list[float] = []  # seconds each took
        self.size = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            started = time.perf_counter()
            with urllib.request.urlopen(self.url, timeout=10) as reply:
                self.size = len(reply.read())
            self.scrapes.append(time.perf_counter() - started)

    def __enter__(self) -> 'Scraper':
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) process ``pid`` has used so far."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def run_once(setup: str, mode: str, logdir: str, loops: int, loop_s: float) -> dict:
    log = os.path.join(logdir, 'metrics-%s-%s.log' % (setup.split(',')[0], mode))
    with RyuController(SETUPS[setup], log, L2_UNLIMITED, WARNING) as ctl:
        scraper = Scraper(ctl.wsapi_port, SCRAPE_INTERVAL) if 'scraped' in setup else None
        if scraper:
            scraper.__enter__()
        marks: list[tuple[bool, float, int]] = []  # (warm-up, CPU so far, answered)
        try:
            result = ofemu.run_flow_setup(
                ctl.ofp_port,
                mode,
                loops,
                loop_s,
                on_loop=lambda loop: marks.append(
                    (loop.warmup, cpu_seconds(ctl.pid), loop.answered)
                ),
            )
        finally:
            if scraper:
                scraper.__exit__()
    measured = [mark for mark in marks if not mark[0]]
    cpu = measured[-1][1] - [mark for mark in marks if mark[0]][-1][1]
    entry = {
        'setup': setup,
        'mode': mode,
        # The controller's own CPU per answered packet-in: what other work on the
        # machine changes far less than the rate.
        'cpu_us_per_answered': cpu * 1e6 / max(1, sum(mark[2] for mark in measured)),
        'answered_per_s': result.to_dict()['answered_per_s']['median'],
        'latency_p50_us': (result.to_dict().get('latency_us') or {}).get('p50'),
    }
    if scraper:
        entry['scrapes'] = len(scraper.scrapes)
        entry['scrape_ms_median'] = (
            statistics.median(scraper.scrapes) * 1000 if scraper.scrapes else None
        )
        entry['scrape_bytes'] = scraper.size
    return entry


def _best_per_call(call: Callable[[], object], n: int, rounds: int) -> float:
    """The fastest of ``rounds`` timings of ``n`` calls, per call, in microseconds."""
    best = float('inf')
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(n):
            call()
        best = min(best, (time.perf_counter() - started) / n)
    return best * 1e6


class _QueueDatapath(ryu_controller.Datapath):
    """Ryu's Datapath without a socket: what send() queues is dropped."""

    def __init__(self) -> None:  # Ryu's needs a socket
        self.id, self.ofproto, self.ofproto_parser = 1, ofp, parser
        self.send_q = types.SimpleNamespace(put=lambda item: None)
        self._send_q_sem = types.SimpleNamespace(acquire=lambda: None, release=lambda: None)


def hot_path(n: int = 100000, rounds: int = 7) -> dict:
    """Microseconds the OpenFlow counters add per packet-in of a new host, and what
    l2_learning's handler takes for one, in this process."""
    dp = _QueueDatapath()
    packet_in = parser.OFPPacketIn(
        dp, ofp.OFP_NO_BUFFER, 60, ofp.OFPR_NO_MATCH, 0, 0, parser.OFPMatch(in_port=1), b'x' * 60
    )
    packet_in.set_headers(ofp.OFP_VERSION, ofp.OFPT_PACKET_IN, 0, 0)
    flow_mods = [
        parser.OFPFlowMod(dp, match=parser.OFPMatch(in_port=1, eth_src='00:00:00:00:00:01')),
        parser.OFPFlowMod(dp, match=parser.OFPMatch(eth_dst='00:00:00:00:00:01')),
    ]
    for flow_mod in flow_mods:
        flow_mod.serialize()
    host_pair = b''.join(bytes(flow_mod.buf) for flow_mod in flow_mods)
    of_metrics.install()  # as app_base does on import
    ryu_msg_to_ev, ryu_send = of_metrics._wrapped['msg_to_ev'], of_metrics._wrapped['send']
    counted = {
        'event': _best_per_call(lambda: of_metrics._msg_to_ev(packet_in), n, rounds),
        'send': _best_per_call(lambda: of_metrics._send(dp, host_pair), n, rounds),
    }
    plain = {
        'event': _best_per_call(lambda: ryu_msg_to_ev(packet_in), n, rounds),
        'send': _best_per_call(lambda: ryu_send(dp, host_pair), n, rounds),
    }
    added = sum(counted.values()) - sum(plain.values())
    handler = l2_packet_in_us(min(n, 20000), rounds)
    return {
        'counted_us': counted,
        'plain_us': plain,
        'added_us_per_packet_in': added,
        'l2_handler_us_per_packet_in': handler,
        'added_vs_handler': added / handler,
    }


def l2_packet_in_us(n: int, rounds: int) -> float:
    """l2_learning's packet-in handler for a new host (learn, two flow-mods written) on
    a fake switch, per packet-in, the best of ``rounds``."""
    from ryu import cfg

    import apps.l2_learning as l2
    from controller.app_base import hub
    from controller.l2 import pipeline as pipe
    from controller.openflow import mac_bytes
    from tests.harness.fake_switch import FakeSwitch, connected, packet_in

    for name, value in L2_UNLIMITED['l2_learning'].items():
        cfg.CONF.set_override(name, value, group='l2_learning')
    app = l2.L2Learning()
    for thread in app.loops:
        hub.kill(thread)

    class SilentSwitch(FakeSwitch):
        """What the switch would read back is not what is timed."""

        def send(self, data: bytes) -> None:
            pass

        def send_msg(self, msg: Any) -> None:
            pass

    dp = SilentSwitch(1, (1, 2))
    app._base_state_change(connected(dp))
    best = float('inf')
    for round_no in range(rounds):
        events = [
            packet_in(
                dp,
                1,
                mac_bytes('ff:ff:ff:ff:ff:ff')
                + mac_bytes(
                    '02:%02x:%02x:%02x:%02x:00' % (round_no, i >> 16 & 255, i >> 8 & 255, i & 255)
                )
                + b'\x08\x00'
                + bytes(46),
                pipe.MISS_COOKIE,
            )
            for i in range(n)
        ]
        started = time.perf_counter()
        for event in events:
            app._packet_in(event)
        best = min(best, (time.perf_counter() - started) / n)
    app.stop()
    return best * 1e6


def summary(runs: list[dict]) -> dict:
    """{mode: {setup: median answered/s, ...}, cost of each set-up against off}."""
    out: dict = {}
    for mode in ('throughput', 'latency'):
        rates = {
            setup: statistics.median(
                r['answered_per_s'] for r in runs if r['setup'] == setup and r['mode'] == mode
            )
            for setup in SETUPS
            if any(r['setup'] == setup and r['mode'] == mode for r in runs)
        }
        latency = {
            setup: statistics.median(
                r['latency_p50_us']
                for r in runs
                if r['setup'] == setup and r['mode'] == mode and r['latency_p50_us'] is not None
            )
            for setup in SETUPS
            if any(
                r['setup'] == setup and r['mode'] == mode and r['latency_p50_us'] is not None
                for r in runs
            )
        }
        cpu = {
            setup: statistics.median(
                r['cpu_us_per_answered'] for r in runs if r['setup'] == setup and r['mode'] == mode
            )
            for setup in rates
        }
        off = rates.get('off')
        out[mode] = {
            'cpu_us_per_answered': cpu,
            'cpu_cost_vs_off': {
                setup: value / cpu['off'] - 1 for setup, value in cpu.items() if setup != 'off'
            },
            'answered_per_s': rates,
            'latency_p50_us': latency,
            'cost_vs_off': {
                setup: 1 - rate / off for setup, rate in rates.items() if off and setup != 'off'
            },
        }
    return out


def section(data: dict) -> tuple[list[str], list[tuple]]:
    """RESULTS.md's section for a metrics_cost.json, and its target: the CPU cost per
    answered packet-in of metrics on (nobody scraping) against off, under 5%."""
    setups = list(SETUPS)
    out = [
        '## Metrics cost (bench/metrics_cost.py)',
        '',
        machine_line(data),
        '',
        'Flow setup of l2_learning (16 emulated switches, WARNING log) with metrics off '
        '(Ryu\'s functions put back), on, and on with /metrics scraped every second; '
        'rounds alternate the three, median over %d rounds. CPU is the controller\'s '
        'per answered packet-in.' % data['rounds'],
        '',
        '| mode | set-up | answered/s | CPU us per answered | CPU cost vs off | rate cost vs off |',
        '| --- | --- | ---: | ---: | ---: | ---: |',
    ]
    for mode, figures in data['summary'].items():
        for setup in setups:
            cpu_cost = figures['cpu_cost_vs_off'].get(setup)
            rate_cost = figures['cost_vs_off'].get(setup)
            out.append(
                '| %s | %s | %.0f | %.1f | %s | %s |'
                % (
                    mode,
                    setup,
                    figures['answered_per_s'][setup],
                    figures['cpu_us_per_answered'][setup],
                    '' if cpu_cost is None else '%+.1f%%' % (100 * cpu_cost),
                    '' if rate_cost is None else '%+.1f%%' % (100 * rate_cost),
                )
            )
    hot = data['hot_path']
    out += [
        '',
        'In process (no switch, the best of interleaved rounds): the counting adds %.2f us '
        'to a packet-in whose handler takes %.1f us in l2_learning: %.1f%%.'
        % (
            hot['added_us_per_packet_in'],
            hot['l2_handler_us_per_packet_in'],
            100 * hot['added_vs_handler'],
        ),
    ]
    cost = data['summary']['throughput']['cpu_cost_vs_off']['on']
    return out, [('metrics on: flow-setup CPU cost vs off', 100 * cost, 100 * TARGET_COST, '%')]


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    arguments.add_argument('--quick', action='store_true', help='2 short loops per run, 1 round')
    arguments.add_argument('--rounds', type=int, default=3, help='rounds of the three set-ups')
    arguments.add_argument(
        '--hot-path-only', action='store_true', help='only the in-process timing (no controller)'
    )
    options = arguments.parse_args()
    in_process = hot_path(20000 if options.quick else 100000)
    print('hot path:', json.dumps(in_process, indent=1))
    loops, loop_s = (2, 1.0) if options.quick else (5, 2.0)
    rounds = 1 if options.quick else options.rounds
    started = time.time()
    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix='metrics-cost-') as logdir:
        for round_no in range(0 if options.hot_path_only else rounds):
            for mode in ('throughput', 'latency'):
                for setup in SETUPS:
                    entry = dict(run_once(setup, mode, logdir, loops, loop_s), round=round_no)
                    runs.append(entry)
                    print(
                        'round %d %-10s %-16s %8.0f answered/s %6.1f CPU us each%s'
                        % (
                            round_no,
                            mode,
                            setup,
                            entry['answered_per_s'],
                            entry['cpu_us_per_answered'],
                            '  p50 %.0f us' % entry['latency_p50_us']
                            if entry['latency_p50_us']
                            else '',
                        )
                    )
    figures = summary(runs)
    result = {
        'machine': machine(),
        'seconds': round(time.time() - started, 1),
        'rounds': rounds,
        'target_cost': TARGET_COST,
        'runs': runs,
        'summary': figures,
        'hot_path': in_process,
    }
    directory = QUICK_RESULTS_DIR if options.quick or options.hot_path_only else RESULTS_DIR
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, 'metrics_cost.json')
    with open(path, 'w') as f:
        json.dump(result, f, indent=1)
    for mode, figures_of_mode in figures.items():
        print(mode, json.dumps(figures_of_mode, indent=1))
    print('written to', path)


if __name__ == '__main__':
    main()
