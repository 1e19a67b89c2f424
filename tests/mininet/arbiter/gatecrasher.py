"""An app that asks for what the invariant gate must refuse (tests/mininet/arbiter/
gate.yaml, on linear(2): h1 on s1:1, h2 on s2:1, the link s1:2 <-> s2:3):

- LOOP_IP is sent from s1 to s2 and from s2 back to s1: whichever rule comes second
  closes a forwarding loop;
- h2's address is forwarded from s1 to s2 and from s2 to h2: whichever comes second
  would deliver h1's traffic to h2, which the policy isolates.

It logs the xid of each flow-mod it sent and each OpenFlow error it is sent back."""

from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import (
    CONFIG_DISPATCHER,
    HANDSHAKE_DISPATCHER,
    MAIN_DISPATCHER,
    set_ev_cls,
)
from ryu.ofproto import ofproto_v1_3

LOOP_IP = '10.0.0.200'
H2_IP = '10.0.0.2'
# dpid -> [(destination, output port)]
RULES = {1: [(LOOP_IP, 2), (H2_IP, 2)], 2: [(LOOP_IP, 3), (H2_IP, 1)]}


class GateCrasher(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    @set_ev_cls(ofp_event.EventOFPStateChange, MAIN_DISPATCHER)
    def _connected(self, ev):
        dp = ev.datapath
        parser, ofp = dp.ofproto_parser, dp.ofproto
        for address, port in RULES.get(dp.id, ()):
            mod = parser.OFPFlowMod(
                datapath=dp,
                priority=300,
                match=parser.OFPMatch(eth_type=0x0800, ipv4_dst=address),
                instructions=[
                    parser.OFPInstructionActions(
                        ofp.OFPIT_APPLY_ACTIONS, [parser.OFPActionOutput(port)]
                    )
                ],
            )
            dp.set_xid(mod)
            self.logger.info(
                'gatecrasher: sent xid=%d dpid=%d ipv4_dst=%s', mod.xid, dp.id, address
            )
            dp.send_msg(mod)

    @set_ev_cls(
        ofp_event.EventOFPErrorMsg, [HANDSHAKE_DISPATCHER, CONFIG_DISPATCHER, MAIN_DISPATCHER]
    )
    def _error(self, ev):
        self.logger.info(
            'gatecrasher: refused: xid=%d type=%d code=%d', ev.msg.xid, ev.msg.type, ev.msg.code
        )
