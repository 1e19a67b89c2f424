"""The VLAN/ACL app's REST endpoints (Ryu WSGI, ``--wsapi-port``) and its metrics, as
functions of the app's state, so the bodies are unit-tested without a web server.

    GET  /vswitch/policy   the policy in force (FAUCET's layout), its file and hash
    GET  /vswitch/hosts    hosts learned per VLAN: switch, dp_name, port
    GET  /vswitch/lacp     LAG members per switch: role, partner, whether they carry
    GET  /vswitch/reload   the last reload's result (with its errors) and the counts
    POST /vswitch/reload   reload the policy file now; answers what became of it
                           (200 applied, 422 refused: the old policy stays)

The POST changes forwarding: with a ``[rest]`` token it needs ``Authorization: Bearer``
like every write (controller/rest.py).
"""

from collections.abc import Iterable
from typing import Any, Protocol

from prometheus_client.core import Metric
from ryu.app.wsgi import ControllerBase, Response, route

from controller.metrics.collectors import LearnBans, ReloadStatus, learning_families
from controller.rest import json_response

REST_APP = 'vswitch_policy_app'


class VSwitchState(Protocol):
    """What the endpoints read of apps/vswitch_policy.py's VSwitchPolicy."""

    path: str
    policy: Any  # controller.vswitch.model.Policy
    switches: dict
    reloads: ReloadStatus
    bans: LearnBans

    def refresh(self, requested: bool, why: str = ...) -> None: ...


def policy_in_force(app: VSwitchState) -> dict:
    policy = app.policy
    return {
        'file': app.path,
        'hash': app.reloads.policy_hash,
        'switches': len(policy.dps),
        'vlans': len(policy.vlans),
        'acls': len(policy.acls),
        'policy': policy.to_data(),
    }


def vlan_names(app: VSwitchState) -> dict[int, str]:
    return {vlan.vid: name for name, vlan in app.policy.vlans.items()}


def hosts_per_vlan(app: VSwitchState) -> dict:
    """{VID: {'name', 'hosts': [...]}} of every VLAN of the policy and every VLAN a
    switch has hosts learned in."""
    names = vlan_names(app)
    body: dict[str, dict] = {
        str(vid): {'name': name, 'hosts': []} for vid, name in sorted(names.items())
    }
    for dpid, sw in sorted(app.switches.items()):
        for vid, table in sorted(sw.hosts.items()):
            entry = body.setdefault(str(vid), {'name': names.get(vid), 'hosts': []})
            for port in sorted(sw.plans):
                for mac in sorted(table.macs_on_port(port)):
                    entry['hosts'].append(
                        {'mac': mac, 'switch': '%016x' % dpid, 'dp_name': sw.name, 'port': port}
                    )
    return body


def lacp_status(app: VSwitchState) -> dict:
    """{dp_id: {'dp_name', 'members': [...]}} of the switches with LAG members
    (controller/vswitch/lacp.py's Lags.status)."""
    return {
        '%016x' % dpid: {'dp_name': sw.name, 'members': sw.lags.status(sw.clock())}
        for dpid, sw in sorted(app.switches.items())
        if sw.lags.members
    }


def reload_status(app: VSwitchState) -> dict:
    reloads = app.reloads
    return {
        'requests': reloads.requests,
        'applied': reloads.applied,
        'refused': reloads.refused,
        'hash': reloads.policy_hash,
        'last': reloads.last,
    }


def metric_families(app: VSwitchState) -> Iterable[Metric]:
    """Hosts learned per switch, VLAN and port; bans; reloads."""
    yield from learning_families(
        (
            (dpid, str(vid), list(sw.plans), table)
            for dpid, sw in sorted(app.switches.items())
            for vid, table in sorted(sw.hosts.items())
        ),
        app.bans,
    )
    yield from app.reloads.families()


class VSwitchRest(ControllerBase):
    """The endpoints; ``data[REST_APP]`` is the app."""

    def __init__(self, req: Any, link: Any, data: dict, **config: Any) -> None:
        super().__init__(req, link, data, **config)
        self.app: VSwitchState = data[REST_APP]

    @route('vswitch', '/vswitch/policy', methods=['GET'])
    def policy(self, req: Any, **_: Any) -> Response:
        return json_response(policy_in_force(self.app))

    @route('vswitch', '/vswitch/hosts', methods=['GET'])
    def hosts(self, req: Any, **_: Any) -> Response:
        return json_response(hosts_per_vlan(self.app))

    @route('vswitch', '/vswitch/lacp', methods=['GET'])
    def lacp(self, req: Any, **_: Any) -> Response:
        return json_response(lacp_status(self.app))

    @route('vswitch', '/vswitch/reload', methods=['GET'])
    def last_reload(self, req: Any, **_: Any) -> Response:
        return json_response(reload_status(self.app))

    @route('vswitch', '/vswitch/reload', methods=['POST'])
    def reload(self, req: Any, **_: Any) -> Response:
        self.app.refresh(requested=True, why='REST request')
        body = reload_status(self.app)
        last = body['last'] or {}
        return json_response(body, 200 if last.get('result') == 'applied' else 422)
