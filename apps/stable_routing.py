"""Consensus-stable forwarding tables for OpenFlow 1.3: epochs from consistent
snapshots, per-packet consistent updates, fast-failover transient mode.

Run it with::

    ryu-manager apps/stable_routing.py [--config-file stable.conf] [--wsapi-port 8080]

and ask it what it does with ``sdn-stable epoch|triggers|history|sft DPID|unprotected``
(or the REST endpoints under ``/stable/``). docs/stable_routing.md is the guide.

How it works (Consensus Routing, NSDI 2008, carried into an SDN controller):

1. Discovery. LLDP finds the links (controller/app_base.py, controller/discovery.py);
   hosts are learned from the first frame they send on a host port (up for
   ``probe_time`` with no link; no LLDP is believed on it then). Every event (switch
   up/down, port up/down, link up/down, host seen/moved) is a *trigger* in the update
   log (controller/stable/epochs.py). Triggers do not touch forwarding.
2. Epochs. When the log has been quiet for ``quiet_window`` seconds (or ``max_delay``
   after its oldest pending trigger), the app takes a snapshot of the topology, computes
   the stable forwarding table (controller/stable/sft.py) and checks it: no loop, no
   black hole, loop-free backups. A table that fails the check is never installed.
3. Consistent update (controller/stable/update.py, with the rules of
   controller/stable/pipeline.py sent in controller/bundles.py's atomic bundles), which
   sends only the forward entries that changed. Phase 1 installs them as overlays that
   match only the epoch's version tag, over each switch's stable rules; phase 2
   switches each switch's ingress rule to stamp the new version; after ``drain_time``,
   phase 3 makes the changed entries stable and removes the overlays. A phase starts
   only when every switch confirmed the previous one. A failed phase 1 leaves the old
   epoch in force.
4. Transient mode. Next hops with a loop-free backup forward through fast-failover
   groups, so a link that loses carrier is bypassed by the switch itself; the next
   epoch then recomputes shortest paths.
5. Faulty switches. A switch that refuses a phase or does not confirm it within
   ``install_timeout`` fails that epoch as a refused phase always did, and later epochs
   leave it out, as if it were down, until a probe after a back-off confirms
   (controller/stable/faults.py); after ``fault_limit`` consecutive failures its
   connection is closed. Input from switches is checked before use
   (controller/stable/inputs.py), hosts are at most ``max_hosts_per_port`` per port
   (controller/stable/hosts.py), ports at most ``max_ports_per_switch`` per switch, and a
   flapping port is one pending trigger.

A controller restart loses nothing: the rules stay in the switches, the app reads the
hosts and epoch numbers back from them, and its first epoch replaces them consistently.

This file is the Ryu adapter: events in, triggers and epochs through controller/stable/,
messages out.
"""

import time
from collections import Counter
from collections.abc import Hashable, Iterator
from contextlib import ExitStack, contextmanager
from time import monotonic as _now
from time import perf_counter
from typing import Any

from ryu import cfg
from ryu.app.wsgi import WSGIApplication
from ryu.controller import ofp_event
from ryu.controller.handler import MAIN_DISPATCHER, set_ev_cls
from ryu.lib import hub

from controller import app_base, discovery, metrics, ui
from controller import openflow as of
from controller.app_base import Link, SuiteApp
from controller.bundles import BundleClient
from controller.cookies import FREE_MASK
from controller.flowspec import in_order, to_flow_mod
from controller.metrics.collectors import EpochMetrics
from controller.rate_limit import TokenBucket, packet_in_options
from controller.replicas.coordinator import FollowedEpoch
from controller.replicas.ryu_app import ReplicatedApp
from controller.replicas.takeover import followed_record, take_over_rules
from controller.stable import inputs
from controller.stable import pipeline as pipe
from controller.stable.epochs import EpochInForce, EpochRecord, UpdateLog, collection_deferred
from controller.stable.faults import Fault, FaultTracker
from controller.stable.hosts import HostChange, HostTable
from controller.stable.rest import REST_APP, StableRoutingRest
from controller.stable.sft import Snapshot, StableForwardingTable, check_sft, compute_sft
from controller.stable.update import SwitchRules, UpdatePlan, Updater, plan_update
from controller.ui import views

app_base.register_options(
    'stable_routing',
    [
        cfg.FloatOpt(
            'quiet_window', default=0.5, help='seconds without a new trigger before an epoch is cut'
        ),
        cfg.BoolOpt(
            'leading_edge',
            default=True,
            help='a trigger after quiet_window without any cuts an epoch at once '
            '(the quiet window then debounces the triggers that follow it)',
        ),
        cfg.FloatOpt(
            'max_delay',
            default=5.0,
            help='under continuous churn, seconds after the oldest pending trigger '
            'at which an epoch is cut anyway',
        ),
        cfg.FloatOpt(
            'switch_settle',
            default=2.0,
            help='seconds after a switch connects before an epoch may include it, '
            'so that LLDP has found its links both ways',
        ),
        cfg.FloatOpt(
            'drain_time',
            default=0.5,
            help='seconds between stamping a new version and deleting the old '
            "epoch's rules (longer than any packet's time in the network)",
        ),
        cfg.FloatOpt(
            'install_timeout',
            default=5.0,
            help='seconds a switch has to confirm one phase of an update',
        ),
        cfg.IntOpt('history', default=200, help='epochs kept in the history'),
        cfg.IntOpt(
            'max_hosts_per_port',
            default=64,
            help='hosts learned on one port; more are refused (and counted)',
        ),
        cfg.IntOpt(
            'max_ports_per_switch',
            default=1024,
            help='ports of one switch the app routes over and learns hosts on; '
            'a switch announcing more has the others ignored',
        ),
        cfg.FloatOpt(
            'fault_backoff',
            default=2.0,
            help='seconds before a switch that failed a phase is probed again '
            '(doubled per consecutive failure, up to fault_backoff_max)',
        ),
        cfg.FloatOpt(
            'fault_backoff_max',
            default=60.0,
            help='the longest wait between two probes of a faulty switch',
        ),
        cfg.IntOpt(
            'fault_limit',
            default=3,
            help='consecutive failures (phases and probes) after which a switch is '
            'disconnected; 0: never',
        ),
    ],
    packet_in_options(200.0, 500),
    discovery.options(link_timeout=3.5),
)

TRIGGERS_KEPT_PER_EPOCH = 50
# The longest the epoch loop sleeps (it wakes when a trigger comes and when the pending
# ones are due): how often faulty switches' probes and settling switches are looked at.
EPOCH_LOOK = 0.05
# On the leading edge, how long the epoch waits for the events that came with its first
# trigger to be dispatched: both ends of a cut link report it within microseconds on
# the emulator, a few ms on Open vSwitch; without it, the second end's trigger makes a
# second epoch (its port is still live in the first one's snapshot).
LEADING_GATHER = 0.005
DROP_REPORT_INTERVAL = 60.0  # at most one line per switch this often about dropped input
# A switch reporting a higher epoch (in its rules' cookies) is lying: a real one would
# take far longer than anyone's lifetime, and the next number must fit the cookie.
MAX_READ_BACK_EPOCH = FREE_MASK // 2
MAX_GROUP_PORT = pipe.MAX_GROUP_PORT  # fast-failover group ids hold 16-bit ports
MACS_SHOWN = 8  # hosts named in one trigger; the others are counted


class SwitchState(SwitchRules):
    """A connected switch: what is installed on it, its packet-in budget, when it
    connected, the ports the app tracks on it and what it sent that was dropped."""

    def __init__(self, dp: Any, conf: Any, dropped: Counter | None = None) -> None:
        super().__init__(dp)
        self.packet_ins = TokenBucket(conf.packet_in_rate, conf.packet_in_burst)
        self.connected_at = _now()
        self.tracked_ports: set[int] = set()  # at most max_ports_per_switch
        self.ignored_ports = 0  # ports announced beyond that
        self.drops = inputs.DropTally(DROP_REPORT_INTERVAL, dropped)  # its input dropped
        self.errors = inputs.DropTally(DROP_REPORT_INTERVAL)  # errors not of a bundle
        self.read_back_epoch = 0  # the highest epoch in its rules left by a previous run


class StableRouting(ReplicatedApp, SuiteApp):
    CONFIG_GROUP = 'stable_routing'
    DISCOVERY = True
    _CONTEXTS = {'wsgi': WSGIApplication}
    conf: Any  # CONF.stable_routing, set by SuiteApp

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hosts = HostTable(self.conf.max_hosts_per_port)  # mac -> (dpid, port)
        self.log = UpdateLog(
            self.conf.quiet_window,
            self.conf.max_delay,
            history=self.conf.history,
            leading_edge=self.conf.leading_edge,
        )
        self.epoch = 0  # the last epoch number used (read back on restart)
        self.current: EpochInForce | None = None
        self.took_over = False  # elected leader, the first epoch not decided yet (replicas)
        self.bundles = BundleClient()
        self.faults = FaultTracker(
            self.conf.fault_backoff,
            self.conf.fault_backoff_max,
            self.conf.fault_limit,
            self.conf.install_timeout,
        )
        self.dropped: Counter = Counter()  # input dropped, by reason, all switches
        self.updater = Updater(
            self.bundles.send,
            hub.sleep,
            lambda sw: self.switches.get(sw.dp.id) is sw,
            self.conf.install_timeout,
            self.conf.drain_time,
            self.logger,
            on_fault=self._phase_failed,
        )
        kwargs['wsgi'].register(StableRoutingRest, {REST_APP: self})
        self.epoch_metrics = EpochMetrics()
        metrics.add_source(self.name, lambda: self.epoch_metrics.families(self))
        ui.add_view('stable_routing', lambda: views.stable_view(self))
        self._wake = hub.Event()  # set by the first pending trigger
        self._stamping = False  # an epoch is being cut and installed (until stamped)
        self.skipped = 0  # epochs not cut: their snapshot was the epoch in force's
        self.spawn_loop('epoch', 0, self._epoch_round)
        self.start_replicas()  # with [replicas] endpoints: one of several (docs/ha.md)

    def _trigger(
        self, kind: str, detail: str, key: Hashable | None = None, logged: bool = True
    ) -> None:
        """Log an event for the next epoch. With ``key`` (the kind of event and what it
        is about: a port going down), it replaces a pending trigger of the same key, so
        a port flapping until the next epoch is two triggers (down, up), logged once."""
        was_idle = not self.log.pending
        trigger = self.log.append(kind, detail, key)
        if was_idle:
            self._wake.set()  # a quiet window shorter than the loop's sleep starts now
        if self.replicas is not None:
            self.replicas.record_trigger(trigger)
        log = self.logger.info if logged and trigger.events == 1 else self.logger.debug
        log(
            'trigger %s %s: %s%s',
            trigger.id,
            kind,
            detail,
            ' (%d events)' % trigger.events if trigger.events > 1 else '',
        )

    def _dropped(self, sw: SwitchState, reason: str, detail: str) -> None:
        """Count input dropped from ``sw``; one line at most per DROP_REPORT_INTERVAL."""
        self._report(sw, sw.drops, reason, 'dropped input: %s (%s)' % (reason, detail))

    def _report(self, sw: SwitchState, tally: inputs.DropTally, reason: str, line: str) -> None:
        unreported = tally.drop(reason)
        if unreported is None:
            return
        if tally.reported == 1:
            more = 'more are counted, reported at most every %.0fs' % tally.interval
        else:
            more = '%d since the last report: %s' % (
                sum(unreported.values()),
                inputs.summary(unreported),
            )
        self.logger.warning('switch %016x %s; %s', sw.dp.id, line, more)

    # --- switches, ports and links (SuiteApp hooks) ---------------------------------

    def new_switch(self, dp: Any) -> SwitchState:
        return SwitchState(dp, self.conf, self.dropped)

    def switch_connected(self, sw: SwitchState) -> None:
        dp = sw.dp
        if self.masters(dp.id):  # a replica sends them once it is the master
            self._send_base_rules(dp)
        for port_no in sorted(self.live_ports(dp.id)):
            self._track_port(sw, port_no)
        self._read_back(dp)
        fault = self.faults.reconnected(dp.id)
        self._trigger(
            'switch-up',
            'switch %016x with live ports %s%s'
            % (
                dp.id,
                _ports_text(sw.tracked_ports),
                '; faulty (%s): probed before it rejoins' % fault.reason if fault else '',
            ),
            key=('switch-up', dp.id),
        )

    def _send_base_rules(self, dp: Any) -> None:
        # Adding the same rules again changes nothing, so a restart costs no traffic.
        of.send_together(dp, [to_flow_mod(dp, spec) for spec in in_order(pipe.base_rules())])

    def switch_disconnected(self, sw: SwitchState, graph_changed: bool) -> None:
        dpid = sw.dp.id
        self.bundles.forget_switch(dpid)
        self.faults.disconnected(dpid)
        gone = _gone(self.hosts.forget_switch(dpid))
        self._trigger(
            'switch-down', 'switch %016x disconnected%s' % (dpid, gone), key=('switch-down', dpid)
        )

    def port_up(self, sw: SwitchState, port: Any) -> None:
        if self._track_port(sw, port.port_no):
            self._trigger(
                'port-up',
                'port %016x:%d' % (sw.dp.id, port.port_no),
                key=('port-up', sw.dp.id, port.port_no),
            )

    def port_down(self, sw: SwitchState, port_no: int, link_gone: bool) -> None:
        self.epoch_metrics.port_down(self.current, sw.dp.id, port_no)
        if port_no not in sw.tracked_ports:
            return
        sw.tracked_ports.discard(port_no)
        gone = _gone(self.hosts.forget_port(sw.dp.id, port_no))
        self._trigger(
            'port-down',
            'port %016x:%d%s%s'
            % (sw.dp.id, port_no, ' (its link is gone)' if link_gone else '', gone),
            key=('port-down', sw.dp.id, port_no),
        )

    def link_up(self, sw: SwitchState, in_port: int, link: Link) -> None:
        gone = _gone(self.hosts.forget_port(sw.dp.id, in_port))
        if self._tracked_link(link):
            self._trigger(
                'link-up', '%016x:%d -> %016x:%d%s' % (link + (gone,)), key=('link-up',) + link
            )

    def links_expired(self, links: list[Link]) -> None:
        for link in filter(self._tracked_link, links):
            self._trigger(
                'link-down',
                '%016x:%d -> %016x:%d (no LLDP for %.1fs)' % (link + (self.conf.link_timeout,)),
                key=('link-down',) + link,
            )

    def is_host_port(self, sw: SwitchState, port_no: int) -> bool:
        return self.hosts.count_at(sw.dp.id, port_no) > 0  # no LLDP accepted where hosts are

    def holds_lldp(self) -> bool:
        return self._stamping

    def _tracked_link(self, link: Link) -> bool:
        """Whether both ends of ``link`` are tracked ports (others are never routed)."""
        ends = ((link[0], link[1]), (link[2], link[3]))
        return all(
            dpid in self.switches and port in self.switches[dpid].tracked_ports
            for dpid, port in ends
        )

    def _track_port(self, sw: SwitchState, port_no: int) -> bool:
        """Track a live port of ``sw`` if there is room (max_ports_per_switch) and its
        number fits a failover group id; False if it is left out."""
        if port_no in sw.tracked_ports:
            return False
        if port_no > MAX_GROUP_PORT or len(sw.tracked_ports) >= self.conf.max_ports_per_switch:
            sw.ignored_ports += 1
            if sw.ignored_ports == 1:
                self.logger.warning(
                    'switch %016x: port %d ignored (the app routes over at most %d ports '
                    'per switch, numbered up to %d); further ones are ignored silently',
                    sw.dp.id,
                    port_no,
                    self.conf.max_ports_per_switch,
                    MAX_GROUP_PORT,
                )
            return False
        sw.tracked_ports.add(port_no)
        return True

    # --- what a previous run left, and frames from hosts ----------------------------

    def _read_back(self, dp: Any) -> None:
        """Ask for this app's rules left by a previous run: its epochs and hosts."""
        parser, ofp = dp.ofproto_parser, dp.ofproto
        cookie, mask = pipe.COOKIES.all_rules()
        dp.send_msg(
            parser.OFPFlowStatsRequest(
                dp, 0, ofp.OFPTT_ALL, ofp.OFPP_ANY, ofp.OFPG_ANY, cookie, mask, parser.OFPMatch()
            )
        )

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def _flow_stats(self, ev: Any) -> None:
        sw = self.switch_of(ev.msg.datapath)
        if sw is None:
            return
        restored = []
        for stat in ev.msg.body:
            cookie = getattr(stat, 'cookie', None)
            if not isinstance(cookie, int) or not pipe.COOKIES.owns(cookie):
                continue
            kind, epoch = pipe.COOKIES.kind_of(cookie), cookie & FREE_MASK
            if kind in (pipe.ROUTE, pipe.NEXT, pipe.INGRESS):
                if epoch > MAX_READ_BACK_EPOCH:
                    self._dropped(sw, inputs.BAD_READ_BACK, 'a rule of epoch %d' % epoch)
                    continue
                # Every epoch number found must be below the next one: a new epoch
                # reusing the version of overlays left here would meet them.
                self.epoch = max(self.epoch, epoch)
                sw.read_back_epoch = max(sw.read_back_epoch, epoch)
            elif kind == pipe.HOST:
                mac = self._read_back_host(sw, getattr(stat, 'match', None))
                if mac:
                    restored.append(mac)
        if restored or sw.read_back_epoch:
            self._trigger(
                'switch-state',
                'switch %016x holds rules of epochs up to %d and hosts %s%s of '
                'a previous run'
                % (sw.dp.id, sw.read_back_epoch, restored[:MACS_SHOWN], _more(restored)),
                key=('switch-state', sw.dp.id),
            )

    def _read_back_host(self, sw: SwitchState, match: Any) -> str | None:
        """The host of an admission rule left by a previous run, learned again if it is
        well formed, on a tracked port, and not known elsewhere by now."""
        mac = inputs.match_field(match, 'eth_src')
        port = inputs.in_port_of(match)
        if not inputs.is_host_mac(mac) or port not in sw.tracked_ports:
            self._dropped(
                sw,
                inputs.BAD_READ_BACK,
                'a host rule for %r on port %r' % (mac, inputs.match_field(match, 'in_port')),
            )
            return None
        if mac in self.hosts:
            return None
        change, _ = self.hosts.learn(mac, (sw.dp.id, port))
        if change is HostChange.REFUSED:
            self._dropped(sw, inputs.HOST_LIMIT, self._full_port_text(sw.dp.id, port))
            return None
        return mac

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in(self, ev: Any) -> None:
        msg = ev.msg
        sw = self.switch_of(msg.datapath)
        if sw is None:
            return
        cookie = getattr(msg, 'cookie', None)
        if cookie == pipe.COOKIES.cookie(pipe.LLDP):
            checked = self._checked_packet_in(sw, msg)
            if checked:
                self.lldp_in(sw, *checked)
        elif cookie == pipe.COOKIES.cookie(pipe.BASE) and sw.packet_ins.allow():
            checked = self._checked_packet_in(sw, msg)
            if checked:
                self._host_frame(sw, *checked)

    def _checked_packet_in(self, sw: SwitchState, msg: Any) -> tuple[int, bytes] | None:
        """(in_port, frame) of a packet-in, or None (counted) if either is unusable."""
        match = getattr(msg, 'match', None)
        in_port = inputs.in_port_of(match)
        if in_port is None:
            raw = inputs.match_field(match, 'in_port')
            self._dropped(
                sw,
                inputs.NO_IN_PORT if raw is None else inputs.BAD_IN_PORT,
                'a packet-in with in_port %r' % (raw,),
            )
            return None
        data = getattr(msg, 'data', None)
        frame = inputs.frame_bytes(data)
        if frame is None:
            self._dropped(
                sw,
                inputs.SHORT_FRAME,
                'a packet-in of %s bytes on port %d'
                % (len(data) if isinstance(data, (bytes, bytearray)) else '?', in_port),
            )
            return None
        return in_port, frame

    def _host_frame(self, sw: SwitchState, in_port: int, frame: bytes) -> None:
        """A frame whose source is not yet known on this port: learn the host."""
        dpid = sw.dp.id
        if (
            inputs.is_fabric_frame(frame)
            or in_port not in sw.tracked_ports
            or in_port in self.graph.inter_switch_ports(dpid)
            # Still probing: the frame may be a neighbour switch's traffic, and a host
            # learned here would make discovery refuse that switch's LLDP.
            or not self.discovery.probed(dpid, in_port, app_base.clock())
        ):
            return
        src = inputs.host_source(frame)
        if src is None:
            self._dropped(
                sw, inputs.NOT_A_HOST, 'source %s on port %d' % (frame[6:12].hex(':'), in_port)
            )
            return
        change, before = self.hosts.learn(src, (dpid, in_port))
        if change is HostChange.NEW:
            self._trigger('host-seen', '%s at %016x:%d' % (src, dpid, in_port))
        elif change is HostChange.MOVED and before is not None:
            self._trigger(
                'host-moved', '%s from %016x:%d to %016x:%d' % ((src,) + before + (dpid, in_port))
            )
        elif change is HostChange.REFUSED:
            self._dropped(
                sw, inputs.HOST_LIMIT, '%s: %s' % (src, self._full_port_text(dpid, in_port))
            )
        # KNOWN: its admission rule comes with the next epoch

    def _full_port_text(self, dpid: int, port: int) -> str:
        return 'port %d already has %d hosts, max_hosts_per_port' % (
            port,
            self.hosts.count_at(dpid, port),
        )

    # --- epochs ----------------------------------------------------------------------

    def _epoch_round(self) -> None:
        """Sleep until the pending triggers are due (no poll: the epoch is cut when the
        quiet window ends), or the first trigger comes, or EPOCH_LOOK; then tick."""
        due = self.log.due_in()
        self._wake.wait(EPOCH_LOOK if due is None else min(due, EPOCH_LOOK))
        self._wake.clear()
        self._epoch_tick()

    def _epoch_tick(self) -> None:
        if not self.leads_epochs():
            return  # a replica that follows: controller/replicas/ryu_app.py
        self._check_faulty()
        benched = self.faults.benched()
        settling = any(
            _now() - sw.connected_at < self.conf.switch_settle
            for dpid, sw in self.switches.items()
            if dpid not in benched
        )
        if self.took_over:
            if settling:
                return  # after a takeover no epoch before LLDP found the links, max_delay or not
            self.took_over = False
            if self._unchanged_after_takeover():
                return
        if self.log.epoch_due(hold=settling):
            if self.log.leading:
                # What came in with the first trigger is handled first (the other end
                # of a cut link: its PORT_STATUS is read and dispatched meanwhile).
                hub.sleep(min(LEADING_GATHER, self.log.quiet_window))
                if not self.leads_epochs():
                    return  # a replica that lost the lead meanwhile
            self._run_epoch()

    def _snapshot(self) -> Snapshot:
        """The topology of the connected switches that are not left out as faulty."""
        benched = self.faults.benched()
        ports = {
            dpid: sw.tracked_ports
            for dpid, sw in self.switches.items()
            if dpid not in benched and self.masters(dpid)
        }
        hosts = {mac: place for mac, place in self.hosts.items() if place[0] in ports}
        return Snapshot.from_switch_graph(self.graph, hosts, ports, switches=ports)

    def _run_epoch(self) -> None:
        triggers = self.log.take_pending()
        cut_at, started = time.time(), perf_counter()
        with ExitStack() as cutting:  # until the new version is stamped
            # A full pass of Python's cycle collector took 100-190 ms in this process
            # (the 80- and 1,000-switch benchmarks) and, when it fell there, doubled the
            # time from trigger to stamped. LLDP rounds wait too (SuiteApp.holds_lldp):
            # at 1,000 switches a round is 3,000 packet-outs, an eighth of the epoch's
            # samples in a profile.
            cutting.enter_context(collection_deferred())
            cutting.enter_context(self._holding_lldp())
            snapshot = self._snapshot()
            if self._unchanged(snapshot):
                # E.g. a link-up of one direction only (the snapshot keeps the links
                # seen both ways), cut on the leading edge.
                self.skipped += 1
                self.logger.info(
                    'epoch %d stays in force: %d triggers (%s) change nothing it was '
                    'computed from; no epoch',
                    self.current.record.number if self.current else 0,
                    len(triggers),
                    ', '.join(t.id for t in triggers[:MACS_SHOWN]) + _more(triggers),
                )
                return
            self.epoch += 1
            record = EpochRecord(
                self.epoch,
                cut_at,
                [
                    {'id': t.id, 'kind': t.kind, 'detail': t.detail, 'events': t.events}
                    for t in triggers[:TRIGGERS_KEPT_PER_EPOCH]
                ],
                trigger_count=len(triggers),
                first_trigger_at=triggers[0].at,
            )
            record.steps_ms['snapshot'] = (perf_counter() - started) * 1000
            record.excluded = [
                fault.as_dict()
                for fault in map(self.faults.get, sorted(self.faults.benched()))
                if fault is not None and fault.dpid in self.switches
            ]
            self.log.history.append(record)
            try:
                self._compute_and_install(record, snapshot, started, len(triggers), cutting)
            except Exception:
                # A bug, not a switch's fault: the record must not stay 'installing', and
                # what reached the switches is unknown, so the next epoch rewrites it all.
                record.state = 'failed'
                record.problems.append('internal error: see the log')
                for sw in self.switches.values():
                    sw.port_rules = sw.stable = None
                raise  # spawn_loop logs it with its traceback
            finally:
                self.epoch_metrics.observe(record)

    @contextmanager
    def _holding_lldp(self) -> Iterator[None]:
        self._stamping = True
        try:
            yield
        finally:
            self._stamping = False

    def _unchanged(self, snapshot: Snapshot) -> bool:
        """Whether an epoch of ``snapshot`` would change nothing: it equals the snapshot
        of the epoch in force (the topology, hosts, live ports and switches left out as
        faulty all are in it), every switch's rules are known (none reconnected, failed
        a phase or held rules of a previous run), and no replica follows (they drop
        the triggers of the epochs the leader commits, and would keep these)."""
        current = self.current
        return (
            current is not None
            and self.replicas is None
            and snapshot == current.snapshot
            and all(sw.port_rules is not None for sw in self.switches.values())
        )

    def _compute_and_install(
        self,
        record: EpochRecord,
        snapshot: Snapshot,
        started: float,
        trigger_count: int,
        cutting: ExitStack,
    ) -> None:
        """The epoch of ``snapshot``; ``cutting`` (the collector and LLDP held) is
        closed once it is stamped, before phase 3."""
        try:
            stamping = self._compute_and_stamp(record, snapshot, started)
        finally:
            cutting.close()
        if stamping is None:
            return
        snapshot, sft, plan, stamped = stamping
        if stamped:
            self.current = EpochInForce(record, snapshot, sft)
            self.updater.retire(record, plan)
        self._confirmed(record, plan.switches)
        if self.replicas is not None:
            complete = all(sw.port_rules is not None for sw in plan.switches)
            self.replicas.installed(record.number, record.state, complete)
        self.logger.info(
            'epoch %d %s: %d triggers; %d switches, %d links, %d hosts; %d forward entries '
            'changed; compute %.1f ms, check %.1f ms, install %.1f ms, old rules removed in '
            '%.1f ms after the drain%s',
            record.number,
            record.state,
            trigger_count,
            record.switches,
            record.links,
            record.hosts,
            record.changed,
            record.compute_ms,
            record.check_ms,
            record.install_ms,
            record.cleanup_ms,
            '; left out as faulty: %s' % ', '.join(fault['switch'] for fault in record.excluded)
            if record.excluded
            else '',
        )

    def _compute_and_stamp(
        self, record: EpochRecord, snapshot: Snapshot, started: float
    ) -> tuple[Snapshot, StableForwardingTable, UpdatePlan, bool] | None:
        """Compute, check, plan, phases 1 and 2 of ``snapshot`` (taken at ``started``,
        perf_counter): what was installed and whether every switch stamps it; None if
        it was rejected or not committed."""
        taken = perf_counter()
        sft = compute_sft(snapshot)
        computed = perf_counter()
        problems = check_sft(sft, snapshot)
        checked = perf_counter()
        record.switches, record.links = len(snapshot.switches), len(snapshot.links)
        record.hosts = len(snapshot.hosts)
        record.compute_ms = (computed - started) * 1000
        record.check_ms = (checked - computed) * 1000
        record.steps_ms.update(compute=(computed - taken) * 1000, check=record.check_ms)
        if problems:
            record.state = 'rejected'
            record.problems = [str(p) for p in problems]
            for problem in problems:
                self.logger.error('epoch %d rejected, not installed: %s', record.number, problem)
            return None
        if self.replicas is not None:
            refused = self.replicas.commit(record.number, snapshot, sft)
            if refused:  # agreed before any switch is updated, or not installed
                record.state = 'not committed'
                record.problems.append(refused)
                self.logger.error('epoch %d not installed: %s', record.number, refused)
                self.epoch = max(self.epoch, self.replicas.last_committed())
                return None
        targets = [
            self.switches[dpid] for dpid in sorted(snapshot.switches) if dpid in self.switches
        ]
        planning = perf_counter()
        plan = plan_update(record.number, snapshot, sft, targets)
        record.steps_ms['plan'] = (perf_counter() - planning) * 1000
        stamped = self.updater.stamp(record, plan, started=checked)
        self._count_unprotected(record, sft)  # not before: it is no step to stamped
        return snapshot, sft, plan, stamped

    def _count_unprotected(self, record: EpochRecord, sft: StableForwardingTable) -> None:
        """Count, and name a few of, the next hops without a loop-free backup (every
        route looked at: tens of ms at 1,000 switches)."""
        unprotected = sft.unprotected()
        record.unprotected = len(unprotected)
        if unprotected:
            self.logger.info(
                'epoch %d: %d (destination, switch) pairs have no loop-free backup, e.g. %s',
                record.number,
                len(unprotected),
                ', '.join('%x at %x' % pair for pair in unprotected[:5]),
            )

    # --- replicas (controller/replicas/, docs/ha.md) -----------------------------------

    def follow_epoch(self, followed: FollowedEpoch) -> None:
        """An epoch the leader committed (its SFT checked here): held as the epoch in
        force, with its hosts and number, ready for a takeover."""
        epoch = followed.epoch
        record = followed_record(followed)
        self.log.history.append(record)
        self.log.discard(set(epoch.triggers))
        self.epoch = max(self.epoch, epoch.number)
        self.current = EpochInForce(record, epoch.snapshot, followed.sft)
        self.hosts = HostTable(self.conf.max_hosts_per_port)
        for mac, place in epoch.snapshot.hosts:
            self.hosts.learn(mac, place)

    def leadership_changed(self, leading: bool) -> None:
        """Elected: number epochs after the last committed one, and take over the
        rules of the epoch followed if the old leader finished installing it."""
        if not leading or self.replicas is None:
            return
        self.took_over = True
        # No epoch before this replica's own LLDP has found the links (as a follower it
        # sent no probes and got no packet-ins): every switch settles from now, not only
        # once its ROLE_REPLY says we are master. A trigger on the leading edge would
        # otherwise cut an epoch without links at once.
        now = _now()
        for sw in self.switches.values():
            sw.connected_at = now
        self.epoch = max(self.epoch, self.replicas.last_committed())
        current = self.current
        if current is None:
            return
        number = current.record.number
        if self.replicas.install_state() == {'number': number, 'state': 'installed'}:
            switches = [
                self.switches[dpid]
                for dpid in sorted(current.snapshot.switches)
                if dpid in self.switches
            ]
            take_over_rules(number, current.snapshot, current.sft, switches)
            self.logger.info(
                'epoch %d taken over as installed on %d switches', number, len(switches)
            )

    def _unchanged_after_takeover(self) -> bool:
        """Once the switches settled after a takeover: True (and no epoch) if the
        topology is the epoch in force's and every switch's rules are known; the pending
        triggers are then what this replica saw as a follower, and the rules are not
        rewritten. Otherwise the next epoch is due at once."""
        current = self.current
        if (
            current is None
            or any(sw.port_rules is None for sw in self.switches.values())
            or self._snapshot() != current.snapshot
        ):
            if current is not None and not self.log.pending:
                self._trigger('leader-change', 'the topology differs from the epoch in force')
            return False
        self.logger.info(
            'epoch %d stays in force after the takeover: same topology, %d pending '
            'triggers need no new epoch',
            current.record.number,
            len(self.log.take_pending()),
        )
        return True

    def switch_mastered(self, sw: SwitchState) -> None:
        sw.connected_at = _now()  # no epoch before LLDP has found its links again
        self._send_base_rules(sw.dp)

    # --- faulty switches ---------------------------------------------------------------

    def _phase_failed(self, sw: SwitchRules, phase: str, reason: str) -> str:
        """The Updater's report of a switch that failed a phase: it is faulty, and the
        next epoch leaves it out. What becomes of it, for the Updater's log line."""
        fault = self.faults.failed(sw.dp.id, reason)
        self._trigger(
            'switch-faulty', 'switch %016x %s' % (sw.dp.id, reason), logged=False
        )  # the Updater's line says it
        return self._fault_outcome(sw, fault)

    def _fault_outcome(self, sw: SwitchRules, fault: Fault) -> str:
        """Disconnect a switch over the fault limit; the text of what becomes of it."""
        if self.faults.over_limit(fault):
            sw.dp.close()  # Ryu's DEAD event follows: switch_disconnected
            return 'disconnected after %d consecutive failures' % fault.failures
        return 'left out of epochs, probed again in %.1fs (failure %d%s)' % (
            self.faults.backoff_after(fault.failures),
            fault.failures,
            ' of %d' % self.faults.limit if self.faults.limit else '',
        )

    def _confirmed(self, record: EpochRecord, switches: list[SwitchRules]) -> None:
        """Switches on probation that confirmed every phase they were sent are no
        longer faulty."""
        failed = {int(fault['switch'], 16) for fault in record.faults}
        for sw in switches:
            if sw.dp.id in failed or self.switches.get(sw.dp.id) is not sw:
                continue
            fault = self.faults.confirmed(sw.dp.id)
            if fault is not None:
                self.logger.info(
                    'switch %016x confirmed epoch %d: no longer faulty (it last %s)',
                    sw.dp.id,
                    record.number,
                    fault.reason,
                )

    def _check_faulty(self) -> None:
        """Probe the faulty switches whose back-off is over; act on the probes' ends."""
        for fault, reason in self.faults.probe_outcomes():
            sw = self.switches.get(fault.dpid)
            if sw is None:
                continue
            if reason is None:
                self.logger.info(
                    'switch %016x confirmed a probe: it rejoins the next epoch', fault.dpid
                )
                self._trigger(
                    'switch-rejoins', 'switch %016x confirmed a probe' % fault.dpid, logged=False
                )
            else:
                self.logger.error(
                    'switch %016x %s; %s', fault.dpid, reason, self._fault_outcome(sw, fault)
                )
        for dpid in self.faults.probes_due():
            sw = self.switches.get(dpid)
            if sw is not None:
                self.faults.probe_sent(dpid, self.updater.send_bundle(sw.dp, _probe(sw.dp)))
        self.faults.forget_stale()

    # --- bundle answers --------------------------------------------------------------

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def _barrier_reply(self, ev: Any) -> None:
        self.bundles.on_barrier_reply(ev.msg)

    @set_ev_cls(ofp_event.EventOFPErrorMsg, MAIN_DISPATCHER)
    def _error(self, ev: Any) -> None:
        msg = ev.msg
        if self.bundles.on_error(msg) or self.replica_error(msg):
            return
        sw = self.switch_of(msg.datapath)
        if sw is not None:
            self._report(
                sw,
                sw.errors,
                inputs.SWITCH_ERROR,
                'sent error type %s code %s'
                % (getattr(msg, 'type', '?'), getattr(msg, 'code', '?')),
            )


def _probe(dp: Any) -> list:
    """What a faulty switch is sent to show it confirms bundles again: the base rules,
    which it holds already (adding them again changes nothing)."""
    return [to_flow_mod(dp, spec) for spec in in_order(pipe.base_rules())]


def _more(items: list) -> str:
    return ' (+%d more)' % (len(items) - MACS_SHOWN) if len(items) > MACS_SHOWN else ''


def _gone(macs: list[str]) -> str:
    """The hosts forgotten, for a trigger's text."""
    return '; hosts gone: %s%s' % (', '.join(macs[:MACS_SHOWN]), _more(macs)) if macs else ''


def _ports_text(ports: set[int]) -> str:
    """Port numbers for a log line: all of them up to 32, else a count and the range."""
    ordered = sorted(ports)
    if len(ordered) <= 32:
        return str(ordered)
    return '%d ports, %d..%d' % (len(ordered), ordered[0], ordered[-1])
