"""Switches for the stable-routing app without Open vSwitch, for unit tests: a bundle
sender whose bundles the fake switch answers at once, a datapath with ports, the
snapshots the tests install, and filters to read the messages with."""

from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.bundles import Transaction
from controller.cookies import FREE_MASK
from controller.flowspec import to_flow_mod
from controller.openflow import OVS_GROUP_ADD_OR_MOD, as_messages, message_count
from controller.stable import pipeline as pipe
from controller.stable.sft import Snapshot
from tests.harness.fakes import FakeDatapath
from topologies.numbering import host_mac

HOSTS = {host_mac(1): (1, 1), host_mac(2): (2, 1), host_mac(3): (3, 1)}
PORTS = {1: [1, 2, 3], 2: [1, 2, 3], 3: [1, 2, 3]}
LINE = Snapshot.make([1, 2, 3], [(1, 2, 2, 2), (2, 3, 3, 2)], HOSTS, PORTS)
# The same switches once s1:3 - s3:3 is cabled: a triangle.
TRIANGLE = Snapshot.make([1, 2, 3], [(1, 2, 2, 2), (2, 3, 3, 2), (1, 3, 3, 3)], HOSTS, PORTS)


class FakeBundles:
    """``send(dp, msgs)`` as BundleClient's: records ``(dpid, msgs)`` in ``sent`` (a
    FlowModBlock as the FLOW_MODs Ryu parses from its rows) and returns a Transaction
    answered at once, except that the calls numbered (from 0) in ``refuse`` get an
    error and those in ``unanswered`` are never confirmed; and so do all the calls to
    the switches (dpids) in ``refusing`` and ``silent``."""

    def __init__(self):
        self.sent, self.refuse, self.unanswered = [], set(), set()
        self.refusing, self.silent = set(), set()

    def send(self, dp, msgs):
        call = len(self.sent)
        self.sent.append((dp.id, as_messages(dp, msgs)))
        transaction = Transaction(dp.id, message_count(msgs))
        if call in self.refuse or dp.id in self.refusing:
            transaction.errors.append((ofp.OFPET_BAD_REQUEST, 0))
        if call not in self.unanswered and dp.id not in self.silent:
            transaction.done.set()
        return transaction

    def to(self, dpid, first_call=0):
        """The bundles sent to ``dpid`` from call ``first_call`` on."""
        return [msgs for sent_to, msgs in self.sent[first_call:] if sent_to == dpid]

    def phases(self, first_call):
        """The bundles from call ``first_call`` on, as [phase][dpid] -> messages. A
        phase sends to its switches in ascending dpid order (phase 2 only to some of
        them), so a phase ends where the dpids stop ascending."""
        phases: list[dict] = []
        last = None
        for dpid, msgs in self.sent[first_call:]:
            if last is None or dpid <= last:
                phases.append({})
            phases[-1][dpid] = msgs
            last = dpid
        return phases


class FakeClock:
    """A clock for the app's bookkeeping (faults, tallies): ``now`` moves when told."""

    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def flow_mods(msgs, table=None, command=ofp.OFPFC_ADD):
    return [
        m
        for m in msgs
        if isinstance(m, parser.OFPFlowMod)
        and m.command == command
        and (table is None or m.table_id == table)
    ]


def group_mods(msgs, command=OVS_GROUP_ADD_OR_MOD):
    return [m for m in msgs if isinstance(m, parser.OFPGroupMod) and m.command == command]


def fields(msg):
    return dict(msg.match.items())


class SwitchWithPorts(FakeDatapath):
    """A FakeDatapath with live ``ports`` (OFPPorts, as Ryu fills them on connection)
    that also takes send_together's writes: ``written`` holds the OpenFlow message types
    of each write."""

    def __init__(self, dpid, ports=(1, 2, 3)):
        super().__init__(dpid)
        self.ports = {
            port: parser.OFPPort(
                port, '02:00:00:00:%02x:%02x' % (dpid, port), b'p%d' % port, 0, 0, 0, 0, 0, 0, 0, 0
            )
            for port in ports
        }
        self.written = []
        self.closed = 0  # times the app closed the connection

    def close(self):
        self.closed += 1

    def send(self, buf):
        types, offset = [], 0
        while offset < len(buf):
            types.append(buf[offset + 1])
            offset += int.from_bytes(buf[offset + 2 : offset + 4], 'big')
        self.written.append(types)


def entry_diff(old_sft, new_sft, dpid):
    """(changed, removed) of switch ``dpid`` between two SFTs, computed the slow way
    from each switch's whole entry list: {mac: (old entry or None, new entry)} and
    {mac: old entry}; pipeline.entry_changes must agree with it."""
    old = pipe.switch_entries(old_sft, dpid) if old_sft is not None else {}
    new = pipe.switch_entries(new_sft, dpid)
    changed = {mac: (old.get(mac), entry) for mac, entry in new.items() if old.get(mac) != entry}
    return changed, {mac: old[mac] for mac in old.keys() - new.keys()}


def _actions(msg):
    """The apply-actions of a FLOW_MOD as comparable tuples."""
    out = []
    for instruction in msg.instructions:
        for action in getattr(instruction, 'actions', []):
            out.append(
                (
                    type(action).__name__,
                    getattr(action, 'port', None),
                    getattr(action, 'group_id', None),
                )
            )
    return tuple(out)


def rule_actions(spec):
    """The apply-actions of a FlowSpec, as ForwardTables.lookup gives them."""
    return _actions(to_flow_mod(FakeDatapath(), spec))


class ForwardTables:
    """The forward table and the version rules of the ingress table of each switch as
    OpenFlow would hold them after the FLOW_MODs sent so far (ADD, DELETE by cookie,
    DELETE_STRICT); which rule a frame stamped with a version meets in the forward
    table, and which versions a switch admits from its links: what per-packet
    consistency is checked on."""

    TABLES = (pipe.INGRESS_TABLE, pipe.FORWARD_TABLE)

    def __init__(self):
        self.tables = {}  # (dpid, table) -> {(priority, match items): (cookie, actions)}

    def apply(self, dpid, msgs):
        for msg in as_messages(FakeDatapath(dpid), msgs):
            if not isinstance(msg, parser.OFPFlowMod) or msg.table_id not in self.TABLES:
                continue
            table = self.tables.setdefault((dpid, msg.table_id), {})
            key = (msg.priority, tuple(sorted(fields(msg).items())))
            if msg.command == ofp.OFPFC_ADD:
                table[key] = (msg.cookie, _actions(msg))
                continue
            wanted = msg.cookie & msg.cookie_mask
            for k, (cookie, _) in list(table.items()):
                if cookie & msg.cookie_mask != wanted:
                    continue
                if msg.command == ofp.OFPFC_DELETE or k == key:
                    del table[k]

    def lookup(self, dpid, version, mac):
        """The actions of the highest-priority rule a frame with S-tag VID ``version``
        to ``mac`` meets on ``dpid``, or None (the table-miss and base rules aside)."""
        best = None
        for (priority, match), (_, actions) in self.tables.get(
            (dpid, pipe.FORWARD_TABLE), {}
        ).items():
            m = dict(match)
            vid = m.get('vlan_vid')
            if m.get('eth_dst') != mac:
                continue
            if vid == pipe.TAGGED or vid == pipe.VID_PRESENT | version:
                if best is None or priority > best[0]:
                    best = (priority, actions)
        return best and best[1]

    def stamped(self, dpid):
        """The version ``dpid``'s ingress rule stamps on frames from hosts, or None."""
        for cookie, _ in self.tables.get((dpid, pipe.INGRESS_TABLE), {}).values():
            if pipe.COOKIES.kind_of(cookie) == pipe.INGRESS:
                return pipe.version_of(cookie & FREE_MASK)
        return None

    def admitted(self, dpid):
        """The versions ``dpid`` lets in from its links (its version rules)."""
        return {
            dict(match)['vlan_vid'] & 0xFFF
            for (_, match), (cookie, _) in self.tables.get((dpid, pipe.INGRESS_TABLE), {}).items()
            if pipe.COOKIES.kind_of(cookie) == pipe.VERSION
        }
