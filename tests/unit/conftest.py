"""Fixtures the unit tests of apps/l2_learning.py share (test_l2_app.py,
test_l2_hostile.py): the app built without ryu-manager, on a fake clock."""

import logging

import pytest
from ryu import cfg

import apps.l2_learning as l2
from controller import app_base
from tests.harness.fake_switch import FakeClock

CONF = cfg.CONF


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(l2, '_now', fake)
    monkeypatch.setattr(app_base, '_now', fake)
    return fake


@pytest.fixture
def make_app(clock, caplog):
    """make_app(**options) -> an L2Learning with those [l2_learning] options; its loops
    are stopped (the tests call the ticks themselves). Its INFO lines reach caplog even
    where an imported module (Mininet's) gave new loggers a higher level."""
    made, overridden = [], set()

    def make(**options):
        for name, value in options.items():
            CONF.set_override(name, value, group='l2_learning')
            overridden.add(name)
        app = l2.L2Learning()
        caplog.set_level(logging.INFO, logger=app.logger.name)
        for thread in app.loops:
            app_base.hub.kill(thread)
        made.append(app)
        return app

    yield make
    for app in made:
        app.stop()
    for name in overridden:
        CONF.clear_override(name, group='l2_learning')


@pytest.fixture
def app(make_app):
    return make_app()
