"""One replica's round of work with etcd: the mastership (lease, leader, switch roles),
the triggers it logged sent to the shared log, and, while it follows, the epochs the
leader committed, each checked by computing its SFT again.

No Ryu: the app's loop calls ``tick()`` every ``poll_interval`` and acts on what it
returns (controller/replicas/ryu_app.py).
"""

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from controller.replicas.agreement import CommittedEpoch, EpochAgreement, sft_digest
from controller.replicas.config import ReplicaSettings
from controller.replicas.mastership import Change, Mastership
from controller.replicas.store import EtcdStore, EtcdUnavailable
from controller.stable.epochs import Trigger
from controller.stable.sft import Snapshot, StableForwardingTable, compute_sft


@dataclass(frozen=True)
class FollowedEpoch:
    """A committed epoch whose SFT this replica computed and found identical."""

    epoch: CommittedEpoch
    sft: StableForwardingTable


class Replicas:
    """Mastership and epoch agreement of one replica."""

    def __init__(
        self,
        settings: ReplicaSettings,
        store: EtcdStore,
        logger: logging.Logger,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.logger = logger
        self.mastership = Mastership(
            store, settings.replica_id, settings.prefix, settings.lease_ttl, logger, clock
        )
        self.agreement = EpochAgreement(store, settings.replica_id, settings.prefix, logger)
        self.mismatches = 0  # committed epochs whose SFT digest we could not reproduce

    @property
    def replica_id(self) -> str:
        return self.settings.replica_id

    @property
    def leading(self) -> bool:
        return self.mastership.leading

    def record_trigger(self, trigger: Trigger) -> None:
        self.agreement.record_trigger(trigger)

    def tick(self, connected: Iterable[int]) -> tuple[list[Change], list[FollowedEpoch]]:
        """Role requests and leadership changes to act on, and (while following) the
        epochs committed since the last tick, checked."""
        changes = self.mastership.tick(connected)
        followed: list[FollowedEpoch] = []
        try:
            self.agreement.flush()
            if not self.leading:
                followed = [f for f in map(self._check, self.agreement.newly_committed()) if f]
        except EtcdUnavailable:
            pass  # the mastership said so once; the triggers stay queued
        return changes, followed

    def _check(self, epoch: CommittedEpoch) -> FollowedEpoch | None:
        sft = compute_sft(epoch.snapshot)
        digest = sft_digest(sft)
        if digest != epoch.sft_digest:
            self.mismatches += 1
            self.logger.error(
                'replica %s: epoch %d committed by %s has SFT digest %s, this replica '
                'computes %s from the same snapshot: not followed',
                self.replica_id,
                epoch.number,
                epoch.leader,
                epoch.sft_digest[:12],
                digest[:12],
            )
            return None
        self.logger.info(
            'replica %s: following epoch %d committed by %s (%d triggers, SFT %s checked)',
            self.replica_id,
            epoch.number,
            epoch.leader,
            len(epoch.triggers),
            digest[:12],
        )
        return FollowedEpoch(epoch, sft)

    def last_committed(self) -> int:
        """The number of the last committed epoch (0 if etcd cannot say)."""
        try:
            return self.agreement.last_committed()
        except EtcdUnavailable:
            return 0

    def commit(self, number: int, snapshot: Snapshot, sft: StableForwardingTable) -> str | None:
        """Commit epoch ``number`` before it is installed: None if committed, else why
        not (the epoch must then not be installed)."""
        if not self.leading:
            return 'this replica is not the epoch leader'
        try:
            committed = self.agreement.commit(
                number, self.mastership.leader_revision, snapshot, sft
            )
        except EtcdUnavailable as error:
            return 'etcd unreachable: %s' % error
        if committed is None:
            return 'not committed: another leader was elected or epoch %d exists' % number
        return None

    def installed(self, number: int, state: str, complete: bool) -> None:
        """Tell the followers how the install of ``number`` ended; ``complete``: every
        switch confirmed every phase (they may then take the rules over as computed)."""
        try:
            self.agreement.mark_installed(number, state if complete else state + '-partly')
        except EtcdUnavailable:
            pass

    def install_state(self) -> dict | None:
        try:
            return self.agreement.installed()
        except EtcdUnavailable:
            return None

    def stop(self) -> None:
        self.mastership.resign()


def replicas_from_conf(conf: object, logger: logging.Logger) -> Replicas | None:
    """The replicas of ``conf`` (CONF.replicas), None if off."""
    settings = ReplicaSettings.from_conf(conf)
    if settings is None:
        return None
    return Replicas(settings, EtcdStore(settings.endpoints, settings.etcd_timeout), logger)
