"""SIGHUP reaches every app that reloads (controller/app_base.py's one fan-out, not a
signal.signal per app, where the last app loaded would win), and what the two YAML apps
do with it: apps/vswitch_policy.py and apps/arbiter.py, loaded together in this process
on fake switches, both reload on one real SIGHUP sent to the test process.

Also apps/vswitch_policy.py's reload paths without a SIGHUP: a changed file is applied
to a connected switch as a diff, an unchanged one does nothing, a broken one is refused
and the old policy stays."""

import functools
import importlib.util
import logging
import os
import signal
import time
import types

import pytest
from ryu import cfg
from ryu.lib import hub

from controller import app_base
from controller.arbiter import interpose
from controller.config.yaml_source import DEFAULT_MAX_BYTES
from tests.harness.fakes import FakeDatapath

APPS = os.path.join(os.path.dirname(__file__), '..', '..', 'apps')
CONF = cfg.CONF
VSWITCH_POLICY = '''\
vlans:
  red: {vid: 100}
  green: {vid: 200}
dps:
  s1:
    dp_id: 1
    interfaces:
      1: {native_vlan: red}
      2: {native_vlan: red}
      3: {native_vlan: green}
'''
ARBITER_POLICY = 'order: [rest_firewall, simple_switch_13]\n'


@functools.cache
def _load_app(name):
    spec = importlib.util.spec_from_file_location(
        name + '_under_test', os.path.join(APPS, name + '.py')
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeWSGI:
    def register(self, *args, **kwargs):
        pass


def wait_for(condition, seconds=5.0):
    """Let green threads run (the fan-out spawns one per subscriber) until
    ``condition()``."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        hub.sleep(0.01)
    return condition()


def rewrite(path, text):
    """Write ``text`` to ``path`` with a modification time the watch cannot miss."""
    stamp = os.stat(path).st_mtime_ns + 10**9 if os.path.exists(path) else None
    path.write_text(text)
    if stamp is not None:
        os.utime(path, ns=(stamp, stamp))


@pytest.fixture
def fan_out(monkeypatch):
    """app_base's SIGHUP fan-out with no subscribers; this process's SIGHUP handler is
    put back afterwards."""
    previous = signal.getsignal(signal.SIGHUP)
    subscribers = []
    monkeypatch.setattr(app_base, '_reload_subscribers', subscribers)
    yield subscribers
    signal.signal(signal.SIGHUP, previous)


@pytest.fixture
def override():
    """CONF.set_override(name, value, group), cleared afterwards."""
    done = []

    def set_override(name, value, group):
        CONF.set_override(name, value, group=group)
        done.append((name, group))

    yield set_override
    for name, group in done:
        CONF.clear_override(name, group=group)


@pytest.fixture
def vswitch_app(tmp_path, fan_out, override):
    """apps/vswitch_policy.py with switch 1 connected; (app, fake datapath, policy path).
    Its file watch polls once an hour: the tests call refresh() themselves."""
    module = _load_app('vswitch_policy')
    path = tmp_path / 'vswitch.yaml'
    path.write_text(VSWITCH_POLICY)
    override('policy_file', str(path), 'vswitch_policy')
    override('reload_poll', 3600.0, 'vswitch_policy')
    app = module.VSwitchPolicy()
    dp = FakeDatapath(1)
    sw = app.new_switch(dp)
    app.switches[dp.id] = sw
    app.switch_connected(sw)
    return app, dp, path


@pytest.fixture
def arbiter_app(tmp_path, fan_out, monkeypatch):
    """apps/arbiter.py, its policy at tmp_path/arbiter.yaml; (app, policy path). Its
    import patches Ryu's Datapath as it does in ryu-manager (a pass-through without an
    arbiter); the arbiter it installs is taken out afterwards. Its configuration is a
    stand-in: ryu-manager's --config-file option exists only once it parsed its command
    line."""
    module = _load_app('arbiter')
    path = tmp_path / 'arbiter.yaml'
    path.write_text(ARBITER_POLICY)
    monkeypatch.setattr(
        module,
        'CONF',
        types.SimpleNamespace(
            arbiter=types.SimpleNamespace(policy=str(path), max_policy_bytes=DEFAULT_MAX_BYTES),
            config_file=[],
        ),
    )
    monkeypatch.setitem(interpose._state, 'arbiter', None)
    app = module.AppArbiter(wsgi=FakeWSGI())
    return app, path


def test_every_subscriber_hears_one_sighup(fan_out):
    heard = []
    app_base.on_reload_signal(lambda: heard.append('first'))
    app_base.on_reload_signal(lambda: heard.append('second'))
    assert signal.getsignal(signal.SIGHUP) is app_base._fan_out
    os.kill(os.getpid(), signal.SIGHUP)
    assert wait_for(lambda: len(heard) == 2), heard
    assert sorted(heard) == ['first', 'second']


def test_a_failing_subscriber_does_not_stop_the_others(fan_out):
    heard = []

    def broken():
        raise RuntimeError('this subscriber fails')

    app_base.on_reload_signal(broken)
    app_base.on_reload_signal(lambda: heard.append('after'))
    os.kill(os.getpid(), signal.SIGHUP)
    assert wait_for(lambda: heard == ['after'])


def test_both_yaml_apps_reload_on_one_sighup(vswitch_app, arbiter_app, fan_out):
    vswitch, dp, vswitch_path = vswitch_app
    arbiter, arbiter_path = arbiter_app
    assert len(fan_out) == 2  # one subscription each, no handler of its own
    assert arbiter.arbiter.policy.order == ('rest_firewall', 'simple_switch_13')
    rewrite(
        vswitch_path, VSWITCH_POLICY.replace('2: {native_vlan: red}', '2: {native_vlan: green}')
    )
    rewrite(arbiter_path, 'order: [simple_switch_13, rest_firewall]\n')
    os.kill(os.getpid(), signal.SIGHUP)
    assert wait_for(lambda: arbiter.arbiter.policy.order == ('simple_switch_13', 'rest_firewall'))
    assert wait_for(lambda: vswitch.switches[1].plans[2].native_vid == 200)
    assert vswitch.policy.dps['s1'].interfaces[2].native_vlan.name == 'green'


def test_vswitch_reload_sends_the_diff_of_a_changed_file(vswitch_app, caplog):
    app, dp, path = vswitch_app
    installed = len(dp.sent)
    # a delete, the deletes of the controller and slow-path meters, then adds
    assert installed == 1 + 2 + len(app.switches[1].installed)
    app.refresh(requested=False)
    assert len(dp.sent) == installed  # unchanged: nothing
    rewrite(path, VSWITCH_POLICY.replace('2: {native_vlan: red}', '2: {native_vlan: green}'))
    with caplog.at_level(logging.INFO, logger=app.logger.name):
        app.refresh(requested=False)
    assert len(dp.sent) > installed
    assert app.switches[1].plans[2].native_vid == 200
    assert any('policy reload (file changed) applied' in r.getMessage() for r in caplog.records)
    assert any(
        'hosts forgotten on (port, VLAN) [(2, 100)]' in r.getMessage() for r in caplog.records
    )


def test_vswitch_refuses_a_broken_file_and_keeps_its_policy(vswitch_app, caplog):
    app, dp, path = vswitch_app
    policy, sent = app.policy, len(dp.sent)
    rewrite(path, VSWITCH_POLICY.replace('vid: 200', 'vid: 4095'))
    with caplog.at_level(logging.INFO, logger=app.logger.name):
        app.refresh(requested=False)
        app.refresh(requested=True)  # SIGHUP: read again, refused again
    refusals = [r.getMessage() for r in caplog.records if 'refused' in r.getMessage()]
    assert [line.split(' refused')[0] for line in refusals] == [
        'policy reload (file changed)',
        'policy reload (SIGHUP)',
    ]
    assert 'vlans.green.vid: 4095 is out of range' in refusals[0]
    assert app.policy is policy and len(dp.sent) == sent


def test_vswitch_leaves_a_switch_the_policy_does_not_name(vswitch_app, caplog):
    app, _, _ = vswitch_app
    with caplog.at_level(logging.INFO, logger=app.logger.name):
        assert app.new_switch(FakeDatapath(7)) is None
    assert any('switch 0000000000000007 is not in' in r.getMessage() for r in caplog.records)
