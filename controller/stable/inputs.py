"""What the stable-routing app takes from a switch, checked before use, and the tally of
what it drops.

A switch (or a host behind it) controls every byte of a packet-in, a flow-stats reply
or an error: a frame shorter than an Ethernet header, a match without ``in_port``, a
source MAC that is not a host's. Such input is dropped and counted, never parsed
further, and reported in at most one log line per switch per ``interval``, so a flood of
it neither raises in a handler nor fills the log.
"""

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

ETH_HEADER_BYTES = 14
MAX_PORT = 0xFFFFFF00  # OFPP_MAX: the last physical port number
MAC_TEXT_LENGTH = 17  # '02:00:00:00:00:01'
S_TAG_ETHERTYPE = b'\x88\xa8'

# Reasons input is dropped (the keys of the tallies).
NO_IN_PORT = 'no in_port'
BAD_IN_PORT = 'in_port out of range'
SHORT_FRAME = 'frame shorter than an Ethernet header'
NOT_A_HOST = 'source not a host address'
BAD_READ_BACK = 'read-back rule not ours'
SWITCH_ERROR = 'error message'
HOST_LIMIT = 'host over the port limit'


def match_field(match: Any, name: str) -> Any:
    """A field of a match from a switch; None if absent, or if ``match`` is no match."""
    try:
        return match.get(name)
    except (AttributeError, TypeError, KeyError):
        return None


def in_port_of(match: Any) -> int | None:
    """The ``in_port`` of a match if it is a physical port number, else None."""
    port = match_field(match, 'in_port')
    return port if isinstance(port, int) and 0 < port <= MAX_PORT else None


def frame_bytes(data: Any) -> bytes | None:
    """The frame of a packet-in if it holds at least an Ethernet header."""
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) < ETH_HEADER_BYTES:
        return None
    return bytes(data)


def is_fabric_frame(frame: bytes) -> bool:
    """An S-tagged frame: the fabric's own (on a link not discovered yet), not a host's."""
    return frame[12:14] == S_TAG_ETHERTYPE


def host_source(frame: bytes) -> str | None:
    """The source MAC of an (at least 14-byte) frame as text, if a host may have sent
    it: unicast and not all zeros."""
    src = frame[6:12]
    if src[0] & 1 or not any(src):
        return None
    return src.hex(':')


def is_host_mac(mac: Any) -> bool:
    """Whether ``mac`` (a match field read back from a switch) is a unicast MAC in the
    'xx:xx:xx:xx:xx:xx' form."""
    if not isinstance(mac, str) or len(mac) != MAC_TEXT_LENGTH:
        return False
    try:
        raw = bytes.fromhex(mac.replace(':', ''))
    except ValueError:
        return False
    return len(raw) == 6 and mac[2::3] == ':' * 5 and not raw[0] & 1 and any(raw)


class DropTally:
    """What was dropped from one switch, by reason, and when to say so: one report at
    the first drop, then at the first drop at least ``interval`` seconds after the last
    report."""

    def __init__(
        self,
        interval: float = 60.0,
        totals: Counter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.counts: Counter = Counter()  # every drop of this switch, by reason
        self.totals = totals  # the app's, across switches, if given
        self.reported = 0  # reports due so far
        self._clock = clock
        self._unreported: Counter = Counter()
        self._reported_at: float | None = None

    def drop(self, reason: str) -> Counter | None:
        """Count one drop. If a report is due, the drops since the last one by reason
        (this one included); None otherwise."""
        self.counts[reason] += 1
        if self.totals is not None:
            self.totals[reason] += 1
        self._unreported[reason] += 1
        now = self._clock()
        if self._reported_at is not None and now - self._reported_at < self.interval:
            return None
        self._reported_at = now
        self.reported += 1
        unreported, self._unreported = self._unreported, Counter()
        return unreported


def summary(counts: Counter) -> str:
    """'reason N, ...' sorted by reason."""
    return ', '.join('%s %d' % pair for pair in sorted(counts.items()))
