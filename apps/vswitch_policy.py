"""VLAN/ACL virtual switch: a FAUCET-style YAML policy, validated, compiled to an
OpenFlow 1.3 pipeline, and applied live.

Run it with::

    ryu-manager --config-file vswitch.conf apps/vswitch_policy.py

where vswitch.conf has::

    [vswitch_policy]
    policy_file = examples/policies/three_tenants.yaml

The policy format, its validation and the check command (``sdn-policy-check FILE``)
are in controller/vswitch; the pipeline in controller/vswitch/pipeline.py; what a
connect, a packet-in or a reload does to one switch in controller/vswitch/switch.py.
This app only carries Ryu's events there and the messages back. Switches are matched
to the policy by dp_id; a switch the policy does not name is left without rules (in
fail mode secure it forwards nothing).

Live reload, on SIGHUP or when the file or a file it includes changes (polled every
``reload_poll`` s): the new file is validated first; a bad file is refused, every error
is logged, and the old policy stays in force. A good one is applied as the smallest
diff per switch: rules that stay the same are not touched (traffic on untouched ports
sees nothing), changed rules are replaced in place by an ADD, gone rules are deleted,
and the hosts learned on ports whose VLANs or mirroring changed are forgotten.

Stacking (FAUCET's ``stack:``, docs/fabric.md): the switches' stack links form one
fabric (controller/vswitch/fabric.py). Floods follow a tree rooted at the stack root;
a host learned on one switch gets a rule on every other switch along the stable
route towards it, with a fast-failover backup. A reload or a stack port going down or
up moves every switch make before break: each switch's new rules are confirmed (by a
barrier) before the hosts of other switches move onto the new routes, and those
before any switch's old rules are deleted.

LACP (FAUCET's ``lacp`` port options, controller/vswitch/lacp.py): members' LACPDUs
come as packet-ins and are answered; once a second silent partners expire and active
members speak. When the members that carry a LAG change (a partner in sync or gone, a
member's link down or up), the switch's rules move to them by the smallest diff; a
LAG spanning switches of a stack carries on one of them (most members up, then the
root).

The file is read and checked, and its hash made, in an OS thread
(controller/config/offload.py), so switches keep being answered while a large policy
loads; only a regular file of at most
``max_policy_bytes`` is read (docs/security.md).
"""

from collections.abc import Callable
from time import monotonic as _now
from typing import Any

from ryu import cfg
from ryu.controller import ofp_event
from ryu.controller.handler import MAIN_DISPATCHER, set_ev_cls
from ryu.lib import hub

from controller import app_base, metrics, ui
from controller import openflow as of
from controller.app_base import SuiteApp
from controller.config import ConfigError
from controller.config.offload import off_loop
from controller.config.yaml_source import DEFAULT_MAX_BYTES
from controller.learning import Learned
from controller.metrics.collectors import LearnBans, ReloadStatus, policy_hash
from controller.metrics.openflow import OPENFLOW
from controller.ui import views
from controller.vswitch import lacp, load_policy, pipeline, portopts, stack_root
from controller.vswitch import rest as vswitch_rest
from controller.vswitch.fabric import Fabric, FabricError
from controller.vswitch.include import FilesWatch
from controller.vswitch.model import Policy
from controller.vswitch.switch import LearningSettings, PolicySwitch, nominate_lags

BARRIER_TIMEOUT = 5.0  # seconds a switch has to confirm the first half of a change
# Seconds between the last confirmation and the deletes of a fabric change: a switch's
# barrier reply says it sends no more frames the old way, not that the frames it sent
# before have left the links and queues into the next switch (a stream over a stack
# link that a reload removes lost one datagram each way in one CI run).
RETIRE_DRAIN = 0.1
ROUTE_TICK = 0.5  # seconds between rounds of next hop requests (routing.py)

app_base.register_options(
    'vswitch_policy',
    [
        cfg.StrOpt('policy_file', default=None, help='the YAML policy to enforce'),
        cfg.IntOpt(
            'idle_timeout', default=300, help='seconds a learned destination lives without traffic'
        ),
        cfg.FloatOpt(
            'relearn_fraction',
            default=0.75,
            help='learned sources expire after this fraction of idle_timeout',
        ),
        cfg.IntOpt(
            'default_max_hosts',
            default=256,
            help='hosts learned per port and VLAN when the policy sets no max_hosts',
        ),
        cfg.FloatOpt(
            'reload_poll', default=1.0, help='seconds between checks of the policy file for changes'
        ),
        cfg.IntOpt(
            'max_policy_bytes',
            default=DEFAULT_MAX_BYTES,
            min=1,
            help='a policy file larger than this many bytes is refused',
        ),
    ],
)


class VSwitchPolicy(SuiteApp):
    CONFIG_GROUP = 'vswitch_policy'
    _learn_cookie = pipeline.COOKIES.cookie(pipeline.SRC_MISS)
    _vip_cookie = pipeline.COOKIES.cookie(pipeline.VIP)
    _route_miss_cookie = pipeline.COOKIES.cookie(pipeline.ROUTE_MISS)
    _lacp_cookie = pipeline.COOKIES.cookie(pipeline.LACP)
    _lldp_cookie = pipeline.COOKIES.cookie(pipeline.LLDP_IN)
    conf: Any  # the [vswitch_policy] section: always there
    switches: dict[int, PolicySwitch]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.conf.policy_file:
            raise SystemExit(
                'vswitch_policy: set policy_file in the [vswitch_policy] section of a --config-file'
            )
        self.path = self.conf.policy_file
        self.watch = FilesWatch((self.path,))
        try:
            self.policy = load_policy(self.path, self.conf.max_policy_bytes)
            self.watch.follow(self.policy.files)  # and the files it includes
        except ConfigError as error:
            raise SystemExit(
                'vswitch_policy: %s is not a valid policy:\n%s' % (self.path, error)
            ) from None
        self.logger.info(
            'policy %s loaded: %d switches, %d VLANs, %d ACLs',
            self.path,
            len(self.policy.dps),
            len(self.policy.vlans),
            len(self.policy.acls),
        )
        self._log_notes(self.policy)
        self.stack_down: set[tuple[int, int]] = set()  # (dp_id, port) of stack ports down
        # FAUCET's root election (stack_root.py): the root elected (None: the static
        # one), and when each switch was last connected
        self.stack_root: int | None = None
        self.last_live: dict[int, float] = {}
        try:
            self.fabric = Fabric.of(self.policy)
        except FabricError as error:
            raise SystemExit(
                'vswitch_policy: the stable routes of the stack links of %s failed their '
                'check: %s' % (self.path, error)
            ) from None
        self._log_fabric('loaded')
        self._barriers: dict[tuple[int, int], Any] = {}  # (dp_id, xid) -> hub.Event
        self.learning = LearningSettings.from_options(
            self.conf.idle_timeout, self.conf.relearn_fraction, self.conf.default_max_hosts
        )
        self.reloads = ReloadStatus('vswitch_policy')
        self.reloads.loaded(policy_hash(self.policy.to_data()))
        self.bans = LearnBans()
        self.serve_rest(vswitch_rest.VSwitchRest, {vswitch_rest.REST_APP: self})
        metrics.add_source(self.name, lambda: vswitch_rest.metric_families(self))
        ui.add_view('vswitch_policy', lambda: views.vswitch_view(self))
        # A SIGHUP and a file change may come at once: one reload at a time.
        self._reloading = hub.Semaphore(1)
        app_base.on_reload_signal(lambda: self.refresh(requested=True))
        self.spawn_loop(
            'policy file watch', self.conf.reload_poll, lambda: self.refresh(requested=False)
        )
        self.spawn_loop('next hop resolution', ROUTE_TICK, self._route_tick)
        self.spawn_loop('LACP', lacp.FAST_PERIOD, self._lacp_tick)
        self.spawn_loop('stack root election', stack_root.UPDATE_SECONDS, self._elect_root)
        self.spawn_loop('LLDP beacons', 1.0, self._send_beacons)

    # --- switches ---------------------------------------------------------------

    def new_switch(self, dp: Any) -> PolicySwitch | None:
        sw = PolicySwitch.of(dp, self.policy, self.fabric)
        if sw is None:
            self.logger.warning('switch %016x is not in %s: no rules installed', dp.id, self.path)
        return sw

    def switch_connected(self, sw: PolicySwitch) -> None:
        OPENFLOW.names[sw.dp.id] = sw.name  # dp_name on /metrics
        for msg in sw.install():
            sw.dp.send_msg(msg)
        self.logger.info(
            'switch %016x (%s) connected: %d rules%s',
            sw.dp.id,
            sw.name,
            len(sw.installed),
            sw.hardware_note,
        )
        # the hosts the other switches of the fabric learned before it came
        messages = [
            msg
            for other in list(self.switches.values())
            if other is not sw
            for vid, mac in other.local_hosts()
            for msg in sw.remote_host(vid, mac, other.dp.id, self.learning.idle_timeout)
        ]
        if messages:
            of.send_together(sw.dp, messages)

    def switch_disconnected(self, sw: PolicySwitch, graph_changed: bool) -> None:
        self.last_live[sw.dp.id] = _now()
        self.logger.info('switch %016x disconnected', sw.dp.id)

    def _send_beacons(self) -> None:
        """FAUCET's LLDP beacons, from every switch whose ports send them."""
        now = _now()
        for sw in list(self.switches.values()):
            for msg in sw.beacons(now):
                sw.dp.send_msg(msg)

    # --- learning -------------------------------------------------------------------

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in(self, ev: Any) -> None:
        msg = ev.msg
        sw = self.switch_of(msg.datapath)
        kind = msg.cookie
        if sw is None or kind not in (
            self._learn_cookie,
            self._vip_cookie,
            self._route_miss_cookie,
            self._lacp_cookie,
            self._lldp_cookie,
        ):
            return
        fields = self.packet_in_fields(sw, msg)  # None: malformed, counted by the base
        if fields is None:
            return
        if kind == self._lacp_cookie:  # a LAG member's LACPDU
            of.send_together(sw.dp, sw.lacp_in(*fields))
            if sw.lag_news():
                hub.spawn(self._relag, 'LACPDU on %s port %d' % (sw.name, fields[0]))
            return
        if kind == self._lldp_cookie:  # receive_lldp: logged, not forwarded
            heard = sw.lldp_heard(*fields)
            if heard is not None:
                getattr(self.logger, heard[0])(heard[1])
            return
        if kind == self._vip_cookie:  # ARP, ND or a ping for a router address
            of.send_together(sw.dp, sw.answer(*fields) + self._heard(sw, *fields))
            return
        if kind == self._route_miss_cookie:  # a routed packet to a host not resolved
            of.send_together(sw.dp, sw.route_miss(*fields, _now()))
            return
        seen = sw.learn(*fields, self.learning, held_elsewhere=self._held_elsewhere(sw))
        if seen is None:
            return
        if seen.result is Learned.MOVED:
            self.logger.info(
                'host %s (VLAN %d) moved on %s from port %d to %d',
                seen.mac,
                seen.vid,
                sw.name,
                seen.previous,
                seen.port,
            )
        elif seen.result is Learned.NEW:
            self.logger.info(
                'host %s learned on %s port %d VLAN %d', seen.mac, sw.name, seen.port, seen.vid
            )
        elif seen.looped:
            self.bans.ban(sw.dp.id, seen.port, str(seen.vid))
            self.logger.warning(
                '%s port %d: host %s (VLAN %d) came from port %s a moment ago: a loop; '
                'learning on port %d banned for %d s (loop_protect)',
                sw.name,
                seen.port,
                seen.mac,
                seen.vid,
                seen.previous,
                seen.port,
                portopts.LOOP_BAN_SECONDS,
            )
        elif seen.result is Learned.BANNED:
            self.bans.ban(sw.dp.id, seen.port, str(seen.vid))
            self.logger.warning(
                '%s port %d VLAN %d: over its max_hosts; new hosts refused for a while',
                sw.name,
                seen.port,
                seen.vid,
            )
        elif seen.result is Learned.FULL:
            # Not learned: its frames still flood within the VLAN, at a packet-in each.
            self.logger.debug(
                'VLAN %d on %s is at its max_hosts; %s not learned', seen.vid, sw.name, seen.mac
            )
        if seen.messages:
            of.send_together(sw.dp, seen.messages)
            for other in list(self.switches.values()):  # the rest of the fabric
                remote = other.remote_host(seen.vid, seen.mac, sw.dp.id, self.learning.idle_timeout)
                if remote:
                    of.send_together(other.dp, remote)

    # --- routing (controller/vswitch/routing.py) -------------------------------------

    def _heard(self, sw: PolicySwitch, in_port: int, frame: bytes | bytearray) -> list[Any]:
        messages = sw.heard(in_port, frame, _now())
        if messages:
            self.logger.info(
                '%s: next hop resolved on port %d: %d FIB rules changed',
                sw.name,
                in_port,
                len(messages),
            )
        return messages

    def _route_tick(self) -> None:
        now = _now()
        for sw in list(self.switches.values()):
            messages, notes = sw.route_tick(now)
            for note in notes:
                self.logger.warning('%s: %s', sw.name, note)
            if messages:
                of.send_together(sw.dp, messages)

    @set_ev_cls(ofp_event.EventOFPFlowRemoved, MAIN_DISPATCHER)
    def _flow_removed(self, ev: Any) -> None:
        """FAUCET's use_idle_timeout: a learned source rule went idle, so its host is
        forgotten (its frames flood again until it is heard from)."""
        msg = ev.msg
        sw = self.switch_of(msg.datapath)
        if (
            sw is None
            or msg.reason != msg.datapath.ofproto.OFPRR_IDLE_TIMEOUT
            or not pipeline.COOKIES.owns(msg.cookie)
            or pipeline.COOKIES.kind_of(msg.cookie) != pipeline.LEARN_SRC
        ):
            return
        expired = sw.source_expired(msg.match)
        if expired is None:
            return
        mac, vid, messages = expired
        of.send_together(sw.dp, messages)
        self.logger.info('host %s (VLAN %d) expired on %s: idle', mac, vid, sw.name)

    def _held_elsewhere(self, sw: PolicySwitch) -> Callable[[int, str], bool]:
        """Whether a switch of ``sw``'s fabric other than ``sw`` has a host on an
        ordinary port (loop_protect_external: then it is not learned on an external
        port of ``sw``)."""
        fabric = self.fabric.switches
        return lambda vid, mac: (
            sw.dp.id in fabric
            and any(
                other.holds_locally(vid, mac)
                for other in list(self.switches.values())
                if other is not sw and other.dp.id in fabric
            )
        )

    # --- live reload ----------------------------------------------------------------

    def refresh(self, requested: bool, why: str = 'SIGHUP') -> None:
        """Reload the policy if ``requested`` (``why``: SIGHUP, a REST request) or if
        its file changed."""
        with self._reloading:
            changed = self.watch.changed()
            if requested or changed:
                self.reload(why if requested else 'file changed')

    def reload(self, why: str) -> None:
        """Apply the policy file as it is now, or keep the old policy if it is wrong."""
        started = _now()
        self.reloads.requested()
        try:
            new, digest = off_loop(_load_with_hash, self.path, self.conf.max_policy_bytes)
        except ConfigError as error:
            self.logger.error(
                'policy reload (%s) refused, the old policy stays in force:\n%s', why, error
            )
            self.reloads.refused_policy(why, str(error))
            return
        checked = _now()
        down = {(dpid, port) for dpid, port in self.stack_down if _stacked(new, dpid, port)}
        try:
            fabric = Fabric.of(new, down, self.stack_root)
        except FabricError as error:
            self.logger.error(
                'policy reload (%s) refused, its stable routes failed their check: %s', why, error
            )
            self.reloads.refused_policy(why, str(error))
            return
        total = self._move(new, fabric, why)
        self.stack_down = down
        self.policy = new
        self.watch.follow(new.files)
        self.reloads.applied_policy(why, digest, total)
        self._log_fabric('reloaded')
        self._log_notes(new)
        self.take_left_alone_switches()  # those the policy names now get theirs
        self.logger.info(
            'policy reload (%s) applied: %d rule changes in %.1f ms (the file '
            'read and checked in %.1f ms)',
            why,
            total,
            (_now() - checked) * 1000,
            (checked - started) * 1000,
        )

    def _log_notes(self, policy: Policy) -> None:
        """What the policy has that does nothing here, as in FAUCET: once per policy
        applied."""
        for note in policy.notes:
            self.logger.warning('policy: %s', note)

    # --- the fabric: make before break ---------------------------------------------

    def _move(self, policy: Policy, fabric: Fabric, why: str) -> int:
        """Move every switch to ``policy`` and ``fabric`` in three steps, each sent to
        every switch and (on a fabric) confirmed by every switch's barrier reply before
        the next: new and changed rules (a new stack port takes frames in before any
        switch sends over it), remote hosts moved onto their new routes, then (after
        RETIRE_DRAIN, for what is still in flight) the deletes. The number of rule
        changes."""
        stacked = bool(self.fabric.switches or fabric.switches)
        changes = [(sw, sw.apply(policy, fabric)) for sw in list(self.switches.values())]
        self.fabric = fabric
        for step in range(3):  # make, reroute, retire: each everywhere before the next
            if stacked and step == 2 and any(change.steps[2] for _, change in changes):
                hub.sleep(RETIRE_DRAIN)
            waits = []
            for sw, change in changes:
                for msg in change.steps[step]:
                    sw.dp.send_msg(msg)
                if stacked and step < 2 and change.steps[step]:
                    waits.append(self._confirmed(sw.dp))
            late = [dpid for dpid, event in waits if not event.wait(BARRIER_TIMEOUT)]
            if late:
                self.logger.warning(
                    '%s: switches %s did not confirm their changes within %.0f s; going on',
                    why,
                    ', '.join('%016x' % dpid for dpid in late),
                    BARRIER_TIMEOUT,
                )
        total = 0
        for sw, change in changes:
            total += len(change)
            self.logger.info(
                '%s: switch %016x: %d rules added or replaced, %d deleted; hosts forgotten '
                'on (port, VLAN) %s',
                why,
                sw.dp.id,
                change.added,
                change.deleted,
                change.forgotten,
            )
        return total

    def _confirmed(self, dp: Any) -> tuple[int, Any]:
        """Send a barrier; (dp_id, the event its reply sets)."""
        barrier = dp.ofproto_parser.OFPBarrierRequest(dp)
        dp.send_msg(barrier)  # sets its xid
        done = hub.Event()
        self._barriers[(dp.id, barrier.xid)] = done
        return dp.id, done

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def _barrier_reply(self, ev: Any) -> None:
        done = self._barriers.pop((ev.msg.datapath.id, ev.msg.xid), None)
        if done is not None:
            done.set()

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def _stack_port_status(self, ev: Any) -> None:
        """A stack port went down or came up: the fabric is computed again and the
        switches moved to it (the fast-failover groups have already moved unicast
        onto the backups)."""
        msg = ev.msg
        dp, desc = msg.datapath, msg.desc
        if not self.fabric.is_stack_port(dp.id, desc.port_no):
            return
        ofp = dp.ofproto
        live = (
            msg.reason != ofp.OFPPR_DELETE
            and not desc.state & ofp.OFPPS_LINK_DOWN
            and not desc.config & ofp.OFPPC_PORT_DOWN
        )
        end = (dp.id, desc.port_no)
        if live == (end not in self.stack_down):
            return
        if live:
            self.stack_down.discard(end)
        else:
            self.stack_down.add(end)
        why = 'stack port %016x:%d %s' % (dp.id, desc.port_no, 'up' if live else 'down')
        hub.spawn(self._refabric, why)

    def _refabric(self, why: str) -> None:
        with self._reloading:
            try:
                fabric = Fabric.of(self.policy, self.stack_down, self.stack_root)
            except FabricError as error:
                self.logger.error('%s: the stable routes failed their check: %s', why, error)
                return
            if fabric == self.fabric:
                return
            started = _now()
            total = self._move(self.policy, fabric, why)
            self._log_fabric(why)
            self.logger.info(
                '%s: %d rule changes in %.1f ms', why, total, (_now() - started) * 1000
            )

    # --- LACP -------------------------------------------------------------------------

    def _lacp_tick(self) -> None:
        news = False
        for sw in list(self.switches.values()):
            messages = sw.lacp_tick()
            if messages:
                of.send_together(sw.dp, messages)
            news = news or bool(sw.lag_news())
        if news:
            self._relag('LACP timer')

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def _lag_port_status(self, ev: Any) -> None:
        """A LAG member's link went down or up: it carries nothing until its partner
        is heard again."""
        msg = ev.msg
        sw = self.switch_of(msg.datapath)
        desc, ofp = msg.desc, msg.datapath.ofproto
        live = (
            msg.reason != ofp.OFPPR_DELETE
            and not desc.state & ofp.OFPPS_LINK_DOWN
            and not desc.config & ofp.OFPPC_PORT_DOWN
        )
        if sw is not None and sw.lags.link(desc.port_no, live):
            why = 'LAG member %s port %d %s' % (sw.name, desc.port_no, 'up' if live else 'down')
            self.logger.info(why)
            hub.spawn(self._relag, why)

    def _relag(self, why: str) -> None:
        """Move the switches whose LAGs carry over other members to them: first the
        stack's LAGs spanning switches are nominated to one switch each."""
        with self._reloading:
            switches = list(self.switches.values())
            nominate_lags(switches, self.fabric.root)
            for sw in switches:
                news = sw.lag_news()
                if not news:
                    continue
                change = sw.relag()
                for msg in change.messages:
                    sw.dp.send_msg(msg)
                for lag, (was, now) in sorted(news.items()):
                    self.logger.info(
                        '%s: LAG %d on %s carries over ports %s (was %s): %d rule changes',
                        why,
                        lag,
                        sw.name,
                        sorted(now) or 'none',
                        sorted(was) or 'none',
                        len(change),
                    )

    def _elect_root(self) -> None:
        """FAUCET's stack root election, every root update interval: a root that is
        no longer healthy (min_stack_health, down_time_multiple) gives way."""
        if self.fabric.root is None:
            return
        now = _now()
        for dp_id in self.switches:
            self.last_live[dp_id] = now
        candidates = [
            stack_root.Candidate(
                dp.dp_id,
                dp.stack_priority,
                len(self.fabric.stack_ports.get(dp.dp_id, ())),
                len(
                    {
                        port
                        for port in self.fabric.stack_ports.get(dp.dp_id, ())
                        if (dp.dp_id, port) not in self.stack_down
                    }
                ),
                dp.min_stack_health,
                dp.down_time_multiple,
                self.last_live.get(dp.dp_id),
            )
            for dp in self.policy.dps.values()
            if dp.stack_priority is not None and dp.dp_id in self.fabric.switches
        ]
        root = stack_root.elect(candidates, self.fabric.root, now)
        if root is not None and root != self.fabric.root:
            self.stack_root = root
            self._refabric('stack root election: %016x (was %016x)' % (root, self.fabric.root))

    def _log_fabric(self, why: str) -> None:
        if self.fabric.switches:
            self.logger.info(
                'stack fabric (%s): %d switches, %d live stack links, root %016x, '
                '%d routes without a loop-free backup',
                why,
                len(self.fabric.switches),
                len(self.fabric.links),
                self.fabric.root,
                len(self.fabric.sft.unprotected()),
            )


def _stacked(policy: Policy, dp_id: int, port: int) -> bool:
    """Whether ``port`` of switch ``dp_id`` is a stack port in ``policy``."""
    dp = policy.datapath_by_id(dp_id)
    return dp is not None and port in dp.stack_ports


def _load_with_hash(path: str, max_bytes: int) -> tuple[Policy, str]:
    """The policy of the file at ``path`` and its policy_hash, both made in the loader's
    OS thread: the canonical data of a 4 MB policy takes as long to build and hash as
    the event loop may stall (0.3-0.5 s here, more on a loaded machine)."""
    policy = load_policy(path, max_bytes)
    return policy, policy_hash(policy.to_data())
