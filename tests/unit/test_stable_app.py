"""apps/stable_routing.py's epochs without a switch: what goes into which phase of a
consistent update, a table that fails the check is never installed, and a phase a switch
refuses leaves the epoch in force. The switches are fakes that record what they are sent;
the bundles they are sent are confirmed (or refused) at once. The Mininet tests
(tests/mininet/test_stable_routing.py) run the same paths on Open vSwitch."""

import importlib.util
import logging
import os

import pytest
from ryu.lib import hub
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller import stable_pipeline as pipe
from controller.bundles import Transaction
from controller.sft import Route, Snapshot, StableForwardingTable
from tests.harness.fakes import FakeDatapath
from topologies.numbering import host_mac

APP_PATH = os.path.join(os.path.dirname(__file__), '..', '..', 'apps', 'stable_routing.py')
HOSTS = {host_mac(1): (1, 1), host_mac(2): (2, 1), host_mac(3): (3, 1)}
PORTS = {1: [1, 2, 3], 2: [1, 2, 3], 3: [1, 2, 3]}
LINE = Snapshot.make([1, 2, 3], [(1, 2, 2, 2), (2, 3, 3, 2)], HOSTS, PORTS)
# The same switches once s1:3 - s3:3 is cabled: a triangle.
TRIANGLE = Snapshot.make([1, 2, 3], [(1, 2, 2, 2), (2, 3, 3, 2), (1, 3, 3, 3)], HOSTS,
                         PORTS)


def _load_app_module():
    spec = importlib.util.spec_from_file_location('stable_routing_under_test', APP_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


APP = _load_app_module()


class FakeWSGI:
    def register(self, *args, **kwargs):
        pass


@pytest.fixture
def app(monkeypatch):
    """The app with three fake switches, no drain time, and bundles recorded as
    [(dpid, [messages])] in ``app.bundles_sent``; ``app.refuse`` holds the (call
    number) of bundles the switch refuses."""
    monkeypatch.setattr(APP.CONF.stable_routing, 'drain_time', 0.0, raising=False)
    instance = APP.StableRouting(wsgi=FakeWSGI())
    for thread in instance._threads:       # the loops are driven by hand here
        hub.kill(thread)
    instance.switches = {dpid: APP.SwitchState(FakeDatapath(dpid), instance.conf)
                         for dpid in (1, 2, 3)}
    instance.bundles_sent, instance.refuse = [], set()

    def send(dp, msgs):
        transaction = Transaction(dp.id, len(msgs))
        if len(instance.bundles_sent) in instance.refuse:
            transaction.errors.append((ofp.OFPET_BAD_REQUEST, 0))
        instance.bundles_sent.append((dp.id, list(msgs)))
        transaction.done.set()
        return transaction
    instance.bundles.send = send
    return instance


def epoch_with(app, snapshot):
    """Cut an epoch of ``snapshot`` (one trigger pending); its record."""
    app._snapshot = lambda: snapshot
    app.log.append('link-up', 'test')
    app._run_epoch()
    return app.log.history[-1]


def phases(app, first_call, switches=3):
    """The bundles from call ``first_call`` on, as [phase][dpid] -> messages."""
    calls = app.bundles_sent[first_call:]
    return [dict(calls[i:i + switches]) for i in range(0, len(calls), switches)]


def flow_mods(msgs, table=None, command=ofp.OFPFC_ADD):
    return [m for m in msgs if isinstance(m, parser.OFPFlowMod) and m.command == command
            and (table is None or m.table_id == table)]


def fields(msg):
    return dict(msg.match.items())


def test_an_update_goes_in_three_phases_and_new_links_are_admitted_first(app):
    first = epoch_with(app, LINE)
    assert first.state == 'installed' and app.current[0] is first
    calls = len(app.bundles_sent)
    second = epoch_with(app, TRIANGLE)
    assert second.state == 'installed' and app.current[0] is second
    assert second.install_ms > 0 and second.cleanup_ms >= 0
    internal, ingress, cleanup = phases(app, calls)

    # Phase 1: every switch gets the forward rules of the new version, and s1 and s3
    # admit tagged frames on the new link (port 3) before anyone stamps the version.
    vid = pipe.VID_PRESENT | pipe.version_of(second.number)
    for dpid in (1, 2, 3):
        routes = flow_mods(internal[dpid], pipe.FORWARD_TABLE)
        assert routes and {fields(m)['vlan_vid'] for m in routes} == {vid}
        assert not flow_mods(internal[dpid], pipe.INGRESS_TABLE)
    for dpid in (1, 3):
        admitted = flow_mods(internal[dpid], pipe.ADMISSION_TABLE)
        assert [(fields(m)['in_port'], m.cookie) for m in admitted] == [
            (3, pipe.COOKIES.cookie(pipe.LINK))]
        assert [fields(m) for m in flow_mods(internal[dpid], pipe.ADMISSION_TABLE,
                                             ofp.OFPFC_DELETE_STRICT)] == [{'in_port': 3}]
    assert not flow_mods(internal[2], pipe.ADMISSION_TABLE)

    # Phase 2: the ingress rule stamps the new version; the link admission is not sent
    # again (phase 1 put it there).
    for dpid in (1, 2, 3):
        stamps = flow_mods(ingress[dpid], pipe.INGRESS_TABLE)
        assert [m.cookie for m in stamps] == [pipe.epoch_cookie(pipe.INGRESS,
                                                                 second.number)]
        assert all(fields(m).get('vlan_vid') != pipe.TAGGED
                   for m in flow_mods(ingress[dpid], pipe.ADMISSION_TABLE))

    # Phase 3: the previous epoch's forward rules go.
    for dpid in (1, 2, 3):
        deleted = flow_mods(cleanup[dpid], pipe.FORWARD_TABLE, ofp.OFPFC_DELETE)
        assert [m.cookie for m in deleted] == [pipe.epoch_cookie(pipe.ROUTE, first.number)]


def test_a_table_that_fails_the_check_is_never_installed(app, monkeypatch, caplog):
    """A (deliberately wrong) table in which s2 sends traffic for s3's host back to s1
    and s1 to s2: the check names the loop, nothing reaches a switch, and the epoch in
    force stays."""
    installed = epoch_with(app, LINE)
    calls = len(app.bundles_sent)
    looping = {3: {1: Route(2), 2: Route(2)}, 1: {2: Route(2), 3: Route(2)},
               2: {1: Route(2), 3: Route(3)}}
    monkeypatch.setattr(APP, 'compute_sft',
                        lambda snapshot: StableForwardingTable(snapshot.hosts, looping))
    with caplog.at_level(logging.ERROR):
        record = epoch_with(app, LINE)
    assert record.state == 'rejected'
    assert any(p.startswith('loop towards switch 3 at 1 -> 2 -> 1') for p in record.problems), \
        record.problems
    assert 'epoch %d rejected, not installed: loop towards switch 3' % record.number \
        in caplog.text
    assert len(app.bundles_sent) == calls
    assert all(not sw.dp.sent for sw in app.switches.values())
    assert app.current[0] is installed


def test_a_refused_phase_1_leaves_the_epoch_in_force(app):
    """s2 refuses the new epoch's forward rules: no switch is told to stamp the new
    version, the half-installed rules are deleted everywhere, the epoch in force stays,
    and the next epoch rewrites the port rules of every switch in full."""
    installed = epoch_with(app, LINE)
    calls = len(app.bundles_sent)
    app.refuse = {calls + 1}                # s2's bundle of phase 1
    record = epoch_with(app, TRIANGLE)
    assert record.state == 'failed' and app.current[0] is installed
    assert record.problems == ['internal rules not confirmed by every switch']
    assert len(app.bundles_sent) == calls + 3       # phase 1 only
    for sw in app.switches.values():
        deleted, = [m for m in sw.dp.sent if m.command == ofp.OFPFC_DELETE]
        assert (deleted.table_id, deleted.cookie) == (
            pipe.FORWARD_TABLE, pipe.epoch_cookie(pipe.ROUTE, record.number))
        assert sw.port_rules is None
    app.refuse = set()
    again = epoch_with(app, TRIANGLE)
    assert again.state == 'installed' and app.current[0] is again


def test_a_link_no_longer_routed_admits_tagged_frames_until_phase_3(app):
    """s1:3 - s3:3 goes: frames of the previous epoch may still cross it after some
    switches stamp the new version, so s1 and s3 keep admitting tagged frames on port 3
    through phase 2 and stop in phase 3."""
    epoch_with(app, TRIANGLE)
    calls = len(app.bundles_sent)
    record = epoch_with(app, LINE)
    assert record.state == 'installed'
    internal, ingress, cleanup = phases(app, calls)
    tagged_on_3 = {'in_port': 3, 'vlan_vid': pipe.TAGGED}
    for dpid in (1, 3):
        assert tagged_on_3 not in [fields(m) for m in flow_mods(
            ingress[dpid], pipe.ADMISSION_TABLE, ofp.OFPFC_DELETE_STRICT)]
        assert tagged_on_3 in [fields(m) for m in flow_mods(
            cleanup[dpid], pipe.ADMISSION_TABLE, ofp.OFPFC_DELETE_STRICT)]
        assert app.switches[dpid].port_rules == pipe.port_rules(LINE, dpid) | {
            pipe.ingress_rule(record.number)}
    assert not flow_mods(cleanup[2], pipe.ADMISSION_TABLE, ofp.OFPFC_DELETE_STRICT)
