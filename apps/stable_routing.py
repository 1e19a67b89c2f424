"""Consensus-stable forwarding tables for OpenFlow 1.3: epochs from consistent
snapshots, per-packet consistent updates, fast-failover transient mode.

Run it with::

    ryu-manager apps/stable_routing.py [--config-file stable.conf] [--wsapi-port 8080]

and ask it what it does with ``sdn-stable epoch|triggers|history|sft DPID|unprotected``
(or the REST
endpoints under ``/stable/``). docs/stable_routing.md is the guide.

How it works (Consensus Routing, NSDI 2008, carried into an SDN controller):

1. Discovery. LLDP finds the links (controller/discovery.py); hosts are learned from
   the first frame they send on a host port. Every event (switch up/down, port up/down,
   link up/down, host seen/moved) is a *trigger* in the update log
   (controller/epochs.py). Triggers do not touch forwarding.
2. Epochs. When the log has been quiet for ``quiet_window`` seconds (or ``max_delay``
   after its oldest pending trigger), the app takes a snapshot of the topology, computes
   the stable forwarding table (controller/sft.py) and checks it: no loop, no black
   hole, loop-free backups. A table that fails the check is never installed.
3. Consistent update (controller/stable_pipeline.py, controller/bundles.py). Phase 1
   installs the epoch's forward rules, which match the epoch's version tag, on every
   switch; phase 2 switches each switch's ingress rule to stamp the new version; after
   ``drain_time``, phase 3 removes the previous epoch's rules. Each phase is one atomic
   bundle per switch, confirmed by a barrier, and a phase starts only when every switch
   confirmed the previous one. A failed phase 1 leaves the old epoch in force.
4. Transient mode. Next hops with a loop-free backup forward through fast-failover
   groups, so a link that loses carrier is bypassed by the switch itself; the next
   epoch then recomputes shortest paths.

A controller restart loses nothing: the rules stay in the switches, the app reads the
hosts and epoch numbers back from them, and its first epoch replaces them consistently.
"""

import json
import time
from time import monotonic as _now
from time import perf_counter

from ryu import cfg
from ryu.app.wsgi import ControllerBase, Response, WSGIApplication, route
from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib import hub
from ryu.ofproto import ofproto_v1_3

from controller import openflow as of
from controller import stable_pipeline as pipe
from controller.bundles import BundleClient
from controller.cookies import FREE_MASK, KIND_MASK
from controller import discovery
from controller.epochs import EpochRecord, UpdateLog
from controller.flowspec import diff, in_order, to_delete_strict, to_flow_mod
from controller.learning import is_unicast
from controller.rate_limit import TokenBucket, packet_in_options
from controller.sft import Snapshot, check_sft, compute_sft
from controller.topology import SwitchGraph, spanning_tree_ports

CONF = cfg.CONF
CONF.register_opts([
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
] + packet_in_options(200.0, 500) + discovery.options(link_timeout=3.5),
    group='stable_routing')

REST_APP = 'stable_routing_app'
ALL_BITS = 0xFFFFFFFFFFFFFFFF
TRIGGERS_KEPT_PER_EPOCH = 50


class SwitchState:
    """What the app knows is installed on one connected switch."""

    def __init__(self, dp, conf):
        self.dp = dp
        self.port_rules = None      # admission/flood/ingress FlowSpecs; None: unknown
        self.groups = set()         # failover group ids installed by this run
        self.route_epochs = set()   # epochs whose forward rules are on the switch
        self.packet_ins = TokenBucket(conf.packet_in_rate, conf.packet_in_burst)
        self.connected_at = _now()


class StableRouting(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS = {'wsgi': WSGIApplication}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.conf = CONF.stable_routing
        self.switches = {}            # dpid -> SwitchState
        self.graph = SwitchGraph()
        self.discovery = discovery.LinkDiscovery(self.graph, self.conf.link_timeout)
        self.hosts = {}               # mac -> (dpid, port)
        self.log = UpdateLog(self.conf.quiet_window, self.conf.max_delay,
                             history=self.conf.history)
        self.epoch = 0                # the last epoch number used (read back on restart)
        self.current = None           # (EpochRecord, Snapshot, SFT) now in force
        self.bundles = BundleClient()
        kwargs['wsgi'].register(StableRoutingRest, {REST_APP: self})
        self._threads = [hub.spawn(self._lldp_loop), hub.spawn(self._epoch_loop)]

    def _trigger(self, kind, detail):
        trigger = self.log.append(kind, detail)
        self.logger.info('trigger %s %s: %s', trigger.id, kind, detail)

    # --- switches and ports -----------------------------------------------------

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    def _state_change(self, ev):
        dp = ev.datapath
        if ev.state == MAIN_DISPATCHER:
            self._switch_up(dp)
        elif dp.id in self.switches and self.switches[dp.id].dp is dp:
            del self.switches[dp.id]
            self.bundles.forget_switch(dp.id)
            self.discovery.switch_down(dp.id)
            gone = self._forget_hosts(lambda dpid, port: dpid == dp.id)
            self._trigger('switch-down', 'switch %016x disconnected%s' % (dp.id, gone))

    def _switch_up(self, dp):
        self.switches[dp.id] = SwitchState(dp, self.conf)
        # Adding the same rules again changes nothing, so a restart costs no traffic.
        of.send_together(dp, [to_flow_mod(dp, spec) for spec in in_order(pipe.base_rules())])
        self._read_back(dp)
        self.discovery.switch_up(dp, _now())
        self._trigger('switch-up', 'switch %016x with live ports %s' % (
            dp.id, sorted(self.discovery.live_ports(dp.id))))

    def _read_back(self, dp):
        """Ask for this app's rules left by a previous run: its epochs and hosts."""
        parser, ofp = dp.ofproto_parser, dp.ofproto
        cookie, mask = pipe.COOKIES.all_rules()
        dp.send_msg(parser.OFPFlowStatsRequest(dp, 0, ofp.OFPTT_ALL, ofp.OFPP_ANY,
                                               ofp.OFPG_ANY, cookie, mask,
                                               parser.OFPMatch()))

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def _flow_stats(self, ev):
        sw = self.switches.get(ev.msg.datapath.id)
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

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def _port_status(self, ev):
        msg = ev.msg
        dp, port_no = msg.datapath, msg.desc.port_no
        if dp.id not in self.switches:
            return
        live = msg.reason != dp.ofproto.OFPPR_DELETE and discovery.is_live(dp, msg.desc)
        was_live = port_no in self.discovery.live_ports(dp.id)
        if live and not was_live:
            self.discovery.port_up(dp, msg.desc, _now())
            self._trigger('port-up', 'port %016x:%d' % (dp.id, port_no))
        elif was_live and not live:
            link = self.discovery.port_down(dp.id, port_no)
            gone = self._forget_hosts(lambda dpid, port: (dpid, port) == (dp.id, port_no))
            self._trigger('port-down', 'port %016x:%d%s%s' % (
                dp.id, port_no, ' (its link is gone)' if link else '', gone))

    def _forget_hosts(self, where):
        """Forget the hosts attached where ``where(dpid, port)``; text for the trigger."""
        gone = sorted(mac for mac, place in self.hosts.items() if where(*place))
        for mac in gone:
            del self.hosts[mac]
        return '; hosts gone: %s' % ', '.join(gone) if gone else ''

    # --- links -------------------------------------------------------------------

    def _lldp_loop(self):
        while True:
            hub.sleep(self.conf.lldp_interval)
            self.discovery.probe_all()
            for src_dpid, src_port, dst_dpid, dst_port in self.discovery.expire(_now()):
                self._trigger('link-down', '%016x:%d -> %016x:%d (no LLDP for %.1fs)' % (
                    src_dpid, src_port, dst_dpid, dst_port, self.conf.link_timeout))

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in(self, ev):
        msg = ev.msg
        dp = msg.datapath
        sw = self.switches.get(dp.id)
        if sw is None:
            return
        in_port = msg.match['in_port']
        if msg.cookie == pipe.COOKIES.cookie(pipe.LLDP):
            link = self.discovery.lldp_in(dp.id, in_port, msg.data, _now())
            if link:
                gone = self._forget_hosts(lambda dpid, port: (dpid, port) == (dp.id, in_port))
                self._trigger('link-up', '%016x:%d -> %016x:%d%s' % (link + (gone,)))
            return
        if msg.cookie == pipe.COOKIES.cookie(pipe.BASE) and sw.packet_ins.allow():
            self._host_frame(dp.id, in_port, msg.data)

    def _host_frame(self, dpid, in_port, frame):
        """A frame whose source is not yet known on this port: learn the host."""
        src = of.mac_text(frame[6:12])
        if (not is_unicast(src) or frame[12:14] == b'\x88\xa8'
                or in_port not in self.discovery.live_ports(dpid)
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

    # --- epochs ------------------------------------------------------------------

    def _epoch_loop(self):
        while True:
            hub.sleep(0.05)
            settling = any(_now() - sw.connected_at < self.conf.switch_settle
                           for sw in self.switches.values())
            if self.log.epoch_due(hold=settling):
                try:
                    self._run_epoch()
                except Exception:   # one bad epoch must not stop every later one
                    self.logger.exception('epoch %d failed', self.epoch)

    def _snapshot(self):
        connected = set(self.switches)
        ports = {dpid: self.discovery.live_ports(dpid) for dpid in connected}
        hosts = {mac: place for mac, place in self.hosts.items() if place[0] in connected}
        return Snapshot.from_switch_graph(self.graph, hosts, ports)

    def _run_epoch(self):
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
        self._install(record, snapshot, sft, started=checked)
        self.logger.info(
            'epoch %d %s: %d triggers; %d switches, %d links, %d hosts; compute %.1f ms, '
            'check %.1f ms, install %.1f ms, old rules removed in %.1f ms after the drain',
            record.number, record.state, len(triggers), record.switches, record.links,
            record.hosts, record.compute_ms, record.check_ms, record.install_ms,
            record.cleanup_ms)

    def _install(self, record, snapshot, sft, started):
        """The three phases; record.state says how far it got. install_ms: from
        ``started`` (perf_counter) until every switch stamps the new version."""
        epoch = record.number
        targets = [self.switches[dpid] for dpid in sorted(snapshot.switches)
                   if dpid in self.switches]
        plans = {sw.dp.id: pipe.route_rules(sft, sw.dp.id, epoch) for sw in targets}
        tree = spanning_tree_ports(snapshot.graph())
        desired = {sw.dp.id: pipe.port_rules(snapshot, sw.dp.id, tree)
                   | {pipe.ingress_rule(epoch)} for sw in targets}
        ahead = {sw.dp.id: pipe.admitted_ahead(sw.port_rules, desired[sw.dp.id])
                 for sw in targets}
        record.state = 'installing'

        def internal(sw):
            routes, groups = plans[sw.dp.id]
            admit, unblock = ahead[sw.dp.id]
            dp = sw.dp
            return ([of.failover_group(dp, gid, ports) for gid, ports in sorted(groups.items())
                     if gid not in sw.groups]
                    + [to_flow_mod(dp, spec) for spec in in_order(routes)]
                    + [to_delete_strict(dp, spec, KIND_MASK) for spec in unblock]
                    + [to_flow_mod(dp, spec) for spec in admit])
        if not self._phase(record, 'internal rules', targets, internal):
            self._discard_epoch(targets, epoch)
            record.state = 'failed'
            for sw in targets:
                sw.port_rules = None        # the admissions ahead may or may not be there
            return
        for sw in targets:
            sw.groups |= set(plans[sw.dp.id][1])
            sw.route_epochs.add(epoch)
            if sw.port_rules is not None:
                admit, unblock = ahead[sw.dp.id]
                sw.port_rules = (sw.port_rules - set(unblock)) | set(admit)

        draining = {sw.dp.id: pipe.while_draining(sw.port_rules, desired[sw.dp.id])
                    for sw in targets}
        if not self._phase(record, 'ingress rules', targets,
                           lambda sw: self._port_rule_changes(sw, draining[sw.dp.id])):
            # Some switches stamp the new version, some the old: both epochs' rules are
            # everywhere, so every packet still travels in one epoch. The next epoch
            # finishes the job.
            record.state = 'failed'
            for sw in targets:
                sw.port_rules = None
            return
        for sw in targets:
            sw.port_rules = draining[sw.dp.id]
        self.current = (record, snapshot, sft)
        record.state = 'installed'
        record.installed_at = time.time()
        record.install_ms = (perf_counter() - started) * 1000

        hub.sleep(self.conf.drain_time)
        cleanup_started = perf_counter()

        def cleanup(sw):
            dp = sw.dp
            return ([of.flow_delete(dp, pipe.epoch_cookie(pipe.ROUTE, old), ALL_BITS,
                                    table_id=pipe.FORWARD_TABLE)
                     for old in sorted(sw.route_epochs - {epoch})]
                    + self._port_rule_changes(sw, desired[dp.id])
                    + [of.group_delete(dp, gid)
                       for gid in sorted(sw.groups - set(plans[dp.id][1]))])
        live = [sw for sw in targets if self.switches.get(sw.dp.id) is sw]
        if self._phase(record, 'old rules removed', live, cleanup):
            for sw in live:
                sw.route_epochs = {epoch}
                sw.groups = set(plans[sw.dp.id][1])
                sw.port_rules = desired[sw.dp.id]
        else:
            for sw in live:
                sw.port_rules = None    # the next epoch rewrites them in one bundle
        record.cleanup_ms = (perf_counter() - cleanup_started) * 1000

    def _port_rule_changes(self, sw, desired):
        dp = sw.dp
        if sw.port_rules is None:
            # Unknown contents (a new connection): clear and rewrite in the same atomic
            # bundle, so no packet sees the switch in between.
            wipe = [of.flow_delete(dp, *pipe.COOKIES.rules_of_kind(kind))
                    for kind in (pipe.LINK, pipe.HOST, pipe.FLOOD, pipe.INGRESS)]
            return wipe + [to_flow_mod(dp, spec) for spec in in_order(desired)]
        change = diff(sw.port_rules, desired)
        return ([to_delete_strict(dp, spec, KIND_MASK) for spec in change.delete]
                + [to_flow_mod(dp, spec) for spec in change.add])

    def _phase(self, record, name, targets, messages_for):
        """Send each switch its bundle, then wait for all; True if every switch
        confirmed it."""
        sent = [(sw, self.bundles.send(sw.dp, messages_for(sw))) for sw in targets]
        ok = True
        for sw, transaction in sent:
            if not transaction.wait(self.conf.install_timeout):
                self.logger.error('epoch %d: switch %016x did not confirm %s within %.1fs',
                                  record.number, sw.dp.id, name, self.conf.install_timeout)
                ok = False
            elif transaction.errors:
                self.logger.error('epoch %d: switch %016x refused %s: %s', record.number,
                                  sw.dp.id, name, transaction.errors)
                ok = False
        self.logger.debug('epoch %d: %s on %d switches: %s', record.number, name,
                          len(targets), 'confirmed' if ok else 'FAILED')
        if not ok:
            record.problems.append('%s not confirmed by every switch' % name)
        return ok

    def _discard_epoch(self, targets, epoch):
        """Remove a half-installed epoch's forward rules (nothing stamps its version)."""
        for sw in targets:
            if self.switches.get(sw.dp.id) is sw:
                of.delete_flows(sw.dp, pipe.epoch_cookie(pipe.ROUTE, epoch), ALL_BITS,
                                table_id=pipe.FORWARD_TABLE)

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def _barrier_reply(self, ev):
        self.bundles.on_barrier_reply(ev.msg)

    @set_ev_cls(ofp_event.EventOFPErrorMsg, MAIN_DISPATCHER)
    def _error(self, ev):
        if not self.bundles.on_error(ev.msg):
            self.logger.warning('switch %016x sent error type %d code %d',
                                ev.msg.datapath.id, ev.msg.type, ev.msg.code)

    # --- what the REST endpoints show ----------------------------------------------

    def status(self):
        record = self.current[0] if self.current else None
        return {
            'epoch': record.number if record else None,
            'version_vid': pipe.version_of(record.number) if record else None,
            'age_s': round(time.time() - record.installed_at, 3) if record else None,
            'last_epoch_cut': self.epoch,
            'pending_triggers': len(self.log.pending),
            'switches': len(self.switches),
            'hosts': len(self.hosts),
        }

    def pending_triggers(self):
        return [{'id': t.id, 'at': t.at, 'kind': t.kind, 'detail': t.detail}
                for t in self.log.pending]

    def history(self, limit):
        return [record.as_dict() for record in list(self.log.history)[-limit:]]

    def unprotected(self):
        """The epoch in force's next hops without a loop-free backup: where a link
        failure waits for the next epoch instead of failing over in the switch."""
        if not self.current:
            return None
        record, snapshot, sft = self.current
        hosts_at = {}
        for mac, (dpid, _) in snapshot.hosts:
            hosts_at.setdefault(dpid, []).append(mac)
        return {'epoch': record.number, 'entries': [
            {'destination': '%016x' % destination, 'switch': '%016x' % dpid,
             'hosts': sorted(hosts_at.get(destination, []))}
            for destination, dpid in sft.unprotected()]}

    def switch_table(self, dpid):
        """The SFT of one switch in the epoch in force, or None if it has none."""
        if not self.current or dpid not in self.current[1].switches:
            return None
        record, snapshot, sft = self.current
        neighbour = snapshot.neighbour_at()
        entries = []
        for mac, how, where in sft.switch_entries(dpid):
            if how == 'deliver':
                entries.append({'host': mac, 'deliver_port': where})
            else:
                entries.append({
                    'host': mac, 'port': where.port,
                    'next_hop': '%016x' % neighbour[(dpid, where.port)],
                    'backup_port': where.backup,
                    'backup_next_hop': (None if where.backup is None else
                                        '%016x' % neighbour[(dpid, where.backup)])})
        return {'dpid': '%016x' % dpid, 'epoch': record.number, 'entries': entries}


def _json(body, status=200):
    return Response(status=status, content_type='application/json',
                    body=json.dumps(body, indent=1).encode())


class StableRoutingRest(ControllerBase):
    """GET /stable/epoch, /stable/triggers, /stable/history[?limit=N], /stable/sft/DPID,
    /stable/unprotected."""

    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.app = data[REST_APP]

    @route('stable', '/stable/epoch', methods=['GET'])
    def epoch(self, req, **_):
        return _json(self.app.status())

    @route('stable', '/stable/triggers', methods=['GET'])
    def triggers(self, req, **_):
        return _json(self.app.pending_triggers())

    @route('stable', '/stable/history', methods=['GET'])
    def history(self, req, **_):
        try:
            limit = int(req.GET.get('limit', 20))
        except ValueError:
            return _json({'error': 'limit must be an integer'}, 400)
        return _json(self.app.history(max(1, limit)))

    @route('stable', '/stable/unprotected', methods=['GET'])
    def unprotected(self, req, **_):
        body = self.app.unprotected()
        if body is None:
            return _json({'error': 'no epoch installed yet'}, 404)
        return _json(body)

    @route('stable', '/stable/sft/{dpid}', methods=['GET'])
    def sft(self, req, dpid, **_):
        try:
            number = int(dpid, 16)
        except ValueError:
            return _json({'error': 'dpid must be hexadecimal, got %r' % dpid}, 400)
        table = self.app.switch_table(number)
        if table is None:
            return _json({'error': 'switch %s is in no installed epoch' % dpid}, 404)
        return _json(table)
