"""A fake switch with ports, the Ryu events an app's handlers receive from one, and a
clock to stand in for time.monotonic, for unit tests of apps on controller/app_base.py
without ryu-manager."""

from types import SimpleNamespace
from typing import Any

from ryu.controller.handler import DEAD_DISPATCHER, MAIN_DISPATCHER
from ryu.ofproto import ofproto_parser
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.cookies import CookieSpace
from tests.harness.fakes import FakeDatapath


class FakeClock:
    """Call it for the time; move ``now`` to make time pass."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def port(port_no: int, up: bool = True) -> Any:
    """An OFPPort, with carrier when ``up``."""
    return parser.OFPPort(
        port_no=port_no,
        hw_addr='02:00:00:00:00:%02x' % (port_no % 256),
        name=b'p%d' % port_no,
        config=0,
        state=0 if up else ofp.OFPPS_LINK_DOWN,
        curr=0,
        advertised=0,
        supported=0,
        peer=0,
        curr_speed=0,
        max_speed=0,
    )


class FakeSwitch(FakeDatapath):
    """A FakeDatapath with ports (``ports``: port_no -> OFPPort, as a Datapath has after
    its handshake) whose messages are serialized, as a Datapath does, and parsed back
    into ``sent``: what a switch would read (``send``, raw bytes, is what
    controller/openflow.py's send_together writes). A message Ryu cannot parse back (a
    PACKET_OUT: Ryu has no parser for what only a controller sends) is kept as sent."""

    def __init__(self, dpid: int = 1, ports: tuple = (1, 2)) -> None:
        super().__init__(dpid)
        self.ports = {n: port(n) for n in ports}

    def send_msg(self, msg: Any) -> None:
        if msg.xid is None:
            self.set_xid(msg)
        msg.serialize()
        self.sent.append(self._read(bytes(msg.buf)) or msg)

    def send(self, data: bytes) -> None:
        while data:
            length = ofproto_parser.header(data)[2]
            self.sent.append(self._read(data[:length]))
            data = data[length:]

    def _read(self, data: bytes) -> Any:
        version, msg_type, length, xid = ofproto_parser.header(data)
        return ofproto_parser.msg(self, version, msg_type, length, xid, data)

    def take(self) -> list:
        """The messages sent since the last take()."""
        sent, self.sent = self.sent, []
        return sent


def connected(dp: Any) -> Any:
    return SimpleNamespace(datapath=dp, state=MAIN_DISPATCHER)


def dead(dp: Any) -> Any:
    return SimpleNamespace(datapath=dp, state=DEAD_DISPATCHER)


def port_status(dp: Any, desc: Any, reason: int = ofp.OFPPR_MODIFY) -> Any:
    return SimpleNamespace(msg=SimpleNamespace(datapath=dp, reason=reason, desc=desc))


def packet_in(dp: Any, in_port: int, data: bytes, cookie: int) -> Any:
    return SimpleNamespace(
        msg=SimpleNamespace(datapath=dp, cookie=cookie, data=data, match={'in_port': in_port})
    )


def flow_removed(dp: Any, cookie: int, match: dict, reason: int = ofp.OFPRR_IDLE_TIMEOUT) -> Any:
    return SimpleNamespace(
        msg=SimpleNamespace(datapath=dp, cookie=cookie, match=match, reason=reason)
    )


def describe(msg: Any, cookies: CookieSpace) -> tuple:
    """A message as a short comparable tuple:

    ('out', port) a packet-out; ('add', table, priority, match, kind, outputs, timeouts)
    ('del', table or None for all, match, kind, out_port or None, priority if strict)
    """
    if isinstance(msg, parser.OFPPacketOut):
        return ('out',) + tuple(a.port for a in msg.actions)
    match = dict(msg.match.items())
    kind = cookies.kind_of(msg.cookie)
    if msg.command == ofp.OFPFC_ADD:
        outputs = tuple(
            a.port
            for i in msg.instructions
            if isinstance(i, parser.OFPInstructionActions)
            for a in i.actions
        )
        gotos = tuple(
            'goto%d' % i.table_id
            for i in msg.instructions
            if isinstance(i, parser.OFPInstructionGotoTable)
        )
        return (
            'add',
            msg.table_id,
            msg.priority,
            match,
            kind,
            outputs + gotos,
            (msg.idle_timeout, msg.hard_timeout),
        )
    assert msg.cookie_mask and cookies.owns(msg.cookie), 'a delete beyond the app range'
    strict = msg.command == ofp.OFPFC_DELETE_STRICT
    return (
        'del',
        None if msg.table_id == ofp.OFPTT_ALL else msg.table_id,
        match,
        kind,
        None if msg.out_port == ofp.OFPP_ANY else msg.out_port,
        msg.priority if strict else None,
    )
