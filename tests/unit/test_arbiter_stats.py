"""controller/arbiter/stats.py: a flow-stats reply as the app that asked sees it (its
own rules only, at the priority, cookie and table it asked for), the request put in its
terms, and replies to no app's request left alone."""

from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.arbiter.engine import Arbiter
from controller.arbiter.policy import load_arbiter_policy_text
from controller.cookies import APP_IDS, APP_SHIFT
from tests.harness.fakes import FakeDatapath
from tests.unit.test_arbiter_engine import flow_mod, output

# examples/arbiter/tenant_fabric.yaml's clauses: the firewall a deny-list, first
DENY_LIST = """
order: [rest_firewall, vswitch_policy]
apps:
  rest_firewall:
    security: true
    flowspace: [{eth_type: 0x800}, {eth_type: 0x86dd}]
    may: [drop, controller]
"""
VSWITCH = APP_IDS['vswitch_policy'] << APP_SHIFT
DENY = {'eth_type': 0x800, 'ipv4_src': '10.1.0.1', 'ipv4_dst': '10.1.0.7', 'ip_proto': 1}


def switch_table(sent):
    """What the switch would report: an OFPFlowStats per rule the arbiter installed."""
    rules = {}
    for msg in sent:
        key = (msg.table_id, msg.priority, str(msg.match))
        if msg.command == ofp.OFPFC_ADD:
            rules[key] = msg
        elif msg.command == ofp.OFPFC_DELETE_STRICT:
            rules.pop(key, None)
    return [
        parser.OFPFlowStats(
            table_id=m.table_id,
            duration_sec=1,
            duration_nsec=0,
            priority=m.priority,
            idle_timeout=0,
            hard_timeout=0,
            flags=0,
            cookie=m.cookie,
            packet_count=5,
            byte_count=500,
            match=m.match,
            instructions=m.instructions,
        )
        for m in rules.values()
    ]


def composed(policy=DENY_LIST):
    """vswitch_policy's table-0 default and a learned host in table 3 (a table it alone
    writes to), and rest_firewall's start: block-all, ARP allow, log table-miss (all
    refused by the policy), then a deny of its own."""
    sent = []
    engine = Arbiter(
        load_arbiter_policy_text(policy, 'p.yaml'),
        send=lambda dp, msg: sent.append(msg),
        notify=lambda app, dp, msg, decision: None,
    )
    dp = FakeDatapath()
    goto1 = [parser.OFPInstructionGotoTable(1)]
    default = flow_mod(dp, 20, cookie=VSWITCH | 0x11)
    default.instructions = goto1
    engine.flow_mod(dp, 'vswitch_policy', default)
    learned = flow_mod(
        dp, 100, output(2), cookie=VSWITCH | 0x22, table_id=3, eth_dst='00:00:00:00:00:07'
    )
    engine.flow_mod(dp, 'vswitch_policy', learned)
    engine.flow_mod(dp, 'rest_firewall', flow_mod(dp, 65535))  # block-all
    engine.flow_mod(
        dp, 'rest_firewall', flow_mod(dp, 65534, output(ofp.OFPP_NORMAL), eth_type=0x806)
    )
    engine.flow_mod(dp, 'rest_firewall', flow_mod(dp, 0, output(ofp.OFPP_CONTROLLER)))  # log
    engine.flow_mod(dp, 'rest_firewall', flow_mod(dp, 10, [], cookie=0x1, **DENY))
    return engine, dp, sent


def test_the_firewall_sees_its_deny_rule_as_it_asked_and_nothing_else():
    engine, _, sent = composed()
    stats = switch_table(sent)
    assert len(stats) == 3  # the firewall's start was refused: only its deny went
    (installed_deny,) = [s for s in stats if s.cookie >> APP_SHIFT >= 0x8000]
    assert installed_deny.priority > 10  # placed above vswitch_policy's default
    (deny,) = engine.flow_stats.view('rest_firewall', 1, switch_table(sent))
    assert (deny.table_id, deny.priority, deny.cookie) == (0, 10, 0x1)
    assert dict(deny.match.items())['ipv4_dst'] == '10.1.0.7'
    assert deny.packet_count == 5  # the switch's counters
    # rest_firewall's readings: no rule at 65535 (enabled), none at 0 (log off)
    assert not [s for s in [deny] if s.priority in (0, 65535)]


def test_an_app_of_ours_sees_its_rules_in_every_table_including_single_app_ones():
    engine, _, sent = composed()
    view = engine.flow_stats.view('vswitch_policy', 1, switch_table(sent))
    assert sorted((s.table_id, s.priority, s.cookie) for s in view) == [
        (0, 20, VSWITCH | 0x11),
        (3, 100, VSWITCH | 0x22),
    ]


def test_a_reply_goes_to_the_app_that_asked_in_parts_and_others_pass():
    engine, dp, sent = composed()
    request = parser.OFPFlowStatsRequest(dp, table_id=ofp.OFPTT_ALL)
    dp.set_xid(request)
    engine.flow_stats.asked(dp, 'rest_firewall', request)
    assert (request.cookie, request.cookie_mask) == (0, 0)  # no filter: none added
    reply = parser.OFPFlowStatsReply(dp)
    reply.xid, reply.body = request.xid, switch_table(sent)
    assert engine.flow_stats.answer(reply, last=False) == 'rest_firewall'
    assert [s.priority for s in reply.body] == [10]
    more = parser.OFPFlowStatsReply(dp)
    more.xid, more.body = request.xid, switch_table(sent)
    assert engine.flow_stats.answer(more, last=True) == 'rest_firewall'
    again = parser.OFPFlowStatsReply(dp)
    again.xid, again.body = request.xid, switch_table(sent)
    assert engine.flow_stats.answer(again, last=True) is None  # answered: forgotten
    assert len(again.body) == 3  # a reply to no app's request is left as it is


def test_a_request_names_the_apps_cookie_and_stage_table_as_installed():
    engine, dp, _ = composed(DENY_LIST + 'pipeline: [[vswitch_policy], [rest_firewall]]\n')
    request = parser.OFPFlowStatsRequest(dp, table_id=0, cookie=0x1, cookie_mask=0xFFFF)
    dp.set_xid(request)
    engine.flow_stats.asked(dp, 'rest_firewall', request)
    _, base, _ = engine.policy.stage_of('rest_firewall')
    assert base > 0 and request.table_id == base
    assert request.cookie >> APP_SHIFT == engine.cookies.app_id('rest_firewall')
    assert request.cookie_mask >> APP_SHIFT == 0xFFFF and request.cookie & 0xFFFF == 0x1
    engine.switch_gone(dp.id)
    reply = parser.OFPFlowStatsReply(dp)
    reply.xid, reply.body = request.xid, []
    assert engine.flow_stats.answer(reply, last=True) is None  # its switch went
