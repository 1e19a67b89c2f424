"""The "ceiling" app: answers every packet-in with exactly one FLOW_MOD, nothing else.

It measures Ryu itself: what remains is Ryu's receive loop (reading, parsing the
PACKET_IN, dispatching the event to this app) and its send loop, so ``bench.cbench``
against this app gives the upper bound of any Ryu 4.34 OpenFlow 1.3 app on the machine.

The rule matches in_port and the frame's eth_dst (read straight from the first six
bytes of the data, no packet library), applies OUTPUT:FLOOD, priority 1, idle timeout
30 s, and carries the packet-in's buffer id. It is packed by one precompiled
``struct`` instead of Ryu's OFPMatch/OFPFlowMod serializers, which would cost more than
the whole rest of the handler. Not a forwarding app: do not use it on a real network.

    ryu-manager bench/apps/one_flowmod.py
"""

import itertools
import struct

from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.ofproto import ofproto_v1_3 as ofp

PRIORITY = 1
IDLE_TIMEOUT = 30
COOKIE = 0

# header | flow_mod fields | match: in_port, eth_dst (+2 pad) | APPLY_ACTIONS | OUTPUT
_FLOW_MOD = struct.Struct('!BBHIQQBBHHHIIIH2xHHIII6s2xHH4xHHIH6x')
FLOW_MOD_LEN = _FLOW_MOD.size  # 96
_MATCH_LEN = 4 + 8 + 10  # type/length + in_port OXM + eth_dst OXM
_OXM_IN_PORT = (0x8000 << 16) | (ofp.OFPXMT_OFB_IN_PORT << 9) | 4
_OXM_ETH_DST = (0x8000 << 16) | (ofp.OFPXMT_OFB_ETH_DST << 9) | 6


def flow_mod_bytes(xid, in_port, eth_dst, buffer_id=ofp.OFP_NO_BUFFER, out_port=ofp.OFPP_FLOOD):
    """OFPT_FLOW_MOD ADD: match in_port + eth_dst (6 bytes), apply OUTPUT:out_port."""
    return _FLOW_MOD.pack(
        ofp.OFP_VERSION,
        ofp.OFPT_FLOW_MOD,
        FLOW_MOD_LEN,
        xid,
        COOKIE,
        0,
        0,
        ofp.OFPFC_ADD,
        IDLE_TIMEOUT,
        0,
        PRIORITY,
        buffer_id,
        ofp.OFPP_ANY,
        ofp.OFPG_ANY,
        0,
        ofp.OFPMT_OXM,
        _MATCH_LEN,
        _OXM_IN_PORT,
        in_port,
        _OXM_ETH_DST,
        eth_dst,
        ofp.OFPIT_APPLY_ACTIONS,
        8 + 16,
        ofp.OFPAT_OUTPUT,
        16,
        out_port,
        ofp.OFPCML_NO_BUFFER,
    )


class OneFlowMod(app_manager.RyuApp):
    OFP_VERSIONS = [ofp.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._xids = itertools.count(1)

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features_handler(self, ev):
        dp = ev.msg.datapath
        parser = dp.ofproto_parser
        actions = [parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)]
        inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
        dp.send_msg(
            parser.OFPFlowMod(
                datapath=dp, cookie=COOKIE, priority=0, match=parser.OFPMatch(), instructions=inst
            )
        )

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in_handler(self, ev):
        msg = ev.msg
        data = msg.data
        if len(data) < 6:
            return
        dp = msg.datapath
        dp.send(
            flow_mod_bytes(
                next(self._xids) & 0xFFFFFFFF, msg.match['in_port'], bytes(data[:6]), msg.buffer_id
            )
        )
