"""Three apps/stable_routing.py replicas on a local etcd (tests/harness/etcd.py), every
switch of a Mininet ring connected to all three (Open vSwitch's controller list): one
master per switch, fenced by the switch itself, epochs agreed in etcd before install.

Roles are read from Open vSwitch (``ovs-vsctl`` Controller rows: master / slave),
epochs from etcd and from the flow tables' cookies."""

import json
import logging
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from controller.replicas.agreement import EpochAgreement
from controller.replicas.store import EtcdStore
from controller.stable import pipeline as pipe
from tests.harness import flows
from tests.harness.etcd import TcpProxy, running_etcd
from tests.harness.network import wait_until
from tests.harness.traffic import reachability_matrix, udp_stream
from topologies.ring import RingTopo

APP = ['apps/stable_routing.py']
PREFIX = '/sdn-suite/stable/'
LEASE_TTL = 1
FAILOVER_BOUND_S = 2.0  # the bound on a new master after the old one dies
STREAM_PPS = 1000  # one datagram a millisecond


# Ryu's lines with their wall-clock time, to tell when a switch confirmed a new master
# (Open vSwitch writes a controller's role to its database only every few seconds).
TIMED_LOGGING = '''[loggers]
keys=root
[handlers]
keys=out
[formatters]
keys=timed
[logger_root]
level=INFO
handlers=out
[handler_out]
class=StreamHandler
args=(sys.stderr,)
formatter=timed
[formatter_timed]
format=%(created).3f %(message)s
'''


@pytest.fixture
def etcd_server():
    with running_etcd() as server:
        yield server


def replica_config(endpoint, name):
    return {
        'stable_routing': {'lldp_secret': 'replica-test-secret'},  # shared by all three
        'replicas': {
            'endpoints': endpoint,
            'replica_id': name,
            'lease_ttl': LEASE_TTL,
            'poll_interval': 0.1,
            'etcd_timeout': 0.25,
        },
    }


def ovs(*args):
    return subprocess.run(['ovs-vsctl', *args], check=True, capture_output=True, text=True).stdout


def roles(switch):
    """{controller port: role} of ``switch``'s connected controllers ('master', 'slave',
    'other' for EQUAL)."""
    uuids = ovs('get', 'Bridge', switch, 'controller').strip().strip('[]').split(', ')
    table = json.loads(
        ovs('--format=json', '--columns=target,role,is_connected', 'list', 'Controller', *uuids)
    )
    found = {}
    for target, role, connected in table['data']:
        if connected:
            found[int(target.rsplit(':', 1)[1])] = role
    return found


class Replicas:
    """Three ryu-manager replicas and a Mininet ring whose switches connect to all."""

    def __init__(self, controller, network, etcd, n=4, proxied=False):
        """``proxied``: each replica reaches etcd through a TcpProxy of its own
        (``self.proxies[name]``), which a test may cut."""
        self.etcd = etcd
        self.proxies = {
            name: TcpProxy(etcd.endpoint).start() for name in ('r1', 'r2', 'r3') if proxied
        }
        logging_conf = os.path.join(etcd.data_dir, 'logging.conf')
        with open(logging_conf, 'w') as f:
            f.write(TIMED_LOGGING)
        names = ('r1', 'r2', 'r3')

        def start(name):
            return controller(
                APP,
                config=replica_config(
                    self.proxies[name].endpoint if proxied else etcd.endpoint, name
                ),
                name=name,
                extra_args=['--log-config-file', logging_conf],
            )

        with ThreadPoolExecutor(len(names)) as pool:  # each takes seconds to start
            self.ctls = dict(zip(names, pool.map(start, names), strict=True))
        first = self.ctls['r1']
        self.net = network(RingTopo(n, 1), first)
        targets = ['tcp:127.0.0.1:%d' % c.ofp_port for c in self.ctls.values()]
        for switch in self.net.switches:
            ovs('set-controller', switch.name, *targets)
        self.store = EtcdStore([etcd.endpoint], 1.0)
        self.agreement = EpochAgreement(self.store, 'test', PREFIX, logging.getLogger('test'))

    def leader(self):
        entry = self.store.get(PREFIX + 'leader')
        return json.loads(entry.value)['replica'] if entry else None

    def masters(self):
        """{switch: replica name of its master, or None}; every replica connected."""
        by_port = {c.ofp_port: name for name, c in self.ctls.items()}
        found = {}
        for switch in self.net.switches:
            current = roles(switch.name)
            masters = [by_port[p] for p, role in current.items() if role == 'master']
            assert len(masters) <= 1, (switch.name, current)
            found[switch.name] = masters[0] if masters else None
        return found

    def wait_one_master(self, among, timeout):
        """Wait until one replica of ``among`` masters every switch; its name."""

        def one():
            masters = set(self.masters().values())
            return len(masters) == 1 and masters <= set(among) and masters.pop()

        return wait_until(one, timeout, interval=0.05)

    def wait_epoch(self, name, after=0, timeout=40.0, states=('installed',)):
        """Wait for replica ``name`` to have installed (or be in one of ``states`` of) an
        epoch newer than ``after`` knowing every host; its status."""
        ctl = self.ctls[name]

        def settled():
            status = ctl.rest('/stable/epoch')
            last = ctl.rest('/stable/history?limit=1')
            return (
                status['epoch']
                and status['epoch'] > after
                and status['pending_triggers'] == 0
                and last
                and last[-1]['state'] in states
                and status['hosts'] == len(self.net.hosts)
                and status
            )

        status = wait_until(settled, timeout, interval=0.3)
        assert status, 'no epoch after %d installed by %s: %s\n%s' % (
            after,
            name,
            ctl.rest('/stable/history?limit=3'),
            ctl.log_tail(),
        )
        return status

    def wait_retired(self, name, epoch, timeout=10.0):
        """Wait until replica ``name`` has done phase 3 of ``epoch`` (after the drain
        time, the old epoch's rules removed from every switch)."""

        def retired():
            history = self.ctls[name].rest('/stable/history?limit=5')
            return any(r['number'] == epoch and r['cleanup_ms'] > 0 for r in history)

        assert wait_until(retired, timeout, interval=0.1), 'epoch %d not retired by %s: %s' % (
            epoch,
            name,
            self.ctls[name].rest('/stable/history?limit=3'),
        )

    def stream_during(self, change):
        """A STREAM_PPS UDP stream h1 -> h3 while ``change()`` runs, and on until the
        epoch it returns, (replica name, epoch number), has removed the old epoch's
        rules (16 s at most): what arrived."""
        h1, h3 = self.net.get('h1', 'h3')
        done = threading.Event()
        with ThreadPoolExecutor(1) as pool:
            stream = pool.submit(udp_stream, h1, h3, STREAM_PPS, 16, stop=done)
            try:
                self.wait_retired(*change())
            finally:
                done.set()
            return stream.result()

    def confirmed_master_at(self, name, since):
        """Wall-clock time by which every switch confirmed ``name`` as its MASTER
        after ``since`` (from the replica's timed log), or None."""
        confirmed = {}
        for line in self.ctls[name].log_lines('role is now MASTER'):
            stamp, _, text = line.partition(' ')
            if float(stamp) >= since:
                confirmed.setdefault(text.split(':')[0], float(stamp))
        return max(confirmed.values()) if len(confirmed) == len(self.net.switches) else None

    def start(self):
        """Every switch mastered by the leader, every host known, an epoch installed."""
        leader = self.wait_one_master(self.ctls, 30)
        assert leader, 'no single master: %s' % self.masters()
        assert leader == self.leader()
        reachability_matrix(self.net.hosts)  # floods teach the leader every host
        return leader, self.wait_epoch(leader)

    def rule_epochs(self, kind, table):
        """{switch: set of epochs of its rules of cookie ``kind`` in ``table``}."""
        return {
            s.name: {
                f.cookie & 0xFFFFFFFFFF
                for f in flows.dump_flows(s.name, table)
                if pipe.COOKIES.owns(f.cookie) and pipe.COOKIES.kind_of(f.cookie) == kind
            }
            for s in self.net.switches
        }


def test_one_master_per_switch_others_slaves_and_pingall(controller, network, etcd_server):
    """Each switch: one MASTER (the elected leader), the two others SLAVE, never EQUAL;
    pingall 0% loss; the epochs in etcd were committed by the leader, one per number."""
    replicas = Replicas(controller, network, etcd_server)
    leader, status = replicas.start()
    for switch in replicas.net.switches:
        current = roles(switch.name)
        assert sorted(current.values()) == ['master', 'slave', 'slave'], (switch.name, current)
    reach = reachability_matrix(replicas.net.hosts)
    assert reach.loss_percent == 0, reach.table()
    records = replicas.agreement.records()
    assert records and {r.leader for r in records} == {leader}
    assert records[-1].number == status['epoch']
    # the followers hold the same epoch, checked against its SFT digest
    for name, ctl in replicas.ctls.items():
        if name != leader:
            assert wait_until(lambda c=ctl: c.rest('/stable/epoch')['epoch'] == status['epoch'], 5)
            assert ctl.log_lines('following epoch %d' % status['epoch']), ctl.log_tail()
            assert not ctl.log_lines('not followed')


def test_a_paused_master_is_fenced_by_the_switch(controller, network, etcd_server, record_property):
    """SIGSTOP the master past its lease: another replica is elected and masters every
    switch with a newer generation; SIGCONT the old one: the switches refuse it (its role
    request STALE or its messages IS_SLAVE), it stays SLAVE, and the next epoch is the
    new master's only."""
    replicas = Replicas(controller, network, etcd_server)
    old, status = replicas.start()
    old_ctl = replicas.ctls[old]
    others = [name for name in replicas.ctls if name != old]
    os.kill(old_ctl.pid, signal.SIGSTOP)
    paused_at = time.time()
    try:
        new = replicas.wait_one_master(others, 10)
    finally:
        os.kill(old_ctl.pid, signal.SIGCONT)
    assert new, 'no other replica took over: %s' % replicas.masters()
    took = replicas.confirmed_master_at(new, paused_at) - paused_at
    record_property('paused_master_replaced_s', round(took, 2))
    print('paused master %s replaced by %s after %.2fs' % (old, new, took))
    refused = wait_until(
        lambda: old_ctl.log_lines('STALE') + old_ctl.log_lines('IS_SLAVE'), 10, interval=0.2
    )
    assert refused, 'the resumed master was not refused:\n%s' % old_ctl.log_tail()
    assert old_ctl.log_lines('no longer the leader'), old_ctl.log_tail()
    time.sleep(1)
    assert set(replicas.masters().values()) == {new}
    # the next topology change is the new master's epoch, and only it is in the tables
    # (the new master may first have cut an epoch of its own, if the old one was paused
    # before its phase 3: it then knew nothing of the switches' rules)
    taken_over = replicas.wait_epoch(new, states=('installed', 'followed'))
    replicas.net.configLinkStatus('s3', 's4', 'down')
    after = replicas.wait_epoch(new, after=taken_over['epoch'])
    replicas.wait_retired(new, after['epoch'])  # the drain, then phase 3
    # every switch stamps the new epoch; no overlay is left, and no stable forward rule
    # is of a later epoch (unchanged entries keep the epoch that wrote them)
    stamps = replicas.rule_epochs(pipe.INGRESS, pipe.INGRESS_TABLE)
    assert all(epochs == {after['epoch']} for epochs in stamps.values()), stamps
    overlays = replicas.rule_epochs(pipe.NEXT, pipe.FORWARD_TABLE)
    assert all(not epochs for epochs in overlays.values()), overlays
    held = replicas.rule_epochs(pipe.ROUTE, pipe.FORWARD_TABLE)
    assert all(max(epochs) <= after['epoch'] for epochs in held.values()), held
    records = {r.number: r.leader for r in replicas.agreement.records()}
    assert records[after['epoch']] == new, records
    assert all(leader == old for n, leader in records.items() if n <= status['epoch'])
    reach = reachability_matrix(replicas.net.hosts)
    assert reach.loss_percent == 0, reach.table()


def test_master_killed_under_a_1ms_stream_loses_nothing(
    controller, network, etcd_server, record_property
):
    """kill -9 the master of every switch under a 1000 pps UDP stream h1 -> h3: a new
    master within 2 s, the switches keep forwarding (0 lost), the next topology change
    (a link cut) is an epoch of the new master, and no epoch number is used twice."""
    replicas = Replicas(controller, network, etcd_server)
    old, status = replicas.start()
    others = [name for name in replicas.ctls if name != old]
    timings = {}

    def kill_then_cut():
        time.sleep(2)
        replicas.ctls[old].process.kill()
        killed_at = time.time()
        timings['new'] = new = replicas.wait_one_master(others, 10)
        assert new, 'no new master: %s' % replicas.masters()
        timings['failover_s'] = replicas.confirmed_master_at(new, killed_at) - killed_at
        time.sleep(3)
        replicas.net.configLinkStatus('s3', 's4', 'down')  # not on h1 -> h3's path
        timings['after'] = replicas.wait_epoch(timings['new'], after=status['epoch'], timeout=20)
        return new, timings['after']['epoch']

    result = replicas.stream_during(kill_then_cut)
    new = timings['new']
    record_property('failover_s', round(timings['failover_s'], 2))
    record_property('failover_lost_packets', len(result.lost_seqs))
    print(
        'master %s killed: %s masters every switch after %.2fs; %s'
        % (old, new, timings['failover_s'], result.summary())
    )
    assert timings['failover_s'] < FAILOVER_BOUND_S, timings
    assert not result.lost_seqs, result.summary()
    records = replicas.agreement.records()
    numbers = [r.number for r in records]
    assert numbers == sorted(set(numbers)), numbers
    assert records[-1].number == timings['after']['epoch'] and records[-1].leader == new


def test_etcd_restarted_the_switches_keep_forwarding_and_the_replicas_rejoin(
    controller, network, etcd_server, record_property
):
    """etcd killed for longer than the lease under a 1000 pps stream: the replicas stop
    mastering, the switches keep forwarding (0 lost); etcd back: one replica masters
    every switch again and handles the next link cut."""
    replicas = Replicas(controller, network, etcd_server)
    _, status = replicas.start()
    timings = {}

    def restart_then_cut():
        time.sleep(2)
        etcd_server.kill()
        # the replicas step down at their lease's end: every switch without a master
        wait_until(lambda: set(replicas.masters().values()) == {None}, LEASE_TTL + 2)
        timings['masters_without_etcd'] = replicas.masters()
        etcd_server.start()
        back_at = time.time()
        timings['new'] = new = replicas.wait_one_master(replicas.ctls, 15)
        assert new, 'no master after etcd came back: %s' % replicas.masters()
        timings['rejoin_s'] = replicas.confirmed_master_at(new, back_at) - back_at
        replicas.net.configLinkStatus('s3', 's4', 'down')
        timings['after'] = replicas.wait_epoch(new, after=status['epoch'], timeout=20)
        return new, timings['after']['epoch']

    result = replicas.stream_during(restart_then_cut)
    record_property('etcd_restart_rejoin_s', round(timings['rejoin_s'], 2))
    record_property('etcd_restart_lost_packets', len(result.lost_seqs))
    print(
        'etcd restarted: %s masters again %.2fs after; %s'
        % (timings['new'], timings['rejoin_s'], result.summary())
    )
    assert set(timings['masters_without_etcd'].values()) == {None}, timings
    assert not result.lost_seqs, result.summary()
    for ctl in replicas.ctls.values():
        assert ctl.log_lines('no longer the leader') or ctl.log_lines('etcd unreachable')


def test_a_replica_cut_from_etcd_stops_mastering_within_its_lease(
    controller, network, etcd_server, record_property
):
    """The leader's connection to etcd is cut (the others still reach it): it sends its
    switches SLAVE within its lease, another replica is elected and masters them all."""
    replicas = Replicas(controller, network, etcd_server, proxied=True)
    old, _ = replicas.start()
    old_ctl = replicas.ctls[old]
    replicas.proxies[old].cut()
    cut_at = time.time()
    others = [name for name in replicas.ctls if name != old]
    new = replicas.wait_one_master(others, 10)
    assert new, replicas.masters()
    [line] = old_ctl.log_lines('no longer the leader')[-1:] or [None]
    assert line, old_ctl.log_tail()
    stepped_down_s = float(line.split(' ', 1)[0]) - cut_at
    record_property('partitioned_stepped_down_s', round(stepped_down_s, 2))
    print(
        '%s cut from etcd: stepped down after %.2fs; %s masters every switch'
        % (old, stepped_down_s, new)
    )
    assert stepped_down_s <= LEASE_TTL, stepped_down_s
    assert replicas.confirmed_master_at(new, cut_at) >= cut_at + stepped_down_s
    reach = reachability_matrix(replicas.net.hosts)
    assert reach.loss_percent == 0, reach.table()
