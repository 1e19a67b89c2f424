"""Flap damping of contested match regions, in the spirit of BGP route-flap damping
(RFC 2439).

Two apps that keep overriding each other on one region (A, B, A, B, ...) would make the
switch rewrite that region for ever. Each time the region changes hands (a proposal by
another app than the last, with other actions) it earns a penalty; the penalty decays
exponentially with a half-life. Above the suppress threshold the region is *damped*: the
arbiter keeps the policy's winner installed and holds every other proposal back, so the
fight costs no flow-mods, and raises an alert. Once the penalty has decayed below the
reuse threshold the region is released. The penalty never exceeds the ceiling from
which it decays to the reuse threshold in ``max_suppress`` seconds, so no region stays
damped longer than that after the fight stops.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from controller.arbiter.policy import Damping

Region = TypeVar('Region', bound=Hashable)


@dataclass
class RegionFlaps:
    """The damping state of one region."""

    penalty: float = 0.0
    stamp: float = 0.0  # when ``penalty`` was last brought up to date
    last_app: str | None = None  # the app of the last contested proposal
    last_actions: Hashable = None
    flaps: int = 0  # changes of hands seen, ever
    apps: set[str] = field(default_factory=set)
    suppressed_since: float | None = None
    alerts: int = 0

    @property
    def suppressed(self) -> bool:
        return self.suppressed_since is not None

    def suppressed_for(self, now: float) -> float:
        """How long it has been damped at ``now`` (0 if it is not)."""
        return 0.0 if self.suppressed_since is None else now - self.suppressed_since


class FlapDamper(Generic[Region]):
    """Penalties per region (any hashable key), after a ``Damping`` configuration.
    ``clock`` is injectable so the unit tests need no sleeping."""

    def __init__(
        self,
        config: Damping,
        clock: Callable[[], float] = time.monotonic,
        scope: Callable[[Region], Hashable] = lambda region: None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._regions: dict[Region, RegionFlaps] = {}
        self._scope = scope  # region -> the scope it is listed under (regions_in)
        self._scopes: dict[Hashable, set[Region]] = {}

    def _decayed(self, state: RegionFlaps, now: float) -> RegionFlaps:
        elapsed = now - state.stamp
        if elapsed > 0:
            state.penalty *= math.pow(0.5, elapsed / self.config.half_life)
            state.stamp = now
        if state.suppressed and state.penalty < self.config.reuse:
            state.suppressed_since = None
        return state

    def propose(
        self, region: Region, app: str, actions: Hashable, now: float | None = None
    ) -> tuple[RegionFlaps, bool]:
        """Record a proposal of ``app`` with ``actions`` for ``region``; returns
        (state, newly_suppressed). A proposal with the same actions as the last, or by
        the same app, is no flap."""
        now = self._clock() if now is None else now
        state = self._regions.get(region)
        if state is None:
            state = self._regions[region] = RegionFlaps(stamp=now)
            self._scopes.setdefault(self._scope(region), set()).add(region)
        self._decayed(state, now)
        newly = False
        if state.last_app is not None and app != state.last_app and actions != state.last_actions:
            state.flaps += 1
            state.penalty = min(state.penalty + self.config.penalty, self.config.ceiling)
            if not state.suppressed and state.penalty >= self.config.suppress:
                state.suppressed_since = now
                state.alerts += 1
                newly = True
        state.last_app, state.last_actions = app, actions
        state.apps.add(app)
        return state, newly

    def suppressed(self, region: Region, now: float | None = None) -> bool:
        """Whether ``region`` is damped now."""
        state = self._regions.get(region)
        if state is None:
            return False
        return self._decayed(state, self._clock() if now is None else now).suppressed

    def state(self, region: Region, now: float | None = None) -> RegionFlaps | None:
        """The RegionFlaps of ``region``, up to date (None if it never flapped)."""
        state = self._regions.get(region)
        if state is not None:
            self._decayed(state, self._clock() if now is None else now)
        return state

    def tracks(self, region: Region) -> bool:
        """Whether ``region`` has a state (it was contested and not forgotten)."""
        return region in self._regions

    def regions_in(self, scope: Hashable) -> Collection[Region]:
        """The regions with a state whose ``scope(region)`` is ``scope``."""
        return self._scopes.get(scope, ())

    def damped(self, now: float | None = None) -> list[tuple[Region, RegionFlaps]]:
        """[(region, RegionFlaps)] of the regions damped now."""
        now = self._clock() if now is None else now
        return [
            (region, state)
            for region, state in self._regions.items()
            if self._decayed(state, now).suppressed
        ]

    def forget_quiet(self, now: float | None = None, below: float = 1.0) -> None:
        """Drop the regions whose penalty has decayed below ``below`` (not damped), so
        the table does not grow with every region ever contested."""
        now = self._clock() if now is None else now
        for region in [
            r
            for r, s in self._regions.items()
            if not self._decayed(s, now).suppressed and s.penalty < below
        ]:
            del self._regions[region]
            scope = self._scope(region)
            self._scopes[scope].discard(region)
            if not self._scopes[scope]:
                del self._scopes[scope]
