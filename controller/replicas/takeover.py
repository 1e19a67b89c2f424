"""What a follower holds of an epoch the leader committed, and the rules it takes over
when it becomes the leader: the switches are not rewritten on a change of leader.

A follower computed the epoch's SFT from the committed snapshot (and found the leader's
digest). If the leader said that every switch confirmed every phase of that epoch, the
follower knows what each switch holds, since the rules follow from (epoch, snapshot,
SFT) alone (controller/stable/pipeline.py): it takes them over as they are. Otherwise
it knows nothing of their port rules, and its first epoch rewrites them in one atomic
bundle per switch, as after a restart.
"""

import time

from controller.replicas.coordinator import FollowedEpoch
from controller.stable.epochs import EpochRecord
from controller.stable.sft import Snapshot, StableForwardingTable
from controller.stable.update import SwitchRules, holds_retired, plan_update

FOLLOWED = 'followed'  # the state of an epoch record a follower holds
TRIGGERS_KEPT = 50  # trigger ids kept in a followed record (as the leader's records)


def followed_record(followed: FollowedEpoch) -> EpochRecord:
    """The history record of an epoch this replica followed."""
    epoch = followed.epoch
    record = EpochRecord(
        epoch.number,
        time.time(),
        [{'id': trigger_id} for trigger_id in epoch.triggers[:TRIGGERS_KEPT]],
        trigger_count=len(epoch.triggers),
    )
    record.switches, record.links = len(epoch.snapshot.switches), len(epoch.snapshot.links)
    record.hosts = len(epoch.snapshot.hosts)
    record.unprotected = len(followed.sft.unprotected())
    record.state = FOLLOWED
    return record


def take_over_rules(
    epoch: int, snapshot: Snapshot, sft: StableForwardingTable, switches: list[SwitchRules]
) -> None:
    """Set what each of ``switches`` holds to what ``epoch`` left there once its old
    rules were removed (phase 3)."""
    plan = plan_update(epoch, snapshot, sft, switches)
    for sw in switches:
        holds_retired(sw, plan)
