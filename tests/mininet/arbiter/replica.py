"""A learning switch written apart from Ryu's simple_switch_13, to vote beside it in an
arbiter voting group (docs/arbiter.md, N-version voting): it matches on eth_dst alone,
at another priority, with an idle timeout and cookies of its own, so its rules are
equivalent to simple_switch_13's in forwarding behaviour, not in form.
learning_replica.py runs it as it is; misrouting_replica.py sends known destinations
back out of the port they came in by (a deliberately wrong replica)."""

from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib.packet import ethernet, packet
from ryu.ofproto import ofproto_v1_3

PRIORITY = 10
IDLE_TIMEOUT = 120
COOKIE = 0x5EB


class ReplicaSwitch(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ports = {}  # (dpid, mac) -> port

    def out_port(self, dp, known_port, in_port):
        """The port a frame for a known destination goes out of."""
        return known_port

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def _features(self, ev):
        dp = ev.msg.datapath
        parser, ofp = dp.ofproto_parser, dp.ofproto
        self._add(dp, 0, parser.OFPMatch(), ofp.OFPP_CONTROLLER, idle=0)

    def _add(self, dp, priority, match, port, idle=IDLE_TIMEOUT):
        parser, ofp = dp.ofproto_parser, dp.ofproto
        action = parser.OFPActionOutput(port, ofp.OFPCML_NO_BUFFER)
        dp.send_msg(
            parser.OFPFlowMod(
                datapath=dp,
                cookie=COOKIE,
                priority=priority,
                idle_timeout=idle,
                match=match,
                instructions=[parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [action])],
            )
        )

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in(self, ev):
        msg = ev.msg
        dp = msg.datapath
        parser, ofp = dp.ofproto_parser, dp.ofproto
        in_port = msg.match['in_port']
        eth = packet.Packet(msg.data).get_protocol(ethernet.ethernet)
        if eth is None:
            return
        self.ports[(dp.id, eth.src)] = in_port
        known = self.ports.get((dp.id, eth.dst))
        if known is None:
            port = ofp.OFPP_FLOOD
        else:
            port = self.out_port(dp, known, in_port)
            self._add(dp, PRIORITY, parser.OFPMatch(eth_dst=eth.dst), port)
        data = msg.data if msg.buffer_id == ofp.OFP_NO_BUFFER else None
        dp.send_msg(
            parser.OFPPacketOut(
                datapath=dp,
                buffer_id=msg.buffer_id,
                in_port=in_port,
                actions=[parser.OFPActionOutput(port)],
                data=data,
            )
        )
