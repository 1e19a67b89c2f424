"""The ports the app base (controller/app_base.py) tracks for one switch, and its budget
for PORT_STATUS messages. Pure: no Ryu events; the base calls in with port numbers and
statuses and acts on what comes back.

Two bounds, so that what a switch announces costs at most O(max_ports):

- At most ``max_ports`` physical ports are tracked; a switch that announces more has
  the rest ignored (the lowest numbers are kept at connection, then first come first
  served). Reserved ports (LOCAL, ...) are not counted. A deleted port frees its place.
- A port's status changes are acted on at once up to ``burst`` times, then at most about
  once per ``interval`` seconds: later ones wait, the newest replacing the one waiting,
  and the base acts on what waits every ``interval``. A flap storm costs one waiting
  entry and one action per port per interval, whatever the number of messages.
"""

from collections.abc import Callable, Iterable
from typing import Any

from ryu.ofproto.ofproto_v1_3 import OFPP_MAX

from controller.rate_limit import TokenBucket

PORT_CHANGES_AT_ONCE = 4  # a port's changes acted on at once before they wait


class SwitchPorts:
    def __init__(
        self,
        max_ports: int,
        interval: float,
        clock: Callable[[], float],
        burst: int = PORT_CHANGES_AT_ONCE,
    ) -> None:
        self.max_ports = max_ports
        self.interval = interval
        self.burst = burst
        self._clock = clock
        self.tracked: set[int] = set()
        self.ignored = 0  # ports refused for max_ports, so far
        self.waiting: dict[int, Any] = {}  # port -> its newest status not acted on
        self._budgets: dict[int, TokenBucket] = {}

    def admit_all(self, port_nos: Iterable[int]) -> list[int]:
        """Track the ports a switch announced when it connected, lowest numbers first;
        returns those refused."""
        return [port_no for port_no in sorted(port_nos) if not self.admit(port_no)]

    def admit(self, port_no: int) -> bool:
        """Whether ``port_no`` is tracked, tracking it if there is room."""
        if port_no in self.tracked or port_no > OFPP_MAX:
            return True
        if len(self.tracked) >= self.max_ports:
            self.ignored += 1
            return False
        self.tracked.add(port_no)
        return True

    def release(self, port_no: int) -> None:
        """The port was deleted: its place and its budget are free."""
        self.tracked.discard(port_no)
        self._budgets.pop(port_no, None)
        self.waiting.pop(port_no, None)

    def offer(self, port_no: int, status: Any, hold: bool = False) -> bool:
        """A status of a tracked port: True to act on it now; False when it waits
        (``hold``: the base cannot act on port changes right now; a status already
        waiting for the port; the port's budget spent)."""
        if hold or port_no in self.waiting or not self._budget(port_no).allow():
            self.waiting[port_no] = status
            return False
        return True

    def take_waiting(self) -> tuple[int, Any] | None:
        """The oldest waiting (port, status), no longer waiting; None if none waits."""
        if not self.waiting:
            return None
        port_no = next(iter(self.waiting))
        return port_no, self.waiting.pop(port_no)

    def _budget(self, port_no: int) -> TokenBucket:
        budget = self._budgets.get(port_no)
        if budget is None:
            budget = self._budgets[port_no] = TokenBucket(
                1.0 / self.interval, self.burst, self._clock
            )
        return budget
