"""The stable-routing app's REST endpoints (Ryu WSGI), and what they show as functions
of the app's state, so the bodies are unit-tested without a web server.

    GET /stable/epoch, /stable/triggers, /stable/history[?limit=N], /stable/sft/DPID,
        /stable/unprotected

controller/stable/cli.py (``sdn-stable``) prints them. Errors are JSON too; the server
is guarded by controller/rest.py (installed on import here, for the app that serves
these: token for writes, body limit, a JSON 500 without traceback for any exception).
"""

import time
from typing import Any, Protocol

from ryu.app.wsgi import ControllerBase, Response, route

from controller.rest import json_response
from controller.stable import pipeline as pipe
from controller.stable.epochs import EpochInForce, UpdateLog

REST_APP = 'stable_routing_app'


class StableState(Protocol):
    """What the endpoints read of apps/stable_routing.py's StableRouting."""

    current: EpochInForce | None
    epoch: int  # the last epoch number cut
    skipped: int  # epochs not cut: their snapshot was the epoch in force's
    log: UpdateLog
    switches: dict
    hosts: dict


def epoch_status(app: StableState) -> dict:
    """The epoch in force, its version and age; pending triggers, switches, hosts."""
    record = app.current.record if app.current else None
    installed_at = record.installed_at if record else None
    return {
        'epoch': record.number if record else None,
        'version_vid': pipe.version_of(record.number) if record else None,
        'age_s': round(time.time() - installed_at, 3) if installed_at else None,
        'last_epoch_cut': app.epoch,
        'epochs_skipped': app.skipped,
        'pending_triggers': len(app.log.pending),
        'switches': len(app.switches),
        'hosts': len(app.hosts),
    }


def pending_triggers(app: StableState) -> list[dict]:
    return [{'id': t.id, 'at': t.at, 'kind': t.kind, 'detail': t.detail} for t in app.log.pending]


def epoch_history(app: StableState, limit: int) -> list[dict]:
    """The last ``limit`` epoch records, oldest first."""
    return [record.as_dict() for record in list(app.log.history)[-limit:]]


def unprotected_hops(app: StableState) -> dict | None:
    """The epoch in force's next hops without a loop-free backup: where a link
    failure waits for the next epoch instead of failing over in the switch. None: no
    epoch installed yet."""
    if not app.current:
        return None
    record, snapshot, sft = app.current
    hosts_at: dict[int, list[str]] = {}
    for mac, (dpid, _) in snapshot.hosts:
        hosts_at.setdefault(dpid, []).append(mac)
    return {
        'epoch': record.number,
        'entries': [
            {
                'destination': '%016x' % destination,
                'switch': '%016x' % dpid,
                'hosts': sorted(hosts_at.get(destination, [])),
            }
            for destination, dpid in sft.unprotected()
        ],
    }


def switch_table(app: StableState, dpid: int) -> dict | None:
    """The SFT of one switch in the epoch in force, or None if it has none."""
    if not app.current or dpid not in app.current.snapshot.switches:
        return None
    record, snapshot, sft = app.current
    neighbour = snapshot.neighbour_at()
    entries: list[dict] = []
    for mac, how, where in sft.switch_entries(dpid):
        if how == 'deliver':
            entries.append({'host': mac, 'deliver_port': where})
        else:
            entries.append(
                {
                    'host': mac,
                    'port': where.port,
                    'next_hop': '%016x' % neighbour[(dpid, where.port)],
                    'backup_port': where.backup,
                    'backup_next_hop': (
                        None if where.backup is None else '%016x' % neighbour[(dpid, where.backup)]
                    ),
                }
            )
    return {'dpid': '%016x' % dpid, 'epoch': record.number, 'entries': entries}


class StableRoutingRest(ControllerBase):
    """The endpoints; ``data[REST_APP]`` is the app (a StableState)."""

    def __init__(self, req: Any, link: Any, data: dict, **config: Any) -> None:
        super().__init__(req, link, data, **config)
        self.app: StableState = data[REST_APP]

    @route('stable', '/stable/epoch', methods=['GET'])
    def epoch(self, req: Any, **_: Any) -> Response:
        return json_response(epoch_status(self.app))

    @route('stable', '/stable/triggers', methods=['GET'])
    def triggers(self, req: Any, **_: Any) -> Response:
        return json_response(pending_triggers(self.app))

    @route('stable', '/stable/history', methods=['GET'])
    def history(self, req: Any, **_: Any) -> Response:
        try:
            limit = int(req.GET.get('limit', 20))
        except ValueError:
            return json_response({'error': 'limit must be an integer'}, 400)
        return json_response(epoch_history(self.app, max(1, limit)))

    @route('stable', '/stable/unprotected', methods=['GET'])
    def unprotected(self, req: Any, **_: Any) -> Response:
        body = unprotected_hops(self.app)
        if body is None:
            return json_response({'error': 'no epoch installed yet'}, 404)
        return json_response(body)

    @route('stable', '/stable/sft/{dpid}', methods=['GET'])
    def sft(self, req: Any, dpid: str, **_: Any) -> Response:
        try:
            number = int(dpid, 16)
        except ValueError:
            return json_response({'error': 'dpid must be hexadecimal, got %r' % dpid}, 400)
        table = switch_table(self.app, number)
        if table is None:
            return json_response({'error': 'switch %s is in no installed epoch' % dpid}, 404)
        return json_response(table)
