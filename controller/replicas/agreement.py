"""Epochs agreed through etcd before any switch is updated.

Keys (under the configured prefix)::

    triggers/<trigger id>   a trigger any replica logged (JSON), until an epoch takes it
    epochs/<number:012d>    a committed epoch: number, leader, trigger ids, snapshot,
                            SFT digest (JSON)
    epoch                   the number of the last committed epoch
    installed               {"number", "state"} of the last epoch the leader finished

Every replica appends its triggers to the log (``triggers/``, created in revision
order). The epoch leader cuts an epoch: it takes every trigger in the log, the snapshot
of its topology, computes and checks the SFT, then commits the record in one
transaction that holds only if it is still the leader (the leader key still has the
create revision of its election) and no epoch of that number exists yet
(create-if-absent). Only then does it install. So no two epochs ever share a number,
and a deposed leader cannot commit.

The other replicas read each committed record, compute the SFT from its snapshot with
the same code (controller/stable/sft.py is deterministic: ties go to the lowest dpid) and
check that its digest is the leader's: they then hold the epoch in force, the hosts and
the epoch number, ready to take over without rewriting the switches.
"""

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from controller.replicas.mastership import leader_key
from controller.replicas.store import (
    EtcdStore,
    EtcdUnavailable,
    created_at,
    delete_op,
    prefix_end,
    put_op,
)
from controller.stable.epochs import Trigger
from controller.stable.sft import Snapshot, StableForwardingTable

NUMBER_DIGITS = 12
DELETES_PER_TXN = 100  # etcd takes at most 128 operations in one transaction
RECORDS_KEPT = 200  # committed records kept in etcd (older ones are deleted)


def snapshot_to_json(snapshot: Snapshot) -> dict:
    """A snapshot as JSON-ready data, every collection sorted (the same snapshot always
    gives the same text)."""
    return {
        'switches': sorted(snapshot.switches),
        'links': sorted(list(link) for link in snapshot.links),
        'hosts': [[mac, list(place)] for mac, place in snapshot.hosts],
        'ports': [[dpid, list(ports)] for dpid, ports in snapshot.ports],
        'link_ports': sorted(list(end) for end in snapshot.link_ports),
    }


def snapshot_from_json(data: dict) -> Snapshot:
    """The snapshot ``snapshot_to_json`` wrote; ValueError naming the field if malformed."""
    try:
        return Snapshot(
            frozenset(int(d) for d in data['switches']),
            frozenset(tuple(int(x) for x in link) for link in data['links']),
            tuple((str(mac), (int(place[0]), int(place[1]))) for mac, place in data['hosts']),
            tuple((int(dpid), tuple(int(p) for p in ports)) for dpid, ports in data['ports']),
            frozenset((int(d), int(p)) for d, p in data['link_ports']),
        )
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise ValueError('malformed snapshot in an epoch record: %r' % error) from error


def sft_digest(sft: StableForwardingTable) -> str:
    """SHA-256 of the SFT's hosts and routes in a canonical text."""
    routes = [
        [dst, [[dpid, route.port, route.backup] for dpid, route in sorted(table.items())]]
        for dst, table in sorted(sft.routes.items())
    ]
    text = json.dumps({'hosts': [list(h) for h in sft.hosts], 'routes': routes}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class CommittedEpoch:
    """An epoch record as committed in etcd."""

    number: int
    leader: str
    triggers: tuple  # trigger ids
    snapshot: Snapshot
    sft_digest: str
    revision: int  # the store revision of the commit

    @staticmethod
    def from_json(text: bytes, revision: int) -> 'CommittedEpoch':
        data = json.loads(text)
        return CommittedEpoch(
            int(data['number']),
            str(data['leader']),
            tuple(data['triggers']),
            snapshot_from_json(data['snapshot']),
            str(data['sft_digest']),
            revision,
        )


class EpochAgreement:
    """One replica's side of the replicated trigger log and epoch records."""

    def __init__(
        self, store: EtcdStore, replica_id: str, prefix: str, logger: logging.Logger
    ) -> None:
        self.store = store
        self.replica_id = replica_id
        self.prefix = prefix
        self.logger = logger
        self.unsent: dict[str, Trigger] = {}  # trigger id -> latest version, not in etcd yet
        self.followed = 0  # the last committed epoch read (followers)

    def epoch_key(self, number: int) -> str:
        return '%sepochs/%0*d' % (self.prefix, NUMBER_DIGITS, number)

    def record_trigger(self, trigger: Trigger) -> None:
        """Queue a trigger for the log (sent by ``flush``, off the event handlers)."""
        self.unsent[trigger.id] = trigger

    def flush(self) -> None:
        """Send the queued triggers; those not sent stay queued (EtcdUnavailable)."""
        for trigger_id, trigger in list(self.unsent.items()):
            self.store.put(
                self.prefix + 'triggers/' + trigger_id,
                json.dumps(
                    {
                        'id': trigger.id,
                        'kind': trigger.kind,
                        'detail': trigger.detail,
                        'events': trigger.events,
                        'at': trigger.at,
                        'replica': self.replica_id,
                    }
                ),
            )
            if self.unsent.get(trigger_id) is trigger:  # not coalesced nor sent meanwhile
                del self.unsent[trigger_id]

    def last_committed(self) -> int:
        entry = self.store.get(self.prefix + 'epoch')
        return int(entry.value) if entry else 0

    def commit(
        self, number: int, leader_revision: int, snapshot: Snapshot, sft: StableForwardingTable
    ) -> CommittedEpoch | None:
        """Commit epoch ``number`` with every logged trigger, if we still lead (our
        election's ``leader_revision``) and no epoch ``number`` exists; None otherwise.
        Raises EtcdUnavailable (nothing committed then, or unknown: the caller must not
        install either way)."""
        self.flush()
        logged = self.store.get_prefix(self.prefix + 'triggers/')
        trigger_ids = [entry.key.rsplit('/', 1)[1] for entry in logged]
        digest = sft_digest(sft)
        record = {
            'number': number,
            'leader': self.replica_id,
            'triggers': trigger_ids,
            'snapshot': snapshot_to_json(snapshot),
            'sft_digest': digest,
        }
        result = self.store.txn(
            [
                created_at(leader_key(self.prefix), leader_revision),
                created_at(self.epoch_key(number), 0),
            ],
            [
                put_op(self.epoch_key(number), json.dumps(record)),
                put_op(self.prefix + 'epoch', str(number)),
            ],
        )
        if not result.succeeded:
            return None
        self.followed = number
        self._forget(logged_keys=[entry.key for entry in logged], number=number)
        return CommittedEpoch(
            number, self.replica_id, tuple(trigger_ids), snapshot, digest, result.revision
        )

    def _forget(self, logged_keys: list[str], number: int) -> None:
        """Remove the triggers an epoch took and the record RECORDS_KEPT older (best
        effort: what stays is taken again, or removed next time)."""
        doomed = logged_keys + (
            [self.epoch_key(number - RECORDS_KEPT)] if number > RECORDS_KEPT else []
        )
        try:
            for start in range(0, len(doomed), DELETES_PER_TXN):
                self.store.txn(
                    [], [delete_op(key) for key in doomed[start : start + DELETES_PER_TXN]]
                )
        except EtcdUnavailable:
            pass

    def mark_installed(self, number: int, state: str) -> None:
        """Say how the leader's install of ``number`` ended ('installed', 'failed', ...)."""
        self.store.put(self.prefix + 'installed', json.dumps({'number': number, 'state': state}))

    def installed(self) -> dict[str, Any] | None:
        entry = self.store.get(self.prefix + 'installed')
        return json.loads(entry.value) if entry else None

    def newly_committed(self) -> list[CommittedEpoch]:
        """Epochs committed since the last one read, oldest first."""
        latest = self.last_committed()
        if latest <= self.followed:
            return []
        # A replica that starts late checks the latest epoch, not the whole history.
        first = max(self.followed, latest - 1) + 1
        entries = self.store.get_range(self.epoch_key(first), prefix_end(self.prefix + 'epochs/'))
        found = [CommittedEpoch.from_json(entry.value, entry.mod_revision) for entry in entries]
        if found:
            self.followed = found[-1].number
        return found

    def records(self) -> list[CommittedEpoch]:
        """Every committed record kept in etcd, by number (for tests and tools)."""
        epochs = [
            CommittedEpoch.from_json(entry.value, entry.mod_revision)
            for entry in self.store.get_prefix(self.prefix + 'epochs/')
        ]
        return sorted(epochs, key=lambda epoch: epoch.number)
