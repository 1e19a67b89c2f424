"""docs/grafana/*.json and docs/operations.md name only metrics the suite exports, and
every metric exported is in the operations page's table."""

import json
import os
import re
import types

from controller.metrics.collectors import (
    EpochMetrics,
    LearnBans,
    ReloadStatus,
    arbiter_families,
    base_families,
    learning_families,
)
from controller.metrics.openflow import OpenFlowCounters, StatsPoller

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DASHBOARDS = os.path.join(REPO, 'docs', 'grafana')
SUFFIXES = ('_total', '_bucket', '_count', '_sum', '_created')


def exported_names():
    """The family names of every source, each made to yield (empty state is enough)."""
    counters = OpenFlowCounters()
    poller = StatsPoller(counters)
    poller.claim()
    app = types.SimpleNamespace(
        CONFIG_GROUP='x',
        name='x',
        loop_failures={},
        packet_in_guard=types.SimpleNamespace(dropped={}),
    )
    stable = types.SimpleNamespace(current=None, log=types.SimpleNamespace(pending=()), hosts={})
    arbiter = types.SimpleNamespace(
        counts={}, conflicts=lambda: [], damped=lambda: [], rule_counts=lambda: {}
    )
    families = [
        *counters.collect(),
        *poller.collect(),
        *base_families(app),
        *learning_families([], LearnBans()),
        *ReloadStatus('x').families(),
        *EpochMetrics().families(stable),
        *arbiter_families(arbiter),
    ]
    return {family.name for family in families}


def family_of(name, exported):
    """The family a sample name is of (sdn_flow_packet_count is one, not a _count)."""
    if name in exported:
        return name
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def test_dashboards_use_only_exported_metrics():
    exported = exported_names()
    boards = sorted(f for f in os.listdir(DASHBOARDS) if f.endswith('.json'))
    assert boards == ['sdn-apps.json', 'sdn-openflow.json']
    used = set()
    for board in boards:
        with open(os.path.join(DASHBOARDS, board)) as f:
            data = json.load(f)
        assert data['uid'] and data['title'] and data['panels']
        for panel in data['panels']:
            for target in panel.get('targets', []):
                used |= {
                    family_of(n, exported) for n in re.findall(r'\bsdn_[a-z_]+', target['expr'])
                }
    unknown = used - exported
    assert not unknown, 'dashboards query metrics nobody exports: %s' % sorted(unknown)
    # Every family is on some dashboard but the ones said to be for ad-hoc queries.
    assert exported - used <= {
        'sdn_of_port_rx_packets',
        'sdn_of_port_tx_packets',
        'sdn_flow_byte_count',
        'sdn_stable_hosts',
    }, exported - used


def test_the_operations_page_lists_every_metric():
    with open(os.path.join(REPO, 'docs', 'operations.md')) as f:
        text = f.read()
    exported = exported_names()
    listed = {family_of(n, exported) for n in re.findall(r'`(sdn_[a-z_]+)`', text)}
    assert exported <= listed, 'not in docs/operations.md: %s' % sorted(exported - listed)
    assert listed <= exported, 'docs/operations.md names what is not exported: %s' % sorted(
        listed - exported
    )
