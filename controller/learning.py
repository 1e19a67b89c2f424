"""Per-switch MAC learning state, without any OpenFlow: what the controller knows of which
host sits behind which port, and the limits that keep that knowledge bounded.

The flow rules in the switch do the forwarding; this table decides which rules to install
or remove when a packet-in reports a source address (see apps/l2_learning.py).
"""

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass


class Learned(enum.Enum):
    NEW = 'new'  # first time this MAC is seen on this switch
    REFRESHED = 'refreshed'  # seen again on the port it was known on
    MOVED = 'moved'  # known on another port: the host moved (or was spoofed)
    BANNED = 'banned'  # one MAC too many: the port is banned from now on
    REFUSED = 'refused'  # the port is (still) banned
    FULL = 'full'  # the whole table is at max_total: no new MAC anywhere


@dataclass
class MacEntry:
    port: int
    last_seen: float


def is_unicast(mac: str) -> bool:
    """False for broadcast and multicast addresses (group bit of the first octet)."""
    return not int(mac.split(':', 1)[0], 16) & 1


class MacTable:
    """MAC -> port of one switch, with a per-port MAC limit and a temporary ban.

    A port that would exceed ``max_macs_per_port`` is banned for ``ban_seconds``: during
    the ban no new MAC is learned on it (the hosts already known there keep working).
    The limit is only applied where the caller asks (edge ports): a link to another
    switch legitimately carries many MACs.
    """

    def __init__(
        self,
        max_macs_per_port: int,
        ban_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_macs_per_port = max_macs_per_port
        self.ban_seconds = ban_seconds
        self.max_total: int | None = None  # a limit on the whole table (a VLAN's max_hosts)
        self._clock = clock
        self._entries: dict[str, MacEntry] = {}
        self._by_port: dict[int, set[str]] = {}
        self._banned_until: dict[int, float] = {}  # port -> clock value

    def __len__(self):
        return len(self._entries)

    def __contains__(self, mac):
        return mac in self._entries

    def lookup(self, mac: str) -> int | None:
        entry = self._entries.get(mac)
        return entry.port if entry else None

    def seen_at(self, mac: str) -> float | None:
        """When ``mac`` was last learned or refreshed (the table's clock); None if
        it is not known."""
        entry = self._entries.get(mac)
        return entry.last_seen if entry else None

    def macs_on_port(self, port: int) -> set[str]:
        return set(self._by_port.get(port, ()))

    def is_banned(self, port: int) -> bool:
        until = self._banned_until.get(port)
        if until is None:
            return False
        if self._clock() >= until:
            del self._banned_until[port]
            return False
        return True

    def learn(
        self, mac: str, port: int, limit: bool = True, max_macs: int | None = None
    ) -> tuple[Learned, int | None]:
        """Record ``mac`` on ``port``. Returns (Learned, previous port or None).
        ``max_macs`` overrides the table's per-port limit for this port."""
        now = self._clock()
        entry = self._entries.get(mac)
        if entry is not None and entry.port == port:
            entry.last_seen = now
            return Learned.REFRESHED, None
        if limit and self.is_banned(port):
            return Learned.REFUSED, None
        if entry is None and self.max_total is not None and len(self) >= self.max_total:
            return Learned.FULL, None
        port_limit = self.max_macs_per_port if max_macs is None else max_macs
        if limit and len(self._by_port.get(port, ())) >= port_limit:
            self._banned_until[port] = now + self.ban_seconds
            return Learned.BANNED, None
        previous = None
        if entry is not None:
            previous = entry.port
            self._by_port[previous].discard(mac)
        self._entries[mac] = MacEntry(port, now)
        self._by_port.setdefault(port, set()).add(mac)
        return (Learned.MOVED if previous is not None else Learned.NEW), previous

    def forget(self, mac: str, port: int | None = None) -> bool:
        """Drop ``mac`` (only if it is still on ``port`` when a port is given)."""
        entry = self._entries.get(mac)
        if entry is None or (port is not None and entry.port != port):
            return False
        del self._entries[mac]
        self._by_port[entry.port].discard(mac)
        return True

    def forget_port(self, port: int) -> set[str]:
        """Drop every MAC learned on ``port`` (the port went down); returns them."""
        macs = self._by_port.pop(port, set())
        for mac in macs:
            del self._entries[mac]
        self._banned_until.pop(port, None)
        return macs

    def clear(self) -> None:
        self._entries.clear()
        self._by_port.clear()
