"""LACP (IEEE 802.1AX) on the LAG member ports of one switch, as FAUCET's port options
ask (``lacp: LAG id``, ``lacp_active``, ``lacp_selected`` / ``lacp_unselected`` /
``lacp_standby``, ``lacp_passthrough``, ...). Pure: frames in and out as bytes, time
passed in, no Ryu events; the compiler (pipeline.py) turns ``Lags.carrying()`` into
rules, and switch.py sends the frames.

A member port carries traffic when all of these hold:
- its role is SELECTED: forced by ``lacp_selected``, refused by ``lacp_unselected``,
  else selected when its switch is the one nominated for the LAG (always, unless the
  LAG spans switches of a stack: then the switch with most members up, then the
  lowest dp_id); a port not nominated is STANDBY with ``lacp_standby``, else
  UNSELECTED;
- its link is up, and every port of its ``lacp_passthrough`` too;
- its partner's last LACPDU came less than the switch's ``lacp_timeout`` seconds ago
  and says the partner is in sync and collecting (its actor synchronization and
  collecting bits: a partner not collecting yet would lose what is sent to it);
- that partner is the LAG's partner: the (system, key) of the LAG's lowest-numbered
  member that qualifies (a member cabled to another system carries nothing).

Our LACPDUs say (actor) the switch's system id, the LAG id as key, the port's id and
priority, and sync + collecting + distributing when the port is SELECTED (sync alone
when STANDBY, nothing when UNSELECTED), with a short timeout: the partner sends every
second. A member answers each partner LACPDU that changed, or once per
``lacp_resp_interval`` otherwise; an active member (``lacp_active``) also speaks first,
every second until its partner is heard.
"""

from dataclasses import dataclass, field
from typing import Any

from ryu.lib.packet import ethernet, packet, slow

SLOW_PROTOCOLS = 0x8809  # EtherType of LACP (IEEE 802.3 slow protocols)
LACP_MAC = '01:80:c2:00:00:02'  # slow protocols' multicast destination
FAST_PERIOD = 1.0  # seconds between an active member's LACPDUs

SELECTED, STANDBY, UNSELECTED = 'selected', 'standby', 'unselected'
FORCED = (SELECTED, UNSELECTED, STANDBY)  # lacp_selected, lacp_unselected, lacp_standby


@dataclass(frozen=True)
class LacpOptions:
    """A port's FAUCET LACP options."""

    lag: int  # FAUCET's lacp: the LAG id, also our actor key
    active: bool = False  # lacp_active: speak first, not only answer
    forced: str | None = None  # lacp_selected / lacp_unselected / lacp_standby
    passthrough: tuple[int, ...] = ()  # ports that must be up for this one to be
    port_priority: int = 255
    port_id: int | None = None  # None: the port number
    collect_and_distribute: bool = False  # always say collecting and distributing
    resp_interval: int = 1  # seconds between answers to an unchanged LACPDU

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {'lacp': self.lag}
        if self.active:
            data['lacp_active'] = True
        if self.forced is not None:
            data['lacp_' + self.forced] = True
        if self.passthrough:
            data['lacp_passthrough'] = list(self.passthrough)
        if self.port_priority != 255:
            data['lacp_port_priority'] = self.port_priority
        if self.port_id is not None:
            data['lacp_port_id'] = self.port_id
        if self.collect_and_distribute:
            data['lacp_collect_and_distribute'] = True
        if self.resp_interval != 1:
            data['lacp_resp_interval'] = self.resp_interval
        return data


def system_mac(dp_id: int) -> str:
    """The LACP system id of switch ``dp_id``: a locally administered MAC of its low 40
    bits (the switches of a stack all use their root's, so that a LAG spanning them
    is one system to its partner)."""
    low = dp_id & 0xFF_FFFF_FFFF
    return ':'.join(['0e'] + ['%02x' % ((low >> shift) & 0xFF) for shift in range(32, -8, -8)])


@dataclass(frozen=True)
class Partner:
    """What the partner's last LACPDU said of itself (its actor fields)."""

    system: str
    system_priority: int
    key: int
    port: int
    port_priority: int
    in_sync: bool
    collecting: bool
    distributing: bool
    short_timeout: bool
    active: bool
    aggregatable: bool

    @property
    def system_key(self) -> tuple[str, int]:
        return self.system, self.key

    @classmethod
    def of(cls, pdu: Any) -> 'Partner':
        return cls(
            pdu.actor_system,
            pdu.actor_system_priority,
            pdu.actor_key,
            pdu.actor_port,
            pdu.actor_port_priority,
            bool(pdu.actor_state_synchronization),
            bool(pdu.actor_state_collecting),
            bool(pdu.actor_state_distributing),
            bool(pdu.actor_state_timeout),
            bool(pdu.actor_state_activity),
            bool(pdu.actor_state_aggregation),
        )


def parse(frame: bytes) -> Partner | None:
    """The partner of an untagged LACPDU ``frame``; None for anything else."""
    if len(frame) < 14 or frame[12:14] != SLOW_PROTOCOLS.to_bytes(2, 'big'):
        return None
    try:
        pdu = packet.Packet(bytes(frame)).get_protocol(slow.lacp)
    except Exception:  # what a partner sent is not to be trusted: a bad PDU is none
        return None
    return Partner.of(pdu) if pdu is not None else None


@dataclass
class Member:
    """The state of one member port."""

    port: int
    options: LacpOptions
    link_up: bool = True  # until the switch says otherwise
    partner: Partner | None = None
    heard: float | None = None  # when its last LACPDU came
    sent: float | None = None  # when we last sent one


@dataclass
class Lags:
    """The LAG members of one switch, their partners and what they carry."""

    system: str  # our system id (system_mac)
    timeout: float  # FAUCET's lacp_timeout: a partner silent this long is gone
    members: dict[int, Member] = field(default_factory=dict)
    # LAG ids nominated to another switch of the stack (their members here are not)
    elsewhere: frozenset[int] = frozenset()

    @classmethod
    def of(cls, system: str, timeout: float, options: dict[int, LacpOptions]) -> 'Lags':
        return cls(system, timeout, {port: Member(port, opt) for port, opt in options.items()})

    def renew(self, system: str, timeout: float, options: dict[int, LacpOptions]) -> None:
        """A new policy: a member still in the same LAG keeps its partner and link
        state (its other options may change without taking it out); a member moved to
        another LAG starts afresh."""
        self.system, self.timeout = system, timeout
        members = {}
        for port, opt in options.items():
            old = self.members.get(port)
            if old is not None and old.options.lag == opt.lag:
                old.options = opt
                members[port] = old
            else:
                members[port] = Member(port, opt)
        self.members = members

    # --- roles and what carries ---------------------------------------------------

    def role(self, port: int) -> str:
        """SELECTED, STANDBY or UNSELECTED, as FAUCET's port selection."""
        options = self.members[port].options
        if options.forced in (SELECTED, UNSELECTED):
            return options.forced
        if options.lag not in self.elsewhere:
            return SELECTED
        return STANDBY if options.forced == STANDBY else UNSELECTED

    def _passes(self, member: Member) -> bool:
        return member.link_up and all(
            self.members[p].link_up if p in self.members else True
            for p in member.options.passthrough
        )

    def partner_up(self, port: int, now: float) -> bool:
        """Whether ``port``'s partner is heard, in sync and collecting, and its link (and
        passthrough ports) up: FAUCET's actor UP. Collecting too: a frame sent to a
        partner that is not collecting yet is lost (802.1AX distributes only then)."""
        member = self.members[port]
        return (
            self._passes(member)
            and member.partner is not None
            and member.heard is not None
            and now - member.heard <= self.timeout
            and member.partner.in_sync
            and member.partner.collecting
        )

    def up_counts(self, now: float) -> dict[int, int]:
        """{LAG id: members whose partner is up}, for nominating a switch of a stack."""
        counts: dict[int, int] = {}
        for port, member in self.members.items():
            if self.partner_up(port, now):
                counts[member.options.lag] = counts.get(member.options.lag, 0) + 1
        return counts

    def carrying(self, now: float) -> dict[int, frozenset[int]]:
        """{LAG id: the member ports that carry its traffic} (every LAG, maybe none)."""
        lags: dict[int, list[int]] = {m.options.lag: [] for m in self.members.values()}
        system: dict[int, tuple[str, int]] = {}  # LAG id -> its partner
        for port in sorted(self.members):
            member = self.members[port]
            if self.role(port) != SELECTED or not self.partner_up(port, now):
                continue
            assert member.partner is not None  # partner_up says so
            lag = member.options.lag
            if system.setdefault(lag, member.partner.system_key) == member.partner.system_key:
                lags[lag].append(port)
        return {lag: frozenset(ports) for lag, ports in lags.items()}

    # --- LACPDUs --------------------------------------------------------------------

    def _flags(self, port: int) -> tuple[int, int, int]:
        """(sync, collecting, distributing) that ``port`` says of itself."""
        member = self.members[port]
        role = self.role(port)
        if not self._passes(member):
            return 0, 0, 0
        if member.options.collect_and_distribute or role == SELECTED:
            return 1, 1, 1
        return (1, 0, 0) if role == STANDBY else (0, 0, 0)

    def pdu(self, port: int) -> bytes:
        """Our LACPDU for member ``port``: our actor state, and its partner as last
        heard (zeros before)."""
        member = self.members[port]
        options = member.options
        sync, collecting, distributing = self._flags(port)
        heard: Partner | None = member.partner
        partner: dict[str, Any] = {}
        if heard is not None:
            partner = dict(
                partner_system_priority=heard.system_priority,
                partner_system=heard.system,
                partner_key=heard.key,
                partner_port_priority=heard.port_priority,
                partner_port=heard.port,
                partner_state_activity=int(heard.active),
                partner_state_timeout=int(heard.short_timeout),
                partner_state_aggregation=int(heard.aggregatable),
                partner_state_synchronization=int(heard.in_sync),
                partner_state_collecting=int(heard.collecting),
                partner_state_distributing=int(heard.distributing),
            )
        frame = packet.Packet()
        frame.add_protocol(
            ethernet.ethernet(dst=LACP_MAC, src=self.system, ethertype=SLOW_PROTOCOLS)
        )
        frame.add_protocol(
            slow.lacp(
                actor_system_priority=65535,
                actor_system=self.system,
                actor_key=options.lag,
                actor_port_priority=options.port_priority,
                actor_port=(options.port_id if options.port_id is not None else port) & 0xFFFF,
                actor_state_activity=int(options.active),
                actor_state_timeout=1,
                actor_state_aggregation=1,
                actor_state_synchronization=sync,
                actor_state_collecting=collecting,
                actor_state_distributing=distributing,
                actor_state_defaulted=int(heard is None),
                **partner,
            )
        )
        frame.serialize()
        return bytes(frame.data)

    def receive(self, port: int, frame: bytes, now: float) -> bytes | None:
        """A frame from member ``port`` at ``now``: if it is an LACPDU, its partner is
        recorded; our answer, or None (not an LACPDU, not a member, or answered less
        than lacp_resp_interval ago with nothing changed)."""
        member = self.members.get(port)
        heard = parse(frame)
        if member is None or heard is None:
            return None
        changed = heard != member.partner
        member.partner, member.heard = heard, now
        if not changed and member.sent is not None:
            if now - member.sent < member.options.resp_interval:
                return None
        return self._sent(member, now)

    def _sent(self, member: Member, now: float) -> bytes | None:
        if member.options.passthrough and not self._passes(member):
            return None  # as FAUCET: a passthrough member is silent while a peer is down
        member.sent = now
        return self.pdu(member.port)

    def tick(self, now: float) -> list[tuple[int, bytes]]:
        """Once a second: partners silent past the timeout are forgotten, and active
        members whose partner is not heard speak. [(port, frame)] to send."""
        frames = []
        for port, member in sorted(self.members.items()):
            if member.heard is not None and now - member.heard > self.timeout:
                member.partner, member.heard = None, None
            due = member.sent is None or now - member.sent >= FAST_PERIOD
            if member.link_up and member.options.active and member.partner is None and due:
                frame = self._sent(member, now)
                if frame is not None:
                    frames.append((port, frame))
        return frames

    def link(self, port: int, up: bool) -> bool:
        """Member ``port``'s link went ``up`` or down; whether that is news. A link
        down forgets its partner (it must be heard again)."""
        member = self.members.get(port)
        if member is None or member.link_up == up:
            return False
        member.link_up = up
        if not up:
            member.partner, member.heard = None, None
        return True

    def status(self, now: float) -> list[dict[str, Any]]:
        """Each member's state, for REST and logs."""
        carrying = {p for ports in self.carrying(now).values() for p in ports}
        return [
            {
                'port': port,
                'lag': member.options.lag,
                'role': self.role(port),
                'link_up': member.link_up,
                'partner_up': self.partner_up(port, now),
                'partner': member.partner.system if member.partner is not None else None,
                'partner_port': member.partner.port if member.partner is not None else None,
                'carrying': port in carrying,
            }
            for port, member in sorted(self.members.items())
        ]


def nominate(counts: dict[int, int], root: int | None) -> int | None:
    """The switch a LAG spanning switches of a stack is active on, from {dp_id: its
    members up}: most members up, then the stack root, then the lowest dp_id; None
    when no member is up anywhere."""
    best = [(-up, dp_id != root, dp_id) for dp_id, up in counts.items() if up > 0]
    return min(best)[2] if best else None


# --- the policy's options (loader.py) --------------------------------------------------

_MEMBER_ONLY = (
    'lacp_active',
    'lacp_selected',
    'lacp_unselected',
    'lacp_standby',
    'lacp_collect_and_distribute',
    'lacp_passthrough',
    'lacp_port_priority',
    'lacp_port_id',
    'lacp_resp_interval',
)


def lacp_options(conf: dict[str, Any]) -> LacpOptions | None:
    """The LacpOptions of an interface's settings (checked by the schema); None when
    it is not a LAG member (no ``lacp``, or FAUCET's 0)."""
    lag = conf.get('lacp')
    if not isinstance(lag, int) or isinstance(lag, bool) or lag <= 0:
        return None
    forced = [kind for kind in FORCED if conf.get('lacp_' + kind) is True]
    port_id = conf.get('lacp_port_id')
    return LacpOptions(
        lag=lag,
        active=conf.get('lacp_active') is True,
        forced=forced[0] if forced else None,
        passthrough=tuple(p for p in conf.get('lacp_passthrough') or () if isinstance(p, int)),
        port_priority=_int_or(conf.get('lacp_port_priority'), 255),
        port_id=port_id if isinstance(port_id, int) and port_id > 0 else None,
        collect_and_distribute=conf.get('lacp_collect_and_distribute') is True,
        resp_interval=_int_or(conf.get('lacp_resp_interval'), 1),
    )


def _int_or(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def lag_issues(
    interfaces: dict[int, Any], paths: dict[int, tuple], confs: dict[int, Any]
) -> list[tuple[tuple, str]]:
    """[(key path, message)] of what is wrong with a switch's LAGs: LACP options on a
    port that is no LAG member, two forced selection states, a member that is a stack,
    mirror or output-only port, a passthrough port that is not another port of the
    switch, and members of one LAG that carry different VLANs (a LAG is one port to
    its VLANs)."""
    issues = []
    first: dict[int, int] = {}  # LAG id -> its first member
    for number, intf in sorted(interfaces.items()):
        path, conf = paths[number], confs[number]
        if intf.lacp is None:
            for key in _MEMBER_ONLY:
                if key in conf:
                    issues.append(
                        (path + (key,), '%s applies to a LAG member: set lacp (the LAG id)' % key)
                    )
            continue
        forced = [
            key
            for key in ('lacp_selected', 'lacp_unselected', 'lacp_standby')
            if conf.get(key) is True
        ]
        if len(forced) > 1:
            issues.append(
                (
                    path + (forced[1],),
                    'cannot force two LACP selection states: %s' % ' and '.join(forced),
                )
            )
        for key, what in (
            ('stack', 'a stack port'),
            ('mirror', 'a mirror port'),
            ('output_only', 'output-only'),
        ):
            if conf.get(key) not in (None, False):
                issues.append(
                    (path + ('lacp',), 'port %d is %s: it cannot be a LAG member' % (number, what))
                )
        for index, peer in enumerate(intf.lacp.passthrough):
            if peer == number or peer not in interfaces:
                issues.append(
                    (
                        path + ('lacp_passthrough', index),
                        'port %d is not another port of this switch' % peer,
                    )
                )
        lag = intf.lacp.lag
        if lag not in first:
            first[lag] = number
            continue
        other = interfaces[first[lag]]
        if (intf.native_vlan, intf.tagged_vlans) != (other.native_vlan, other.tagged_vlans):
            issues.append(
                (
                    path + ('lacp',),
                    'the members of LAG %d carry different VLANs: port %d and port %d '
                    '(a LAG is one port to its VLANs)' % (lag, first[lag], number),
                )
            )
    return issues
