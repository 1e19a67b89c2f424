"""FAUCET's election of the stack root among its candidates (the switches with a
``stack: {priority: N}``), driven by their health (docs/fabric.md). Pure.

A candidate is healthy when it has been connected to the controller within its
``down_time_multiple`` root update intervals (UPDATE_SECONDS each) and at least
``min_stack_health`` of its stack ports are up. The root stays where it is while it is
healthy; when it is not, the best healthy candidate takes over: the most stack ports
up, then the lowest priority, then the lowest dp_id. With no healthy candidate the root
stays, unless it has been disconnected too long: then the best of the connected ones.
At start the root is the lowest (priority, dp_id), as FAUCET nominates it.
"""

from collections.abc import Iterable
from dataclasses import dataclass

UPDATE_SECONDS = 10  # FAUCET's STACK_ROOT_STATE_UPDATE_TIME


@dataclass(frozen=True)
class Candidate:
    """A root candidate as the controller sees it now."""

    dp_id: int
    priority: int
    stack_ports: int  # its enabled stack ports
    ports_up: int  # of those, the ones up
    min_stack_health: float = 1.0
    down_time_multiple: int = 3
    last_live: float | None = None  # when it was last connected; None: never

    def live(self, now: float) -> bool:
        """Connected within its down_time_multiple update intervals."""
        return (
            self.last_live is not None
            and self.last_live >= now - self.down_time_multiple * UPDATE_SECONDS
        )

    @property
    def share_up(self) -> float:
        return self.ports_up / self.stack_ports if self.stack_ports else 1.0

    def healthy(self, now: float) -> bool:
        return self.live(now) and self.share_up >= self.min_stack_health

    def rank(self, now: float) -> tuple:
        """FAUCET's order of candidates: healthy first, more ports up, priority, dp_id."""
        return (not self.healthy(now), 1.0 - self.share_up, self.priority, self.dp_id)


def elect(candidates: Iterable[Candidate], current: int | None, now: float) -> int | None:
    """The stack root at ``now``, the root being ``current`` (a dp_id or None)."""
    by_id = {c.dp_id: c for c in candidates}
    if not by_id:
        return None
    healthy = [c for c in by_id.values() if c.healthy(now)]
    if healthy:
        if current in by_id and by_id[current].healthy(now):
            return current
        return min(healthy, key=lambda c: c.rank(now)).dp_id
    connected = [c for c in by_id.values() if c.live(now)]
    if current in by_id and (by_id[current].live(now) or not connected):
        return current
    if connected:
        return min(connected, key=lambda c: c.rank(now)).dp_id
    return current


def first_root(candidates: Iterable[Candidate]) -> int | None:
    """The root at start: the lowest (priority, dp_id)."""
    ordered = sorted(candidates, key=lambda c: (c.priority, c.dp_id))
    return ordered[0].dp_id if ordered else None
