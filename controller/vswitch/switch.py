"""One switch under a VLAN/ACL policy, as apps/vswitch_policy.py keeps it: the static
rules installed, the port plans, the hosts learned per VLAN, and what a packet-in or a
new policy changes. Pure: it builds OpenFlow messages with the datapath's parser and
leaves sending (and logging) to the app.

    sw = PolicySwitch.of(dp, policy)             # None: the policy does not name dp
    send(sw.install())                           # on connect
    learned = sw.learn(in_port, frame, settings) # on a SRC_MISS packet-in
    change = sw.apply(new_policy)                # on reload: the smallest diff
    send(sw.lacp_in(in_port, frame))             # an LACPDU: our answer
    if sw.lag_news(): send(sw.relag().messages)  # LAG members began or ceased to carry

A switch with FAUCET's ``ofchannel_log`` has the messages these produce (all of which
the app sends) and the packet-ins it learns from written to that file, one per line.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from controller import flowspec
from controller import openflow as of
from controller.flowspec import FlowSpec
from controller.learning import Learned, MacTable, is_unicast
from controller.ofmatch import OFPVID_PRESENT
from controller.vswitch import acl_actions, egress, lacp, pipeline, portopts, routing, vip
from controller.vswitch.fabric import Fabric
from controller.vswitch.faucet_layout import layout_note
from controller.vswitch.model import FAUCET_MAC, OVS_HARDWARE, Datapath, Policy
from controller.vswitch.pipeline import PortPlan

# A port over its max_hosts is refused new hosts for this long.
BAN_SECONDS = 60
_TPID = b'\x81\x00'
# OpenFlow 1.3's virtual meters (Open vSwitch implements both): packets sent to the
# controller, and packets the switch handles in its slow path.
OFPM_SLOWPATH, OFPM_CONTROLLER = 0xFFFFFFFD, 0xFFFFFFFE
_CHANNEL_LOGS: dict[str, logging.Logger] = {}


def channel_log(path: str) -> logging.Logger:
    """The logger that appends to the ofchannel_log file ``path`` (one per file, kept
    for the process: a reload naming the same file keeps writing to it). The file is
    opened at the first message."""
    if path not in _CHANNEL_LOGS:
        logger = logging.getLogger('vswitch_policy.ofchannel.%d' % len(_CHANNEL_LOGS))
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        handler = logging.FileHandler(path, delay=True)
        handler.setFormatter(logging.Formatter('%(asctime)s %(message)s'))
        logger.addHandler(handler)
        _CHANNEL_LOGS[path] = logger
    return _CHANNEL_LOGS[path]


# A meter as the switch gets it: (flags, ((rate, burst_size), ...) of its drop bands).
MeterEntry = tuple[tuple[str, ...], tuple[tuple[int, int], ...]]


def meters(policy: Policy, model: Datapath | None) -> dict[int, MeterEntry]:
    """{meter id: entry} of the switch: the policy's meters (FAUCET installs them all
    on every switch), and the virtual meters that packetin_pps and slowpath_pps ask."""
    if model is None:
        return {}
    wanted = {m.meter_id: (m.flags, m.bands) for m in policy.meters.values()}
    for meter, pps in ((OFPM_CONTROLLER, model.packetin_pps), (OFPM_SLOWPATH, model.slowpath_pps)):
        if pps:
            wanted[meter] = (('PKTPS',), ((pps, 0),))
    return wanted


def meter_mod(dp: Any, command: int, meter_id: int, entry: MeterEntry = ((), ())) -> Any:
    """An OFPMeterMod of meter ``meter_id`` with ``entry``'s flags and drop bands."""
    ofp, parser = dp.ofproto, dp.ofproto_parser
    flags = 0
    for flag in entry[0]:
        flags |= getattr(ofp, 'OFPMF_' + flag)
    if command == ofp.OFPMC_DELETE:
        return parser.OFPMeterMod(dp, command, flags, meter_id, [])
    bands = [parser.OFPMeterBandDrop(rate=rate, burst_size=burst) for rate, burst in entry[1]]
    return parser.OFPMeterMod(dp, command, flags or ofp.OFPMF_KBPS, meter_id, bands)


@dataclass(frozen=True)
class LearningSettings:
    """The app's options for learned hosts."""

    idle_timeout: int  # a learned destination lives this long without traffic
    hard_timeout: int  # a learned source is learned again after this
    default_max_hosts: int  # per port and VLAN, where the policy sets no max_hosts

    @classmethod
    def from_options(
        cls, idle_timeout: int, relearn_fraction: float, default_max_hosts: int
    ) -> 'LearningSettings':
        """Sources expire after ``relearn_fraction`` of ``idle_timeout`` (at least 1 s),
        so a host that is still there is seen again before its destination expires."""
        return cls(idle_timeout, max(1, int(idle_timeout * relearn_fraction)), default_max_hosts)


@dataclass(frozen=True)
class HostSeen:
    """What a packet-in's source did to the hosts learned: ``result`` as MacTable.learn
    says; ``messages``, the flow-mods that make the host known (empty unless it was
    learned, refreshed or moved)."""

    mac: str
    vid: int
    port: int
    result: Learned
    previous: int | None
    messages: list[Any] = field(default_factory=list)
    looped: bool = False  # loop_protect banned learning on the port (FAUCET's)


@dataclass(frozen=True)
class PolicyChange:
    """What a new policy (or fabric) changed on one switch, make before break:
    ``make`` adds what is new (meters, fast-failover groups, then ADDs of the new and
    changed rules: an ADD replaces a rule in place; a new stack port takes frames in);
    ``reroute`` moves the hosts of other switches onto their new stable routes;
    ``retire`` takes away what is gone (strict deletes of the rules, the deletes of
    the hosts forgotten on ``forgotten`` (port, VID) pairs, then the groups no rule
    uses any more). Across a fabric, each of the three is confirmed on every switch
    before the next is sent (docs/fabric.md)."""

    added: int
    deleted: int
    forgotten: list[tuple[int, int]]
    make: list[Any]
    reroute: list[Any] = field(default_factory=list)
    retire: list[Any] = field(default_factory=list)

    @property
    def messages(self) -> list[Any]:
        """Every message, in the order to send."""
        return self.make + self.reroute + self.retire

    @property
    def steps(self) -> tuple[list[Any], list[Any], list[Any]]:
        return self.make, self.reroute, self.retire

    def __len__(self) -> int:
        return self.added + self.deleted


class PolicySwitch:
    """A switch the policy names, and its state in the app."""

    def __init__(
        self, dp: Any, policy: Policy, model: Datapath | None, fabric: Fabric | None = None
    ) -> None:
        self.dp = dp
        self.hosts: dict[int, MacTable] = {}  # vid -> the hosts learned in it
        self._second, self._learn_ins = 0, 0  # learning packet-ins in the current second
        self.pinned: set[tuple[int, str]] = set()  # (vid, MAC) learned on permanent ports
        # (vid, MAC) -> (the switch it was learned on, its rule here): hosts of the
        # fabric learned on another switch
        self.remote: dict[tuple[int, str], tuple[int, FlowSpec]] = {}
        self.router: routing.SwitchRouter | None = None
        self.routed: frozenset[FlowSpec] = frozenset()  # the FIB rules of next hops known
        self.lags = lacp.Lags(lacp.system_mac(dp.id), 30)  # the LAGs' members and partners
        self.clock = time.monotonic  # of learning, bans and LACP (tests set their own)
        self.loop_banned: dict[int, float] = {}  # port -> when loop_protect last banned it
        self.beacon_sent: dict[int, float] = {}  # port -> when its last LLDP beacon left
        self.beacon_round = float('-inf')  # when the last round of beacons left
        self.lldp_peers: dict[int, str] = {}  # port -> the LLDP peer last heard there
        # (port, vid) whose learned hosts have hairpin or external-port rules too
        self.extra_rules: set[tuple[int, int]] = set()
        self._use(policy, model, fabric)

    @classmethod
    def of(cls, dp: Any, policy: Policy, fabric: Fabric | None = None) -> 'PolicySwitch | None':
        """The state of ``dp`` under ``policy`` (and its ``fabric``, computed if None);
        None if the policy does not name it."""
        model = policy.datapath_by_id(dp.id)
        return cls(dp, policy, model, fabric) if model is not None else None

    def _use(self, policy: Policy, model: Datapath | None, fabric: Fabric | None) -> None:
        self.model = model  # the policy's Datapath (None: no longer named)
        self.policy = policy
        self.fabric = fabric if fabric is not None or model is None else Fabric.of(policy)
        self.plans: dict[int, PortPlan] = (
            pipeline.port_plans(policy, model, self.fabric) if model is not None else {}
        )
        self._use_lags(policy, model)
        self.installed: frozenset[FlowSpec] = (
            pipeline.compile_datapath(policy, model, self.fabric, self.carrying)
            if model is not None
            else frozenset()
        )
        # fast-failover groups: the fabric's protected routes, the ACLs' failover outputs
        self.groups: dict[int, tuple[int, ...]] = (
            dict(self.fabric.groups(self.dp.id)) if self.fabric is not None else {}
        )
        if model is not None:
            self.groups.update(acl_actions.failover_groups(policy, model))
        self.lag_groups = pipeline.lag_groups(model, self.carrying) if model is not None else {}
        self.vlan_max_hosts = {vlan.vid: vlan.max_hosts for vlan in policy.vlans.values()}
        self.vlans_by_vid = {vlan.vid: vlan for vlan in policy.vlans.values()}
        self.meters = meters(policy, model)
        path = model.ofchannel_log if model is not None else None
        self.channel = channel_log(path) if path else None
        self.router = routing.SwitchRouter(
            routing.Fib.of(policy) if model is not None else routing.Fib(()),
            frozenset(v for p in self.plans.values() for v in p.vids),
            (pipeline.ETH_SRC, pipeline.ETH_DST),
            pipeline.COOKIES.cookie(pipeline.ROUTE),
            self.router.resolver if self.router is not None else None,
            time.monotonic(),
        )

    def _use_lags(self, policy: Policy, model: Datapath | None) -> None:
        """The LAG members of ``model`` (those unchanged keep their partner), and what
        they carry now. The switches of a stack share one LACP system id (their lowest
        dp_id's), so that a LAG spanning them is one system to its partner."""
        options = {}
        system, timeout = self.dp.id, 30
        if model is not None:
            options = {
                n: i.lacp for n, i in model.interfaces.items() if i.lacp is not None and i.enabled
            }
            timeout = model.lacp_timeout
            if model.stack_ports:
                system = min(dp.dp_id for dp in policy.dps.values() if dp.stack_ports)
        self.lags.renew(lacp.system_mac(system), timeout, options)
        self.carrying = self.lags.carrying(self.clock())

    def _logged(self, messages: list[Any]) -> list[Any]:
        """``messages``, written to the ofchannel_log first if there is one."""
        if self.channel is not None:
            for msg in messages:
                self.channel.info('%016x sent %s', self.dp.id, msg)
        return messages

    @property
    def name(self) -> str:
        return self.model.name if self.model is not None else '%016x' % self.dp.id

    @property
    def hardware_note(self) -> str:
        """For the connect log line: a FAUCET hardware name other than Open vSwitch
        is accepted, and the switch gets the Open vSwitch pipeline all the same; so do
        FAUCET's table layout options (faucet_layout.py)."""
        if self.model is None:
            return ''
        note = layout_note(self.model.layout)
        if self.model.hardware != OVS_HARDWARE:
            note = " (hardware '%s': driven with the Open vSwitch pipeline)%s" % (
                self.model.hardware,
                note,
            )
        if self.model.min_lacp_health is not None:  # our root election counts stack ports only
            note += ' (min_lacp_health: not counted in the stack root election)'
        return note

    def install(self) -> list[Any]:
        """The messages that make the switch hold exactly the static rules: the app's
        rules deleted, then every rule added, table by table."""
        dp, ofp = self.dp, self.dp.ofproto
        return self._logged(
            [of.flow_delete(dp, *pipeline.COOKIES.all_rules())]
            + [
                meter_mod(dp, ofp.OFPMC_DELETE, meter)
                for meter in (OFPM_CONTROLLER, OFPM_SLOWPATH)
                + tuple(sorted(set(self.meters) - {OFPM_CONTROLLER, OFPM_SLOWPATH}))
            ]
            + [meter_mod(dp, ofp.OFPMC_ADD, meter, entry) for meter, entry in self.meters.items()]
            + [of.failover_group(dp, group, ports) for group, ports in sorted(self.groups.items())]
            + [
                of.select_group(dp, group, ports)
                for group, ports in sorted(self.lag_groups.items())
            ]
            + [flowspec.to_flow_mod(dp, spec) for spec in sorted(self.installed)]
        )

    # --- the fabric -----------------------------------------------------------------

    @property
    def offset(self) -> int:
        return self.model.priority_offset if self.model is not None else 0

    def remote_host(self, vid: int, mac: str, host_dp_id: int, idle_timeout: int) -> list[Any]:
        """Host ``mac`` of VLAN ``vid`` was learned on switch ``host_dp_id`` of the
        fabric: the rule that sends its frames there along the stable route (with its
        fast-failover backup). [] where there is no route, or the host is here."""
        if host_dp_id == self.dp.id or self.fabric is None or vid not in self.fabric.vids:
            return []
        route = self.fabric.route(self.dp.id, host_dp_id)
        if route is None:
            return []
        spec = pipeline.remote_rule(
            route, vid, mac, idle_timeout, self.offset, self._forwarding_table(vid)
        )
        self.remote[(vid, mac)] = (host_dp_id, spec)
        if vid in self.hosts:  # it moved away from here
            self.hosts[vid].forget(mac)
        return self._logged([flowspec.to_flow_mod(self.dp, spec)])

    def _forwarding_table(self, vid: int) -> int:
        """Where frames of VLAN ``vid`` are forwarded here (egress.py)."""
        vlan = self.vlans_by_vid.get(vid)
        filtered = (vid,) if vlan is not None and vlan.acls_out else ()
        return egress.forwarding_table(vid, filtered, pipeline.ETH_DST)

    def local_hosts(self) -> list[tuple[int, str]]:
        """[(vid, MAC)] of the hosts learned on this switch's own ports."""
        return sorted(
            (vid, mac)
            for vid, table in self.hosts.items()
            for port in self.plans
            for mac in table.macs_on_port(port)
        )

    def _rerouted(self) -> tuple[list[FlowSpec], list[FlowSpec]]:
        """(rules to add, rules to delete) that move the remote hosts' rules onto the
        routes of the fabric now in use."""
        add, delete = [], []
        for key, (host, old) in sorted(self.remote.items()):
            route = self.fabric.route(self.dp.id, host) if self.fabric is not None else None
            if route is None or self.model is None:
                delete.append(old)
                del self.remote[key]
                continue
            new = pipeline.remote_rule(
                route, key[0], key[1], old.idle_timeout, self.offset, self._forwarding_table(key[0])
            )
            if new != old:
                add.append(new)
                self.remote[key] = (host, new)
                if new.table != old.table:  # its VLAN's egress ACLs came or went
                    delete.append(old)
        return add, delete

    # --- learning -------------------------------------------------------------------

    def learn(
        self,
        in_port: int,
        frame: bytes,
        settings: LearningSettings,
        now: float | None = None,
        held_elsewhere: Callable[[int, str], bool] | None = None,
    ) -> HostSeen | None:
        """Learn the source of ``frame``, sent to the controller by the ETH_SRC miss
        rule from ``in_port`` at ``now`` (monotonic seconds). None for a frame that
        teaches nothing: untagged (the VLAN table tags every frame it lets in), from a
        port that does not carry its VLAN, or from a group address; or one ignored by
        the switch's ignore_learn_ins (every n-th packet-in of a second, as FAUCET).
        A host seen on an external port (loop_protect_external) is refused while
        ``held_elsewhere(vid, mac)`` says another switch has it on an ordinary port."""
        if self.channel is not None:
            self.channel.info(
                '%016x received packet-in port %d %s', self.dp.id, in_port, frame.hex()
            )
        now = self.clock() if now is None else now
        if self._ignored(now):
            return None
        if len(frame) < 18 or frame[12:14] != _TPID:
            return None
        vid = int.from_bytes(frame[14:16], 'big') & 0x0FFF
        src = of.mac_text(frame[6:12])
        plan = self.plans.get(in_port)
        if plan is None or not plan.carries(vid) or not is_unicast(src):
            return None
        if plan.lag_ports:  # a LAG's hosts are learned on its first member
            plan = self.plans[plan.lag_ports[0]]
        hosts = self.hosts.setdefault(
            vid, MacTable(settings.default_max_hosts, BAN_SECONDS, lambda: self.clock())
        )
        hosts.max_total = self.vlan_max_hosts.get(vid)
        known = hosts.lookup(src)
        if plan.external and held_elsewhere is not None and held_elsewhere(vid, src):
            return HostSeen(src, vid, plan.port, Learned.REFUSED, known)
        if self._looped(plan.port, known, hosts.seen_at(src), now, settings.idle_timeout / 2):
            self.loop_banned[plan.port] = now
            ban = portopts.loop_ban_rule(
                pipeline.ETH_SRC,
                pipeline.PRIO_LOOP_BAN + self.offset,
                plan.port,
                pipeline.COOKIES.cookie(pipeline.LOOP_BAN),
            )
            return HostSeen(
                src,
                vid,
                plan.port,
                Learned.REFUSED,
                known,
                self._logged([flowspec.to_flow_mod(self.dp, ban)]),
                looped=True,
            )
        if known is not None and known != plan.port and (vid, src) in self.pinned:
            # learned on a permanent_learn port: it does not move (its pin rule drops
            # its frames from other ports; this is one that raced the pin)
            return HostSeen(src, vid, plan.port, Learned.REFUSED, known)
        result, previous = hosts.learn(src, plan.port, max_macs=plan.max_hosts)
        if result not in (Learned.BANNED, Learned.REFUSED, Learned.FULL):
            self.remote.pop((vid, src), None)  # here now (its local rule replaces it)
        if plan.permanent and result in (Learned.NEW, Learned.MOVED):
            self.pinned.add((vid, src))
        messages = []
        if result is Learned.MOVED and (previous, vid) in self.extra_rules:
            # kept from the external ports where it was
            messages.append(
                self._delete(pipeline.EXTERNAL, None, vlan_vid=OFPVID_PRESENT | vid, eth_dst=src)
            )
        if result not in (Learned.BANNED, Learned.REFUSED, Learned.FULL):
            if plan.hairpin or plan.external:
                self.extra_rules.add((plan.port, vid))
            idle_source = self.model is not None and self.model.use_idle_timeout
            messages = self._logged(
                messages
                + [
                    # use_idle_timeout: the switch says when a source rule goes idle
                    flowspec.to_flow_mod(
                        self.dp, spec, send_flow_removed=idle_source and spec.idle_timeout > 0
                    )
                    for spec in pipeline.learned_rules(
                        plan,
                        vid,
                        src,
                        settings.idle_timeout,
                        settings.hard_timeout,
                        self.offset,
                        idle_source,
                    )
                ]
            )
        return HostSeen(src, vid, plan.port, result, previous, messages)

    def holds_locally(self, vid: int, mac: str) -> bool:
        """Whether host ``mac`` of VLAN ``vid`` is learned on a port of this switch
        other than an external one (loop_protect_external)."""
        port = self.hosts[vid].lookup(mac) if vid in self.hosts else None
        plan = self.plans.get(port) if port is not None else None
        return plan is not None and not plan.external and not plan.stack

    def _looped(
        self, port: int, known: int | None, seen_at: float | None, now: float, guard: float
    ) -> bool:
        """FAUCET's loop_protect: a host moving at once onto a loop-protected port, or
        any new source on it while its ban is recent, bans learning there."""
        intf = self.model.interfaces.get(port) if self.model is not None else None
        if intf is None or not intf.loop_protect:
            return False
        banned = self.loop_banned.get(port)
        if banned is not None and now - banned < guard:
            return True
        return portopts.rapid_move(True, known, port, seen_at, now, guard)

    def _ignored(self, now: float) -> bool:
        every = self.model.ignore_learn_ins if self.model is not None else 0
        if int(now) != self._second:
            self._second, self._learn_ins = int(now), 0
        self._learn_ins += 1
        return bool(every) and self._learn_ins % every == 0

    def answer(self, in_port: int, frame: bytes) -> list[Any]:
        """The packet-out that answers ``frame``, sent to the controller by a VIP rule
        from ``in_port``: an ARP reply, a neighbour advertisement or an echo reply from
        the router address it asks (controller/vswitch/vip.py); [] for anything else."""
        if len(frame) < 18 or frame[12:14] != _TPID:
            return []
        vid = int.from_bytes(frame[14:16], 'big') & 0x0FFF
        plan = self.plans.get(in_port)
        vlan = self.vlans_by_vid.get(vid)
        if plan is None or vlan is None or not plan.carries(vid):
            return []
        reply = vip.answer(vlan, frame, tagged=vid in plan.tagged_vids)
        if reply is None:
            return []
        dp, ofp, parser = self.dp, self.dp.ofproto, self.dp.ofproto_parser
        return self._logged(
            [
                parser.OFPPacketOut(
                    dp,
                    ofp.OFP_NO_BUFFER,
                    ofp.OFPP_CONTROLLER,
                    [parser.OFPActionOutput(in_port)],
                    reply,
                )
            ]
        )

    # --- routing (routing.py) ---------------------------------------------------------

    def _tagged(self, in_port: int, frame: bytes | bytearray) -> int | None:
        """The VID of a packet-in from ``in_port`` that carries it, else None."""
        if len(frame) < 18 or frame[12:14] != _TPID:
            return None
        vid = int.from_bytes(frame[14:16], 'big') & 0x0FFF
        plan = self.plans.get(in_port)
        return vid if plan is not None and plan.carries(vid) else None

    def _offset(self, spec: FlowSpec) -> FlowSpec:
        return replace(spec, priority=spec.priority + self.offset) if self.offset else spec

    def _fib_changes(self) -> tuple[list[Any], list[Any]]:
        """(ADDs, strict deletes) that bring the FIB rules of the next hops to what
        the router knows now."""
        wanted = (
            frozenset(self._offset(spec) for spec in self.router.rules())
            if self.router
            else frozenset()
        )
        change = flowspec.diff(self.routed, wanted)
        self.routed = wanted
        mask = pipeline.COOKIES.all_rules()[1]
        return (
            [flowspec.to_flow_mod(self.dp, spec) for spec in change.add],
            [flowspec.to_delete_strict(self.dp, spec, mask) for spec in change.delete],
        )

    def heard(self, in_port: int, frame: bytes | bytearray, now: float) -> list[Any]:
        """Learn a next hop from an ARP or neighbour discovery frame the VIP rules
        sent: the FIB changes it makes."""
        vid = self._tagged(in_port, frame)
        if vid is None or self.router is None or not self.router.heard(vid, in_port, frame, now):
            return []
        add, delete = self._fib_changes()
        return self._logged(add + delete)

    def route_miss(self, in_port: int, frame: bytes | bytearray, now: float) -> list[Any]:
        """A packet for a host of a connected subnet without its FIB rule: the rule
        (or, while it is asked for at the next route_tick, a drop for
        PENDING_SECONDS)."""
        vid = self._tagged(in_port, frame)
        if vid is None or self.router is None:
            return []
        spec = self.router.missed(vid, frame, now)
        if spec is None:
            return []
        return self._logged([flowspec.to_flow_mod(self.dp, self._offset(spec))])

    def route_tick(self, now: float) -> tuple[list[Any], list[str]]:
        """(the ARP requests and neighbour solicitations due at ``now`` and the FIB
        rules of next hops that stopped answering taken away; a line to log for each
        next hop that stopped answering and each gateway given up)."""
        if self.router is None:
            return [], []
        due = self.router.resolver.due(now)
        dp, ofp, parser = self.dp, self.dp.ofproto, self.dp.ofproto_parser
        tree = self.fabric.tree.get(dp.id, frozenset()) if self.fabric is not None else ()
        flood_plans = {p: plan for p, plan in self.plans.items() if not plan.stack or p in tree}
        messages = []
        for request in due.requests:
            frame = self.router.request_frame(request)
            plan = self.plans.get(request.port) if request.port is not None else None
            if frame is None:
                continue
            if plan is not None and plan.carries(request.vid):
                actions = pipeline.egress_actions(plan, request.vid)
            else:
                actions = pipeline.flood_actions(flood_plans, request.vid, None)
            messages.append(
                parser.OFPPacketOut(
                    dp,
                    ofp.OFP_NO_BUFFER,
                    ofp.OFPP_CONTROLLER,
                    flowspec.to_actions(dp, actions),
                    frame,
                )
            )
        if due.expired:
            add, delete = self._fib_changes()
            messages += add + delete
        notes = [
            'next hop %s of VLAN %d stopped answering: its FIB rules withdrawn' % (n.ip, n.vid)
            for n in due.expired
        ] + [
            'gateway %s of VLAN %d does not answer: its routes are not installed (still '
            'asked, every %d s at most)' % (n.ip, n.vid, routing.MAX_BACKOFF_SECONDS)
            for n in due.silent
        ]
        return self._logged(messages), notes

    def source_expired(self, match: Any) -> tuple[str, int, list[Any]] | None:
        """Under FAUCET's use_idle_timeout, the learned source rule with ``match`` (of
        a flow-removed message) went idle: the host is forgotten. (MAC, VID, the
        delete of its destination rule); None if ``match`` is not a source rule of a
        host still learned on its port."""
        port, tagged_vid, mac = (match.get(k) for k in ('in_port', 'vlan_vid', 'eth_src'))
        if not (isinstance(port, int) and isinstance(tagged_vid, int) and isinstance(mac, str)):
            return None
        vid = tagged_vid & ~OFPVID_PRESENT
        if vid not in self.hosts or not self.hosts[vid].forget(mac, port):
            return None
        delete = self._delete(pipeline.LEARN_DST, None, vlan_vid=tagged_vid, eth_dst=mac)
        return mac, vid, self._logged([delete])

    def forget(self, port: int, vid: int) -> list[Any]:
        """Forget the hosts learned on ``port`` in VLAN ``vid``: the messages that
        delete their rules."""
        macs = self.hosts[vid].forget_port(port) if vid in self.hosts else set()
        tagged_vid = OFPVID_PRESENT | vid
        pins = sorted(mac for mac in macs if (vid, mac) in self.pinned)
        self.pinned -= {(vid, mac) for mac in pins}
        plan = self.plans.get(port)
        members = plan.lag_ports if plan is not None and plan.lag_ports else ()
        if members:  # a LAG's hosts: a source rule per member, reached by its group
            dsts = [
                self._delete(pipeline.LEARN_DST, None, vlan_vid=tagged_vid, eth_dst=mac)
                for mac in sorted(macs)
            ]
        else:
            # in ETH_DST, or EGRESS where the VLAN has egress ACLs: every table
            dsts = [self._delete(pipeline.LEARN_DST, None, port, vlan_vid=tagged_vid)]
        extras = []
        if (port, vid) in self.extra_rules:  # hairpin or external-port rules
            self.extra_rules.discard((port, vid))
            extras = [
                self._delete(pipeline.EXTERNAL, None, vlan_vid=tagged_vid, eth_dst=mac)
                for mac in sorted(macs)
            ] + [self._delete(pipeline.LEARN_DST, None, in_port=port, vlan_vid=tagged_vid)]
        return (
            [
                self._delete(pipeline.PIN, pipeline.ETH_SRC, vlan_vid=tagged_vid, eth_src=mac)
                for mac in pins
            ]
            + [
                self._delete(pipeline.LEARN_SRC, pipeline.ETH_SRC, in_port=p, vlan_vid=tagged_vid)
                for p in members or (port,)
            ]
            + dsts
            + extras
        )

    # --- LLDP (FAUCET's lldp_beacon, receive_lldp, lldp_peer_mac) ---------------------

    def beacons(self, now: float) -> list[Any]:
        """The LLDP beacons due at ``now``: a round every send_interval of the switch's
        lldp_beacon, on at most max_per_interval of the ports that send beacons (those
        waiting longest first). [] without the switch's lldp_beacon, as in FAUCET."""
        model = self.model
        if model is None or not model.lldp_beacon:
            return []
        interval = model.lldp_beacon.get('send_interval', portopts.DEFAULT_SEND_INTERVAL)
        most = model.lldp_beacon.get('max_per_interval', portopts.DEFAULT_MAX_PER_INTERVAL)
        if now - self.beacon_round < interval:
            return []
        self.beacon_round = now
        ports = [p for p, i in model.interfaces.items() if i.lldp_beacon and p in self.plans]
        dp, ofp, parser = self.dp, self.dp.ofproto, self.dp.ofproto_parser
        messages = []
        for port in portopts.beacon_round(ports, self.beacon_sent, now, interval, most):
            intf = model.interfaces[port]
            beacon = intf.lldp_beacon
            frame = portopts.beacon_frame(
                FAUCET_MAC,
                port,
                beacon,
                beacon.system_name or model.lldp_beacon.get('system_name', model.name),
                beacon.port_descr if beacon.port_descr is not None else intf.description,
                interval,
            )
            self.beacon_sent[port] = now
            messages.append(
                parser.OFPPacketOut(
                    dp,
                    ofp.OFP_NO_BUFFER,
                    ofp.OFPP_CONTROLLER,
                    [parser.OFPActionOutput(port)],
                    frame,
                )
            )
        return self._logged(messages)

    def lldp_heard(self, in_port: int, frame: bytes) -> tuple[str, str] | None:
        """An LLDP frame from a receive_lldp port: ('info' or 'warning', what to log)
        when it is news (a new peer, or one from a MAC other than lldp_peer_mac, which
        is ignored); None otherwise."""
        peer = portopts.lldp_peer(frame)
        intf = self.model.interfaces.get(in_port) if self.model is not None else None
        if peer is None or intf is None:
            return None
        mac, text = peer
        if intf.lldp_peer_mac is not None and mac != intf.lldp_peer_mac:
            return 'warning', '%s port %d: LLDP from %s (%s) ignored: lldp_peer_mac is %s' % (
                self.name,
                in_port,
                mac,
                text,
                intf.lldp_peer_mac,
            )
        heard = '%s %s' % (mac, text)
        if self.lldp_peers.get(in_port) == heard:
            return None
        self.lldp_peers[in_port] = heard
        return 'info', '%s port %d: LLDP peer %s' % (self.name, in_port, heard)

    def _delete(
        self, kind: int, table: int | None, out_port: int | None = None, **match: Any
    ) -> Any:
        """A delete of this app's rules of ``kind`` in ``table`` that match ``match``
        (and output to ``out_port``, if given)."""
        cookie, mask = pipeline.COOKIES.rules_of_kind(kind)
        match_fields = self.dp.ofproto_parser.OFPMatch(**match)
        return of.flow_delete(self.dp, cookie, mask, table, match_fields, out_port)

    # --- LACP ---------------------------------------------------------------------

    def lacp_in(self, in_port: int, frame: bytes) -> list[Any]:
        """A frame sent to the controller by a member's LACP rule: the packet-out of
        our answer ([] if none is due)."""
        if self.channel is not None:
            self.channel.info(
                '%016x received packet-in port %d %s', self.dp.id, in_port, frame.hex()
            )
        answer = self.lags.receive(in_port, frame, self.clock())
        return self._packet_outs([(in_port, answer)] if answer is not None else [])

    def lacp_tick(self) -> list[Any]:
        """Once a second: silent partners expire, active members speak first."""
        return self._packet_outs(self.lags.tick(self.clock()))

    def _packet_outs(self, frames: list[tuple[int, bytes]]) -> list[Any]:
        dp, ofp, parser = self.dp, self.dp.ofproto, self.dp.ofproto_parser
        return self._logged(
            [
                parser.OFPPacketOut(
                    dp, ofp.OFP_NO_BUFFER, ofp.OFPP_CONTROLLER, [parser.OFPActionOutput(port)], data
                )
                for port, data in frames
            ]
        )

    def lag_news(self) -> dict[int, tuple[frozenset[int], frozenset[int]]]:
        """{LAG id: (members carrying in the rules, members that should)} of the LAGs
        whose carrying members changed since the rules were compiled."""
        now = self.lags.carrying(self.clock())
        return {
            lag: (self.carrying.get(lag, frozenset()), ports)
            for lag, ports in now.items()
            if ports != self.carrying.get(lag, frozenset())
        }

    def relag(self) -> PolicyChange:
        """The rules moved to the LAG members that carry now (the smallest diff)."""
        return self.apply(self.policy, self.fabric)

    # --- a new policy ---------------------------------------------------------------

    def apply(self, policy: Policy, fabric: Fabric | None = None) -> PolicyChange:
        """Move the switch to ``policy`` (which may no longer name it: then it keeps no
        rules) and ``fabric`` (the policy's, all stack links up, if None) by the
        smallest diff, make before break: rules that stay the same are not touched,
        new and changed rules (the remote hosts' on their new routes too) come first,
        and hosts are forgotten only where a port's VLANs or mirroring changed."""
        dp = self.dp
        old_plans, old_rules, old_meters = self.plans, self.installed, self.meters
        old_groups, old_lag_groups = self.groups, self.lag_groups
        self._use(policy, policy.datapath_by_id(dp.id), fabric)
        change = flowspec.diff(old_rules, self.installed)
        rerouted, unrouted = self._rerouted()
        mask = pipeline.COOKIES.all_rules()[1]
        make = (
            _meter_changes(dp, old_meters, self.meters)
            + [
                of.failover_group(dp, group, ports)
                for group, ports in sorted(self.groups.items())
                if old_groups.get(group) != ports
            ]
            + [
                of.select_group(dp, group, ports)
                for group, ports in sorted(self.lag_groups.items())
                if old_lag_groups.get(group) != ports
            ]
            + [flowspec.to_flow_mod(dp, spec) for spec in change.add]
        )
        reroute = [flowspec.to_flow_mod(dp, spec) for spec in rerouted]
        retire = [
            flowspec.to_delete_strict(dp, spec, mask) for spec in change.delete + tuple(unrouted)
        ]
        fib_add, fib_delete = self._fib_changes()
        make += fib_add
        retire += fib_delete
        stale = sorted(pipeline.stale_learning(old_plans, self.plans))
        for port, vid in stale:
            retire += self.forget(port, vid)
        retire += [
            of.group_delete(dp, group)
            for group in sorted(
                (set(old_groups) - set(self.groups)) | (set(old_lag_groups) - set(self.lag_groups))
            )
        ]
        return PolicyChange(
            len(change.add) + len(fib_add),
            len(change.delete) + len(fib_delete),
            stale,
            self._logged(make),
            self._logged(reroute),
            self._logged(retire),
        )


def nominate_lags(switches: list[PolicySwitch], root: int | None) -> None:
    """A LAG id on several switches of a stack is one LAG (FAUCET's MC-LAG): it
    carries on the switch lacp.nominate picks (``root``: the stack root); on the others
    its members are not selected (Lags.elsewhere)."""
    spans: dict[int, dict[int, int]] = {}  # LAG id -> {dp_id: members up}
    for sw in switches:
        if sw.model is None or not sw.model.stack_ports:
            continue
        counts = sw.lags.up_counts(sw.clock())
        for lag in sw.model.lags:
            spans.setdefault(lag, {})[sw.dp.id] = counts.get(lag, 0)
    chosen = {lag: lacp.nominate(counts, root) for lag, counts in spans.items()}
    for sw in switches:
        sw.lags.elsewhere = frozenset(
            lag
            for lag, dp_id in chosen.items()
            if len(spans[lag]) > 1 and dp_id is not None and dp_id != sw.dp.id
        )


def _meter_changes(dp: Any, old: dict[int, MeterEntry], new: dict[int, MeterEntry]) -> list[Any]:
    """The meter mods from meters ``old`` to ``new``: only those that changed."""
    ofp = dp.ofproto
    messages = []
    for meter in sorted(set(old) | set(new)):
        if meter not in new:
            messages.append(meter_mod(dp, ofp.OFPMC_DELETE, meter))
        elif meter not in old:
            messages.append(meter_mod(dp, ofp.OFPMC_ADD, meter, new[meter]))
        elif old[meter] != new[meter]:
            messages.append(meter_mod(dp, ofp.OFPMC_MODIFY, meter, new[meter]))
    return messages
