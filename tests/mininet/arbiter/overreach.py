"""An app that asks for more than the arbiter's policy lets it have
(tests/mininet/arbiter/limits.yaml): one rule outside its flowspace, then one rule more
than its budget. It logs each OpenFlow error it is sent ('refused: xid=...') and the xid
of each flow-mod it sent ('sent xid=... what'), so a test can match them."""

from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import (
    CONFIG_DISPATCHER,
    HANDSHAKE_DISPATCHER,
    MAIN_DISPATCHER,
    set_ev_cls,
)
from ryu.ofproto import ofproto_v1_3

OUTSIDE = '192.168.7.7'  # its flowspace is 10.0.0.0/24
INSIDE = ['10.0.0.%d' % n for n in range(11, 15)]  # one more than its budget of 3


class Overreach(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    @set_ev_cls(ofp_event.EventOFPStateChange, MAIN_DISPATCHER)
    def _connected(self, ev):
        dp = ev.datapath
        for address in [OUTSIDE] + INSIDE:
            self._steer(dp, address)

    def _steer(self, dp, address):
        parser, ofp = dp.ofproto_parser, dp.ofproto
        mod = parser.OFPFlowMod(
            datapath=dp,
            priority=200,
            match=parser.OFPMatch(eth_type=0x0800, ipv4_dst=address),
            instructions=[
                parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [parser.OFPActionOutput(1)])
            ],
        )
        dp.set_xid(mod)
        self.logger.info('overreach: sent xid=%d ipv4_dst=%s', mod.xid, address)
        dp.send_msg(mod)

    @set_ev_cls(
        ofp_event.EventOFPErrorMsg, [HANDSHAKE_DISPATCHER, CONFIG_DISPATCHER, MAIN_DISPATCHER]
    )
    def _error(self, ev):
        self.logger.info(
            'overreach: refused: xid=%d type=%d code=%d', ev.msg.xid, ev.msg.type, ev.msg.code
        )
