"""What each app exports, as functions of its state read when Prometheus scrapes, and
the few counters apps bump on rare events (a ban, an epoch, a reload, a failover).

Learned hosts are counted from the apps' tables at scrape time: learning itself pays
nothing for being observed.
"""

import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter, Histogram
from prometheus_client.core import Metric

from controller.learning import MacTable
from controller.metrics import PREFIX, counter, dp_id_label, gauge
from controller.metrics.openflow import OPENFLOW

# Epoch steps take from well under a millisecond (a few switches) to seconds (an install
# waiting for a slow switch).
EPOCH_SECONDS_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


def dp_labels(dpid: int) -> list[str]:
    return [dp_id_label(dpid), OPENFLOW.name(dpid)]


# --- the base ---------------------------------------------------------------------


def base_families(app: Any) -> Iterable[Metric]:
    """Worker-loop failures and malformed packet-ins, per app (controller/app_base.py)."""
    loops = counter('loop_failures', 'rounds of a worker loop that raised', ('app', 'loop'))
    name = app.CONFIG_GROUP or app.name  # l2_learning, as on the command line
    for loop, failures in sorted(app.loop_failures.items()):
        loops.add_metric([name, loop], failures)
    yield loops
    malformed = counter(
        'packet_ins_malformed', 'packet-ins dropped as malformed', ('app', 'dp_id', 'dp_name')
    )
    for dpid, dropped in sorted(app.packet_in_guard.dropped.items()):
        malformed.add_metric([name] + dp_labels(dpid), dropped)
    yield malformed


# --- learned hosts (l2_learning, vswitch_policy) -------------------------------------


@dataclass
class LearnBans:
    """Bans of ports over their MAC limit, counted as they happen (FAUCET's
    port_learn_bans)."""

    counts: dict[tuple[int, int, str], int] = field(default_factory=dict)

    def ban(self, dpid: int, port: int, vlan: str = '') -> None:
        key = (dpid, port, vlan)
        self.counts[key] = self.counts.get(key, 0) + 1


def learning_families(
    tables: Iterable[tuple[int, str, Iterable[int], MacTable]], bans: LearnBans
) -> Iterable[Metric]:
    """Hosts learned per switch and VLAN, and per port and VLAN, of
    ``(dpid, vlan, ports, table)`` (``vlan`` '' for an app without VLANs), and bans."""
    labels = ('dp_id', 'dp_name', 'vlan')
    per_vlan = gauge('vlan_hosts_learned', 'hosts learned in a VLAN of a switch', labels)
    per_port = gauge(
        'port_vlan_hosts_learned',
        'hosts learned on a port in a VLAN',
        ('dp_id', 'dp_name', 'port', 'vlan'),
    )
    banned = gauge(
        'port_learn_banned',
        'whether the port learns no new host now (over its limit)',
        ('dp_id', 'dp_name', 'port', 'vlan'),
    )
    for dpid, vlan, ports, table in tables:
        per_vlan.add_metric(dp_labels(dpid) + [vlan], len(table))
        for port in sorted(ports):
            hosts = len(table.macs_on_port(port))
            if hosts:
                per_port.add_metric(dp_labels(dpid) + [str(port), vlan], hosts)
            if table.is_banned(port):
                banned.add_metric(dp_labels(dpid) + [str(port), vlan], 1)
    bans_family = counter(
        'port_learn_bans',
        'times a port was banned from learning',
        ('dp_id', 'dp_name', 'port', 'vlan'),
    )
    for (dpid, port, vlan), value in sorted(bans.counts.items()):
        bans_family.add_metric(dp_labels(dpid) + [str(port), vlan], value)
    yield from (per_vlan, per_port, banned, bans_family)


# --- reloads (vswitch_policy; FAUCET's faucet_config_*) --------------------------------


def policy_hash(data: Any) -> str:
    """sha256 of a policy's data (its canonical JSON): what two reloads compare."""
    text = json.dumps(data, sort_keys=True, separators=(',', ':'), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class ReloadStatus:
    """Reloads asked for and their outcomes; the last one's result, with its errors."""

    app: str
    requests: int = 0
    applied: int = 0
    refused: int = 0
    last: dict[str, Any] | None = None
    policy_hash: str = ''

    def loaded(self, digest: str) -> None:
        """The config read at start (not a reload) has the policy_hash ``digest``."""
        self.policy_hash = digest

    def requested(self) -> None:
        self.requests += 1

    def applied_policy(self, why: str, digest: str, rule_changes: int) -> None:
        """A reload put in force the config whose policy_hash is ``digest`` (computed
        by the caller, where the config was loaded: for a large one that takes long)."""
        self.applied += 1
        self.policy_hash = digest
        self.last = {
            'at': time.time(),
            'why': why,
            'result': 'applied',
            'rule_changes': rule_changes,
            'hash': self.policy_hash,
            'errors': [],
        }

    def refused_policy(self, why: str, errors: str) -> None:
        self.refused += 1
        self.last = {
            'at': time.time(),
            'why': why,
            'result': 'refused',
            'errors': [line for line in errors.splitlines() if line.strip()],
        }

    @property
    def load_error(self) -> bool:
        return self.last is not None and self.last['result'] == 'refused'

    def families(self) -> Iterable[Metric]:
        for name, what, value in (
            (
                'config_reload_requests',
                'reloads asked for (signal, file change, REST)',
                self.requests,
            ),
            ('config_reload_applied', 'reloads whose new config is in force', self.applied),
            ('config_reload_refused', 'reloads refused: the old config stays', self.refused),
        ):
            family = counter(name, what, ('app',))
            family.add_metric([self.app], value)
            yield family
        error = gauge('config_load_error', '1 if the last config load failed', ('app',))
        error.add_metric([self.app], 1 if self.load_error else 0)
        yield error
        info = gauge('config_hash_info', 'the config in force, by hash', ('app', 'hash'))
        if self.policy_hash:
            info.add_metric([self.app, self.policy_hash], 1)
        yield info


# --- stable_routing --------------------------------------------------------------------


class EpochMetrics:
    """Epochs by how they ended, their compute/check/install times, and failovers."""

    def __init__(self) -> None:
        self.epochs = Counter(
            PREFIX + 'stable_epochs', 'epochs cut, by how they ended', ['state'], registry=None
        )
        self.seconds = Histogram(
            PREFIX + 'stable_epoch_seconds',
            'time of an epoch step',
            ['step'],
            buckets=EPOCH_SECONDS_BUCKETS,
            registry=None,
        )
        self.failovers = Counter(
            PREFIX + 'stable_failovers',
            'next hops that went over to their fast-failover backup (their port went down '
            'in the epoch in force)',
            ['dp_id', 'dp_name'],
            registry=None,
        )
        self.unprotected_losses = Counter(
            PREFIX + 'stable_unprotected_next_hops_lost',
            'next hops lost without a backup: traffic waits for the next epoch',
            ['dp_id', 'dp_name'],
            registry=None,
        )

    def observe(self, record: Any) -> None:
        """An epoch record once its install ended (or failed)."""
        self.epochs.labels(record.state).inc()
        for step in ('compute', 'check', 'install'):
            milliseconds = getattr(record, step + '_ms')
            if milliseconds:
                self.seconds.labels(step).observe(milliseconds / 1000)

    def port_down(self, current: Any, dpid: int, port: int) -> None:
        """A port of ``dpid`` went down while ``current`` (an EpochInForce or None) is
        in force: its next hops through the port fail over or are lost."""
        if current is None:
            return
        backed = lost = 0
        for table in current.sft.routes.values():
            route = table.get(dpid)
            if route is not None and route.port == port:
                if route.backup is None:
                    lost += 1
                else:
                    backed += 1
        if backed:
            self.failovers.labels(*dp_labels(dpid)).inc(backed)
        if lost:
            self.unprotected_losses.labels(*dp_labels(dpid)).inc(lost)

    def families(self, app: Any) -> Iterable[Metric]:
        yield from self.epochs.collect()
        yield from self.seconds.collect()
        yield from self.failovers.collect()
        yield from self.unprotected_losses.collect()
        record = app.current.record if app.current else None
        for name, what, value in (
            ('stable_epoch', 'the epoch in force (0: none yet)', record.number if record else 0),
            (
                'stable_pending_triggers',
                'triggers waiting for the next epoch',
                len(app.log.pending),
            ),
            ('stable_hosts', 'hosts known', len(app.hosts)),
            (
                'stable_unprotected_next_hops',
                'next hops of the epoch in force without backup',
                record.unprotected if record else 0,
            ),
        ):
            family = gauge(name, what)
            family.add_metric([], value)
            yield family


# --- the arbiter -------------------------------------------------------------------------


def arbiter_families(arbiter: Any) -> Iterable[Metric]:
    """Decisions by app and outcome, conflicts in force, damped regions, rules per app."""
    decisions = counter('arbiter_decisions', 'decisions, by app and outcome', ('app', 'outcome'))
    for (app, outcome), value in sorted(arbiter.counts.items()):
        decisions.add_metric([app, str(outcome)], value)
    yield decisions
    by_state: dict[str, int] = {}
    for conflict in arbiter.conflicts():
        by_state[conflict['state']] = by_state.get(conflict['state'], 0) + 1
    conflicts = gauge('arbiter_conflicts', 'conflicts in force, by state', ('state',))
    for state in ('held back', 'rewritten', 'shared'):
        conflicts.add_metric([state], by_state.get(state, 0))
    yield conflicts
    damped = gauge('arbiter_damped_regions', 'match regions damped now')
    damped.add_metric([], len(arbiter.damped()))
    yield damped
    rules = gauge(
        'arbiter_rules', 'rules installed per app and switch', ('app', 'dp_id', 'dp_name')
    )
    for app, per_switch in sorted(arbiter.rule_counts().items()):
        for dpid, value in sorted(per_switch.items()):
            rules.add_metric([app] + dp_labels(dpid), value)
    yield rules
