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
median answered/s, and the cost is 1 - on/off. Target: under 5%.
Results: bench/results/metrics_cost.json (bench/results-quick/ with --quick).
"""

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import urllib.request

from bench import ofemu
from bench.machine import L2_UNLIMITED, QUICK_RESULTS_DIR, RESULTS_DIR, machine
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


def run_once(setup: str, mode: str, logdir: str, loops: int, loop_s: float) -> dict:
    log = os.path.join(logdir, 'metrics-%s-%s.log' % (setup.split(',')[0], mode))
    with RyuController(SETUPS[setup], log, L2_UNLIMITED, WARNING) as ctl:
        scraper = Scraper(ctl.wsapi_port, SCRAPE_INTERVAL) if 'scraped' in setup else None
        if scraper:
            scraper.__enter__()
        try:
            result = ofemu.run_benchmark_sync(
                '127.0.0.1',
                ctl.ofp_port,
                n_switches=16,
                hosts_per_switch=100,
                mode=mode,
                loops=loops,
                loop_seconds=loop_s,
                warmup_loops=1,
                cookie=ofemu.FROM_TABLE_MISS,
            )
        finally:
            if scraper:
                scraper.__exit__()
    entry = {
        'setup': setup,
        'mode': mode,
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
        off = rates.get('off')
        out[mode] = {
            'answered_per_s': rates,
            'latency_p50_us': latency,
            'cost_vs_off': {
                setup: 1 - rate / off for setup, rate in rates.items() if off and setup != 'off'
            },
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='2 short loops per run, 1 round')
    parser.add_argument('--rounds', type=int, default=3, help='rounds of the three set-ups')
    options = parser.parse_args()
    loops, loop_s = (2, 1.0) if options.quick else (5, 2.0)
    rounds = 1 if options.quick else options.rounds
    started = time.time()
    runs = []
    with tempfile.TemporaryDirectory(prefix='metrics-cost-') as logdir:
        for round_no in range(rounds):
            for mode in ('throughput', 'latency'):
                for setup in SETUPS:
                    entry = dict(run_once(setup, mode, logdir, loops, loop_s), round=round_no)
                    runs.append(entry)
                    print(
                        'round %d %-10s %-16s %8.0f answered/s%s'
                        % (
                            round_no,
                            mode,
                            setup,
                            entry['answered_per_s'],
                            '  p50 %.0f us' % entry['latency_p50_us']
                            if entry['latency_p50_us']
                            else '',
                        )
                    )
    figures = summary(runs)
    result = {
        'machine': machine(),
        'took_s': round(time.time() - started, 1),
        'rounds': rounds,
        'target_cost': TARGET_COST,
        'runs': runs,
        'summary': figures,
    }
    directory = QUICK_RESULTS_DIR if options.quick else RESULTS_DIR
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, 'metrics_cost.json')
    with open(path, 'w') as f:
        json.dump(result, f, indent=1)
    for mode, figures_of_mode in figures.items():
        print(mode, json.dumps(figures_of_mode, indent=1))
    print('written to', path)


if __name__ == '__main__':
    main()
