"""Interposition in Ryu: every FlowMod and GroupMod that any app of this ``ryu-manager``
process sends goes to the arbiter, with the app that sent it.

``install()`` replaces ``Datapath.send_msg`` and ``Datapath.send`` (apps may write
serialized messages themselves), and controller/openflow.py's ``send_together`` and
``send_stamped`` (which our apps use to write several messages at once, or messages
stamped from templates), so that their messages reach the arbiter as objects rather
than bytes to parse again. ONF bundle messages go to the arbiter too, which opens them
(controller/arbiter/bundles.py). Other messages pass untouched. The sender of a message
sent from an app's event handler is that app: each app's event loop is known by its
greenlet (``RyuApp._event_loop`` is wrapped), which costs a lookup where walking the
stack costs a walk. Anything else (an app's own threads, WSGI handlers) is found by
walking the Python call stack to the first frame whose module is the module of a loaded
RyuApp: apps that send from WSGI handlers or library helpers of their own module
(``ryu.app.rest_firewall`` sends through ``ryu.lib.ofctl_v1_3``) are attributed all the
same. An app is named by its module's
last component (``ryu.app.simple_switch_13`` -> ``simple_switch_13``); a message no app
is on the stack of belongs to ``unknown``.

Events from switches are narrowed too: a packet-in goes to the apps owning the rule that
sent it (its cookie says which), a flow-removed to the owning apps that asked for it, a
flow-stats reply to the app that asked, with its own rules only
(controller/arbiter/stats.py).
Without that, a packet-in from one app's table-miss would make another app act on it
(rest_firewall's drop-and-log rule would feed simple_switch_13, which forwards it).

The arbiter itself writes with the original ``send_msg``, which nothing intercepts.
"""

from __future__ import annotations

import logging
import struct
import sys
from collections.abc import Callable, Iterable, Sequence
from types import FrameType
from typing import Any, TypedDict

from greenlet import getcurrent
from ryu.base import app_manager
from ryu.controller import controller as ryu_controller
from ryu.controller import event, ofp_event
from ryu.lib import hub
from ryu.ofproto import ofproto_parser, ofproto_v1_3
from ryu.ofproto import ofproto_v1_3_parser as parser13
from ryu.ofproto.ofproto_common import ONF_EXPERIMENTER_ID

from controller import openflow
from controller.arbiter.bundles import BUNDLE_MESSAGES
from controller.arbiter.engine import ARBITER as ARBITER_COOKIES
from controller.arbiter.engine import Arbiter
from controller.arbiter.match import TernaryMatch
from controller.arbiter.policy import UNKNOWN_APP
from controller.arbiter.resolve import Decision

_ORIGINAL_SEND_MSG = ryu_controller.Datapath.send_msg
_ORIGINAL_SEND = ryu_controller.Datapath.send
_SEND_MSG_CODE = _ORIGINAL_SEND_MSG.__code__
_ORIGINAL_SEND_TOGETHER = openflow.send_together
_ORIGINAL_SEND_STAMPED = openflow.send_stamped
_ORIGINAL_EVENT_LOOP = app_manager.RyuApp._event_loop
_HEADER = struct.Struct('!BBHI')
_INTERCEPTED = (ofproto_v1_3.OFPT_FLOW_MOD, ofproto_v1_3.OFPT_GROUP_MOD)
_PACKET_OUT = ofproto_v1_3.OFPT_PACKET_OUT  # intercepted for voting groups only
_MULTIPART_REQUEST = ofproto_v1_3.OFPT_MULTIPART_REQUEST  # flow stats: controller/arbiter/stats.py
# ONF bundles (controller/arbiter/bundles.py): header, experimenter id and type, then an
# add's bundle id, padding and flags before its inner message.
_EXPERIMENTER = struct.Struct('!II')
_BUNDLE_ADD = struct.Struct('!I2xH')
_BUNDLE_HEADER = struct.Struct('!BBHIIII2xH')  # (an add's, up to its inner message)
_BUNDLE_TYPES = (ofproto_v1_3.ONF_ET_BUNDLE_CONTROL, ofproto_v1_3.ONF_ET_BUNDLE_ADD_MESSAGE)
# Ryu's own services: never the author of an app's rule.
_NOT_APPS = ('ryu.controller.', 'ryu.topology.switches', 'ryu.app.wsgi', 'ryu.app.ofctl.')
# Packet-ins a lying switch makes malformed (no in_port, a frame shorter than an Ethernet
# header) reach no app: counted per switch, one log line a minute at most.
PACKET_IN_GUARD = openflow.PacketInGuard(logging.getLogger('arbiter'))


class _State(TypedDict):
    arbiter: Arbiter | None
    modules: dict[str, str]  # module -> app name, of the loaded RyuApps
    bricks: int  # how many bricks ``modules`` was read from
    app_names: set[str]  # the values of ``modules``...
    app_names_of: dict[str, str] | None  # ...when it was this
    brick_owners: dict[str, str | None]  # brick name -> its app
    narrowed: dict[tuple[int, tuple[str, ...]], list[str]]  # (cookie, observers) -> kept
    narrowed_of: tuple[dict[str, str], Arbiter, Any] | None  # what ``narrowed`` is for


_state: _State = {
    'arbiter': None,
    'modules': {},
    'bricks': 0,
    'app_names': set(),
    'app_names_of': None,
    'brick_owners': {},
    'narrowed': {},
    'narrowed_of': None,
}
# greenlet -> the app whose event loop it runs (its handlers' sends are that app's)
_loops: dict[Any, str] = {}
# greenlet -> [(datapath, bytes)]: what the arbiter writes while it handles one
# send_together, written at its end as one buffer per switch (as send_together does).
_batches: dict[Any, list[tuple[Any, bytes]]] = {}


class EventArbiterDecision(event.EventBase):
    """A proposal of ``app`` that was not installed as asked: ``decision`` says what
    became of it (rewritten, shared, held back, refused) and by which policy clause;
    ``msg`` is the app's message. Apps observe it with ``@set_ev_cls``; apps/arbiter.py
    sends it."""

    def __init__(self, app: str, dpid: int, msg: Any, decision: Decision) -> None:
        super().__init__()
        self.app, self.dpid, self.msg, self.decision = app, dpid, msg, decision


class EventArbiterAlert(event.EventBase):
    """Two or more apps keep overriding each other on one region: it is damped."""

    def __init__(
        self, dpid: int, table_id: int, match: TernaryMatch, apps: list[str], kept: str
    ) -> None:
        super().__init__()
        self.dpid, self.table_id, self.match = dpid, table_id, match
        self.apps, self.kept = apps, kept


def app_name(module: str) -> str:
    """'ryu.app.simple_switch_13' -> 'simple_switch_13'."""
    return module.rsplit('.', 1)[-1]


def _app_modules() -> dict[str, str]:
    """{module name: app name} of the loaded RyuApps, rebuilt when apps are added."""
    bricks = app_manager.SERVICE_BRICKS
    if len(bricks) != _state['bricks']:
        _state['modules'] = {
            type(app).__module__: app_name(type(app).__module__)
            for app in list(bricks.values())
            if not type(app).__module__.startswith(_NOT_APPS)
        }
        _state['bricks'] = len(bricks)
    return _state['modules']


def attribute(frame: FrameType | None) -> str:
    """The app whose code is on the stack at ``frame`` (innermost first): a frame of an
    app's module, or a method of a RyuApp instance (whose class may be a base class in
    a library module)."""
    modules = _app_modules()
    while frame is not None:
        app = modules.get(frame.f_globals.get('__name__', ''))
        if app is not None:
            return app
        if frame.f_code.co_argcount and frame.f_code.co_varnames[0] == 'self':
            owner = type(frame.f_locals.get('self')).__module__
            if owner in modules:
                return modules[owner]
        frame = frame.f_back
    return UNKNOWN_APP


def sender(frame: FrameType | None) -> str:
    """The app sending from ``frame``: the app whose event loop runs, else ``attribute``."""
    if _loops:
        app = _loops.get(getcurrent())
        if app is not None:
            return app
    return attribute(frame)


def _event_loop(self: Any) -> None:
    """RyuApp._event_loop with its greenlet known as the app's for its duration (Ryu's
    own services are left to the stack walk: they are no app)."""
    module = type(self).__module__
    me = getcurrent()
    if not module.startswith(_NOT_APPS):
        _loops[me] = app_name(module)
    try:
        _ORIGINAL_EVENT_LOOP(self)
    finally:
        _loops.pop(me, None)


def send_msg(self: Any, msg: Any, close_socket: bool = False) -> bool:
    """Datapath.send_msg with FlowMods, GroupMods and ONF bundle messages of OpenFlow
    1.3 handed to the arbiter, and PacketOuts too when the policy has voting groups."""
    arbiter = _state['arbiter']
    if (
        arbiter is not None
        and msg.cls_msg_type == _MULTIPART_REQUEST
        and isinstance(msg, parser13.OFPFlowStatsRequest)
    ):
        app = sender(sys._getframe(1))
        if app != UNKNOWN_APP:
            if msg.xid is None:
                self.set_xid(msg)
            arbiter.flow_stats.asked(self, app, msg)
        return _ORIGINAL_SEND_MSG(self, msg, close_socket)
    if (
        arbiter is None
        or (
            msg.cls_msg_type not in _INTERCEPTED
            and not isinstance(msg, BUNDLE_MESSAGES)
            and not (msg.cls_msg_type == _PACKET_OUT and arbiter.elections.groups)
        )
        or self.ofproto.OFP_VERSION != ofproto_v1_3.OFP_VERSION
    ):
        return _ORIGINAL_SEND_MSG(self, msg, close_socket)
    if msg.xid is None:
        self.set_xid(msg)
    dispatch(arbiter, self, sender(sys._getframe(1)), msg)
    return True


def send(self: Any, buf: bytes | bytearray, close_socket: bool = False) -> bool:
    """Datapath.send with the FlowMods and GroupMods in an already serialized buffer
    taken out for the arbiter (send_msg's own calls pass straight through)."""
    arbiter = _state['arbiter']
    caller = sys._getframe(1)
    if (
        arbiter is None
        or caller.f_code is _SEND_MSG_CODE
        or self.ofproto.OFP_VERSION != ofproto_v1_3.OFP_VERSION
        or not _holds_intercepted(buf)
    ):
        return _ORIGINAL_SEND(self, buf, close_socket)
    app = sender(caller)
    offset, data = 0, bytes(buf)
    while offset + _HEADER.size <= len(data):
        version, msg_type, length, xid = _HEADER.unpack_from(data, offset)
        if length < _HEADER.size:
            break
        chunk = data[offset : offset + length]
        if msg_type in _INTERCEPTED:
            msg = ofproto_parser.msg(self, version, msg_type, length, xid, bytearray(chunk))
            dispatch(arbiter, self, app, msg)
        elif _is_bundle(chunk):
            dispatch(arbiter, self, app, _parse_bundle(self, chunk))
        else:
            _ORIGINAL_SEND(self, chunk, close_socket)
        offset += length
    if offset < len(data):  # no message: to the switch as it is
        _ORIGINAL_SEND(self, data[offset:], close_socket)
    return True


def send_together(dp: Any, msgs: Sequence[Any]) -> None:
    """controller/openflow.py's send_together with its FlowMods handed to the arbiter
    as objects: reading them back from the joined buffer would cost more than
    arbitrating them."""
    arbiter = _state['arbiter']
    if arbiter is None or dp.ofproto.OFP_VERSION != ofproto_v1_3.OFP_VERSION:
        _ORIGINAL_SEND_TOGETHER(dp, msgs)
        return
    app = sender(sys._getframe(1))
    me = getcurrent()
    outer = _batches.get(me)
    batch = _batches[me] = [] if outer is None else outer
    try:
        for msg in msgs:
            if msg.xid is None:
                dp.set_xid(msg)
            kind = msg.cls_msg_type
            if kind == ofproto_v1_3.OFPT_FLOW_MOD:
                arbiter.flow_mod(dp, app, msg)
            elif kind == ofproto_v1_3.OFPT_GROUP_MOD:
                arbiter.group_mod(dp, app, msg)
            elif isinstance(msg, BUNDLE_MESSAGES):
                arbiter.bundles.message(dp, app, msg)
            elif kind == _PACKET_OUT and arbiter.elections.groups:
                arbiter.packet_out(dp, app, msg)
            else:  # in its place among the others
                msg.serialize()
                batch.append((dp, msg.buf))
    finally:
        if outer is None:
            del _batches[me]
            _flush(batch)


def send_stamped(
    dp: Any, templates: Sequence[openflow.FlowModTemplate], mac: bytes, port: int
) -> None:
    """controller/openflow.py's send_stamped through the arbiter: as bytes where its
    fast path takes them (Arbiter.stamped: no message object built or parsed), else
    handed to it as the objects the templates stand for."""
    arbiter = _state['arbiter']
    if arbiter is None:
        _ORIGINAL_SEND_STAMPED(dp, templates, mac, port)
        return
    wires = arbiter.stamped(dp, sender(sys._getframe(1)), templates, mac, port)
    if wires is None:
        send_together(dp, [template.message(mac, port) for template in templates])
        return
    batch = _batches.get(getcurrent()) if _batches else None
    if batch is not None:  # within a send_together: at its end with the others
        batch.extend((dp, wire) for wire in wires)
    else:
        _ORIGINAL_SEND(dp, b''.join(wires))


def _flush(batch: list[tuple[Any, bytes]]) -> None:
    """Write a batch: consecutive messages to one switch as one buffer."""
    start = 0
    while start < len(batch):
        dp = batch[start][0]
        end = start + 1
        while end < len(batch) and batch[end][0] is dp:
            end += 1
        _ORIGINAL_SEND(
            dp,
            batch[start][1] if end == start + 1 else b''.join(buf for _, buf in batch[start:end]),
        )
        start = end


def _holds_intercepted(buf: bytes | bytearray) -> bool:
    offset = 0
    while offset + _HEADER.size <= len(buf):
        _, msg_type, length, _ = _HEADER.unpack_from(buf, offset)
        if msg_type in _INTERCEPTED or _is_bundle(buf[offset : offset + length]):
            return True
        if length < _HEADER.size:
            return False
        offset += length
    return False


def _is_bundle(chunk: bytes | bytearray) -> bool:
    """Whether a serialized message is an ONF bundle control or add message."""
    if len(chunk) < _BUNDLE_HEADER.size or chunk[1] != ofproto_v1_3.OFPT_EXPERIMENTER:
        return False
    experimenter, exp_type = _EXPERIMENTER.unpack_from(chunk, 8)
    return experimenter == ONF_EXPERIMENTER_ID and exp_type in _BUNDLE_TYPES


def _parse_bundle(dp: Any, chunk: bytes) -> Any:
    """The ONFBundleCtrlMsg or ONFBundleAddMsg in a serialized message (Ryu parses the
    first only: an add's inner message is read here; its properties are dropped)."""
    version, msg_type, length, xid = _HEADER.unpack_from(chunk)
    _, exp_type = _EXPERIMENTER.unpack_from(chunk, 8)
    if exp_type == ofproto_v1_3.ONF_ET_BUNDLE_CONTROL:
        return ofproto_parser.msg(dp, version, msg_type, length, xid, bytearray(chunk))
    bundle_id, flags = _BUNDLE_ADD.unpack_from(chunk, 16)
    start = _BUNDLE_HEADER.size
    inner_version, inner_type, inner_length, inner_xid = _HEADER.unpack_from(chunk, start)
    inner = ofproto_parser.msg(
        dp,
        inner_version,
        inner_type,
        inner_length,
        inner_xid,
        bytearray(chunk[start : start + inner_length]),
    )
    add = parser13.ONFBundleAddMsg(dp, bundle_id, flags, inner, [])
    add.xid = xid
    return add


def dispatch(arbiter: Arbiter, dp: Any, app: str, msg: Any) -> None:
    if msg.cls_msg_type == ofproto_v1_3.OFPT_FLOW_MOD:
        arbiter.flow_mod(dp, app, msg)
    elif msg.cls_msg_type == ofproto_v1_3.OFPT_GROUP_MOD:
        arbiter.group_mod(dp, app, msg)
    elif msg.cls_msg_type == _PACKET_OUT:
        arbiter.packet_out(dp, app, msg)
    else:
        arbiter.bundles.message(dp, app, msg)


def send_direct(dp: Any, msg: Any) -> bool:
    """Write ``msg`` (serialized by the arbiter) to the switch, past the arbiter; within
    a send_together, at its end with the others."""
    if _batches:
        batch = _batches.get(getcurrent())
        if batch is not None:
            batch.append((dp, msg.buf))
            return True
    return _ORIGINAL_SEND(dp, msg.buf)


def bricks_of(app: str) -> list[str]:
    """The RyuApp instances (brick names) of app ``app``."""
    return [
        name
        for name, brick in list(app_manager.SERVICE_BRICKS.items())
        if app_name(type(brick).__module__) == app
    ]


def tell_app(app: str, dp: Any, msg: Any, error_type: int, error_code: int) -> None:
    """Deliver an OFPErrorMsg (type/code, the refused message's xid and first bytes) to
    ``app`` only, as if the switch had sent it. Asynchronously: the app may be the one
    calling us, from its own event loop, with its event queue full."""
    parser = dp.ofproto_parser
    if msg.buf is None:
        msg.serialize()
    error = parser.OFPErrorMsg(dp, type_=error_type, code=error_code, data=bytes(msg.buf[:64]))
    error.xid = msg.xid
    event = ofp_event.EventOFPErrorMsg(error)
    for name in bricks_of(app):
        hub.spawn(app_manager.SERVICE_BRICKS[name]._send_event, event, dp.state)


def _narrowed_observers(
    original: Callable[[Any, Any], list[str]], keep_always: set[str]
) -> Callable[[Any, Any], list[str]]:
    """A get_observers for the ofp_event brick that sends packet-ins and flow-removed
    only to the apps they belong to."""

    def get_observers(ev: Any, state: Any) -> list[str]:
        observers = original(ev, state)
        arbiter = _state['arbiter']
        if arbiter is None:
            return observers
        msg: Any = getattr(ev, 'msg', None)
        if (
            isinstance(ev, ofp_event.EventOFPPacketIn)
            and msg.datapath.ofproto.OFP_VERSION == ofproto_v1_3.OFP_VERSION
        ):
            if PACKET_IN_GUARD.fields(msg.datapath.id, msg) is None:
                return [name for name in observers if name in keep_always]
            # One app's range: the same observers each time (remembered per cookie
            # and observer list while no app comes); the arbiter's own range (shared
            # rules) is asked each time.
            cache, modules = _state['narrowed'], _app_modules()
            made_of = _state['narrowed_of']
            if (
                made_of is None
                or made_of[0] is not modules
                or made_of[1] is not arbiter
                or made_of[2] is not arbiter.policy  # (voting groups may have changed)
                or len(cache) > 4096
            ):
                cache.clear()
                _state['narrowed_of'] = (modules, arbiter, arbiter.policy)
            key = (msg.cookie, tuple(observers))
            kept = cache.get(key)
            if kept is not None:
                return list(kept)
            owners = arbiter.packet_in_owners(msg.datapath.id, msg.cookie)
            if owners is not None and not ARBITER_COOKIES.owns(msg.cookie):
                kept = cache[key] = _kept(observers, owners, keep_always)
                return list(kept)
        elif (
            isinstance(ev, ofp_event.EventOFPFlowRemoved)
            and msg.datapath.ofproto.OFP_VERSION == ofproto_v1_3.OFP_VERSION
        ):
            owners = arbiter.flow_removed(msg.datapath, msg)
        elif (
            isinstance(ev, ofp_event.EventOFPFlowStatsReply)
            and msg.datapath.ofproto.OFP_VERSION == ofproto_v1_3.OFP_VERSION
        ):
            last = not msg.flags & ofproto_v1_3.OFPMPF_REPLY_MORE
            asker = arbiter.flow_stats.answer(msg, last)
            owners = None if asker is None else {asker}
        else:
            return observers
        if owners is None:
            return observers
        return _kept(observers, owners, keep_always)

    return get_observers


def _kept(observers: Iterable[str], owners: set[str], keep_always: set[str]) -> list[str]:
    """The observers an event of ``owners`` goes to (every observer not an app)."""
    modules = _app_modules()
    if _state['app_names_of'] is not modules:  # apps came: read them again
        _state['app_names'] = set(modules.values())
        _state['brick_owners'] = {}
        _state['app_names_of'] = modules
    apps, brick_owners = _state['app_names'], _state['brick_owners']
    kept = []
    for name in observers:
        owner = brick_owners.get(name)
        if owner is None:
            owner = brick_owners[name] = _owner_of_brick(name)
        if name in keep_always or owner in owners or owner not in apps:
            kept.append(name)
    return kept


def _owner_of_brick(name: str) -> str | None:
    brick = app_manager.SERVICE_BRICKS.get(name)
    return app_name(type(brick).__module__) if brick is not None else None


def install(arbiter: Arbiter) -> None:
    """Put ``arbiter`` between the apps and the switches."""
    patch_datapath()
    _state['arbiter'] = arbiter


def narrow_events(keep_always: Iterable[str] = ()) -> None:
    """Send packet-ins and flow-removed only to the apps they belong to. Call it once
    every app is instantiated (Ryu's ``ofp_event`` service comes last);
    ``keep_always``: brick names that see every event (the arbiter's own)."""
    brick = app_manager.lookup_service_brick('ofp_event')
    if brick is None:
        raise RuntimeError(
            'the ofp_event service (ryu.controller.ofp_handler) is not '
            'running: narrow_events() must run after the apps start'
        )
    if not getattr(brick.get_observers, 'narrowed', False):
        brick.get_observers = _narrowed_observers(brick.get_observers, set(keep_always))
        brick.get_observers.narrowed = True


def patch_datapath() -> None:
    """Replace the senders now (at import of the arbiter app, so that the order of apps
    on the command line does not matter); they pass everything through until
    ``install`` gives them an arbiter."""
    ryu_controller.Datapath.send_msg = send_msg
    ryu_controller.Datapath.send = send
    app_manager.RyuApp._event_loop = _event_loop
    openflow.send_together = send_together
    openflow.send_stamped = send_stamped
