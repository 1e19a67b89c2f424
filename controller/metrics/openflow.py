"""OpenFlow counters per switch, counted once per process whatever the apps, and the
optional port and flow statistics poller (the job of FAUCET's Gauge).

:func:`install` (idempotent; controller/app_base.py calls it on import, before the
arbiter's interposition is imported) wraps three places of Ryu that every message
passes once:

- ``ofp_event.ofp_msg_to_ev``, which makes an event of every message a switch sends:
  packet-ins, errors and every other type are counted per (dpid, type), one dict
  increment;
- ``Datapath.send``, which every message to a switch goes through (``send_msg``,
  controller/openflow.py's ``send_together``, the arbiter's own writes): FlowMods,
  GroupMods and ONF bundle-adds (which carry them) are counted per switch by reading
  the headers of the buffer;
- ``Datapath.set_state``: a connection reaching MAIN counts as a connection, one that
  had and goes DEAD as a disconnection; the connection in use is what ``dp_status``
  and ``port_status`` read.

The poller (:class:`StatsPoller`, started by the base's ``stats_interval`` option, off
by default) asks every connected switch for its port and flow statistics each interval.
Its replies are taken where they arrive and reach no app: an app that reads flow
statistics of its own (stable_routing's read-back) never mistakes them for its own.
"""

import struct
from collections.abc import Iterable
from typing import Any

from prometheus_client.core import Metric
from ryu.base import app_manager  # noqa: F401  (ryu.controller.controller imports it, in a cycle)
from ryu.controller import controller as ryu_controller
from ryu.controller import event, ofp_event
from ryu.controller.handler import DEAD_DISPATCHER, MAIN_DISPATCHER
from ryu.ofproto import ofproto_common
from ryu.ofproto import ofproto_v1_3 as ofp13

from controller.metrics import counter, dp_id_label, gauge

_HEADER = struct.Struct('!xBH')  # type, length of an OpenFlow header
_EXPERIMENTER = struct.Struct('!II')  # experimenter id, type (OpenFlow 1.3 layout)
FLOW_MESSAGE_TYPES = frozenset({ofp13.OFPT_FLOW_MOD, ofp13.OFPT_GROUP_MOD})
#: OpenFlow 1.3 message type -> its name without OFPT_, for the ``type`` label
TYPE_NAMES = {
    value: name[len('OFPT_') :].lower()
    for name, value in vars(ofp13).items()
    if name.startswith('OFPT_') and isinstance(value, int)
}
DP_LABELS = ('dp_id', 'dp_name')


def flow_messages(buf: bytes | bytearray) -> int:
    """How many FlowMods, GroupMods and ONF bundle-adds a buffer of OpenFlow messages
    holds (a truncated or zero-length header ends the count)."""
    count, offset, size = 0, 0, len(buf)
    while offset + 4 <= size:
        msg_type, length = _HEADER.unpack_from(buf, offset)
        if msg_type in FLOW_MESSAGE_TYPES:
            count += 1
        elif msg_type == ofp13.OFPT_EXPERIMENTER and offset + 16 <= size:
            experimenter, exp_type = _EXPERIMENTER.unpack_from(buf, offset + 8)
            if (
                experimenter == ofproto_common.ONF_EXPERIMENTER_ID
                and exp_type == ofp13.ONF_ET_BUNDLE_ADD_MESSAGE
            ):
                count += 1
        if length < 8:
            break
        offset += length
    return count


class OpenFlowCounters:
    """The process's OpenFlow counters: plain dicts, turned into metric families only
    when scraped (:meth:`collect`)."""

    def __init__(self) -> None:
        self.received: dict[tuple[int, int], int] = {}  # (dpid, type) -> messages
        self.flow_msgs_sent: dict[int, int] = {}
        self.connections: dict[int, int] = {}
        self.disconnections: dict[int, int] = {}
        self.connected: dict[int, Any] = {}  # dpid -> the connection in use
        self.names: dict[int, str] = {}  # dpid -> a name an app gave it (vswitch's)

    def name(self, dpid: int) -> str:
        """The switch's ``dp_name``: its name in a policy, else its dpid in hex."""
        return self.names.get(dpid) or '%016x' % dpid

    def labels(self, dpid: int) -> list[str]:
        return [dp_id_label(dpid), self.name(dpid)]

    def sent(self, dp: Any, buf: bytes | bytearray) -> None:
        flow = flow_messages(buf)
        if flow and dp.id is not None:
            self.flow_msgs_sent[dp.id] = self.flow_msgs_sent.get(dp.id, 0) + flow

    def state_changed(self, dp: Any, state: Any) -> None:
        dpid = dp.id
        if dpid is None:
            return
        if state == MAIN_DISPATCHER:
            self.connections[dpid] = self.connections.get(dpid, 0) + 1
            self.connected[dpid] = dp
            dp.sdn_counted_connection = True
        elif state == DEAD_DISPATCHER and getattr(dp, 'sdn_counted_connection', False):
            dp.sdn_counted_connection = False
            self.disconnections[dpid] = self.disconnections.get(dpid, 0) + 1
            if self.connected.get(dpid) is dp:
                del self.connected[dpid]

    def collect(self) -> Iterable[Metric]:
        received = {
            ofp13.OFPT_PACKET_IN: counter(
                'of_packet_ins', 'OpenFlow packet-ins received', DP_LABELS
            ),
            ofp13.OFPT_ERROR: counter('of_errors', 'OpenFlow errors received', DP_LABELS),
        }
        by_type = counter(
            'of_msgs_received', 'OpenFlow messages received, by type', DP_LABELS + ('type',)
        )
        for (dpid, msg_type), value in sorted(self.received.items(), key=_known_first):
            if dpid is None:
                continue  # before the features reply: no dpid to say
            family = received.get(msg_type)
            if family is not None:
                family.add_metric(self.labels(dpid), value)
            by_type.add_metric(self.labels(dpid) + [TYPE_NAMES.get(msg_type, str(msg_type))], value)
        yield from received.values()
        yield by_type
        yield _per_switch(
            self,
            counter('of_flowmsgs_sent', 'FlowMods, GroupMods and bundle-adds sent', DP_LABELS),
            self.flow_msgs_sent,
        )
        yield _per_switch(
            self,
            counter('of_dp_connections', 'connections of a switch', DP_LABELS),
            self.connections,
        )
        yield _per_switch(
            self,
            counter('of_dp_disconnections', 'disconnections of a switch', DP_LABELS),
            self.disconnections,
        )
        status = gauge('dp_status', 'whether the switch is connected (1) or not (0)', DP_LABELS)
        for dpid in sorted(self.connections):
            status.add_metric(self.labels(dpid), 1 if dpid in self.connected else 0)
        yield status
        ports = gauge(
            'port_status',
            'whether the port is live (1: carrier and admin up) or not (0)',
            DP_LABELS + ('port',),
        )
        for dpid, dp in sorted(self.connected.items()):
            for port_no, port in sorted(dict(dp.ports).items()):
                if port_no <= ofp13.OFPP_MAX:  # not the bridge's LOCAL port
                    ports.add_metric(
                        self.labels(dpid) + [str(port_no)], 1 if port_live(port) else 0
                    )
        yield ports


def _known_first(item: tuple[tuple[Any, int], int]) -> tuple[int, int]:
    (dpid, msg_type), _ = item
    return (-1 if dpid is None else dpid, msg_type)


def _per_switch(counters: OpenFlowCounters, family: Any, values: dict[int, int]) -> Any:
    for dpid, value in sorted(values.items()):
        family.add_metric(counters.labels(dpid), value)
    return family


def port_live(port: Any) -> bool:
    """Carrier up and not administratively down (an OFPPort of OpenFlow 1.3)."""
    return not (port.state & ofp13.OFPPS_LINK_DOWN or port.config & ofp13.OFPPC_PORT_DOWN)


# --- the statistics poller ------------------------------------------------------------

PORT_STATS = (
    ('rx_packets', 'packets received'),
    ('tx_packets', 'packets sent'),
    ('rx_bytes', 'bytes received'),
    ('tx_bytes', 'bytes sent'),
    ('rx_dropped', 'packets dropped on receive'),
    ('tx_dropped', 'packets dropped on send'),
    ('rx_errors', 'receive errors'),
    ('tx_errors', 'send errors'),
)


class EventStatsTaken(event.EventBase):
    """What a reply to the poller becomes: an event no app observes."""

    def __init__(self, msg: Any) -> None:
        super().__init__()
        self.msg = msg


class StatsPoller:
    """Port and flow statistics of every connected switch, asked for each round and
    kept as last answered (a multipart reply is kept once its last part is in)."""

    def __init__(self, counters: OpenFlowCounters) -> None:
        self.counters = counters
        # (dpid, xid) -> (where the answer is kept, its parts so far)
        self.waiting: dict[tuple[int, int], tuple[dict[int, list], list]] = {}
        self.ports: dict[int, list] = {}  # dpid -> OFPPortStats of the last answer
        self.flows: dict[int, list] = {}  # dpid -> OFPFlowStats of the last answer
        self.rounds = 0
        self.claimed = False

    def claim(self) -> bool:
        """True for the first app of the process that asks to poll: it runs the loop."""
        if self.claimed:
            return False
        self.claimed = True
        return True

    def poll(self) -> None:
        """One round: a port and a flow statistics request to every connected switch.
        Requests not answered by the next round are given up."""
        self.waiting.clear()
        self.rounds += 1
        for dpid, dp in list(self.counters.connected.items()):
            parser, ofp = dp.ofproto_parser, dp.ofproto
            for request, kept in (
                (parser.OFPPortStatsRequest(dp, 0, ofp.OFPP_ANY), self.ports),
                (parser.OFPFlowStatsRequest(dp, table_id=ofp.OFPTT_ALL), self.flows),
            ):
                dp.set_xid(request)
                self.waiting[(dpid, request.xid)] = (kept, [])
                dp.send_msg(request)
        for dpid in set(self.ports) - set(self.counters.connected):
            self.ports.pop(dpid, None)
            self.flows.pop(dpid, None)

    def take(self, msg: Any) -> bool:
        """Whether ``msg`` answers the poller (then it is kept here)."""
        if not self.waiting:
            return False
        key = (msg.datapath.id, msg.xid)
        waiting = self.waiting.get(key)
        if waiting is None or msg.msg_type != ofp13.OFPT_MULTIPART_REPLY:
            return False
        kept, parts = waiting
        parts.extend(msg.body)
        if not msg.flags & ofp13.OFPMPF_REPLY_MORE:
            del self.waiting[key]
            kept[msg.datapath.id] = parts
        return True

    def collect(self) -> Iterable[Metric]:
        if not self.claimed:
            return
        labels = DP_LABELS + ('port',)
        for field, what in PORT_STATS:
            family = gauge('of_port_' + field, 'port statistics: %s' % what, labels)
            for dpid, stats in sorted(self.ports.items()):
                for stat in stats:
                    family.add_metric(
                        self.counters.labels(dpid) + [str(stat.port_no)], getattr(stat, field)
                    )
            yield family
        flow_labels = DP_LABELS + ('table_id', 'priority', 'cookie', 'match')
        packets = gauge('flow_packet_count', 'packets matched by a flow', flow_labels)
        octets = gauge('flow_byte_count', 'bytes matched by a flow', flow_labels)
        for dpid, stats in sorted(self.flows.items()):
            for stat in stats:
                labels_of = self.counters.labels(dpid) + [
                    str(stat.table_id),
                    str(stat.priority),
                    hex(stat.cookie),
                    match_text(stat.match),
                ]
                packets.add_metric(labels_of, stat.packet_count)
                octets.add_metric(labels_of, stat.byte_count)
        yield packets
        yield octets


def match_text(match: Any) -> str:
    """'eth_dst=00:00:00:00:00:01,in_port=1': a flow's match as a label value."""
    return ','.join('%s=%s' % (key, value) for key, value in sorted(match.items()))


# --- the process's counters, and where Ryu is wrapped ---------------------------------

OPENFLOW = OpenFlowCounters()
POLLER = StatsPoller(OPENFLOW)
# What the wrappers call: Ryu's functions as found by install().
_wrapped: dict[str, Any] = {}


def _msg_to_ev(msg: Any) -> Any:
    # Inline, not a method call: this runs for every message of every switch.
    received = OPENFLOW.received
    key = (msg.datapath.id, msg.msg_type)
    received[key] = received.get(key, 0) + 1
    if POLLER.waiting and POLLER.take(msg):
        return EventStatsTaken(msg)
    return _wrapped['msg_to_ev'](msg)


def _send(self: Any, buf: bytes | bytearray, close_socket: bool = False) -> bool:
    OPENFLOW.sent(self, buf)
    return _wrapped['send'](self, buf, close_socket)


def _set_state(self: Any, state: Any) -> None:
    if self.state != state:
        OPENFLOW.state_changed(self, state)
    _wrapped['set_state'](self, state)


def _places() -> tuple[tuple[str, Any, str, Any], ...]:
    """(key, owner, attribute, our wrapper) of each place of Ryu wrapped."""
    return (
        ('msg_to_ev', ofp_event, 'ofp_msg_to_ev', _msg_to_ev),
        ('send', ryu_controller.Datapath, 'send', _send),
        ('set_state', ryu_controller.Datapath, 'set_state', _set_state),
    )


def install() -> None:
    """Wrap Ryu where messages pass (idempotent). Runs before the arbiter's
    interposition is imported (controller/app_base.py imports this first): the arbiter
    writes past itself with the ``Datapath.send`` it found, which is then this one, so
    its messages are counted too."""
    for key, owner, attribute, wrapper in _places():
        if key not in _wrapped:
            _wrapped[key] = getattr(owner, attribute)
            setattr(owner, attribute, wrapper)


def uninstall() -> None:
    """Put Ryu's functions back where the wrappers are still in place: nothing counted
    from then on (bench/apps/metrics_off.py, for the cost of metrics). A wrapper that
    something else has wrapped in turn (the arbiter's senders) stays, as the layer
    under it."""
    for key, owner, attribute, wrapper in _places():
        if key in _wrapped and getattr(owner, attribute) is wrapper:
            setattr(owner, attribute, _wrapped.pop(key))


def families() -> Iterable[Metric]:
    """The OpenFlow counters' and the poller's families (a source of the registry)."""
    yield from OPENFLOW.collect()
    yield from POLLER.collect()
