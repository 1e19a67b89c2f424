"""Prometheus metrics of every app of a ``ryu-manager`` process, on the process's one
REST server (Ryu's WSGI, ``--wsapi-port``): ``GET /metrics``.

One registry per process (:data:`REGISTRY`): several apps loaded together answer one
``/metrics``. Nothing is exported on the hot path: the OpenFlow counters are plain
integers in dicts (controller/metrics/openflow.py), and each app adds a *source*, a
function that turns its state into metric families when Prometheus scrapes
(controller/metrics/collectors.py). A packet-in thus costs an increment, and learned
hosts cost nothing until they are read (FAUCET re-exports a port's MACs at every learn,
which is where 43% of its packet-in time goes).

Names are ``sdn_`` + FAUCET's name where FAUCET has a metric of that meaning, with its
labels (``dp_id`` as ``0x1``, ``dp_name``, ``port``, ``vlan``): a FAUCET dashboard
needs only the prefix changed (docs/operations.md has the table).

Reading /metrics is open like every GET; the REST guard (controller/rest.py) stays in
front of it.
"""

import logging
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from ryu.app.wsgi import ControllerBase, Response, route

from controller.rest import register_once

LOG = logging.getLogger(__name__)

PREFIX = 'sdn_'
#: the process's registry: every app's metrics, one /metrics
REGISTRY = CollectorRegistry(auto_describe=False)

Source = Callable[[], Iterable[Metric]]


def dp_id_label(dpid: int) -> str:
    """A dpid as FAUCET labels it: ``0x1``."""
    return hex(dpid)


def counter(name: str, documentation: str, labels: Iterable[str] = ()) -> CounterMetricFamily:
    """A counter family named ``sdn_<name>`` (exposed as ``sdn_<name>_total``)."""
    return CounterMetricFamily(PREFIX + name, documentation, labels=list(labels))


def gauge(name: str, documentation: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    """A gauge family named ``sdn_<name>``."""
    return GaugeMetricFamily(PREFIX + name, documentation, labels=list(labels))


class Sources(Collector):
    """The sources of the process, by name; a source that raises loses its families
    for that scrape only (logged), never the whole answer."""

    def __init__(self) -> None:
        self.sources: dict[str, Source] = {}

    def collect(self) -> Iterable[Metric]:
        for name, source in list(self.sources.items()):
            try:
                families = list(source())
            except Exception:  # one app's bug must not blank every other app's metrics
                LOG.exception('metrics: source %s failed; its metrics are left out', name)
                continue
            yield from families


SOURCES = Sources()
REGISTRY.register(SOURCES)


def add_source(name: str, source: Source) -> None:
    """Have ``source()`` collected at every scrape, under ``name`` (an app's name: a
    second app of that name replaces the first, as when a test starts it again)."""
    SOURCES.sources[name] = source


def remove_source(name: str) -> None:
    SOURCES.sources.pop(name, None)


def scrape() -> bytes:
    """What GET /metrics answers: the text exposition format of every source."""
    return generate_latest(REGISTRY)


class MetricsController(ControllerBase):
    """GET /metrics."""

    @route('metrics', '/metrics', methods=['GET'])
    def metrics(self, req: Any, **_: Any) -> Response:
        response = Response(status=200, body=scrape())
        response.headers['Content-Type'] = CONTENT_TYPE_LATEST
        return response


def serve(wsgi: Any) -> None:
    """Register GET /metrics on the process's WSGIApplication (once, whichever app asks
    first)."""
    register_once(wsgi, MetricsController)
