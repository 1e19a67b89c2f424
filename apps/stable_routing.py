"""Consensus-stable forwarding tables for OpenFlow 1.3: epochs from consistent
snapshots, per-packet consistent updates, fast-failover transient mode.

Run it with::

    ryu-manager apps/stable_routing.py [--config-file stable.conf] [--wsapi-port 8080]

and ask it what it does with ``sdn-stable epoch|triggers|history|sft DPID|unprotected``
(or the REST endpoints under ``/stable/``). docs/stable_routing.md is the guide.

How it works (Consensus Routing, NSDI 2008, carried into an SDN controller):

1. Discovery. LLDP finds the links (controller/app_base.py, controller/discovery.py);
   hosts are learned from the first frame they send on a host port. Every event (switch
   up/down, port up/down, link up/down, host seen/moved) is a *trigger* in the update
   log (controller/stable/epochs.py). Triggers do not touch forwarding.
2. Epochs. When the log has been quiet for ``quiet_window`` seconds (or ``max_delay``
   after its oldest pending trigger), the app takes a snapshot of the topology, computes
   the stable forwarding table (controller/stable/sft.py) and checks it: no loop, no
   black hole, loop-free backups. A table that fails the check is never installed.
3. Consistent update (controller/stable/update.py, with the rules of
   controller/stable/pipeline.py sent in controller/bundles.py's atomic bundles). Phase
   1 installs the epoch's forward rules, which match the epoch's version tag, on every
   switch; phase 2 switches each switch's ingress rule to stamp the new version; after
   ``drain_time``, phase 3 removes the previous epoch's rules. A phase starts only when
   every switch confirmed the previous one. A failed phase 1 leaves the old epoch in
   force.
4. Transient mode. Next hops with a loop-free backup forward through fast-failover
   groups, so a link that loses carrier is bypassed by the switch itself; the next
   epoch then recomputes shortest paths.

A controller restart loses nothing: the rules stay in the switches, the app reads the
hosts and epoch numbers back from them, and its first epoch replaces them consistently.

This file is the Ryu adapter: events in, triggers and epochs through controller/stable/,
messages out.
"""

import time
from time import monotonic as _now
from time import perf_counter
from typing import Any, Callable

from ryu import cfg
from ryu.app.wsgi import WSGIApplication
from ryu.controller import ofp_event
from ryu.controller.handler import MAIN_DISPATCHER, set_ev_cls
from ryu.lib import hub

from controller import app_base, discovery
from controller import openflow as of
from controller.app_base import Link, SuiteApp
from controller.bundles import BundleClient
from controller.cookies import FREE_MASK
from controller.flowspec import in_order, to_flow_mod
from controller.learning import is_unicast
from controller.rate_limit import TokenBucket, packet_in_options
from controller.stable import pipeline as pipe
from controller.stable.epochs import EpochInForce, EpochRecord, UpdateLog
from controller.stable.rest import REST_APP, StableRoutingRest
from controller.stable.sft import Snapshot, check_sft, compute_sft
from controller.stable.update import SwitchRules, Updater, plan_update

app_base.register_options('stable_routing', [
    cfg.FloatOpt('quiet_window', default=0.5,
                 help='seconds without a new trigger before an epoch is cut'),
    cfg.FloatOpt('max_delay', default=5.0,
                 help='under continuous churn, seconds after the oldest pending trigger '
                      'at which an epoch is cut anyway'),
    cfg.FloatOpt('switch_settle', default=2.0,
                 help='seconds after a switch connects before an epoch may include it, '
                      'so that LLDP has found its links both ways'),
    cfg.FloatOpt('drain_time', default=0.5,
                 help='seconds between stamping a new version and deleting the old '
                      "epoch's rules (longer than any packet's time in the network)"),
    cfg.FloatOpt('install_timeout', default=5.0,
                 help='seconds a switch has to confirm one phase of an update'),
    cfg.IntOpt('history', default=200, help='epochs kept in the history'),
], packet_in_options(200.0, 500), discovery.options(link_timeout=3.5))

TRIGGERS_KEPT_PER_EPOCH = 50
EPOCH_POLL = 0.05           # seconds between looks at the update log


class SwitchState(SwitchRules):
    """A connected switch: what is installed on it, its packet-in budget, and when it
    connected."""

    def __init__(self, dp: Any, conf: Any) -> None:
        super().__init__(dp)
        self.packet_ins = TokenBucket(conf.packet_in_rate, conf.packet_in_burst)
        self.connected_at = _now()


class StableRouting(SuiteApp):
    CONFIG_GROUP = 'stable_routing'
    DISCOVERY = True
    _CONTEXTS = {'wsgi': WSGIApplication}
    conf: Any                   # CONF.stable_routing, set by SuiteApp

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hosts: dict[str, tuple[int, int]] = {}    # mac -> (dpid, port)
        self.log = UpdateLog(self.conf.quiet_window, self.conf.max_delay,
                             history=self.conf.history)
        self.epoch = 0                # the last epoch number used (read back on restart)
        self.current: EpochInForce | None = None
        self.bundles = BundleClient()
        self.updater = Updater(self.bundles.send, hub.sleep,
                               lambda sw: self.switches.get(sw.dp.id) is sw,
                               self.conf.install_timeout, self.conf.drain_time, self.logger)
        kwargs['wsgi'].register(StableRoutingRest, {REST_APP: self})
        self.spawn_loop('epoch', EPOCH_POLL, self._epoch_tick)

    def _trigger(self, kind: str, detail: str) -> None:
        trigger = self.log.append(kind, detail)
        self.logger.info('trigger %s %s: %s', trigger.id, kind, detail)

    # --- switches, ports and links (SuiteApp hooks) ---------------------------------

    def new_switch(self, dp: Any) -> SwitchState:
        return SwitchState(dp, self.conf)

    def switch_connected(self, sw: SwitchState) -> None:
        dp = sw.dp
        # Adding the same rules again changes nothing, so a restart costs no traffic.
        of.send_together(dp, [to_flow_mod(dp, spec) for spec in in_order(pipe.base_rules())])
        self._read_back(dp)
        self._trigger('switch-up', 'switch %016x with live ports %s' % (
            dp.id, sorted(self.live_ports(dp.id))))

    def switch_disconnected(self, sw: SwitchState, graph_changed: bool) -> None:
        dpid = sw.dp.id
        self.bundles.forget_switch(dpid)
        gone = self._forget_hosts(lambda host_dpid, port: host_dpid == dpid)
        self._trigger('switch-down', 'switch %016x disconnected%s' % (dpid, gone))

    def port_up(self, sw: SwitchState, port: Any) -> None:
        self._trigger('port-up', 'port %016x:%d' % (sw.dp.id, port.port_no))

    def port_down(self, sw: SwitchState, port_no: int, link_gone: bool) -> None:
        gone = self._forget_hosts_at(sw.dp.id, port_no)
        self._trigger('port-down', 'port %016x:%d%s%s' % (
            sw.dp.id, port_no, ' (its link is gone)' if link_gone else '', gone))

    def link_up(self, sw: SwitchState, in_port: int, link: Link) -> None:
        gone = self._forget_hosts_at(sw.dp.id, in_port)
        self._trigger('link-up', '%016x:%d -> %016x:%d%s' % (link + (gone,)))

    def links_expired(self, links: list[Link]) -> None:
        for link in links:
            self._trigger('link-down', '%016x:%d -> %016x:%d (no LLDP for %.1fs)' % (
                link + (self.conf.link_timeout,)))

    def _forget_hosts_at(self, dpid: int, port_no: int) -> str:
        return self._forget_hosts(lambda host_dpid, port: (host_dpid, port) == (dpid, port_no))

    def _forget_hosts(self, where: Callable[[int, int], bool]) -> str:
        """Forget the hosts attached where ``where(dpid, port)``; text for the trigger."""
        gone = sorted(mac for mac, place in self.hosts.items() if where(*place))
        for mac in gone:
            del self.hosts[mac]
        return '; hosts gone: %s' % ', '.join(gone) if gone else ''

    # --- what a previous run left, and frames from hosts ----------------------------

    def _read_back(self, dp: Any) -> None:
        """Ask for this app's rules left by a previous run: its epochs and hosts."""
        parser, ofp = dp.ofproto_parser, dp.ofproto
        cookie, mask = pipe.COOKIES.all_rules()
        dp.send_msg(parser.OFPFlowStatsRequest(dp, 0, ofp.OFPTT_ALL, ofp.OFPP_ANY,
                                               ofp.OFPG_ANY, cookie, mask,
                                               parser.OFPMatch()))

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def _flow_stats(self, ev: Any) -> None:
        sw = self.switch_of(ev.msg.datapath)
        if sw is None:
            return
        restored = []
        for stat in ev.msg.body:
            kind, epoch = pipe.COOKIES.kind_of(stat.cookie), stat.cookie & FREE_MASK
            if kind in (pipe.ROUTE, pipe.INGRESS):
                self.epoch = max(self.epoch, epoch)
                if kind == pipe.ROUTE:
                    sw.route_epochs.add(epoch)
            elif kind == pipe.HOST and stat.match['eth_src'] not in self.hosts:
                self.hosts[stat.match['eth_src']] = (sw.dp.id, stat.match['in_port'])
                restored.append(stat.match['eth_src'])
        if restored or sw.route_epochs:
            self._trigger('switch-state', 'switch %016x holds epochs %s and hosts %s of a '
                          'previous run' % (sw.dp.id, sorted(sw.route_epochs), restored))

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in(self, ev: Any) -> None:
        msg = ev.msg
        sw = self.switch_of(msg.datapath)
        if sw is None:
            return
        in_port = msg.match['in_port']
        if msg.cookie == pipe.COOKIES.cookie(pipe.LLDP):
            self.lldp_in(sw, in_port, msg.data)
        elif msg.cookie == pipe.COOKIES.cookie(pipe.BASE) and sw.packet_ins.allow():
            self._host_frame(sw.dp.id, in_port, msg.data)

    def _host_frame(self, dpid: int, in_port: int, frame: bytes) -> None:
        """A frame whose source is not yet known on this port: learn the host."""
        src = of.mac_text(frame[6:12])
        if (not is_unicast(src) or frame[12:14] == b'\x88\xa8'
                or in_port not in self.live_ports(dpid)
                or in_port in self.graph.inter_switch_ports(dpid)):
            return
        before = self.hosts.get(src)
        if before == (dpid, in_port):
            return        # known; its admission rule comes with the next epoch
        self.hosts[src] = (dpid, in_port)
        if before is None:
            self._trigger('host-seen', '%s at %016x:%d' % (src, dpid, in_port))
        else:
            self._trigger('host-moved', '%s from %016x:%d to %016x:%d' % (
                (src,) + before + (dpid, in_port)))

    # --- epochs ----------------------------------------------------------------------

    def _epoch_tick(self) -> None:
        settling = any(_now() - sw.connected_at < self.conf.switch_settle
                       for sw in self.switches.values())
        if self.log.epoch_due(hold=settling):
            self._run_epoch()

    def _snapshot(self) -> Snapshot:
        connected = set(self.switches)
        ports = {dpid: self.live_ports(dpid) for dpid in connected}
        hosts = {mac: place for mac, place in self.hosts.items() if place[0] in connected}
        return Snapshot.from_switch_graph(self.graph, hosts, ports)

    def _run_epoch(self) -> None:
        triggers = self.log.take_pending()
        self.epoch += 1
        record = EpochRecord(self.epoch, time.time(), [
            {'id': t.id, 'kind': t.kind, 'detail': t.detail}
            for t in triggers[:TRIGGERS_KEPT_PER_EPOCH]], trigger_count=len(triggers),
            first_trigger_at=triggers[0].at)
        self.log.history.append(record)
        started = perf_counter()
        snapshot = self._snapshot()
        sft = compute_sft(snapshot)
        computed = perf_counter()
        problems = check_sft(sft, snapshot)
        checked = perf_counter()
        record.switches, record.links = len(snapshot.switches), len(snapshot.links)
        record.hosts = len(snapshot.hosts)
        record.compute_ms = (computed - started) * 1000
        record.check_ms = (checked - computed) * 1000
        if problems:
            record.state = 'rejected'
            record.problems = [str(p) for p in problems]
            for problem in problems:
                self.logger.error('epoch %d rejected, not installed: %s', record.number,
                                  problem)
            return
        unprotected = sft.unprotected()
        record.unprotected = len(unprotected)
        if unprotected:
            self.logger.info('epoch %d: %d (destination, switch) pairs have no loop-free '
                             'backup, e.g. %s', record.number, len(unprotected),
                             ', '.join('%x at %x' % pair for pair in unprotected[:5]))
        targets = [self.switches[dpid] for dpid in sorted(snapshot.switches)
                   if dpid in self.switches]
        plan = plan_update(record.number, snapshot, sft, targets)
        if self.updater.stamp(record, plan, started=checked):
            self.current = EpochInForce(record, snapshot, sft)
            self.updater.retire(record, plan)
        self.logger.info(
            'epoch %d %s: %d triggers; %d switches, %d links, %d hosts; compute %.1f ms, '
            'check %.1f ms, install %.1f ms, old rules removed in %.1f ms after the drain',
            record.number, record.state, len(triggers), record.switches, record.links,
            record.hosts, record.compute_ms, record.check_ms, record.install_ms,
            record.cleanup_ms)

    # --- bundle answers --------------------------------------------------------------

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def _barrier_reply(self, ev: Any) -> None:
        self.bundles.on_barrier_reply(ev.msg)

    @set_ev_cls(ofp_event.EventOFPErrorMsg, MAIN_DISPATCHER)
    def _error(self, ev: Any) -> None:
        if not self.bundles.on_error(ev.msg):
            self.logger.warning('switch %016x sent error type %d code %d',
                                ev.msg.datapath.id, ev.msg.type, ev.msg.code)
