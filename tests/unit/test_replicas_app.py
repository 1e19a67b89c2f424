"""apps/stable_routing.py as a replica (controller/replicas/ryu_app.py, takeover.py)
without a switch but with a real etcd: what it sends to a switch as master and as
slave, how it follows committed epochs, and what it takes over when elected."""

import dataclasses
import logging
from types import SimpleNamespace

import pytest
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller import app_base
from controller.replicas.ryu_app import role_error_text, role_request
from controller.replicas.takeover import take_over_rules
from controller.stable.epochs import UpdateLog
from controller.stable.sft import compute_sft
from controller.stable.update import SwitchRules, plan_update, port_rule_changes
from tests.harness.etcd import running_etcd
from tests.harness.fakes import FakeDatapath
from tests.harness.stable_app import connect, make_app
from tests.harness.stable_fakes import LINE

LOG = logging.getLogger('test_replicas_app')


@pytest.fixture(scope='module')
def etcd_server():
    with running_etcd() as server:
        yield server


def replica_app(monkeypatch, etcd, name, prefix):
    for option, value in dict(
        endpoints=[etcd.endpoint],
        replica_id=name,
        lease_ttl=1,
        prefix=prefix,
        poll_interval=0.1,
        etcd_timeout=0.3,
    ).items():
        monkeypatch.setattr(app_base.CONF.replicas, option, value, raising=False)
    return make_app(monkeypatch)


def roles_sent(sw):
    return [(m.role, m.generation_id) for m in sw.dp.sent if isinstance(m, parser.OFPRoleRequest)]


def flow_mods(sw):
    """The flow-mods written to ``sw`` (send_together writes them in one buffer)."""
    return [t for types in sw.dp.written for t in types if t == ofp.OFPT_FLOW_MOD] + [
        m for m in sw.dp.sent if isinstance(m, parser.OFPFlowMod)
    ]


# --- pure parts ------------------------------------------------------------------------


def test_role_requests_and_the_switch_refusals_named():
    dp = FakeDatapath(1)
    master = role_request(dp, True, 42)
    assert (master.role, master.generation_id) == (ofp.OFPCR_ROLE_MASTER, 42)
    assert role_request(dp, False, 42).role == ofp.OFPCR_ROLE_SLAVE
    stale = SimpleNamespace(type=ofp.OFPET_ROLE_REQUEST_FAILED, code=ofp.OFPRRFC_STALE)
    assert 'STALE' in role_error_text(stale)
    slave = SimpleNamespace(type=ofp.OFPET_BAD_REQUEST, code=ofp.OFPBRC_IS_SLAVE)
    assert 'IS_SLAVE' in role_error_text(slave)
    assert role_error_text(SimpleNamespace(type=ofp.OFPET_BAD_REQUEST, code=0)) is None


def test_discarded_triggers_leave_the_others_coalescing():
    log = UpdateLog(0.5, 5.0)
    a = log.append('port-down', 'a', key=('port-down', 1, 1))
    b = log.append('port-down', 'b', key=('port-down', 1, 2))
    assert log.discard({a.id}) == 1
    again = log.append('port-down', 'b again', key=('port-down', 1, 2))
    assert again.id == b.id and again.events == 2
    assert [t.id for t in log.pending] == [b.id]


def test_rules_taken_over_need_no_change():
    switches = [SwitchRules(FakeDatapath(dpid)) for dpid in (1, 2, 3)]
    sft = compute_sft(LINE)
    take_over_rules(7, LINE, sft, switches)
    plan = plan_update(7, LINE, sft, switches)
    for sw in switches:
        assert sw.stable is sft and sw.next_admitted == 8
        assert port_rule_changes(sw, plan.plans[sw.dp.id].port_rules) == []


# --- the app -------------------------------------------------------------------------


def test_without_endpoints_the_app_is_alone(monkeypatch):
    monkeypatch.setattr(app_base.CONF.replicas, 'endpoints', [], raising=False)
    app = make_app(monkeypatch)
    assert app.replicas is None and app.leads_epochs() and app.probes_links()
    sw = connect(app, 1)
    assert flow_mods(sw) and not roles_sent(sw)


def test_master_sends_rules_after_its_role_and_the_slave_sends_none(monkeypatch, etcd_server):
    prefix = '/app-roles/'
    a = replica_app(monkeypatch, etcd_server, 'a', prefix)
    b = replica_app(monkeypatch, etcd_server, 'b', prefix)
    at_a, at_b = connect(a, 1), connect(b, 1)
    assert not flow_mods(at_a) and not flow_mods(at_b)  # nobody is master yet
    a._replicas_tick()
    [(role, generation)] = roles_sent(at_a)
    assert role == ofp.OFPCR_ROLE_MASTER and generation > 0
    assert flow_mods(at_a)  # the base rules, once the role request is on its way
    assert a.masters(1) and a.leads_epochs() and a.probes_links()
    b._replicas_tick()
    assert roles_sent(at_b) == [(ofp.OFPCR_ROLE_SLAVE, generation)]
    assert not flow_mods(at_b) and not b.masters(1) and not b.probes_links()
    a.replicas.stop()
    b.replicas.stop()


def test_a_follower_holds_the_committed_epoch_and_takes_its_rules_over(monkeypatch, etcd_server):
    prefix = '/app-takeover/'
    a = replica_app(monkeypatch, etcd_server, 'a', prefix)
    b = replica_app(monkeypatch, etcd_server, 'b', prefix)
    for dpid in (1, 2, 3):
        connect(a, dpid)
        connect(b, dpid)
    a._replicas_tick()
    b._replicas_tick()
    sft = compute_sft(LINE)
    assert a.replicas.commit(1, LINE, sft) is None
    a.replicas.installed(1, 'installed', complete=True)
    b._replicas_tick()
    assert b.current.record.number == 1 and b.current.record.state == 'followed'
    assert b.epoch == 1 and dict(b.hosts.items()) == dict(LINE.hosts)
    assert all(sw.port_rules is None for sw in b.switches.values())
    # a dies: its lease goes; b is elected and takes the rules over as installed
    a.replicas.stop()
    for _ in range(30):
        b._replicas_tick()
        if b.leads_epochs():
            break
    assert b.leads_epochs() and b.took_over
    assert all(sw.stable is not None and sw.port_rules for sw in b.switches.values())
    assert all(b.masters(dpid) for dpid in (1, 2, 3))
    # b knows no link yet (a follower sends no LLDP). The election's etcd calls yield to
    # the epoch loop before any ROLE_REQUEST is sent (switch_mastered): a trigger on the
    # leading edge then must not cut an epoch without links (it flooded in a loop).
    monkeypatch.setattr(b.conf, 'switch_settle', 60.0)
    for sw in b.switches.values():
        sw.connected_at = 0.0  # connected long ago, not yet mastered again
    b.leadership_changed(True)  # and the epoch loop runs before switch_mastered
    b._snapshot = lambda: dataclasses.replace(LINE, links=frozenset())
    b.log.take_pending()
    b.log.quiet_window = 1e-6  # the next trigger comes after a quiet window: it leads
    b._trigger('host-moved', 'test')
    assert b.log.leading
    b._epoch_tick()
    assert b.epoch == 1 and b.took_over and b.log.pending
    b.replicas.stop()
