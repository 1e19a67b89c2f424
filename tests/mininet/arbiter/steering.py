"""A deliberately pushy app for the arbiter's tests: it steers IPv4 traffic to
STEERED_IP out of one port and re-asserts its rule every ``INTERVAL_S`` (give or take
half), whatever is on the switch, as apps written without a thought for others do.
Two of them with different ports (steer_via_2.py, steer_via_3.py) fight over the same
rule for ever.

It logs every OpenFlow error it is sent ('refused: xid=...'), so a test can see that the
arbiter told it."""

import random

from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import (
    CONFIG_DISPATCHER,
    HANDSHAKE_DISPATCHER,
    MAIN_DISPATCHER,
    set_ev_cls,
)
from ryu.lib import hub
from ryu.ofproto import ofproto_v1_3

STEERED_IP = '10.0.0.100'
PRIORITY = 100
INTERVAL_S = 0.1


class SteeringApp(app_manager.RyuApp):
    """Steers STEERED_IP out of ``PORT`` (set by each subclass)."""

    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]
    PORT = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sent = 0

    @set_ev_cls(ofp_event.EventOFPStateChange, MAIN_DISPATCHER)
    def _connected(self, ev):
        hub.spawn(self._keep_asserting, ev.datapath)

    def _keep_asserting(self, dp):
        parser, ofp = dp.ofproto_parser, dp.ofproto
        while dp.is_active:
            dp.send_msg(
                parser.OFPFlowMod(
                    datapath=dp,
                    priority=PRIORITY,
                    match=parser.OFPMatch(eth_type=0x0800, ipv4_dst=STEERED_IP),
                    instructions=[
                        parser.OFPInstructionActions(
                            ofp.OFPIT_APPLY_ACTIONS, [parser.OFPActionOutput(self.PORT)]
                        )
                    ],
                )
            )
            self.sent += 1
            if self.sent % 50 == 0:
                self.logger.info('%s: %d flow-mods sent', self.name, self.sent)
            hub.sleep(random.uniform(0.5, 1.5) * INTERVAL_S)  # out of step with the other

    @set_ev_cls(
        ofp_event.EventOFPErrorMsg, [HANDSHAKE_DISPATCHER, CONFIG_DISPATCHER, MAIN_DISPATCHER]
    )
    def _error(self, ev):
        self.logger.info(
            '%s refused: xid=%d type=%d code=%d', self.name, ev.msg.xid, ev.msg.type, ev.msg.code
        )
