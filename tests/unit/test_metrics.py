"""controller/metrics: the OpenFlow counters at the places of Ryu every message passes,
the statistics poller, the app sources, and GET /metrics through Ryu's WSGI."""

import struct
import types

import pytest
from prometheus_client.parser import text_string_to_metric_families
from ryu.app.wsgi import WSGIApplication
from ryu.base import app_manager  # noqa: F401  (ryu.controller.controller needs it first)
from ryu.controller import controller as ryu_controller
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER
from ryu.ofproto import ofproto_common
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser
from webob import Request

from controller import app_base, metrics  # noqa: F401  (app_base installs the wrappers)
from controller.learning import MacTable
from controller.metrics import openflow as of_metrics
from controller.metrics.collectors import (
    EpochMetrics,
    LearnBans,
    ReloadStatus,
    arbiter_families,
    learning_families,
    policy_hash,
)
from tests.harness.fakes import FakeDatapath


def samples(families):
    """{(name, sorted labels): value} of metric families."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in families
        for s in family.samples
    }


def samples_of_text(text):
    """samples() of a /metrics answer."""
    return samples(text_string_to_metric_families(text))


def header(msg_type, length, xid=0):
    return struct.pack('!BBHI', ofp.OFP_VERSION, msg_type, length, xid)


def serialized(msg):
    msg.serialize()
    return bytes(msg.buf)


@pytest.fixture
def counters():
    return of_metrics.OpenFlowCounters()


def test_flow_messages_are_counted_from_the_headers_of_a_buffer():
    dp = FakeDatapath(1)
    flow = serialized(parser.OFPFlowMod(dp, match=parser.OFPMatch(in_port=1)))
    group = serialized(parser.OFPGroupMod(dp, group_id=1, type_=ofp.OFPGT_FF, buckets=[]))
    packet_out = serialized(
        parser.OFPPacketOut(dp, ofp.OFP_NO_BUFFER, ofp.OFPP_CONTROLLER, [], b'x' * 60)
    )
    bundle_add = serialized(parser.ONFBundleAddMsg(dp, 1, 0, parser.OFPFlowMod(dp), []))
    barrier = serialized(parser.OFPBarrierRequest(dp))
    assert of_metrics.flow_messages(flow) == 1
    assert of_metrics.flow_messages(flow + group + packet_out + bundle_add + barrier) == 3
    assert of_metrics.flow_messages(packet_out + barrier) == 0
    # A header that lies about its length ends the count instead of looping.
    assert of_metrics.flow_messages(header(ofp.OFPT_FLOW_MOD, 0) + flow) == 1
    assert of_metrics.flow_messages(flow[:3]) == 0
    other_experimenter = header(ofp.OFPT_EXPERIMENTER, 16) + struct.pack(
        '!II', 0x2320, ofp.ONF_ET_BUNDLE_ADD_MESSAGE
    )
    assert of_metrics.flow_messages(other_experimenter) == 0
    assert ofproto_common.ONF_EXPERIMENTER_ID != 0x2320


def test_ryu_is_wrapped_once_and_the_arbiter_sends_through_the_counter():
    import apps.arbiter  # noqa: F401  (patches Datapath as in ryu-manager)
    from controller.arbiter import interpose

    of_metrics.install()  # again: nothing changes
    assert ofp_event.ofp_msg_to_ev is of_metrics._msg_to_ev
    assert interpose._ORIGINAL_SEND is of_metrics._send
    assert ryu_controller.Datapath.set_state is of_metrics._set_state


@pytest.fixture
def ryu_as_it_is(monkeypatch):
    """Whatever the test does to Ryu's functions and the wrappers' state is undone."""
    monkeypatch.setattr(ofp_event, 'ofp_msg_to_ev', ofp_event.ofp_msg_to_ev)
    monkeypatch.setattr(ryu_controller.Datapath, 'send', ryu_controller.Datapath.send)
    monkeypatch.setattr(ryu_controller.Datapath, 'set_state', ryu_controller.Datapath.set_state)
    monkeypatch.setattr(of_metrics, '_wrapped', dict(of_metrics._wrapped))


def test_uninstall_puts_back_what_is_still_ours(ryu_as_it_is):
    ryu_send = of_metrics._wrapped['send']
    ryu_controller.Datapath.send = of_metrics._send  # as if nobody had wrapped it since
    ryu_controller.Datapath.set_state = lambda self, state: None  # someone else's
    of_metrics.uninstall()
    assert ofp_event.ofp_msg_to_ev is not of_metrics._msg_to_ev
    assert ryu_controller.Datapath.send is ryu_send
    # The wrapper under someone else's stays, and still works.
    assert 'set_state' in of_metrics._wrapped and 'send' not in of_metrics._wrapped
    of_metrics.uninstall()  # again: nothing more to put back
    of_metrics.install()
    assert ryu_controller.Datapath.send is of_metrics._send
    assert of_metrics._wrapped['send'] is ryu_send


def received(msg, xid=0):
    """``msg`` as Ryu's receive loop hands it on once parsed: its header set, made an
    event of."""
    msg.set_headers(ofp.OFP_VERSION, msg.cls_msg_type, 0, xid)
    return ofp_event.ofp_msg_to_ev(msg)


def test_messages_from_switches_are_counted_per_switch_and_type(monkeypatch, counters):
    monkeypatch.setattr(of_metrics, 'OPENFLOW', counters)
    dp = FakeDatapath(5)
    packet_in = parser.OFPPacketIn(
        dp, ofp.OFP_NO_BUFFER, 60, ofp.OFPR_NO_MATCH, 0, 0, parser.OFPMatch(in_port=1), b'x' * 60
    )
    for _ in range(3):
        assert isinstance(received(packet_in), ofp_event.EventOFPPacketIn)
    received(parser.OFPErrorMsg(dp, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_EPERM, b''))
    found = samples(counters.collect())
    labels = (('dp_id', '0x5'), ('dp_name', '0000000000000005'))
    assert found[('sdn_of_packet_ins_total', labels)] == 3
    assert found[('sdn_of_errors_total', labels)] == 1
    assert found[('sdn_of_msgs_received_total', labels + (('type', 'packet_in'),))] == 3
    assert found[('sdn_of_msgs_received_total', labels + (('type', 'error'),))] == 1


class CountingDatapath(ryu_controller.Datapath):
    """Ryu's Datapath without a socket: its send queue is a list."""

    def __init__(self, dpid):  # Ryu's needs a socket and address
        self.id, self.state, self.xid = dpid, CONFIG_DISPATCHER, 0
        self.send_q, self.ports = [], {}
        self.ofproto, self.ofproto_parser = ofp, parser
        self.ofp_brick = types.SimpleNamespace(send_event_to_observers=lambda ev, state: None)

    class _Sem:
        def acquire(self):
            pass

        def release(self):
            pass

    _send_q_sem = _Sem()


def test_sends_connections_and_ports_through_ryus_datapath(monkeypatch, counters):
    monkeypatch.setattr(of_metrics, 'OPENFLOW', counters)
    monkeypatch.setattr(CountingDatapath, 'send_q', None, raising=False)
    dp = CountingDatapath(1)
    dp.send_q = types.SimpleNamespace(put=lambda item: None)
    dp.send_msg(parser.OFPFlowMod(dp, match=parser.OFPMatch(in_port=1)))
    dp.send_msg(parser.OFPBarrierRequest(dp))
    dp.set_state(MAIN_DISPATCHER)
    dp.ports = {
        1: parser.OFPPort(1, b'\0' * 6, b's1-eth1', 0, 0, 0, 0, 0, 0, 0, 0),
        2: parser.OFPPort(2, b'\0' * 6, b's1-eth2', 0, ofp.OFPPS_LINK_DOWN, 0, 0, 0, 0, 0, 0),
        ofp.OFPP_LOCAL: parser.OFPPort(ofp.OFPP_LOCAL, b'\0' * 6, b's1', 0, 0, 0, 0, 0, 0, 0, 0),
    }
    labels = (('dp_id', '0x1'), ('dp_name', '0000000000000001'))
    found = samples(counters.collect())
    assert found[('sdn_of_flowmsgs_sent_total', labels)] == 1
    assert found[('sdn_of_dp_connections_total', labels)] == 1
    assert found[('sdn_dp_status', labels)] == 1
    assert found[('sdn_port_status', labels + (('port', '1'),))] == 1
    assert found[('sdn_port_status', labels + (('port', '2'),))] == 0
    assert ('sdn_port_status', labels + (('port', str(ofp.OFPP_LOCAL)),)) not in found
    # A second connection of the dpid takes over; the first one's end is a
    # disconnection, but the switch stays up.
    newer = CountingDatapath(1)
    newer.set_state(MAIN_DISPATCHER)
    dp.set_state(DEAD_DISPATCHER)
    found = samples(counters.collect())
    assert found[('sdn_of_dp_connections_total', labels)] == 2
    assert found[('sdn_of_dp_disconnections_total', labels)] == 1
    assert found[('sdn_dp_status', labels)] == 1
    newer.set_state(DEAD_DISPATCHER)
    found = samples(counters.collect())
    assert found[('sdn_dp_status', labels)] == 0
    assert found[('sdn_of_dp_disconnections_total', labels)] == 2
    # A connection that never reached MAIN is no disconnection.
    CountingDatapath(1).set_state(DEAD_DISPATCHER)
    assert samples(counters.collect())[('sdn_of_dp_disconnections_total', labels)] == 2


def test_the_poller_keeps_statistics_and_no_app_sees_its_replies(monkeypatch, counters):
    monkeypatch.setattr(of_metrics, 'OPENFLOW', counters)
    poller = of_metrics.StatsPoller(counters)
    monkeypatch.setattr(of_metrics, 'POLLER', poller)
    assert list(poller.collect()) == []  # nobody asked for it
    assert poller.claim() and not poller.claim()
    dp = FakeDatapath(2)
    counters.connected[2] = dp
    poller.poll()
    port_request, flow_request = dp.sent
    assert isinstance(port_request, parser.OFPPortStatsRequest)
    assert isinstance(flow_request, parser.OFPFlowStatsRequest)
    stat = parser.OFPPortStats(3, 10, 20, 1000, 2000, 1, 2, 3, 4, 0, 0, 0, 0, 5, 0)
    first = parser.OFPPortStatsReply(dp, flags=ofp.OFPMPF_REPLY_MORE, body=[stat])
    first_event = received(first, port_request.xid)
    assert isinstance(first_event, of_metrics.EventStatsTaken)
    assert poller.ports == {}  # more parts to come
    last = parser.OFPPortStatsReply(dp, flags=0, body=[stat._replace(port_no=4)])
    received(last, port_request.xid)
    flow = parser.OFPFlowStats(
        table_id=1,
        priority=10,
        cookie=0x20,
        packet_count=7,
        byte_count=700,
        match=parser.OFPMatch(in_port=1),
        instructions=[],
    )
    reply = parser.OFPFlowStatsReply(dp, flags=0, body=[flow])
    assert isinstance(received(reply, flow_request.xid), of_metrics.EventStatsTaken)
    # A reply to someone else's request is theirs.
    other = parser.OFPFlowStatsReply(dp, flags=0, body=[flow])
    assert isinstance(received(other, 999), ofp_event.EventOFPFlowStatsReply)
    found = samples(poller.collect())
    labels = (('dp_id', '0x2'), ('dp_name', '0000000000000002'))
    assert found[('sdn_of_port_rx_packets', labels + (('port', '3'),))] == 10
    assert found[('sdn_of_port_tx_bytes', labels + (('port', '4'),))] == 2000
    flow_labels = labels + (
        ('cookie', '0x20'),
        ('match', 'in_port=1'),
        ('priority', '10'),
        ('table_id', '1'),
    )
    assert found[('sdn_flow_packet_count', tuple(sorted(flow_labels)))] == 7
    assert found[('sdn_flow_byte_count', tuple(sorted(flow_labels)))] == 700
    # A switch gone is forgotten at the next round.
    del counters.connected[2]
    poller.poll()
    assert poller.ports == {} and poller.flows == {}


def test_learned_hosts_and_bans_per_switch_vlan_and_port():
    table = MacTable(2, 60)
    table.learn('00:00:00:00:00:01', 1)
    table.learn('00:00:00:00:00:02', 1)
    table.learn('00:00:00:00:00:03', 2)
    table.learn('00:00:00:00:00:04', 1)  # over the limit: banned
    bans = LearnBans()
    bans.ban(1, 1, '100')
    found = samples(learning_families([(1, '100', [1, 2, 3], table)], bans))
    switch = (('dp_id', '0x1'), ('dp_name', '0000000000000001'))
    assert found[('sdn_vlan_hosts_learned', switch + (('vlan', '100'),))] == 3
    port1 = switch + (('port', '1'), ('vlan', '100'))
    assert found[('sdn_port_vlan_hosts_learned', port1)] == 2
    assert found[('sdn_port_learn_banned', port1)] == 1
    assert found[('sdn_port_learn_bans_total', port1)] == 1
    assert ('sdn_port_vlan_hosts_learned', switch + (('port', '3'), ('vlan', '100'))) not in found


def test_reload_status_counts_and_keeps_the_last_result():
    status = ReloadStatus('vswitch_policy')
    status.loaded(policy_hash({'vlans': {}}))
    start_hash = status.policy_hash
    assert start_hash == policy_hash({'vlans': {}}) and len(start_hash) == 64
    status.requested()
    status.refused_policy('SIGHUP', 'f.yaml:3: vlans: expected a mapping\n\n')
    assert status.last['errors'] == ['f.yaml:3: vlans: expected a mapping']
    app = (('app', 'vswitch_policy'),)
    found = samples(status.families())
    assert found[('sdn_config_load_error', app)] == 1
    assert found[('sdn_config_reload_refused_total', app)] == 1
    assert found[('sdn_config_hash_info', app + (('hash', start_hash),))] == 1
    status.requested()
    status.applied_policy('REST request', policy_hash({'vlans': {'red': {}}}), 4)
    found = samples(status.families())
    assert found[('sdn_config_load_error', app)] == 0
    assert found[('sdn_config_reload_requests_total', app)] == 2
    assert found[('sdn_config_reload_applied_total', app)] == 1
    assert status.last['rule_changes'] == 4 and status.policy_hash != start_hash


def test_epochs_their_times_and_failovers():
    from controller.stable.epochs import EpochRecord
    from controller.stable.sft import Route

    epochs = EpochMetrics()
    record = EpochRecord(3, 0.0, [], compute_ms=2.0, check_ms=0.5, install_ms=30.0)
    record.state = 'installed'
    epochs.observe(record)
    rejected = EpochRecord(4, 0.0, [], compute_ms=1.0)
    rejected.state = 'rejected'
    epochs.observe(rejected)
    current = types.SimpleNamespace(
        record=record,
        sft=types.SimpleNamespace(
            routes={
                10: {1: Route(port=2, backup=3), 2: Route(port=1)},
                20: {1: Route(port=2, backup=None), 2: Route(port=5)},
            }
        ),
    )
    epochs.port_down(current, 1, 2)
    epochs.port_down(None, 1, 2)  # no epoch yet: nothing to fail over
    app = types.SimpleNamespace(
        current=current, log=types.SimpleNamespace(pending=(1, 2)), hosts={'a': 1}
    )
    found = samples(epochs.families(app))
    assert found[('sdn_stable_epochs_total', (('state', 'installed'),))] == 1
    assert found[('sdn_stable_epochs_total', (('state', 'rejected'),))] == 1
    assert found[('sdn_stable_epoch_seconds_count', (('step', 'compute'),))] == 2
    assert found[('sdn_stable_epoch_seconds_count', (('step', 'install'),))] == 1
    assert found[('sdn_stable_epoch_seconds_bucket', (('le', '0.05'), ('step', 'install')))] == 1
    switch = (('dp_id', '0x1'), ('dp_name', '0000000000000001'))
    assert found[('sdn_stable_failovers_total', switch)] == 1
    assert found[('sdn_stable_unprotected_next_hops_lost_total', switch)] == 1
    assert found[('sdn_stable_epoch', ())] == 3
    assert found[('sdn_stable_pending_triggers', ())] == 2


def test_arbiter_decisions_conflicts_damping_and_rules():
    arbiter = types.SimpleNamespace(
        counts={('simple_switch_13', 'install'): 5, ('rest_firewall', 'refuse'): 1},
        conflicts=lambda: [{'state': 'held back'}, {'state': 'shared'}, {'state': 'shared'}],
        damped=lambda: [{'dpid': 1}],
        rule_counts=lambda: {'simple_switch_13': {1: 4}},
    )
    found = samples(arbiter_families(arbiter))
    decisions = 'sdn_arbiter_decisions_total'
    assert found[(decisions, (('app', 'simple_switch_13'), ('outcome', 'install')))] == 5
    assert found[('sdn_arbiter_conflicts', (('state', 'shared'),))] == 2
    assert found[('sdn_arbiter_conflicts', (('state', 'rewritten'),))] == 0
    assert found[('sdn_arbiter_damped_regions', ())] == 1
    rules = (('app', 'simple_switch_13'), ('dp_id', '0x1'), ('dp_name', '0000000000000001'))
    assert found[('sdn_arbiter_rules', rules)] == 4


def test_get_metrics_through_ryus_wsgi_and_a_failing_source_is_left_out(caplog):
    wsgi = WSGIApplication()
    metrics.serve(wsgi)
    metrics.serve(wsgi)  # a second app of the process: one route
    assert len(wsgi.mapper.matchlist) == 1

    def broken():
        raise RuntimeError('a bug')

    metrics.add_source('test broken', broken)
    metrics.add_source('test good', lambda: [metrics.gauge('test_value', 'a value')])
    try:
        reply = Request.blank('/metrics').get_response(wsgi)
    finally:
        metrics.remove_source('test broken')
        metrics.remove_source('test good')
    assert reply.status_int == 200
    assert reply.content_type == 'text/plain'
    assert '# TYPE sdn_test_value gauge' in reply.text
    assert 'sdn_of_packet_ins_total' in reply.text or '# TYPE sdn_of_packet_ins' in reply.text
    assert 'source test broken failed' in caplog.text
