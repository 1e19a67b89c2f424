"""The update log of topology triggers, and when an epoch is cut from it.

As in Consensus Routing, an event (a link up or down, a switch joining, a host seen or
moved) is not applied to forwarding when it happens: it is logged as a trigger with a
unique id. An epoch is cut once the log has been quiet for ``quiet_window`` seconds, or,
under continuous churn, ``max_delay`` seconds after the oldest pending trigger; the epoch
then takes every pending trigger at once. A burst of events therefore costs one
recomputation and one network update, not one per event.

Pure bookkeeping with an injectable clock, so the timing rules are unit-tested.
"""

import itertools
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Callable, NamedTuple

from controller.stable.sft import Snapshot, StableForwardingTable


@dataclass(frozen=True)
class Trigger:
    """One topology event. ``id`` is unique across controller runs (run id + counter)."""
    id: str
    at: float          # wall-clock time, for people
    kind: str          # switch-up, switch-down, link-up, link-down, port-down, host-seen, host-moved
    detail: str


@dataclass
class EpochRecord:
    """What happened to one epoch: its triggers, the sizes of its snapshot, how long
    each step took, and how it ended ('installing', 'installed', 'rejected', 'failed')."""
    number: int
    cut_at: float
    triggers: list
    trigger_count: int = 0
    first_trigger_at: float | None = None
    switches: int = 0
    links: int = 0
    hosts: int = 0
    compute_ms: float = 0.0
    check_ms: float = 0.0
    install_ms: float = 0.0     # rules computed and phases 1-2: the new version stamped
    cleanup_ms: float = 0.0     # phase 3, after the drain time
    state: str = 'computing'
    problems: list = field(default_factory=list)
    unprotected: int = 0
    installed_at: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


class EpochInForce(NamedTuple):
    """The last epoch installed: what it was computed from and what it forwards by."""
    record: EpochRecord
    snapshot: Snapshot
    sft: StableForwardingTable


class UpdateLog:
    """Pending triggers, the quiet-window rule, and the history of epochs."""

    def __init__(self, quiet_window: float, max_delay: float, history: int = 200,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        if quiet_window <= 0 or max_delay < quiet_window:
            raise ValueError('need 0 < quiet_window <= max_delay, got %r and %r'
                             % (quiet_window, max_delay))
        self.quiet_window = quiet_window
        self.max_delay = max_delay
        self._clock, self._wall = clock, wall_clock
        self._run = uuid.uuid4().hex[:8]
        self._numbers = itertools.count(1)
        self._pending: list[Trigger] = []
        self._first_at = self._last_at = 0.0    # of the pending triggers, if any
        self.history: deque[EpochRecord] = deque(maxlen=history)

    def append(self, kind: str, detail: str) -> Trigger:
        trigger = Trigger('%s-%d' % (self._run, next(self._numbers)), self._wall(), kind,
                          detail)
        now = self._clock()
        if not self._pending:
            self._first_at = now
        self._last_at = now
        self._pending.append(trigger)
        return trigger

    @property
    def pending(self) -> tuple[Trigger, ...]:
        return tuple(self._pending)

    def epoch_due(self, hold: bool = False) -> bool:
        """Whether the pending triggers should be cut into an epoch now. ``hold``: the
        caller would rather wait (a switch is still settling); only max_delay applies."""
        if not self._pending:
            return False
        now = self._clock()
        return ((not hold and now - self._last_at >= self.quiet_window)
                or now - self._first_at >= self.max_delay)

    def take_pending(self) -> list[Trigger]:
        """Every pending trigger, oldest first; the log is empty afterwards."""
        taken, self._pending = self._pending, []
        return taken
