"""Faulty switches: which ones epochs leave out, when each is tried again, and when one
is disconnected.

A switch that refuses a phase of an update or does not confirm it within
``install_timeout`` is *faulty*. The epoch it failed goes the way a refused phase always
did (the epoch in force stays where the phase failed), and every later epoch is computed
without it, as if it were down, until it confirms a *probe*: a small bundle sent to it
alone after a back-off (``backoff`` seconds, doubled per consecutive failure up to
``max_backoff``), or at once when it reconnects. A confirmed probe brings it back into
the next epoch on probation; it stops being faulty when it confirms every phase of an
epoch. After ``limit`` consecutive failures (epochs and probes alike) it is to be
disconnected; one that reconnects keeps its count, so a switch that fails every time
costs one probe per connection, not a failed epoch.

Pure bookkeeping with an injectable clock: the app sends the probes and closes the
connections (apps/stable_routing.py); docs/stable_routing.md says why leaving a switch
out keeps every packet in one epoch.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from controller.bundles import errors_text

FORGET_AFTER = 600.0  # seconds a disconnected faulty switch is remembered


class Probe(Protocol):
    """What the tracker reads of a probe bundle in flight (controller/bundles.py's
    Transaction)."""

    errors: list

    @property
    def answered(self) -> bool: ...

    def abandon(self) -> None: ...


@dataclass
class Fault:
    """One faulty switch (or one on probation, ``benched`` False)."""

    dpid: int
    reason: str  # what it failed last
    failures: int  # consecutive failures
    retry_at: float  # when to probe it next (clock)
    benched: bool = True  # left out of epochs
    connected: bool = True
    last_event_at: float = 0.0  # clock of its last failure or disconnection
    probe: Probe | None = None  # the probe in flight
    probe_deadline: float = 0.0

    def as_dict(self) -> dict:
        return {
            'switch': '%016x' % self.dpid,
            'reason': self.reason,
            'failures': self.failures,
            'benched': self.benched,
        }


class FaultTracker:
    """Faulty switches by dpid, their back-off and their probes."""

    def __init__(
        self,
        backoff: float,
        max_backoff: float,
        limit: int,
        probe_timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if backoff <= 0 or max_backoff < backoff or limit < 0 or probe_timeout <= 0:
            raise ValueError(
                'need 0 < backoff <= max_backoff, limit >= 0 and '
                'probe_timeout > 0, got %r, %r, %r, %r'
                % (backoff, max_backoff, limit, probe_timeout)
            )
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.limit = limit  # 0: never disconnect
        self.probe_timeout = probe_timeout
        self._clock = clock
        self._faults: dict[int, Fault] = {}

    def __contains__(self, dpid: int) -> bool:
        return dpid in self._faults

    def get(self, dpid: int) -> Fault | None:
        return self._faults.get(dpid)

    def benched(self) -> set[int]:
        """The switches epochs leave out now."""
        return {dpid for dpid, fault in self._faults.items() if fault.benched}

    def failed(self, dpid: int, reason: str) -> Fault:
        """One more consecutive failure of ``dpid``: it is benched until a probe after
        the back-off confirms."""
        now = self._clock()
        fault = self._faults.get(dpid)
        if fault is None:
            fault = self._faults[dpid] = Fault(dpid, reason, 0, now)
        self._drop_probe(fault)
        fault.failures += 1
        fault.reason = reason
        fault.benched = True
        fault.last_event_at = now
        fault.retry_at = now + self.backoff_after(fault.failures)
        return fault

    def backoff_after(self, failures: int) -> float:
        """Seconds before the next probe after ``failures`` consecutive failures."""
        return min(self.max_backoff, self.backoff * 2 ** min(failures - 1, 32))

    def over_limit(self, fault: Fault) -> bool:
        """Whether ``fault``'s switch has failed often enough to be disconnected."""
        return bool(self.limit) and fault.failures >= self.limit

    def confirmed(self, dpid: int) -> Fault | None:
        """``dpid`` confirmed every phase of an epoch: no longer faulty. The fault it
        had, if any."""
        fault = self._faults.pop(dpid, None)
        if fault is not None:
            self._drop_probe(fault)
        return fault

    def disconnected(self, dpid: int) -> None:
        """The switch's connection ended; its record is kept for a reconnection."""
        fault = self._faults.get(dpid)
        if fault is not None:
            self._drop_probe(fault)
            fault.connected = False
            fault.benched = True
            fault.last_event_at = self._clock()

    def reconnected(self, dpid: int) -> Fault | None:
        """A faulty switch connected again: probed at once, not after its back-off."""
        fault = self._faults.get(dpid)
        if fault is not None:
            fault.connected = True
            fault.retry_at = self._clock()
        return fault

    def probes_due(self) -> list[int]:
        """Benched, connected switches whose back-off is over and that have no probe in
        flight: send each one a probe (``probe_sent``)."""
        now = self._clock()
        return sorted(
            dpid
            for dpid, fault in self._faults.items()
            if fault.benched and fault.connected and fault.probe is None and now >= fault.retry_at
        )

    def probe_sent(self, dpid: int, probe: Probe) -> None:
        fault = self._faults[dpid]
        fault.probe = probe
        fault.probe_deadline = self._clock() + self.probe_timeout

    def probe_outcomes(self) -> list[tuple[Fault, str | None]]:
        """The probes that ended since the last call: (fault, None) for a confirmed one
        (the switch is back on probation), (fault, reason) for a refused or unanswered
        one (counted as a failure)."""
        now = self._clock()
        ended: list[tuple[Fault, str | None]] = []
        for fault in list(self._faults.values()):
            probe = fault.probe
            if probe is None:
                continue
            if probe.answered and not probe.errors:
                fault.probe = None
                fault.benched = False
                ended.append((fault, None))
            elif probe.answered or now >= fault.probe_deadline:
                reason = (
                    'refused the probe: ' + errors_text(probe.errors)
                    if probe.answered
                    else 'did not confirm the probe within %.1fs' % self.probe_timeout
                )
                ended.append((self.failed(fault.dpid, reason), reason))
        return ended

    def forget_stale(self) -> None:
        """Forget switches that have been disconnected for FORGET_AFTER seconds."""
        limit = self._clock() - FORGET_AFTER
        for dpid in [
            dpid
            for dpid, fault in self._faults.items()
            if not fault.connected and fault.last_event_at <= limit
        ]:
            del self._faults[dpid]

    def as_list(self) -> list[dict]:
        return [self._faults[dpid].as_dict() for dpid in sorted(self._faults)]

    @staticmethod
    def _drop_probe(fault: Fault) -> None:
        if fault.probe is not None:
            fault.probe.abandon()
            fault.probe = None
