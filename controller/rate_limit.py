"""Token bucket: bounds how many packet-ins per second one switch may cost the controller."""

import time
from collections.abc import Callable
from typing import Any

from ryu import cfg


def packet_in_options(rate: float, burst: int) -> list[Any]:
    """The packet-in budget settings, for an app to register in its own config section."""
    return [
        cfg.FloatOpt('packet_in_rate', default=rate,
                     help='packet-ins per second handled per switch; the rest are ignored'),
        cfg.IntOpt('packet_in_burst', default=burst,
                   help='packet-ins handled at once per switch before packet_in_rate '
                        'applies'),
    ]


class TokenBucket:
    """Allows ``rate`` events per second on average, bursts of up to ``burst``.

    ``clock`` is injectable so the unit tests need no sleeping.
    """

    def __init__(self, rate: float, burst: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError('token bucket needs rate > 0 and burst >= 1, got %r, %r'
                             % (rate, burst))
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()
        self.allowed = 0
        self.refused = 0

    def allow(self) -> bool:
        """Take one token if there is one; True if the event may go ahead."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0 - 1e-9:   # tolerate float drift of tiny refills
            self._tokens = max(0.0, self._tokens - 1.0)
            self.allowed += 1
            return True
        self.refused += 1
        return False
