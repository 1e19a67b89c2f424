"""Where the hosts are, for the stable-routing app: MAC -> (dpid, port), with at most
``max_per_port`` hosts on one port.

A host is learned from the first frame it sends on a host port, and every new host is a
trigger and an admission rule in the next epoch: a port flooding new source MACs must not
grow the table, the triggers and the rules without bound. Past the limit a new host (or
one moving in) is refused and counted; the hosts already known there keep working, as
in l2_learning (controller/learning.py's MacTable, which bans the port for a while
instead: stable routing has no per-port drop rule to ban with).
"""

import enum
from collections.abc import Iterator, Mapping

Place = tuple[int, int]  # (dpid, port)


class HostChange(enum.Enum):
    KNOWN = 'known'  # already there
    NEW = 'new'
    MOVED = 'moved'  # known elsewhere before
    REFUSED = 'refused'  # the port is full


class HostTable(Mapping[str, Place]):
    """MAC -> (dpid, port) of every known host (a read-only Mapping), indexed by port."""

    def __init__(self, max_per_port: int) -> None:
        if max_per_port < 1:
            raise ValueError('max_per_port must be at least 1, got %r' % max_per_port)
        self.max_per_port = max_per_port
        self.refused = 0  # hosts refused so far
        self._places: dict[str, Place] = {}
        self._at: dict[int, dict[int, set[str]]] = {}  # dpid -> port -> MACs

    def __getitem__(self, mac: str) -> Place:
        return self._places[mac]

    def __iter__(self) -> Iterator[str]:
        return iter(self._places)

    def __len__(self) -> int:
        return len(self._places)

    def count_at(self, dpid: int, port: int) -> int:
        return len(self._at.get(dpid, {}).get(port, ()))

    def learn(self, mac: str, place: Place) -> tuple[HostChange, Place | None]:
        """Record ``mac`` at ``place``: (what changed, where it was before)."""
        before = self._places.get(mac)
        if before == place:
            return HostChange.KNOWN, None
        if self.count_at(*place) >= self.max_per_port:
            self.refused += 1
            return HostChange.REFUSED, before
        if before is not None:
            self._remove(mac, before)
        self._places[mac] = place
        self._at.setdefault(place[0], {}).setdefault(place[1], set()).add(mac)
        return (HostChange.NEW if before is None else HostChange.MOVED), before

    def forget_port(self, dpid: int, port: int) -> list[str]:
        """Forget the hosts on one port; their MACs, sorted."""
        ports = self._at.get(dpid, {})
        gone = sorted(ports.pop(port, ()))
        for mac in gone:
            del self._places[mac]
        if not ports:
            self._at.pop(dpid, None)
        return gone

    def forget_switch(self, dpid: int) -> list[str]:
        """Forget the hosts of a switch; their MACs, sorted."""
        gone = sorted(mac for macs in self._at.pop(dpid, {}).values() for mac in macs)
        for mac in gone:
            del self._places[mac]
        return gone

    def _remove(self, mac: str, place: Place) -> None:
        dpid, port = place
        ports = self._at[dpid]
        ports[port].discard(mac)
        if not ports[port]:
            del ports[port]
            if not ports:
                del self._at[dpid]
