"""LLDP link discovery for an app's own switches, into a SwitchGraph.

The app calls in from its Ryu handlers (switch and port events, LLDP packet-ins) and
from a timer (``probe_all`` then ``expire``); this class sends the LLDP frames
(controller/lldp.py) and keeps the live ports and the links. No ``ryu.topology``:
its per-packet-in host discovery costs more than the apps' own work.
"""

from typing import Any

from ryu import cfg
from ryu.ofproto.ofproto_v1_3 import OFPCML_NO_BUFFER

from controller.flowspec import FlowSpec
from controller.lldp import LLDP_DESTINATION, LLDP_ETHERTYPE, lldp_frame, parse_lldp_frame
from controller.topology import Link, SwitchGraph

LLDP_MATCH = {'eth_type': LLDP_ETHERTYPE, 'eth_dst': LLDP_DESTINATION}


def options(link_timeout: float = 3.5) -> list:
    """The discovery settings, for an app to register in its own config section."""
    return [
        cfg.FloatOpt('lldp_interval', default=1.0,
                     help='seconds between LLDP frames on every port'),
        cfg.FloatOpt('link_timeout', default=link_timeout,
                     help='seconds without LLDP after which a link is considered gone '
                          '(a port going down removes its link at once)'),
    ]


def lldp_rule(table: int, priority: int, cookie: int) -> FlowSpec:
    """The rule that brings the LLDP frames back to the controller, whole."""
    return FlowSpec.make(table, priority, LLDP_MATCH,
                         [('apply', (('controller', OFPCML_NO_BUFFER),))], cookie)


def is_live(dp: Any, port: Any) -> bool:
    """Whether an OFPPort of ``dp`` is a physical port with carrier, administratively up."""
    ofp = dp.ofproto
    return (port.port_no <= ofp.OFPP_MAX and not port.state & ofp.OFPPS_LINK_DOWN
            and not port.config & ofp.OFPPC_PORT_DOWN)


class LinkDiscovery:
    def __init__(self, graph: SwitchGraph, link_timeout: float) -> None:
        self.graph = graph
        self.link_timeout = link_timeout
        self._dps: dict[int, Any] = {}   # dpid -> datapath
        # dpid -> {live port: the LLDP frame it sends}
        self._frames: dict[int, dict[int, bytes]] = {}
        # dpid -> {live port: when it came up}
        self._up_since: dict[int, dict[int, float]] = {}

    def live_ports(self, dpid: int) -> set[int]:
        return set(self._frames.get(dpid, ()))

    def up_since(self, dpid: int) -> dict[int, float]:
        """{live port: the time it came up} of switch ``dpid``."""
        return self._up_since.get(dpid, {})

    def switch_up(self, dp: Any, now: float) -> None:
        self._dps[dp.id] = dp
        self._frames[dp.id] = {}
        self._up_since[dp.id] = {}
        self.graph.add_switch(dp.id)
        for port in dp.ports.values():
            if is_live(dp, port):
                self.port_up(dp, port, now)

    def switch_down(self, dpid: int) -> bool:
        """Forget the switch; True if the graph changed."""
        self._dps.pop(dpid, None)
        self._frames.pop(dpid, None)
        self._up_since.pop(dpid, None)
        return self.graph.remove_switch(dpid)

    def port_up(self, dp: Any, port: Any, now: float) -> None:
        self._frames[dp.id][port.port_no] = lldp_frame(dp.id, port.port_no, port.hw_addr)
        self._up_since[dp.id][port.port_no] = now
        self._probe(dp, [port.port_no])

    def port_down(self, dpid: int, port_no: int) -> bool:
        """Forget the port; True if a link went with it."""
        self._frames.get(dpid, {}).pop(port_no, None)
        self._up_since.get(dpid, {}).pop(port_no, None)
        return self.graph.remove_port(dpid, port_no)

    def probe_all(self) -> None:
        for dpid, dp in list(self._dps.items()):
            self._probe(dp, list(self._frames[dpid]))

    def _probe(self, dp, ports):
        parser, ofp = dp.ofproto_parser, dp.ofproto
        frames = self._frames[dp.id]
        for port in ports:
            dp.send_msg(parser.OFPPacketOut(
                datapath=dp, buffer_id=ofp.OFP_NO_BUFFER, in_port=ofp.OFPP_CONTROLLER,
                actions=[parser.OFPActionOutput(port)], data=frames[port]))

    def lldp_in(self, dpid: int, in_port: int, frame: bytes, now: float) -> Link | None:
        """An LLDP packet-in: the link it proves, as (src_dpid, src_port, dpid, in_port),
        if that direction is new; None otherwise (known, or not one of our frames)."""
        sender = parse_lldp_frame(frame)
        if sender is None or sender[0] not in self._dps:
            return None
        link = (sender[0], sender[1], dpid, in_port)
        return link if self.graph.add_link(*link, now=now) else None

    def expire(self, now: float) -> list[Link]:
        """Links whose LLDP stopped arriving for link_timeout seconds; forgotten."""
        return self.graph.expire(now, self.link_timeout)
