"""One switch under a VLAN/ACL policy, as apps/vswitch_policy.py keeps it: the static
rules installed, the port plans, the hosts learned per VLAN, and what a packet-in or a
new policy changes. Pure: it builds OpenFlow messages with the datapath's parser and
leaves sending (and logging) to the app.

    sw = PolicySwitch.of(dp, policy)             # None: the policy does not name dp
    send(sw.install())                           # on connect
    learned = sw.learn(in_port, frame, settings) # on a SRC_MISS packet-in
    change = sw.apply(new_policy)                # on reload: the smallest diff

A switch with FAUCET's ``ofchannel_log`` has the messages these produce (all of which
the app sends) and the packet-ins it learns from written to that file, one per line.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from controller import flowspec
from controller import openflow as of
from controller.flowspec import FlowSpec
from controller.learning import Learned, MacTable, is_unicast
from controller.ofmatch import OFPVID_PRESENT
from controller.vswitch import pipeline, portopts, vip
from controller.vswitch.fabric import Fabric
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
        self.clock = time.monotonic  # of learning: when hosts were seen, bans
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
        self.fabric = fabric if fabric is not None or model is None else Fabric.of(policy)
        self.plans: dict[int, PortPlan] = (
            pipeline.port_plans(policy, model, self.fabric) if model is not None else {}
        )
        self.installed: frozenset[FlowSpec] = (
            pipeline.compile_datapath(policy, model, self.fabric)
            if model is not None
            else frozenset()
        )
        self.groups = self.fabric.groups(self.dp.id) if self.fabric is not None else {}
        self.vlan_max_hosts = {vlan.vid: vlan.max_hosts for vlan in policy.vlans.values()}
        self.vlans_by_vid = {vlan.vid: vlan for vlan in policy.vlans.values()}
        self.meters = meters(policy, model)
        path = model.ofchannel_log if model is not None else None
        self.channel = channel_log(path) if path else None

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
        is accepted, and the switch gets the Open vSwitch pipeline all the same."""
        if self.model is None or self.model.hardware == OVS_HARDWARE:
            return ''
        return " (hardware '%s': driven with the Open vSwitch pipeline)" % self.model.hardware

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
        spec = pipeline.remote_rule(route, vid, mac, idle_timeout, self.offset)
        self.remote[(vid, mac)] = (host_dp_id, spec)
        if vid in self.hosts:  # it moved away from here
            self.hosts[vid].forget(mac)
        return self._logged([flowspec.to_flow_mod(self.dp, spec)])

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
            new = pipeline.remote_rule(route, key[0], key[1], old.idle_timeout, self.offset)
            if new != old:
                add.append(new)
                self.remote[key] = (host, new)
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
                self._delete(
                    pipeline.EXTERNAL, pipeline.ETH_DST, vlan_vid=OFPVID_PRESENT | vid, eth_dst=src
                )
            )
        if result not in (Learned.BANNED, Learned.REFUSED, Learned.FULL):
            if plan.hairpin or plan.external:
                self.extra_rules.add((plan.port, vid))
            messages = self._logged(
                messages
                + [
                    flowspec.to_flow_mod(self.dp, spec)
                    for spec in pipeline.learned_rules(
                        plan,
                        vid,
                        src,
                        settings.idle_timeout,
                        settings.hard_timeout,
                        self.offset,
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

    def forget(self, port: int, vid: int) -> list[Any]:
        """Forget the hosts learned on ``port`` in VLAN ``vid``: the messages that
        delete their rules."""
        macs = self.hosts[vid].forget_port(port) if vid in self.hosts else set()
        tagged_vid = OFPVID_PRESENT | vid
        pins = sorted(mac for mac in macs if (vid, mac) in self.pinned)
        self.pinned -= {(vid, mac) for mac in pins}
        extras = []
        if (port, vid) in self.extra_rules:  # hairpin or external-port rules
            self.extra_rules.discard((port, vid))
            extras = [
                self._delete(pipeline.EXTERNAL, pipeline.ETH_DST, vlan_vid=tagged_vid, eth_dst=mac)
                for mac in sorted(macs)
            ] + [
                self._delete(
                    pipeline.LEARN_DST, pipeline.ETH_DST, in_port=port, vlan_vid=tagged_vid
                )
            ]
        return (
            [
                self._delete(pipeline.PIN, pipeline.ETH_SRC, vlan_vid=tagged_vid, eth_src=mac)
                for mac in pins
            ]
            + [
                self._delete(
                    pipeline.LEARN_SRC, pipeline.ETH_SRC, in_port=port, vlan_vid=tagged_vid
                ),
                self._delete(pipeline.LEARN_DST, pipeline.ETH_DST, port, vlan_vid=tagged_vid),
            ]
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

    def _delete(self, kind: int, table: int, out_port: int | None = None, **match: Any) -> Any:
        """A delete of this app's rules of ``kind`` in ``table`` that match ``match``
        (and output to ``out_port``, if given)."""
        cookie, mask = pipeline.COOKIES.rules_of_kind(kind)
        match_fields = self.dp.ofproto_parser.OFPMatch(**match)
        return of.flow_delete(self.dp, cookie, mask, table, match_fields, out_port)

    # --- a new policy ---------------------------------------------------------------

    def apply(self, policy: Policy, fabric: Fabric | None = None) -> PolicyChange:
        """Move the switch to ``policy`` (which may no longer name it: then it keeps no
        rules) and ``fabric`` (the policy's, all stack links up, if None) by the
        smallest diff, make before break: rules that stay the same are not touched,
        new and changed rules (the remote hosts' on their new routes too) come first,
        and hosts are forgotten only where a port's VLANs or mirroring changed."""
        dp = self.dp
        old_plans, old_rules, old_meters = self.plans, self.installed, self.meters
        old_groups = self.groups
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
            + [flowspec.to_flow_mod(dp, spec) for spec in change.add]
        )
        reroute = [flowspec.to_flow_mod(dp, spec) for spec in rerouted]
        retire = [
            flowspec.to_delete_strict(dp, spec, mask) for spec in change.delete + tuple(unrouted)
        ]
        stale = sorted(pipeline.stale_learning(old_plans, self.plans))
        for port, vid in stale:
            retire += self.forget(port, vid)
        retire += [
            of.group_delete(dp, group) for group in sorted(set(old_groups) - set(self.groups))
        ]
        return PolicyChange(
            len(change.add),
            len(change.delete),
            stale,
            self._logged(make),
            self._logged(reroute),
            self._logged(retire),
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
