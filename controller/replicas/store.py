"""A thin wrapper over etcd3gw (etcd's v3 JSON gateway): the few calls the replicas
make, each a single HTTP request with a timeout, and every failure to reach etcd raised
as :class:`EtcdUnavailable`.

Under ``ryu-manager`` the socket module is eventlet's (Ryu monkey-patches it before
any app is imported), so etcd3gw's ``requests`` calls yield to the other green threads
while they wait: no OS thread is needed (controller/config/offload.py is for work that
computes, not for work that waits on a socket).

Several endpoints (the members of an etcd cluster) are tried in turn; the one that
answered last is tried first next time.
"""

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from etcd3gw.client import Etcd3Client
from etcd3gw.exceptions import Etcd3Exception

API_PATH = '/v3/'  # etcd 3.4 and later: no discovery request needed


class EtcdUnavailable(Exception):
    """No endpoint answered (or every one answered with an error)."""


@dataclass(frozen=True)
class Entry:
    """A key read from etcd with its value and revisions."""

    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    lease: int


def _b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode()


def _entry(kv: dict) -> Entry:
    return Entry(
        base64.b64decode(kv['key']).decode(),
        base64.b64decode(kv.get('value', '')),
        int(kv.get('create_revision', 0)),
        int(kv.get('mod_revision', 0)),
        int(kv.get('lease', 0)),
    )


def prefix_end(prefix: str) -> str:
    """The end of the key range holding every key that starts with ``prefix``."""
    raw = prefix.encode()
    return (raw[:-1] + bytes([raw[-1] + 1])).decode()


# Transaction parts (etcd's Compare and RequestOp, as the JSON gateway takes them).
def created_at(key: str, revision: int) -> dict:
    """Compare: ``key`` was created at ``revision`` (0: it does not exist)."""
    return {'key': _b64(key), 'target': 'CREATE', 'result': 'EQUAL', 'create_revision': revision}


def put_op(key: str, value: str | bytes, lease: int = 0) -> dict:
    request: dict[str, Any] = {'key': _b64(key), 'value': _b64(value)}
    if lease:
        request['lease'] = lease
    return {'request_put': request}


def delete_op(key: str) -> dict:
    return {'request_delete_range': {'key': _b64(key)}}


def range_op(key: str) -> dict:
    return {'request_range': {'key': _b64(key)}}


@dataclass
class TxnResult:
    succeeded: bool
    revision: int  # the store's revision after the transaction
    ranges: list[list[Entry]]  # what each range request of the branch taken read


class EtcdStore:
    """The etcd calls of the replicas, over one or more endpoints ('host:port')."""

    def __init__(self, endpoints: Sequence[str], timeout: float) -> None:
        if not endpoints:
            raise ValueError('no etcd endpoint given')
        self.clients = []
        for endpoint in endpoints:
            host, _, port = endpoint.rpartition(':')
            self.clients.append(
                Etcd3Client(
                    host=host or '127.0.0.1', port=int(port), timeout=timeout, api_path=API_PATH
                )
            )

    def _post(self, path: str, body: dict) -> dict:
        errors = []
        for index, client in enumerate(self.clients):
            try:
                reply = client.post(client.get_url(path), json=body)
            except Etcd3Exception as error:
                errors.append('%s:%s: %s' % (client.host, client.port, type(error).__name__))
                continue
            if index:  # the one that answered goes first from now on
                self.clients.insert(0, self.clients.pop(index))
            return reply
        raise EtcdUnavailable('; '.join(errors))

    def grant(self, ttl: int) -> tuple[int, int]:
        """A new lease: (its id, the TTL etcd granted, which may be longer than asked)."""
        reply = self._post('/lease/grant', {'TTL': ttl, 'ID': 0})
        return int(reply['ID']), int(reply['TTL'])

    def keepalive(self, lease: int) -> int:
        """Renew ``lease``: its TTL from now, or -1 if it has expired."""
        reply = self._post('/lease/keepalive', {'ID': lease})
        return int(reply.get('result', {}).get('TTL', -1))

    def revoke(self, lease: int) -> None:
        self._post('/kv/lease/revoke', {'ID': lease})

    def get(self, key: str) -> Entry | None:
        reply = self._post('/kv/range', {'key': _b64(key)})
        kvs = reply.get('kvs', [])
        return _entry(kvs[0]) if kvs else None

    def get_prefix(self, prefix: str) -> list[Entry]:
        """Every key under ``prefix``, in the order they were created."""
        return self.get_range(prefix, prefix_end(prefix), by_creation=True)

    def get_range(self, start: str, end: str, by_creation: bool = False) -> list[Entry]:
        """The keys from ``start`` (included) to ``end`` (excluded), by key or, with
        ``by_creation``, in the order they were created."""
        body: dict[str, Any] = {'key': _b64(start), 'range_end': _b64(end), 'sort_order': 1}
        if by_creation:
            body['sort_target'] = 2  # CREATE
        reply = self._post('/kv/range', body)
        return [_entry(kv) for kv in reply.get('kvs', [])]

    def put(self, key: str, value: str | bytes, lease: int = 0) -> int:
        """Write ``key``; the store's revision afterwards."""
        request: dict[str, Any] = {'key': _b64(key), 'value': _b64(value)}
        if lease:
            request['lease'] = lease
        return int(self._post('/kv/put', request)['header']['revision'])

    def delete(self, key: str) -> None:
        self._post('/kv/deleterange', {'key': _b64(key)})

    def txn(
        self, compare: list[dict], success: list[dict], failure: Sequence[dict] = ()
    ) -> TxnResult:
        """One transaction: ``success`` if every comparison holds, else ``failure``."""
        reply = self._post(
            '/kv/txn', {'compare': compare, 'success': success, 'failure': list(failure)}
        )
        ranges = [
            [_entry(kv) for kv in response['response_range'].get('kvs', [])]
            for response in reply.get('responses', [])
            if 'response_range' in response
        ]
        return TxnResult(bool(reply.get('succeeded')), int(reply['header']['revision']), ranges)

    def create(self, key: str, value: str | bytes, lease: int = 0) -> tuple[int, Entry | None]:
        """Create ``key`` unless it exists: (its create revision, None) if created here,
        else (0, what is there)."""
        result = self.txn([created_at(key, 0)], [put_op(key, value, lease)], [range_op(key)])
        if result.succeeded:
            return result.revision, None
        found = result.ranges[0] if result.ranges else []
        return 0, found[0] if found else None
