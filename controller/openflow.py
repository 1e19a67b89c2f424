"""Small builders for the OpenFlow 1.3 messages the apps send, so that every app writes
its rules the same way (cookie always set, deletes always scoped to a cookie range)."""


def apply_actions(dp, actions):
    return dp.ofproto_parser.OFPInstructionActions(dp.ofproto.OFPIT_APPLY_ACTIONS, actions)


def goto_table(dp, table_id):
    return dp.ofproto_parser.OFPInstructionGotoTable(table_id)


def output(dp, port, max_len=None):
    parser, ofp = dp.ofproto_parser, dp.ofproto
    if max_len is None:
        max_len = ofp.OFPCML_NO_BUFFER
    return parser.OFPActionOutput(port, max_len)


def add_flow(dp, table_id, priority, match, instructions, cookie,
             idle_timeout=0, hard_timeout=0, send_flow_removed=False):
    """Add (or replace, when match and priority are equal) one rule."""
    parser, ofp = dp.ofproto_parser, dp.ofproto
    flags = ofp.OFPFF_SEND_FLOW_REM if send_flow_removed else 0
    dp.send_msg(parser.OFPFlowMod(
        datapath=dp, table_id=table_id, command=ofp.OFPFC_ADD, priority=priority,
        match=match, instructions=instructions, cookie=cookie,
        idle_timeout=idle_timeout, hard_timeout=hard_timeout, flags=flags,
        buffer_id=ofp.OFP_NO_BUFFER))


def delete_flows(dp, cookie, cookie_mask, table_id=None, match=None, out_port=None,
                 priority=None):
    """Delete the rules in the cookie range that also match ``match`` / output to
    ``out_port``; ``priority`` given makes it a strict delete of that one rule."""
    parser, ofp = dp.ofproto_parser, dp.ofproto
    dp.send_msg(parser.OFPFlowMod(
        datapath=dp,
        table_id=ofp.OFPTT_ALL if table_id is None else table_id,
        command=ofp.OFPFC_DELETE if priority is None else ofp.OFPFC_DELETE_STRICT,
        priority=priority or 0,
        cookie=cookie, cookie_mask=cookie_mask,
        out_port=ofp.OFPP_ANY if out_port is None else out_port,
        out_group=ofp.OFPG_ANY,
        match=match if match is not None else parser.OFPMatch()))


def barrier(dp):
    dp.send_msg(dp.ofproto_parser.OFPBarrierRequest(dp))
