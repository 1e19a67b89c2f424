"""Who masters the switches: one etcd lease per replica, the epoch leader elected with a
create-if-absent transaction on one key, and a master key per switch claimed the same way
by the leader.

Keys (under the configured prefix, e.g. ``/sdn-suite/stable/``)::

    leader                 {"replica": id, "lease": n}   created with the replica's lease
    masters/<dpid:016x>    {"replica": id, "lease": n}   created with the same lease

A key created in a transaction gets the store's revision at that moment as its
``create_revision``: etcd's revisions only grow, so each new election of a switch's
master has a larger one than every earlier election. That number is the OpenFlow
``generation_id`` of the master's role request, and Open vSwitch refuses a MASTER or
SLAVE request carrying an older one (OFPRRFC_STALE): a replica that lost its lease while
paused cannot take a switch back. Followers send SLAVE with the generation they read
from the switch's master key, never a guess (a larger guess would make the real master's
request stale).

The leader masters every switch connected to it: an epoch's consistent update waits
for every switch to confirm each phase before the next one starts, which one replica
can do alone. All of a replica's keys hang on its one lease, so when it dies (or cannot
renew the lease) they vanish together and the next leader claims every switch with new,
larger generations.

Safety rests on the lease: the leader renews it every ``ttl / 3`` seconds, and steps
down on its own (ROLE_SLAVE to its switches, no more epochs) once the lease may have
expired, ``ttl`` after the send time of the last renewal etcd confirmed, minus a margin,
whether or not etcd can be reached: a replica partitioned from etcd stops mastering
before another can be elected. Clocks are monotonic; the replicas' clock rates must
agree within that margin (a quarter of the TTL).

No Ryu here: ``tick()`` returns what changed and the app sends the role requests.
"""

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from controller.replicas.store import Entry, EtcdStore, EtcdUnavailable, created_at, delete_op

RENEWALS_PER_TTL = 3  # the lease is renewed this often within its TTL
STEP_DOWN_MARGIN = 0.25  # of the TTL: stop mastering this much before the lease may end


@dataclass(frozen=True)
class RoleChange:
    """Send ``dpid`` a role request: MASTER if ``master`` else SLAVE, with
    ``generation`` as its generation_id."""

    dpid: int
    master: bool
    generation: int


@dataclass(frozen=True)
class LeadershipChange:
    leading: bool
    revision: int  # the leader key's create revision (0 when stepping down)
    reason: str


Change = RoleChange | LeadershipChange


def master_key(prefix: str, dpid: int) -> str:
    return '%smasters/%016x' % (prefix, dpid)


def leader_key(prefix: str) -> str:
    return prefix + 'leader'


class Mastership:
    """One replica's lease, leadership and switch roles."""

    def __init__(
        self,
        store: EtcdStore,
        replica_id: str,
        prefix: str,
        ttl: int,
        logger: logging.Logger,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.replica_id = replica_id
        self.prefix = prefix
        self.ttl = ttl  # asked; etcd may grant more (self.granted_ttl)
        self.granted_ttl = ttl
        self.logger = logger
        self.clock = clock
        self.lease: int | None = None
        self.valid_until = 0.0  # the lease surely lives until then (our clock)
        self._renewed_at = float('-inf')
        self.leader_revision = 0  # while leading: the leader key's create revision
        self.generations: dict[int, int] = {}  # dpid -> our role's generation id
        self.roles: dict[int, bool] = {}  # dpid -> role sent (True: master)
        self.reachable = True  # whether etcd answered the last call (for one log line each way)

    @property
    def leading(self) -> bool:
        return self.leader_revision != 0

    def _value(self) -> str:
        return json.dumps({'replica': self.replica_id, 'lease': self.lease}, sort_keys=True)

    def _ours(self, entry: Entry | None) -> bool:
        return entry is not None and self.lease is not None and entry.lease == self.lease

    def tick(self, connected: Iterable[int]) -> list[Change]:
        """Renew the lease, step down if it may be gone, campaign, and set each connected
        switch's role: the role requests to send and leadership changes, in order."""
        connected = set(connected)
        for dpid in set(self.roles) - connected:
            self._forget_switch(dpid)
        changes: list[Change] = []
        try:
            self._renew()
            if self.leading and self.clock() >= self.valid_until:
                changes += self._step_down('the lease could not be renewed within its TTL')
            if self.lease is not None and not self.leading:
                changes += self._campaign()
            if self.leading:
                changes += self._claim(connected)
            else:
                changes += self._follow_masters(connected)
            self._reached(True, '')
        except EtcdUnavailable as error:
            self._reached(False, str(error))
            if self.leading and self.clock() >= self.valid_until:
                changes += self._step_down('etcd unreachable for longer than the lease')
        return changes

    def _reached(self, ok: bool, why: str) -> None:
        if ok != self.reachable:
            self.reachable = ok
            if ok:
                self.logger.info('replica %s: etcd reachable again', self.replica_id)
            else:
                self.logger.warning('replica %s: etcd unreachable: %s', self.replica_id, why)

    def _renew(self) -> None:
        now = self.clock()
        if self.lease is None:
            self.lease, self.granted_ttl = self.store.grant(self.ttl)
            self.valid_until = now + self.granted_ttl * (1 - STEP_DOWN_MARGIN)
            self._renewed_at = now
            self.logger.info(
                'replica %s: lease %x granted (TTL %ds)',
                self.replica_id,
                self.lease,
                self.granted_ttl,
            )
            return
        if now - self._renewed_at < self.granted_ttl / RENEWALS_PER_TTL:
            return
        self._renewed_at = now
        ttl = self.store.keepalive(self.lease)
        if ttl > 0:
            self.valid_until = now + ttl * (1 - STEP_DOWN_MARGIN)
        else:
            self.logger.warning('replica %s: lease %x expired', self.replica_id, self.lease)
            self.lease = None
            self.valid_until = 0.0

    def _step_down(self, reason: str) -> list[Change]:
        """Stop mastering: SLAVE to every switch we master, with its generation (which
        the switch refuses as stale if a new master has been elected meanwhile)."""
        self.logger.warning('replica %s: no longer the leader: %s', self.replica_id, reason)
        changes: list[Change] = [
            RoleChange(dpid, False, generation)
            for dpid, generation in sorted(self.generations.items())
        ]
        for dpid in self.generations:
            self.roles[dpid] = False
        self.generations.clear()
        self.leader_revision = 0
        return changes + [LeadershipChange(False, 0, reason)]

    def _campaign(self) -> list[Change]:
        revision, held = self.store.create(leader_key(self.prefix), self._value(), self.lease or 0)
        if not revision and self._ours(held):
            revision = held.create_revision if held else 0  # ours still (etcd came back)
        if not revision:
            return []
        self.leader_revision = revision
        self.generations.clear()  # the generations we sent as a follower are not ours
        self.logger.info(
            'replica %s: elected epoch leader (revision %d)', self.replica_id, revision
        )
        return [LeadershipChange(True, revision, 'elected')]

    def _claim(self, connected: set[int]) -> list[Change]:
        changes: list[Change] = []
        for dpid in sorted(connected):
            if dpid not in self.generations:
                revision, held = self.store.create(
                    master_key(self.prefix, dpid), self._value(), self.lease or 0
                )
                if not revision and self._ours(held):
                    revision = held.create_revision if held else 0
                if not revision:
                    continue  # another replica's lease still holds it: try again next tick
                self.generations[dpid] = revision
                self.logger.info(
                    'replica %s: master of switch %016x (generation %d)',
                    self.replica_id,
                    dpid,
                    revision,
                )
            if self.roles.get(dpid) is not True:
                self.roles[dpid] = True
                changes.append(RoleChange(dpid, True, self.generations[dpid]))
        return changes

    def _follow_masters(self, connected: set[int]) -> list[Change]:
        """SLAVE, with the generation of the switch's master key, to each switch whose
        master changed since we last said so; nothing while a switch has no master."""
        if not connected:
            return []
        masters = {
            int(entry.key.rsplit('/', 1)[1], 16): entry.create_revision
            for entry in self.store.get_prefix(self.prefix + 'masters/')
        }
        changes: list[Change] = []
        for dpid in sorted(connected):
            generation = masters.get(dpid)
            if generation and (self.generations.get(dpid), self.roles.get(dpid)) != (
                generation,
                False,
            ):
                self.generations[dpid] = generation
                self.roles[dpid] = False
                changes.append(RoleChange(dpid, False, generation))
        return changes

    def reconnected(self, dpid: int) -> None:
        """``dpid`` has a new connection (its role is EQUAL again): the next tick says
        its role again."""
        self.roles.pop(dpid, None)

    def _forget_switch(self, dpid: int) -> None:
        """A switch that disconnected from us: its master key goes if it is ours, so that
        its next master election gets a new generation."""
        generation = self.generations.pop(dpid, None)
        mastered = self.roles.pop(dpid, False)
        if mastered and generation and self.leading:
            try:
                self.store.txn(
                    [created_at(master_key(self.prefix, dpid), generation)],
                    [delete_op(master_key(self.prefix, dpid))],
                )
            except EtcdUnavailable:
                pass  # it goes with our lease

    def resign(self) -> None:
        """Give everything up at once (the process is ending): revoke the lease."""
        if self.lease is not None:
            try:
                self.store.revoke(self.lease)
            except EtcdUnavailable:
                pass
        self.lease, self.leader_revision = None, 0
        self.generations.clear()
        self.roles.clear()
