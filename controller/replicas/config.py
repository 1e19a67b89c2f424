"""The ``[replicas]`` section of an app's config file: off unless ``endpoints`` is set.

::

    [replicas]
    endpoints = 127.0.0.1:2379            # etcd client URLs' host:port, comma-separated
    replica_id = ctl-a                    # unique per replica; default host name + pid
    lease_ttl = 2                         # seconds; etcd may grant more (its minimum)
    prefix = /sdn-suite/stable/           # where this suite's keys live in etcd
    poll_interval = 0.1                   # seconds between looks at etcd
    etcd_timeout = 0.5                    # seconds one etcd request may take

With no endpoints the app runs alone, as it always did: no etcd, no role requests.
"""

import os
import socket
from dataclasses import dataclass
from typing import Any

from ryu import cfg

from controller.config.errors import ConfigError, ConfigIssue

GROUP = 'replicas'


def options() -> list:
    return [
        cfg.ListOpt(
            'endpoints',
            default=[],
            help='etcd endpoints (host:port, comma-separated); empty: one controller, no etcd',
        ),
        cfg.StrOpt('replica_id', default='', help='this replica\'s name; default host name + pid'),
        cfg.IntOpt(
            'lease_ttl',
            default=2,
            help='seconds of the etcd lease a master holds: a replica that dies or is cut '
            'from etcd stops mastering within it, and a new master is elected after it',
        ),
        cfg.StrOpt('prefix', default='/sdn-suite/stable/', help='the key prefix in etcd'),
        cfg.FloatOpt('poll_interval', default=0.1, help='seconds between looks at etcd'),
        cfg.FloatOpt('etcd_timeout', default=0.5, help='seconds one etcd request may take'),
    ]


@dataclass(frozen=True)
class ReplicaSettings:
    endpoints: tuple[str, ...]
    replica_id: str
    lease_ttl: int
    prefix: str
    poll_interval: float
    etcd_timeout: float

    @staticmethod
    def from_conf(conf: Any, source: str = '[replicas]') -> 'ReplicaSettings | None':
        """The settings of ``conf`` (CONF.replicas), None if replicas are off; a
        ConfigError naming each bad field and what is expected."""
        endpoints = tuple(e.strip() for e in conf.endpoints or () if e.strip())
        if not endpoints:
            return None
        issues = []

        def bad(field: str, message: str) -> None:
            issues.append(ConfigIssue(source, None, None, 'replicas.' + field, message))

        for endpoint in endpoints:
            host, _, port = endpoint.rpartition(':')
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                bad('endpoints', 'expected host:port, got %r' % endpoint)
        if conf.lease_ttl < 1:
            bad('lease_ttl', 'expected whole seconds >= 1, got %r' % conf.lease_ttl)
        prefix = conf.prefix or ''
        if not prefix.startswith('/') or not prefix.endswith('/'):
            bad('prefix', "expected a key prefix starting and ending with '/', got %r" % prefix)
        if not 0 < conf.poll_interval <= conf.lease_ttl / 4:
            bad(
                'poll_interval',
                'expected seconds > 0 and at most lease_ttl / 4, got %r' % conf.poll_interval,
            )
        if not 0 < conf.etcd_timeout <= conf.lease_ttl / 2:
            bad(
                'etcd_timeout',
                'expected seconds > 0 and at most lease_ttl / 2, got %r' % conf.etcd_timeout,
            )
        if issues:
            raise ConfigError(issues)
        return ReplicaSettings(
            endpoints,
            conf.replica_id or '%s-%d' % (socket.gethostname(), os.getpid()),
            conf.lease_ttl,
            prefix,
            conf.poll_interval,
            conf.etcd_timeout,
        )
