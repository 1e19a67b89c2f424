"""Flow statistics as the app that asked for them sees its rules.

An app that reads its rules back from the switch (``ryu.app.rest_firewall`` reads its
status, its log setting and its rule list from an OFPFlowStatsRequest of every table)
would otherwise see every app's rules, at the priorities, cookies and tables the
arbiter installed them at: it takes another app's table-miss for its own log rule, lists
another app's rules as its own, and deletes by a priority it never asked for.

The request of an app is remembered by (switch, xid); a cookie it filters on is put in
its range (as its deletes are), a table it names is moved to its pipeline stage. The
reply goes to that app alone, holding only the rules it owns (alone or shared), each
with the priority and cookie it asked for and its table numbered as it numbers it.
Counters are the switch's. A rule refused or held back is not on the switch and is not
in the view: the app sees what is in force.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any

from controller.cookies import APP_IDS

if TYPE_CHECKING:
    from controller.arbiter.engine import Arbiter

PENDING_KEPT = 1024  # requests awaiting their reply; the oldest is forgotten past this


class FlowStatsViews:
    """The flow-stats requests of apps in flight, and their replies translated."""

    def __init__(self, arbiter: Arbiter) -> None:
        self.arbiter = arbiter
        self._pending: collections.OrderedDict[tuple[int, int], str] = collections.OrderedDict()

    def asked(self, dp: Any, app: str, msg: Any) -> None:
        """``app`` sends the OFPFlowStatsRequest ``msg`` (its xid set): remember it, and
        put it in the app's terms on the switch (cookie range, stage tables)."""
        arbiter = self.arbiter
        _, base, _ = arbiter.policy.stage_of(app)
        if base and msg.table_id != dp.ofproto.OFPTT_ALL:
            msg.table_id += base
        if msg.cookie_mask and app not in APP_IDS:  # (ours ask in their own ranges)
            msg.cookie, msg.cookie_mask = arbiter.cookies.scope(app, msg.cookie, msg.cookie_mask)
        self._pending[(dp.id, msg.xid)] = app
        if len(self._pending) > PENDING_KEPT:
            self._pending.popitem(last=False)

    def answer(self, msg: Any, last: bool) -> str | None:
        """The app that asked for the OFPFlowStatsReply ``msg``, whose body is then
        that app's view; None for a reply to no app's request (left as it is)."""
        key = (msg.datapath.id, msg.xid)
        app = self._pending.pop(key, None) if last else self._pending.get(key)
        if app is not None:
            msg.body = self.view(app, msg.datapath.id, msg.body)
        return app

    def switch_gone(self, dpid: int) -> None:
        for key in [k for k in self._pending if k[0] == dpid]:
            del self._pending[key]

    def view(self, app: str, dpid: int, stats: list[Any]) -> list[Any]:
        """The OFPFlowStats of ``app``'s rules among ``stats``, in its terms."""
        arbiter = self.arbiter
        _, base, _ = arbiter.policy.stage_of(app)
        kept = []
        for stat in stats:
            asked = arbiter.as_asked(
                app, dpid, stat.table_id, stat.priority, stat.match, stat.cookie
            )
            if asked is None:
                continue
            stat.cookie, stat.priority = asked
            stat.table_id -= base
            kept.append(stat)
        return kept
