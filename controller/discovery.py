"""LLDP link discovery for an app's own switches, into a SwitchGraph.

The app calls in from its Ryu handlers (switch and port events, LLDP packet-ins) and
from a timer (``probe_all`` then ``expire``); this class sends the LLDP frames
(controller/lldp.py) and keeps the live ports and the links. No ``ryu.topology``:
its per-packet-in host discovery costs more than the apps' own work.

A link is believed only on proof that a host cannot fake (TopoGuard, NDSS 2015): a
frame signed by this controller's key (or one it shares, ``lldp_secret``) in the last
``2 x lldp_interval + 1`` seconds, sent by a live port of a connected switch and come
back in on another live port, where no host has been learned (the app's
``is_host_port``). Anything else is refused, counted per port and reason
(``rejected``, ``rejected_at``), and reported in one log line per port per minute at
most, whatever the number of frames.
"""

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from ryu import cfg
from ryu.ofproto.ofproto_v1_3 import OFPCML_NO_BUFFER

from controller.flowspec import FlowSpec
from controller.lldp import (
    LLDP_DESTINATION,
    LLDP_ETHERTYPE,
    PROCESS_KEY,
    LldpKey,
    Rejection,
    frame_head,
)
from controller.topology import Link, SwitchGraph

LLDP_MATCH = {'eth_type': LLDP_ETHERTYPE, 'eth_dst': LLDP_DESTINATION}
# Seconds a frame may take beyond two probe rounds (event loop busy, clocks of
# controllers sharing a secret apart) and still count as fresh.
FRESHNESS_MARGIN = 1.0
REPORT_INTERVAL = 60.0  # seconds between two log lines about refusals on one port

_EXPLAINED = {
    Rejection.MALFORMED: 'malformed (ours cut short or altered, or no LLDP at all)',
    Rejection.BAD_MAC: 'signature does not match (forged or altered, or signed with '
    'another secret)',
    Rejection.STALE: 'signed too long ago (a replay)',
    Rejection.UNKNOWN_SENDER: 'names a switch port that is not live here',
    Rejection.UNKNOWN_PORT: 'came in on a port that is not live here',
    Rejection.REFLECTED: 'came back in on the port that sent it',
    Rejection.HOST_PORT: 'came in on a port where a host has been learned',
}


def options(link_timeout: float = 3.5, probe_time: float = 2.5) -> list:
    """The discovery settings, for an app to register in its own config section."""
    return [
        cfg.FloatOpt(
            'probe_time',
            default=probe_time,
            help='seconds a port that comes up waits for LLDP before it counts as a '
            'host port (forwarding and learning hosts)',
        ),
        cfg.FloatOpt(
            'lldp_interval', default=1.0, help='seconds between LLDP frames on every port'
        ),
        cfg.FloatOpt(
            'link_timeout',
            default=link_timeout,
            help='seconds without LLDP after which a link is considered gone '
            '(a port going down removes its link at once)',
        ),
        cfg.StrOpt(
            'lldp_secret',
            default='',
            secret=True,
            help='the key that signs LLDP frames; empty: a random key per '
            'process. Controllers that see each other\'s frames must '
            'share it',
        ),
    ]


def lldp_rule(table: int, priority: int, cookie: int) -> FlowSpec:
    """The rule that brings the LLDP frames back to the controller, whole."""
    return FlowSpec.make(
        table, priority, LLDP_MATCH, [('apply', (('controller', OFPCML_NO_BUFFER),))], cookie
    )


def is_live(dp: Any, port: Any) -> bool:
    """Whether an OFPPort of ``dp`` is a physical port with carrier, administratively up."""
    ofp = dp.ofproto
    return (
        port.port_no <= ofp.OFPP_MAX
        and not port.state & ofp.OFPPS_LINK_DOWN
        and not port.config & ofp.OFPPC_PORT_DOWN
    )


def _no_host_port(dpid: int, port_no: int) -> bool:
    return False


class LinkDiscovery:
    """Live ports, the LLDP frames they send, the links those frames prove, and the
    frames refused.

    ``is_host_port(dpid, port_no)`` says whether a host has been learned on a port: a
    link is never accepted onto one (unless the port is already on a link). ``clock``
    is the wall clock frames are stamped and checked with; ``now`` arguments are the
    app's clock for link ages and log pacing.
    """

    def __init__(
        self,
        graph: SwitchGraph,
        link_timeout: float,
        lldp_interval: float = 1.0,
        key: LldpKey = PROCESS_KEY,
        is_host_port: Callable[[int, int], bool] = _no_host_port,
        logger: logging.Logger | None = None,
        clock: Callable[[], float] = time.time,
        probe_time: float = 0.0,
    ) -> None:
        self.graph = graph
        self.probe_time = probe_time
        self.link_timeout = link_timeout
        self.max_age = 2 * lldp_interval + FRESHNESS_MARGIN
        self.key = key
        self.is_host_port = is_host_port
        self.logger = logger or logging.getLogger(__name__)
        self.clock = clock
        self._dps: dict[int, Any] = {}  # dpid -> datapath
        # dpid -> {live port: the unchanging head of the LLDP frames it sends}
        self._heads: dict[int, dict[int, bytes]] = {}
        # dpid -> {live port: when it came up}
        self._up_since: dict[int, dict[int, float]] = {}
        #: frames refused, by reason, since the start
        self.rejected: Counter[Rejection] = Counter()
        #: frames refused on each live port (forgotten with the port), by reason
        self.rejected_at: dict[tuple[int, int], Counter[Rejection]] = {}
        #: LLDP frames of other speakers (a real bridge's), ignored
        self.foreign = 0
        # (dpid, live port, or None for the switch's other ports) -> last log line
        self._reported: dict[tuple[int, int | None], float] = {}

    @classmethod
    def from_options(
        cls,
        graph: SwitchGraph,
        conf: Any,
        is_host_port: Callable[[int, int], bool] = _no_host_port,
        logger: logging.Logger | None = None,
    ) -> 'LinkDiscovery':
        """Discovery configured by an app's section holding ``options()``."""
        key = LldpKey(conf.lldp_secret.encode()) if conf.lldp_secret else PROCESS_KEY
        return cls(
            graph,
            conf.link_timeout,
            conf.lldp_interval,
            key,
            is_host_port,
            logger,
            probe_time=conf.probe_time,
        )

    def live_ports(self, dpid: int) -> set[int]:
        return set(self._heads.get(dpid, ()))

    def up_since(self, dpid: int) -> dict[int, float]:
        """{live port: the time it came up} of switch ``dpid``."""
        return self._up_since.get(dpid, {})

    def probed(self, dpid: int, port_no: int, now: float) -> bool:
        """Whether live port ``port_no`` has been up for ``probe_time``: long enough for
        the LLDP of a switch behind it to have come in. Before that, a frame on the port
        may be a neighbour switch's traffic, not a host's."""
        since = self._up_since.get(dpid, {}).get(port_no)
        return since is not None and now - since >= self.probe_time

    def switch_up(self, dp: Any, now: float) -> None:
        self._dps[dp.id] = dp
        self._heads[dp.id] = {}
        self._up_since[dp.id] = {}
        self.graph.add_switch(dp.id)
        for port in dp.ports.values():
            if is_live(dp, port):
                self.port_up(dp, port, now)

    def switch_down(self, dpid: int) -> bool:
        """Forget the switch; True if the graph changed."""
        self._dps.pop(dpid, None)
        for port_no in self._heads.pop(dpid, {}):
            self.rejected_at.pop((dpid, port_no), None)
            self._reported.pop((dpid, port_no), None)
        self._reported.pop((dpid, None), None)
        self._up_since.pop(dpid, None)
        return self.graph.remove_switch(dpid)

    def port_up(self, dp: Any, port: Any, now: float) -> None:
        self._heads[dp.id][port.port_no] = frame_head(dp.id, port.port_no, port.hw_addr)
        self._up_since[dp.id][port.port_no] = now
        self._probe(dp, [port.port_no])

    def port_down(self, dpid: int, port_no: int) -> bool:
        """Forget the port; True if a link went with it."""
        self._heads.get(dpid, {}).pop(port_no, None)
        self._up_since.get(dpid, {}).pop(port_no, None)
        self.rejected_at.pop((dpid, port_no), None)
        self._reported.pop((dpid, port_no), None)
        return self.graph.remove_port(dpid, port_no)

    def probe_all(self) -> None:
        for dpid, dp in list(self._dps.items()):
            self._probe(dp, list(self._heads.get(dpid, ())))

    def _probe(self, dp: Any, ports: list[int]) -> None:
        parser, ofp = dp.ofproto_parser, dp.ofproto
        heads = self._heads.get(dp.id, {})
        sent_at = self.clock()
        for port in ports:
            head = heads.get(port)
            if head is None:
                continue  # went down while the frames before it were sent
            dp.send_msg(
                parser.OFPPacketOut(
                    datapath=dp,
                    buffer_id=ofp.OFP_NO_BUFFER,
                    in_port=ofp.OFPP_CONTROLLER,
                    actions=[parser.OFPActionOutput(port)],
                    data=self.key.sign(head, sent_at),
                )
            )

    def lldp_in(self, dpid: int, in_port: int, frame: bytes, now: float) -> Link | None:
        """An LLDP packet-in: the link it proves, as (src_dpid, src_port, dpid, in_port),
        if that direction is new; None otherwise (known, refused, or not ours)."""
        sender = self.key.verify(frame, self.clock(), self.max_age)
        if sender is None:
            self.foreign += 1
            return None
        if isinstance(sender, Rejection):
            self._refuse(sender, dpid, in_port, now)
            return None
        reason = self._refusal(sender, dpid, in_port)
        if reason is not None:
            self._refuse(reason, dpid, in_port, now, sender)
            return None
        link = sender + (dpid, in_port)
        return link if self.graph.add_link(*link, now=now) else None

    def _refusal(self, sender: tuple[int, int], dpid: int, in_port: int) -> Rejection | None:
        """Why a frame we signed lately proves no link between its sender and in_port."""
        if in_port not in self._heads.get(dpid, ()):
            return Rejection.UNKNOWN_PORT
        if sender[1] not in self._heads.get(sender[0], ()):
            return Rejection.UNKNOWN_SENDER
        if sender == (dpid, in_port):
            return Rejection.REFLECTED
        # A port already on a link faces a switch: the hosts learned there are remote.
        if in_port not in self.graph.inter_switch_ports(dpid) and self.is_host_port(dpid, in_port):
            return Rejection.HOST_PORT
        return None

    def _refuse(
        self,
        reason: Rejection,
        dpid: int,
        in_port: int,
        now: float,
        sender: tuple[int, int] | None = None,
    ) -> None:
        """Count a refused frame; log it unless this port was reported on lately."""
        self.rejected[reason] += 1
        claim = '' if sender is None else '; it claims to come from %016x:%d' % sender
        if in_port in self._heads.get(dpid, ()):
            place: tuple[int, int | None] = (dpid, in_port)
            counts = self.rejected_at.setdefault((dpid, in_port), Counter())
            counts[reason] += 1
            so_far = '; refused there since the port came up: ' + ', '.join(
                '%s %d' % (r.value, n)
                for r, n in sorted(counts.items(), key=lambda item: item[0].value)
            )
        else:  # not a live port: paced per switch, so that the table stays bounded
            place, so_far = (dpid, None), ''
        last = self._reported.get(place)
        if last is not None and now - last < REPORT_INTERVAL:
            return
        self._reported[place] = now
        self.logger.warning(
            'LLDP frame refused on %016x:%d: %s%s%s (reported at most once a minute per port)',
            dpid,
            in_port,
            _EXPLAINED[reason],
            claim,
            so_far,
        )

    def expire(self, now: float) -> list[Link]:
        """Links whose LLDP stopped arriving for link_timeout seconds; forgotten."""
        return self.graph.expire(now, self.link_timeout)
