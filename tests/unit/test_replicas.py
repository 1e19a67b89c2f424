"""controller/replicas/ against a real local etcd (tests/harness/etcd.py): the
settings, the store's create-if-absent, leader and switch-master elections with their
generations, stepping down when the lease may be gone (death, partition, etcd restart),
and epochs committed once per number, followed and checked by the other replicas."""

import json
import logging
import time
import uuid
from types import SimpleNamespace

import pytest

from controller.config.errors import ConfigError
from controller.replicas.agreement import snapshot_from_json, snapshot_to_json
from controller.replicas.config import ReplicaSettings
from controller.replicas.coordinator import Replicas
from controller.replicas.mastership import LeadershipChange, RoleChange
from controller.replicas.store import EtcdStore
from controller.stable.epochs import Trigger
from controller.stable.sft import Snapshot, compute_sft
from tests.harness.etcd import TcpProxy, running_etcd

TTL = 1
LOG = logging.getLogger('test_replicas')


def conf(**overrides):
    values = dict(
        endpoints=[],
        replica_id='',
        lease_ttl=TTL,
        prefix='/t/',
        poll_interval=0.1,
        etcd_timeout=0.3,
    )
    values.update(overrides)
    return SimpleNamespace(**values)


def replica(endpoint, name, prefix):
    settings = ReplicaSettings.from_conf(conf(endpoints=[endpoint], replica_id=name, prefix=prefix))
    return Replicas(settings, EtcdStore(settings.endpoints, settings.etcd_timeout), LOG)


@pytest.fixture(scope='module')
def etcd_server():
    with running_etcd() as server:
        yield server


@pytest.fixture
def prefix():
    return '/test-%s/' % uuid.uuid4().hex[:8]


def ring_snapshot(hosts=(('02:00:00:00:00:01', (1, 3)), ('02:00:00:00:00:03', (3, 3)))):
    links = [(1, 1, 2, 2), (2, 1, 3, 2), (3, 1, 4, 2), (4, 1, 1, 2)]
    return Snapshot.make([1, 2, 3, 4], links, dict(hosts), {d: [1, 2, 3] for d in (1, 2, 3, 4)})


def tick_until(replica_, connected, predicate, timeout):
    """Tick ``replica_`` every 0.1 s until ``predicate(changes)``; (changes, seconds)."""
    started = time.monotonic()
    seen = []
    while time.monotonic() - started < timeout:
        changes, _ = replica_.tick(connected)
        seen += changes
        if predicate(seen):
            return seen, time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError('not within %.1fs: %s' % (timeout, seen))


# --- settings --------------------------------------------------------------------------


def test_no_endpoints_means_no_replicas():
    assert ReplicaSettings.from_conf(conf()) is None
    assert ReplicaSettings.from_conf(conf(endpoints=[' '])) is None


def test_bad_settings_are_named_with_what_is_expected():
    with pytest.raises(ConfigError) as error:
        ReplicaSettings.from_conf(
            conf(endpoints=['etcd', '127.0.0.1:70000'], lease_ttl=0, prefix='x', poll_interval=0)
        )
    text = str(error.value)
    for field in (
        'replicas.endpoints',
        'replicas.lease_ttl',
        'replicas.prefix',
        'replicas.poll_interval',
    ):
        assert field in text, text
    assert "expected host:port, got 'etcd'" in text


def test_default_replica_id_names_host_and_process():
    settings = ReplicaSettings.from_conf(conf(endpoints=['127.0.0.1:2379']))
    assert settings.replica_id.endswith('-%d' % __import__('os').getpid())


# --- the store -------------------------------------------------------------------------


def test_create_if_absent_gives_growing_revisions(etcd_server, prefix):
    store = EtcdStore([etcd_server.endpoint], 1.0)
    first, held = store.create(prefix + 'a', 'one')
    assert first > 0 and held is None
    again, held = store.create(prefix + 'a', 'two')
    assert again == 0 and held.value == b'one' and held.create_revision == first
    second, _ = store.create(prefix + 'b', 'x')
    assert second > first


def test_a_dead_endpoint_is_skipped(etcd_server, prefix):
    from tests.harness.controller import free_port

    store = EtcdStore(['127.0.0.1:%d' % free_port(), etcd_server.endpoint], 0.5)
    store.put(prefix + 'k', 'v')
    assert store.get(prefix + 'k').value == b'v'


# --- mastership ------------------------------------------------------------------------


def test_one_leader_masters_the_switches_and_the_others_are_slaves_of_its_generation(
    etcd_server, prefix
):
    a, b = replica(etcd_server.endpoint, 'a', prefix), replica(etcd_server.endpoint, 'b', prefix)
    changes, _ = a.tick({1, 2})
    assert isinstance(changes[0], LeadershipChange) and changes[0].leading
    roles = {c.dpid: c for c in changes if isinstance(c, RoleChange)}
    assert {d: (c.master, c.generation > 0) for d, c in roles.items()} == {
        1: (True, True),
        2: (True, True),
    }
    assert roles[2].generation > roles[1].generation  # each election its own revision
    follower, _ = b.tick({1, 2})
    assert not b.leading
    assert follower == [
        RoleChange(1, False, roles[1].generation),
        RoleChange(2, False, roles[2].generation),
    ]
    assert b.tick({1, 2})[0] == []  # said once
    a.stop()
    b.stop()


def test_a_dead_leader_is_replaced_within_two_seconds_with_newer_generations(etcd_server, prefix):
    a, b = replica(etcd_server.endpoint, 'a', prefix), replica(etcd_server.endpoint, 'b', prefix)
    first = [c for c in a.tick({7})[0] if isinstance(c, RoleChange)][0]
    b.tick({7})
    # a stops ticking: its lease is no longer renewed, as if its process died
    changes, seconds = tick_until(
        b, {7}, lambda seen: b.leading and b.mastership.roles.get(7) is True, 4
    )
    taken = [c for c in changes if isinstance(c, RoleChange) and c.master][0]
    assert taken.generation > first.generation
    print('leader replaced after %.2fs' % seconds)
    assert seconds < 2.0, seconds
    b.stop()


def test_a_replica_cut_from_etcd_steps_down_before_another_is_elected(etcd_server, prefix):
    proxy = TcpProxy(etcd_server.endpoint).start()
    try:
        a = replica(proxy.endpoint, 'a', prefix)
        b = replica(etcd_server.endpoint, 'b', prefix)
        a.tick({1})
        assert a.leading
        b.tick({1})
        proxy.cut()
        cut_at = time.monotonic()
        stepped_down = elected = None
        while time.monotonic() - cut_at < 4 and not (stepped_down and elected):
            if stepped_down is None:
                changes, _ = a.tick({1})
                if not a.leading:
                    stepped_down = time.monotonic() - cut_at
                    assert any(isinstance(c, RoleChange) and not c.master for c in changes)
            if elected is None:
                b.tick({1})
                if b.leading:
                    elected = time.monotonic() - cut_at
            time.sleep(0.05)
        print(
            'cut from etcd: stepped down after %.2fs, other elected after %.2fs'
            % (stepped_down, elected)
        )
        assert stepped_down is not None and stepped_down <= TTL, stepped_down
        assert elected is not None and elected > stepped_down
    finally:
        proxy.cut()


def test_etcd_restarted_the_replicas_rejoin(etcd_server, prefix):
    a = replica(etcd_server.endpoint, 'a', prefix)
    first = [c for c in a.tick({1})[0] if isinstance(c, RoleChange)][0]
    etcd_server.kill()
    time.sleep(TTL + 0.2)
    changes, _ = a.tick({1})  # etcd down longer than the lease: no longer mastering
    assert not a.leading
    assert RoleChange(1, False, first.generation) in changes
    etcd_server.start()
    changes, seconds = tick_until(
        a, {1}, lambda seen: a.leading and a.mastership.roles.get(1) is True, 10
    )
    print('rejoined %.2fs after etcd came back' % seconds)
    regained = [c for c in changes if isinstance(c, RoleChange) and c.master][0]
    assert regained.generation >= first.generation
    a.stop()


# --- epochs ----------------------------------------------------------------------------


def test_snapshot_survives_its_json():
    snapshot = ring_snapshot()
    assert snapshot_from_json(json.loads(json.dumps(snapshot_to_json(snapshot)))) == snapshot
    with pytest.raises(ValueError, match='malformed snapshot'):
        snapshot_from_json({'switches': [1]})


def test_an_epoch_number_is_committed_once_and_only_by_the_leader(etcd_server, prefix):
    a, b = replica(etcd_server.endpoint, 'a', prefix), replica(etcd_server.endpoint, 'b', prefix)
    a.tick({1})
    b.tick({1})
    snapshot = ring_snapshot()
    sft = compute_sft(snapshot)
    assert a.commit(1, snapshot, sft) is None
    assert 'not the epoch leader' in b.commit(1, snapshot, sft)
    assert 'epoch 1 exists' in a.commit(1, snapshot, sft)
    # a leader whose election is over cannot commit, even knowing its old revision
    revision = a.mastership.leader_revision
    a.mastership.store.revoke(a.mastership.lease)
    tick_until(b, {1}, lambda seen: b.leading, 4)
    a.mastership.leader_revision = revision  # as if it had not noticed yet
    assert 'another leader' in a.commit(2, snapshot, sft)
    assert b.commit(2, snapshot, sft) is None
    numbers = [(e.number, e.leader) for e in a.agreement.records()]
    assert numbers == [(1, 'a'), (2, 'b')]
    b.stop()


def test_followers_check_each_committed_epoch_and_triggers_of_all_replicas_are_taken(
    etcd_server, prefix
):
    a, b = replica(etcd_server.endpoint, 'a', prefix), replica(etcd_server.endpoint, 'b', prefix)
    a.tick({1})
    b.record_trigger(Trigger('b-1', 0.0, 'port-down', 'port 0000000000000001:3'))
    a.record_trigger(Trigger('a-1', 0.0, 'link-down', 'a link'))
    b.tick({1})
    snapshot = ring_snapshot()
    assert a.commit(a.last_committed() + 1, snapshot, compute_sft(snapshot)) is None
    _, followed = b.tick({1})
    assert [f.epoch.number for f in followed] == [1]
    assert set(followed[0].epoch.triggers) == {'a-1', 'b-1'}
    assert followed[0].epoch.snapshot == snapshot
    assert b.tick({1})[1] == []
    # the log is emptied of what the epoch took
    assert a.mastership.store.get_prefix(prefix + 'triggers/') == []
    # a record whose digest does not match its snapshot is not followed
    bad = json.loads(a.mastership.store.get(prefix + 'epochs/%012d' % 1).value)
    bad.update(number=2, sft_digest='0' * 64)
    a.mastership.store.put(prefix + 'epochs/%012d' % 2, json.dumps(bad))
    a.mastership.store.put(prefix + 'epoch', '2')
    assert b.tick({1})[1] == [] and b.mismatches == 1
    a.stop()
    b.stop()
