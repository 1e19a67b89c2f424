"""The update log of topology triggers, and when an epoch is cut from it.

As in Consensus Routing, an event (a link up or down, a switch joining, a host seen or
moved) is not applied to forwarding when it happens: it is logged as a trigger with a
unique id. An epoch is cut once the log has been quiet for ``quiet_window`` seconds, or,
under continuous churn, ``max_delay`` seconds after the oldest pending trigger; the epoch
then takes every pending trigger at once. With ``leading_edge``, a trigger that comes
after ``quiet_window`` without any is due at once (the first event of a burst is acted
on without waiting); the window then debounces the ones that follow it. A burst of
events shorter than ``max_delay`` therefore costs one recomputation and network update
(two with ``leading_edge``: its first trigger's, then the rest), not one per event
(docs/stable_routing.md, "When an epoch is cut").

Events about the same thing (a port's carrier, a switch's connection) are coalesced
while pending: a trigger appended with the ``key`` of a pending one replaces it and
counts one more event: the app keys a port's events by kind and port, so a flapping
port costs two pending triggers (down, up), not one per flap.

Pure bookkeeping with an injectable clock, so the timing rules are unit-tested.
"""

import gc
import itertools
import time
import uuid
from collections import deque
from collections.abc import Callable, Collection, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

from controller.stable.sft import Snapshot, StableForwardingTable


@dataclass(frozen=True)
class Trigger:
    """One topology event. ``id`` is unique across controller runs (run id + counter)."""

    id: str
    at: float  # wall-clock time, for people
    kind: str  # switch-up, link-down, port-down, host-seen, ... (docs/stable_routing.md)
    detail: str
    events: int = 1  # events coalesced into it (the latest one's kind and detail)


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
    install_ms: float = 0.0  # rules computed and phases 1-2: the new version stamped
    cleanup_ms: float = 0.0  # phase 3, after the drain time
    changed: int = 0  # forward entries sent as overlays (those that differ from the stable rules)
    state: str = 'computing'
    problems: list = field(default_factory=list)
    unprotected: int = 0
    installed_at: float | None = None
    # switches left out of the snapshot as faulty: [{'switch', 'reason'}]
    excluded: list = field(default_factory=list)
    # switches that refused or did not confirm a phase: [{'switch', 'phase', 'reason'}]
    faults: list = field(default_factory=list)
    # where the time from the cut to stamped went, in ms, in order: snapshot, compute,
    # check, plan, then per phase its messages built, sent and confirmed
    steps_ms: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


class EpochInForce(NamedTuple):
    """The last epoch installed: what it was computed from and what it forwards by."""

    record: EpochRecord
    snapshot: Snapshot
    sft: StableForwardingTable


class UpdateLog:
    """Pending triggers, the quiet-window rule, and the history of epochs."""

    def __init__(
        self,
        quiet_window: float,
        max_delay: float,
        history: int = 200,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        leading_edge: bool = True,
    ) -> None:
        if quiet_window <= 0 or max_delay < quiet_window:
            raise ValueError(
                'need 0 < quiet_window <= max_delay, got %r and %r' % (quiet_window, max_delay)
            )
        self.quiet_window = quiet_window
        self.max_delay = max_delay
        self.leading_edge = leading_edge
        self._clock, self._wall = clock, wall_clock
        self._run = uuid.uuid4().hex[:8]
        self._numbers = itertools.count(1)
        self._pending: list[Trigger] = []
        self._pending_at: dict[Hashable, int] = {}  # key -> index of its pending trigger
        self._first_at = 0.0  # of the pending triggers, if any
        self._last_at: float | None = None  # of the latest trigger, taken or not
        self._leading = False  # the pending triggers began after a quiet window: due now
        self.history: deque[EpochRecord] = deque(maxlen=history)

    def append(self, kind: str, detail: str, key: Hashable | None = None) -> Trigger:
        """Log an event. With ``key``, a pending trigger of the same key is replaced by
        this event (same id, ``events`` + 1) instead of a new trigger being added."""
        now = self._clock()
        if not self._pending:
            self._first_at = now
            self._leading = self.leading_edge and (
                self._last_at is None or now - self._last_at >= self.quiet_window
            )
        self._last_at = now
        index = self._pending_at.get(key) if key is not None else None
        if index is not None:
            earlier = self._pending[index]
            trigger = Trigger(earlier.id, self._wall(), kind, detail, earlier.events + 1)
            self._pending[index] = trigger
            return trigger
        trigger = Trigger('%s-%d' % (self._run, next(self._numbers)), self._wall(), kind, detail)
        if key is not None:
            self._pending_at[key] = len(self._pending)
        self._pending.append(trigger)
        return trigger

    @property
    def leading(self) -> bool:
        """Whether the pending triggers began after a quiet window (due at once)."""
        return self._leading

    @property
    def pending(self) -> tuple[Trigger, ...]:
        return tuple(self._pending)

    def epoch_due(self, hold: bool = False) -> bool:
        """Whether the pending triggers should be cut into an epoch now. ``hold``: the
        caller would rather wait (a switch is still settling); only max_delay applies."""
        return self.due_in(hold) == 0

    def due_in(self, hold: bool = False) -> float | None:
        """Seconds until ``epoch_due(hold)`` turns true if no trigger comes meanwhile (0:
        it is now), or None with nothing pending: how long the epoch loop may sleep."""
        if not self._pending or self._last_at is None:  # (set by any pending trigger)
            return None
        now = self._clock()
        latest = self._first_at + self.max_delay
        if hold:
            due_at = latest
        elif self._leading:
            return 0.0
        else:
            due_at = min(self._last_at + self.quiet_window, latest)
        return max(0.0, due_at - now)

    def discard(self, ids: Collection[str]) -> int:
        """Drop the pending triggers whose ids are in ``ids`` (an epoch another replica
        committed took them); how many were dropped."""
        key_at = {index: key for key, index in self._pending_at.items()}
        kept = [(key_at.get(i), t) for i, t in enumerate(self._pending) if t.id not in ids]
        dropped = len(self._pending) - len(kept)
        self._pending = [t for _, t in kept]
        self._pending_at = {key: i for i, (key, _) in enumerate(kept) if key is not None}
        self._leading = self._leading and bool(self._pending)
        return dropped

    def take_pending(self) -> list[Trigger]:
        """Every pending trigger, oldest first; the log is empty afterwards."""
        taken, self._pending = self._pending, []
        self._pending_at.clear()
        self._leading = False
        return taken


@contextmanager
def collection_deferred() -> Iterator[None]:
    """Python's cycle collector paused for the block (objects without cycles are still
    freed at once; what the block leaves in cycles waits for the next collection, which
    may then come at once)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
