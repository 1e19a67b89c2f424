"""A learning switch replica that forwards right (tests/mininet/arbiter/replica.py)."""

from replica import ReplicaSwitch


class LearningReplica(ReplicaSwitch):
    pass
