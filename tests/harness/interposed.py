"""An arbiter interposed in Ryu for a unit test, with a Ryu Datapath that has no socket."""

from typing import Any

from ryu.base import app_manager
from ryu.controller import controller as ryu_controller
from ryu.lib import hub
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller import openflow
from controller.arbiter import interpose
from controller.arbiter.engine import Arbiter
from controller.arbiter.policy import load_arbiter_policy_text


class _Queue(list):
    put = list.append

    def __bool__(self) -> bool:  # Ryu tests "if self.send_q" (None once closed)
        return True


class RyuDatapath(ryu_controller.Datapath):
    """A Ryu Datapath whose writes stay in ``send_q`` as (bytes, close_socket)."""

    def __init__(self, dpid: int) -> None:  # no socket: what send() and the arbiter use
        self.id, self.xid, self.address = dpid, 0, ('test', 0)
        self.ofproto, self.ofproto_parser = ofp, parser
        self.send_q, self._send_q_sem = _Queue(), hub.BoundedSemaphore(100)


def interpose_arbiter(monkeypatch: Any, policy: str = '', notify: Any = None) -> Arbiter:
    """An Arbiter with ``policy`` (YAML text) put between apps and switches, everything
    it replaces restored by ``monkeypatch`` after the test; no app is loaded."""
    for owner, name in (
        (ryu_controller.Datapath, 'send_msg'),
        (ryu_controller.Datapath, 'send'),
        (openflow, 'send_together'),
        (openflow, 'send_stamped'),
        (app_manager.RyuApp, '_event_loop'),
    ):
        monkeypatch.setattr(owner, name, getattr(owner, name))  # restored after
    monkeypatch.setitem(interpose._state, 'arbiter', None)
    monkeypatch.setattr(app_manager, 'SERVICE_BRICKS', {})
    interpose.patch_datapath()
    engine = Arbiter(
        load_arbiter_policy_text(policy, 'p.yaml'),
        send=interpose.send_direct,
        notify=notify or (lambda *args: None),
    )
    interpose.install(engine)
    return engine
