"""Budgets for what a switch or a host can make the controller do: a token bucket (how many
packet-ins per second one switch may cost), and a log throttle (how many log lines a
fault repeated at will may cost)."""

import time
from collections.abc import Callable, Hashable
from typing import Any

from ryu import cfg


def packet_in_options(rate: float, burst: int) -> list[Any]:
    """The packet-in budget settings, for an app to register in its own config section."""
    return [
        cfg.FloatOpt(
            'packet_in_rate',
            default=rate,
            help='packet-ins per second handled per switch; the rest are ignored',
        ),
        cfg.IntOpt(
            'packet_in_burst',
            default=burst,
            help='packet-ins handled at once per switch before packet_in_rate applies',
        ),
    ]


class TokenBucket:
    """Allows ``rate`` events per second on average, bursts of up to ``burst``.

    ``clock`` is injectable so the unit tests need no sleeping.
    """

    # One per switch, and one per port for the base's PORT_STATUS budget: kept small.
    __slots__ = ('rate', 'burst', '_clock', '_tokens', '_stamp', 'allowed', 'refused')

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(
                'token bucket needs rate > 0 and burst >= 1, got %r, %r' % (rate, burst)
            )
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()
        self.allowed = 0
        self.refused = 0

    def allow(self, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens (one event) if there are that many; True if the event may
        go ahead. An event costing more than ``burst`` needs a full bucket."""
        cost = min(cost, self.burst)
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= cost - 1e-9:  # tolerate float drift of tiny refills
            self._tokens = max(0.0, self._tokens - cost)
            self.allowed += 1
            return True
        self.refused += 1
        return False


class LogThrottle:
    """At most one log line per key (a switch, a port) every ``interval`` seconds, for
    faults that a switch or host may repeat as fast as it likes: the line says how many
    there were, the log stays readable. Keys are forgotten with their switch."""

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._logged_at: dict[Hashable, float] = {}

    def ready(self, key: Hashable) -> bool:
        """Whether a line about ``key`` may be logged now; if so, the time is noted."""
        now = self._clock()
        last = self._logged_at.get(key)
        if last is not None and now - last < self.interval:
            return False
        self._logged_at[key] = now
        return True

    def forget(self, key: Hashable) -> None:
        self._logged_at.pop(key, None)
