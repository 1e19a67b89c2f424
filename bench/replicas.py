"""Failover time and epoch commit latency of the stable-routing replicas
(controller/replicas/) against a real local etcd (/usr/bin/etcd, started here on free
loopback ports with its own data directory and killed afterwards): no root, no switches.

    .venv/bin/python -m bench.replicas            # about a minute; bench/results/
    .venv/bin/python -m bench.replicas --quick    # a few seconds; bench/results-quick/

- commit: what the leader adds to an epoch before installing it (``Replicas.commit``:
  the queued triggers sent, the log read, the record put with compare-and-swap, the
  log emptied), for fat-trees k=4 and k=8, with 1 replica (the leader alone) and with 3
  (two followers ticking every 0.1 s, each computing and checking every committed SFT);
  and, with 3, how long after the commit a follower holds the epoch, checked.
- failover: with 3 replicas mastering ``--switches`` switches, the leader stops (its
  lease is no longer renewed, as when its process dies); the time until another replica
  has decided MASTER for every switch (what it then sends them). With 1 replica there
  is no failover: the switches keep their rules and wait for a restart.

Raw figures go to bench/results/replicas.json (--quick: bench/results-quick/).
"""

import argparse
import json
import logging
import os
import statistics
import threading
import time

from bench.machine import QUICK_RESULTS_DIR, RESULTS_DIR, machine, machine_line
from bench.stable import fat_tree
from controller.replicas.config import ReplicaSettings
from controller.replicas.coordinator import Replicas
from controller.replicas.mastership import RoleChange
from controller.replicas.store import EtcdStore
from controller.stable.epochs import Trigger
from controller.stable.sft import compute_sft
from tests.harness.etcd import EtcdServer

NAME = 'replicas'
LOG = logging.getLogger('bench.replicas')
TICK = 0.1  # seconds, the replicas' poll_interval


def replica(endpoint: str, name: str, prefix: str, ttl: int) -> Replicas:
    settings = ReplicaSettings(
        endpoints=(endpoint,),
        replica_id=name,
        lease_ttl=ttl,
        prefix=prefix,
        poll_interval=TICK,
        etcd_timeout=min(0.5, ttl / 2),
    )
    return Replicas(settings, EtcdStore(settings.endpoints, settings.etcd_timeout), LOG)


class Ticking:
    """Replicas ticking every TICK in threads; ``followed[name]`` = {epoch: monotonic
    time it was held, checked}."""

    def __init__(self, replicas: list[Replicas], switches: set[int]) -> None:
        self.replicas, self.switches = replicas, switches
        self.followed: dict[str, dict[int, float]] = {r.replica_id: {} for r in replicas}
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(r,)) for r in replicas]

    def _run(self, r: Replicas) -> None:
        while not self.stopped.is_set():
            _, followed = r.tick(self.switches)
            for f in followed:
                self.followed[r.replica_id][f.epoch.number] = time.monotonic()
            time.sleep(TICK)

    def __enter__(self) -> 'Ticking':
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join()


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        'n': len(values),
        'min': round(ordered[0], 2),
        'median': round(statistics.median(ordered), 2),
        'p95': round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        'max': round(ordered[-1], 2),
    }


def commit_latency(endpoint: str, k: int, replicas_count: int, epochs: int) -> dict:
    prefix = '/bench-commit-%d-%d/' % (k, replicas_count)
    snapshot = fat_tree(k)
    sft = compute_sft(snapshot)
    leader = replica(endpoint, 'leader', prefix, 2)
    leader.tick(snapshot.switches)
    assert leader.leading
    followers = [replica(endpoint, 'f%d' % i, prefix, 2) for i in range(replicas_count - 1)]
    commits, follows = [], []
    with Ticking(followers, set(snapshot.switches)) as ticking:
        for number in range(1, epochs + 1):
            for i in range(4):  # a few triggers per epoch, as a link change gives
                leader.record_trigger(Trigger('t-%d-%d' % (number, i), 0.0, 'port-down', 'x'))
            leader.tick(snapshot.switches)  # its lease renewed, as its own loop does
            started = time.monotonic()
            refused = leader.commit(number, snapshot, sft)
            committed = time.monotonic()
            assert refused is None, refused
            commits.append((committed - started) * 1000)
            deadline = committed + 5
            while followers and time.monotonic() < deadline:
                if all(number in ticking.followed[f.replica_id] for f in followers):
                    break
                time.sleep(0.005)
            for f in followers:
                follows.append((ticking.followed[f.replica_id][number] - committed) * 1000)
            time.sleep(TICK)
    for r in [leader] + followers:
        r.stop()
    result = {
        'k': k,
        'switches': len(snapshot.switches),
        'replicas': replicas_count,
        'commit_ms': summary(commits),
    }
    if follows:
        result['followed_after_ms'] = summary(follows)
    return result


def failover(endpoint: str, switches: int, ttl: int, trials: int) -> dict:
    times = []
    dpids = set(range(1, switches + 1))
    for trial in range(trials):
        prefix = '/bench-failover-%d-%d-%d/' % (switches, ttl, trial)
        group = [replica(endpoint, 'r%d' % i, prefix, ttl) for i in range(3)]
        group[0].tick(dpids)
        for r in group[1:]:
            r.tick(dpids)
        assert group[0].leading
        # the leader's process dies: nothing renews its lease any more
        died = time.monotonic()
        mastered: dict[str, set[int]] = {r.replica_id: set() for r in group[1:]}
        took = None
        while took is None and time.monotonic() - died < 10 * ttl:
            for r in group[1:]:
                changes, _ = r.tick(dpids)
                mastered[r.replica_id] |= {
                    c.dpid for c in changes if isinstance(c, RoleChange) and c.master
                }
                if mastered[r.replica_id] == dpids:
                    took = time.monotonic() - died
            time.sleep(TICK)
        assert took is not None, 'no replica took over'
        times.append(took * 1000)
        for r in group:
            r.stop()
    return {'switches': switches, 'lease_ttl': ttl, 'failover_ms': summary(times)}


def run(quick: bool) -> dict:
    started = time.monotonic()
    server = EtcdServer().start()
    try:
        epochs = 10 if quick else 50
        trials = 2 if quick else 5
        commits = [
            commit_latency(server.endpoint, k, count, epochs)
            for k in ((4,) if quick else (4, 8))
            for count in (1, 3)
        ]
        failovers = [
            failover(server.endpoint, switches, ttl, trials)
            for switches in ((20,) if quick else (20, 80))
            for ttl in (1, 2)
        ]
    finally:
        server.remove()
    return {
        'machine': machine(),
        'quick': quick,
        'seconds': round(time.monotonic() - started),
        'commit': commits,
        'failover': failovers,
    }


def report(data: dict) -> str:
    lines = [machine_line(data), '', 'Epoch commit (ms): k, switches, replicas']
    for c in data['commit']:
        follow = c.get('followed_after_ms')
        lines.append(
            '  k=%d %4d switches, %d replica(s): commit median %.1f p95 %.1f%s'
            % (
                c['k'],
                c['switches'],
                c['replicas'],
                c['commit_ms']['median'],
                c['commit_ms']['p95'],
                '; followers hold it after median %.0f p95 %.0f' % (follow['median'], follow['p95'])
                if follow
                else '',
            )
        )
    lines.append('Failover (3 replicas): the leader stops renewing its lease')
    for f in data['failover']:
        lines.append(
            '  %3d switches, lease %ds: every switch MASTER of another replica after '
            'median %.0f ms (min %.0f, max %.0f)'
            % (
                f['switches'],
                f['lease_ttl'],
                f['failover_ms']['median'],
                f['failover_ms']['min'],
                f['failover_ms']['max'],
            )
        )
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='a few seconds; results-quick/')
    args = parser.parse_args(argv)
    data = run(args.quick)
    folder = QUICK_RESULTS_DIR if args.quick else RESULTS_DIR
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, NAME + '.json')
    with open(path, 'w') as f:
        json.dump(data, f, indent=1)
    print(report(data))
    print('written to %s' % path)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
