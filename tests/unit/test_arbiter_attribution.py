"""Who sent a message (controller/arbiter/interpose.py): the app whose event loop runs
the handler, known without walking the stack; elsewhere, the stack walk."""

import sys

import pytest
from ryu.base import app_manager
from ryu.controller import event

from controller.arbiter import interpose
from controller.arbiter.policy import UNKNOWN_APP
from tests.harness.interposed import interpose_arbiter


class EventPing(event.EventBase):
    pass


class Pinger(app_manager.RyuApp):
    pass


def _send_from_here():
    """Attribute a send made here, in a function of no app's module."""
    return interpose.sender(sys._getframe(0))


@pytest.fixture
def no_app_modules(monkeypatch):
    """No module counts as an app's for the stack walk (this one included)."""
    monkeypatch.setitem(interpose._state, 'modules', {})
    monkeypatch.setitem(interpose._state, 'bricks', len(app_manager.SERVICE_BRICKS))


def _run_loop(app, handler):
    """Run ``app``'s event loop (wrapped as the arbiter wraps it) over one event."""
    seen = []
    app.register_handler(EventPing, lambda ev: seen.append(handler()))
    app.is_active = False  # the loop ends when its queue is empty
    app._send_event(EventPing(), None)
    interpose._event_loop(app)
    return seen


def test_a_handlers_send_is_its_apps_without_the_stack(no_app_modules):
    app = Pinger()
    assert _send_from_here() == UNKNOWN_APP  # the walk finds no app here
    assert _run_loop(app, _send_from_here) == ['test_arbiter_attribution']
    assert not interpose._loops  # forgotten when the loop ends
    assert _send_from_here() == UNKNOWN_APP


def test_outside_a_handler_the_stack_says_who(monkeypatch):
    """A send from an app's own thread or a WSGI handler: the first app frame."""
    monkeypatch.setitem(interpose._state, 'modules', {__name__: 'test_arbiter_attribution'})
    monkeypatch.setitem(interpose._state, 'bricks', len(app_manager.SERVICE_BRICKS))
    assert not interpose._loops
    assert _send_from_here() == 'test_arbiter_attribution'


def test_ryus_own_services_are_left_to_the_stack_walk(no_app_modules, monkeypatch):
    """ryu.topology.switches runs an event loop too; it is no app's."""
    monkeypatch.setattr(Pinger, '__module__', 'ryu.topology.switches')
    assert _run_loop(Pinger(), _send_from_here) == [UNKNOWN_APP]


def test_the_arbiter_wraps_every_apps_event_loop(monkeypatch):
    interpose_arbiter(monkeypatch)  # (restores what it replaced after the test)
    assert app_manager.RyuApp._event_loop is interpose._event_loop
