"""A deliberately wrong replica: it learns like the others, but sends every frame for a
known destination back out of the port it came in by (tests/mininet/arbiter/replica.py).
Alone, its rules would cut every known pair off; in a voting group it is outvoted."""

from replica import ReplicaSwitch


class MisroutingReplica(ReplicaSwitch):
    def out_port(self, dp, known_port, in_port):
        return dp.ofproto.OFPP_IN_PORT
