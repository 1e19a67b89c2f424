"""L2 learning switch for OpenFlow 1.3 that is safe on looped topologies.

Run it with::

    ryu-manager apps/l2_learning.py [--config-file l2.conf]

The app discovers links itself with LLDP (controller/lldp.py): no ``--observe-links``
and no ``ryu.topology`` app, whose per-packet-in host discovery would double the cost of
learning. Settings go in the ``[l2_learning]`` section of a config
file (options below; the README has a table and an example).

Pipeline (cookie kinds in brackets, see controller/cookies.py)::

    table 0, source     65535  LLDP -> controller                  [LLDP] link discovery
                         1000  in_port=P -> drop                   [PORT_DROP] P probing/blocked
                          100  in_port=P,eth_src=M -> goto 1       [SRC] hard timeout: re-learn
                           50  in_port=P -> drop                   [BAN] P over its MAC limit
                            0  -> controller (128 B) + goto 1      [MISS] unknown source
    table 1, destination  100  eth_dst=M -> output P               [DST] idle timeout
                           10  in_port=P -> output flood ports - P [FLOOD] tree and host ports
                               (miss: drop)

Known traffic is forwarded by tables 0 and 1 alone. An unknown source is copied to the
controller, which learns it, while the switch forwards the frame itself (flood along the
tree or the known destination): learning never delays a packet.

Loop safety: a port is forwarding only when it is a host port (no LLDP seen on it for
``probe_time`` seconds after it came up) or a switch-to-switch port on the spanning tree
of the discovered switch graph (controller/topology.py). Every other port drops what it
receives and is left out of floods, like an STP blocking port. When the tree changes,
every learned entry is flushed, because paths learned over the old tree may now lead
nowhere.
"""

from time import monotonic as _now

from ryu import cfg
from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib import hub
from ryu.ofproto import ofproto_v1_3

from controller import openflow as of
from controller.cookies import CookieSpace
from controller.learning import Learned, MacTable, is_unicast
from controller import discovery
from controller.lldp import LLDP_DESTINATION, LLDP_ETHERTYPE
from controller.rate_limit import TokenBucket, packet_in_options
from controller.topology import SwitchGraph, flood_rules, spanning_tree_ports

CONF = cfg.CONF
CONF.register_opts([
    cfg.IntOpt('idle_timeout', default=300,
               help='seconds a learned destination entry lives without traffic'),
    cfg.FloatOpt('relearn_fraction', default=0.75,
                 help='source entries expire after this fraction of idle_timeout so an '
                      'active host is re-learned (and its destination entry refreshed) '
                      'before the destination entry could expire'),
    cfg.FloatOpt('probe_time', default=2.5,
                 help='seconds a port that comes up waits for LLDP before it forwards '
                      'as a host port'),
    cfg.IntOpt('max_macs_per_port', default=64,
               help='MACs learned on one host port before the port is banned'),
    cfg.IntOpt('ban_time', default=60,
               help='seconds a port over its MAC limit learns no new MAC'),
] + packet_in_options(500.0, 1000) + discovery.options(link_timeout=3.5),
    group='l2_learning')

SOURCE_TABLE = 0
DESTINATION_TABLE = 1

PRIO_LLDP = 65535
PRIO_PORT_DROP = 1000
PRIO_LEARNED = 100
PRIO_BAN = 50
PRIO_FLOOD = 10
PRIO_MISS = 0

# Cookie kinds of this app's rules.
MISS, SRC, DST, FLOOD, PORT_DROP, BAN, LLDP = 1, 2, 3, 4, 5, 6, 7

PACKET_IN_BYTES = 128   # the Ethernet header is all learning needs


class SwitchState:
    """What the app keeps per connected switch."""

    def __init__(self, dp, conf):
        self.dp = dp
        self.macs = MacTable(conf.max_macs_per_port, conf.ban_time)
        self.packet_ins = TokenBucket(conf.packet_in_rate, conf.packet_in_burst)
        self.installed_floods = {}    # in_port -> out ports, as programmed
        self.installed_drops = set()  # ports with a PORT_DROP rule
        # Until the first probe_time has passed, the rules a previous run of the app left
        # in the switch keep forwarding, untouched: a controller restart costs no traffic.
        self.reconcile_at = None


class L2Learning(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.conf = CONF.l2_learning
        self.cookies = CookieSpace('l2_learning')
        self.switches = {}            # dpid -> SwitchState
        self.graph = SwitchGraph()
        self.discovery = discovery.LinkDiscovery(self.graph, self.conf.link_timeout)
        self.tree_ports = {}          # dpid -> switch-to-switch ports on the tree
        self.src_hard_timeout = max(1, int(self.conf.idle_timeout *
                                           self.conf.relearn_fraction))
        self._probe_thread = hub.spawn(self._probe_loop)
        self._lldp_thread = hub.spawn(self._lldp_loop)

    # --- switch and port life cycle ---------------------------------------------

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    def _state_change(self, ev):
        dp = ev.datapath
        if ev.state == MAIN_DISPATCHER:
            self._switch_up(dp)
        elif dp.id in self.switches and self.switches[dp.id].dp is dp:
            del self.switches[dp.id]
            self.logger.info('switch %016x disconnected', dp.id)
            if self.discovery.switch_down(dp.id):
                self._update_tree()

    def _switch_up(self, dp):
        sw = SwitchState(dp, self.conf)
        self.switches[dp.id] = sw
        now = _now()
        self.discovery.switch_up(dp, now)
        sw.reconcile_at = now + self.conf.probe_time
        parser, ofp = dp.ofproto_parser, dp.ofproto
        of.add_flow(dp, SOURCE_TABLE, PRIO_LLDP,
                    parser.OFPMatch(eth_type=LLDP_ETHERTYPE, eth_dst=LLDP_DESTINATION),
                    [of.apply_actions(dp, [of.output(dp, ofp.OFPP_CONTROLLER)])],
                    self.cookies.cookie(LLDP))
        of.add_flow(dp, SOURCE_TABLE, PRIO_MISS, parser.OFPMatch(),
                    [of.apply_actions(dp, [of.output(dp, ofp.OFPP_CONTROLLER,
                                                     PACKET_IN_BYTES)]),
                     of.goto_table(dp, DESTINATION_TABLE)],
                    self.cookies.cookie(MISS))
        self.logger.info('switch %016x connected with %d live ports', dp.id,
                         len(self.discovery.live_ports(dp.id)))
        if self.conf.probe_time <= 0:
            self._reconcile(sw)

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def _port_status(self, ev):
        msg = ev.msg
        sw = self.switches.get(msg.datapath.id)
        if sw is None:
            return
        port_no = msg.desc.port_no
        live = (msg.reason != msg.datapath.ofproto.OFPPR_DELETE
                and discovery.is_live(msg.datapath, msg.desc))
        was_live = port_no in self.discovery.live_ports(sw.dp.id)
        if live and not was_live:
            self.discovery.port_up(msg.datapath, msg.desc, _now())
            self.logger.info('port %016x:%d up; probing for %.1fs', sw.dp.id, port_no,
                             self.conf.probe_time)
            self._program_ports(sw)
        elif not live and was_live:
            self._port_down(sw, port_no)

    def _port_down(self, sw, port_no):
        dp, parser = sw.dp, sw.dp.ofproto_parser
        macs = sw.macs.forget_port(port_no)
        of.delete_flows(dp, *self.cookies.rules_of_kind(SRC), table_id=SOURCE_TABLE,
                        match=parser.OFPMatch(in_port=port_no))
        of.delete_flows(dp, *self.cookies.rules_of_kind(DST),
                        table_id=DESTINATION_TABLE, out_port=port_no)
        self.logger.info('port %016x:%d down; flushed %d learned MACs', dp.id, port_no,
                         len(macs))
        if self.discovery.port_down(dp.id, port_no):
            self.logger.info('link on %016x:%d gone with the port', dp.id, port_no)
            self._update_tree()
        else:
            self._program_ports(sw)

    # --- topology: links and the spanning tree ----------------------------------

    def _lldp_loop(self):
        """LLDP out of every live port; links not heard of for link_timeout expire."""
        while True:
            hub.sleep(self.conf.lldp_interval)
            self.discovery.probe_all()
            expired = self.discovery.expire(_now())
            for src_dpid, src_port, dst_dpid, dst_port in expired:
                self.logger.info('link %016x:%d -> %016x:%d gone (no LLDP for %.1fs)',
                                 src_dpid, src_port, dst_dpid, dst_port,
                                 self.conf.link_timeout)
            if expired:
                self._update_tree()

    def _lldp_in(self, sw, msg):
        link = self.discovery.lldp_in(sw.dp.id, msg.match['in_port'], msg.data, _now())
        if link:
            self.logger.info('link %016x:%d -> %016x:%d discovered', *link)
            self._update_tree()

    def _update_tree(self):
        tree_ports = spanning_tree_ports(self.graph)
        # Ports on switch-to-switch links whose two ends now differ matter; so does any
        # change of which ports are switch-to-switch, which _program_ports picks up.
        changed = tree_ports != self.tree_ports
        self.tree_ports = tree_ports
        if changed:
            tree_links = sum(len(p) for p in tree_ports.values()) // 2
            self.logger.info('spanning tree recomputed: %d switches, %d tree links, '
                             '%d discovered link directions; flushing learned MACs',
                             len(tree_ports), tree_links, len(self.graph.links))
            self._flush_learned()
        for sw in self.switches.values():
            self._program_ports(sw)

    def _flush_learned(self):
        for sw in self.switches.values():
            if sw.reconcile_at is not None:
                continue   # its old learned entries go when it is taken over
            sw.macs.clear()
            for kind in (SRC, DST):
                of.delete_flows(sw.dp, *self.cookies.rules_of_kind(kind))

    def _probe_loop(self):
        """Take over switches whose first probe time has passed, and promote ports whose
        probe time has passed to forwarding."""
        while True:
            hub.sleep(0.25)
            now = _now()
            for sw in list(self.switches.values()):
                if sw.reconcile_at is not None:
                    if now >= sw.reconcile_at:
                        self._reconcile(sw)
                elif any(now - since >= self.conf.probe_time
                       and port not in sw.installed_floods
                       for port, since in self.discovery.up_since(sw.dp.id).items()):
                    self._program_ports(sw)

    def _reconcile(self, sw):
        """Replace whatever the switch holds (a previous run's rules, or nothing) by what
        the discovered topology says: floods and drops for every port, no learned entry."""
        sw.reconcile_at = None
        dp, parser = sw.dp, sw.dp.ofproto_parser
        for kind in (SRC, DST):
            of.delete_flows(dp, *self.cookies.rules_of_kind(kind))
        forwarding = self._forwarding_ports(sw)
        for port in sorted(dp.ports):
            stale_kind, table, prio = ((PORT_DROP, SOURCE_TABLE, PRIO_PORT_DROP)
                                       if port in forwarding else
                                       (FLOOD, DESTINATION_TABLE, PRIO_FLOOD))
            of.delete_flows(dp, *self.cookies.rules_of_kind(stale_kind), table_id=table,
                            match=parser.OFPMatch(in_port=port), priority=prio)
        self._program_ports(sw)
        self.logger.info('switch %016x: taken over after %.1fs of LLDP', dp.id,
                         self.conf.probe_time)

    def _forwarding_ports(self, sw):
        """Live ports that are probed and are either host ports or on the tree."""
        now = _now()
        inter_switch = self.graph.inter_switch_ports(sw.dp.id)
        on_tree = self.tree_ports.get(sw.dp.id, set())
        return {port for port, since in self.discovery.up_since(sw.dp.id).items()
                if now - since >= self.conf.probe_time
                and (port not in inter_switch or port in on_tree)}

    def _program_ports(self, sw):
        """Bring the switch's PORT_DROP and FLOOD rules to what the port states say."""
        if sw.reconcile_at is not None:
            return   # not taken over yet: see _reconcile
        dp, parser = sw.dp, sw.dp.ofproto_parser
        forwarding = self._forwarding_ports(sw)
        drops = self.discovery.live_ports(dp.id) - forwarding
        floods = flood_rules(forwarding)
        # Blocking first, then floods: a port never forwards before it drops.
        for port in sorted(drops - sw.installed_drops):
            of.add_flow(dp, SOURCE_TABLE, PRIO_PORT_DROP, parser.OFPMatch(in_port=port),
                        [], self.cookies.cookie(PORT_DROP))
        for port in sorted(set(sw.installed_floods) - set(floods)):
            of.delete_flows(dp, *self.cookies.rules_of_kind(FLOOD),
                            table_id=DESTINATION_TABLE,
                            match=parser.OFPMatch(in_port=port), priority=PRIO_FLOOD)
        for port, outs in floods.items():
            if sw.installed_floods.get(port) != outs:
                of.add_flow(dp, DESTINATION_TABLE, PRIO_FLOOD,
                            parser.OFPMatch(in_port=port),
                            [of.apply_actions(dp, [of.output(dp, o) for o in outs])],
                            self.cookies.cookie(FLOOD))
        for port in sorted(sw.installed_drops - drops):
            of.delete_flows(dp, *self.cookies.rules_of_kind(PORT_DROP),
                            table_id=SOURCE_TABLE, match=parser.OFPMatch(in_port=port),
                            priority=PRIO_PORT_DROP)
        if floods != sw.installed_floods or drops != sw.installed_drops:
            self.logger.info('switch %016x: forwarding ports %s, blocked %s', dp.id,
                             sorted(forwarding), sorted(drops))
        sw.installed_floods = floods
        sw.installed_drops = drops

    # --- learning -----------------------------------------------------------------

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in(self, ev):
        msg = ev.msg
        sw = self.switches.get(msg.datapath.id)
        if sw is None:
            return
        if msg.cookie == self.cookies.cookie(LLDP):
            self._lldp_in(sw, msg)
            return
        if msg.cookie != self.cookies.cookie(MISS):
            return   # another app's packet-in
        if sw.reconcile_at is not None:
            return   # ports not classified yet: learning now could point into a loop
        if not sw.packet_ins.allow():
            self.logger.debug('switch %016x: packet-in over the rate limit, ignored',
                              sw.dp.id)
            return
        in_port = msg.match['in_port']
        # The Ethernet source is all learning needs: slice it rather than parse.
        src = of.mac_text(msg.data[6:12])
        # Frames from blocked or probing ports, and from the bridge's own LOCAL port,
        # are never learned.
        if (not is_unicast(src) or in_port in sw.installed_drops
                or in_port not in self.discovery.live_ports(sw.dp.id)):
            return
        self.logger.debug('switch %016x: packet-in port %d from %s', sw.dp.id, in_port, src)
        self._learn(sw, src, in_port)

    def _learn(self, sw, mac, in_port):
        host_port = in_port not in self.graph.inter_switch_ports(sw.dp.id)
        result, previous = sw.macs.learn(mac, in_port, limit=host_port)
        if result is Learned.MOVED:
            self.logger.info('host %s moved on switch %016x from port %d to %d; '
                             'forgetting it everywhere', mac, sw.dp.id, previous, in_port)
            self._forget_everywhere(mac)
            result, _ = sw.macs.learn(mac, in_port, limit=host_port)
        if result is Learned.BANNED:
            self._ban_port(sw, in_port)
        if result in (Learned.BANNED, Learned.REFUSED):
            return
        if result is Learned.NEW:
            log = self.logger.info if host_port else self.logger.debug
            log('host %s learned on switch %016x port %d', mac, sw.dp.id, in_port)
        self._install_host(sw, mac, in_port)

    def _install_host(self, sw, mac, port):
        dp = sw.dp
        of.send_together(dp, [
            of.flow_add(dp, SOURCE_TABLE, PRIO_LEARNED, of.PackedMatch(in_port=port, eth_src=mac),
                        [of.goto_table(dp, DESTINATION_TABLE)], self.cookies.cookie(SRC),
                        hard_timeout=self.src_hard_timeout),
            of.flow_add(dp, DESTINATION_TABLE, PRIO_LEARNED, of.PackedMatch(eth_dst=mac),
                        [of.apply_actions(dp, [of.output(dp, port)])],
                        self.cookies.cookie(DST), idle_timeout=self.conf.idle_timeout,
                        send_flow_removed=True),
        ])

    def _forget_everywhere(self, mac):
        for sw in self.switches.values():
            sw.macs.forget(mac)
            self._delete_host_rules(sw, mac)

    def _delete_host_rules(self, sw, mac):
        parser = sw.dp.ofproto_parser
        of.delete_flows(sw.dp, *self.cookies.rules_of_kind(SRC), table_id=SOURCE_TABLE,
                        match=parser.OFPMatch(eth_src=mac))
        of.delete_flows(sw.dp, *self.cookies.rules_of_kind(DST),
                        table_id=DESTINATION_TABLE, match=parser.OFPMatch(eth_dst=mac))

    def _ban_port(self, sw, port):
        parser = sw.dp.ofproto_parser
        of.add_flow(sw.dp, SOURCE_TABLE, PRIO_BAN, parser.OFPMatch(in_port=port), [],
                    self.cookies.cookie(BAN), hard_timeout=self.conf.ban_time)
        self.logger.warning('switch %016x port %d: more than %d MACs; new MACs refused '
                            'for %ds', sw.dp.id, port, self.conf.max_macs_per_port,
                            self.conf.ban_time)

    @set_ev_cls(ofp_event.EventOFPFlowRemoved, MAIN_DISPATCHER)
    def _flow_removed(self, ev):
        msg = ev.msg
        sw = self.switches.get(msg.datapath.id)
        if (sw is None or msg.reason != msg.datapath.ofproto.OFPRR_IDLE_TIMEOUT
                or self.cookies.kind_of(msg.cookie) != DST
                or not self.cookies.owns(msg.cookie)):
            return
        mac = msg.match['eth_dst']
        port = sw.macs.lookup(mac)
        # The source entry goes too, so the host's next frame is learned afresh.
        sw.macs.forget(mac)
        self._delete_host_rules(sw, mac)
        host_port = port is not None and port not in self.graph.inter_switch_ports(sw.dp.id)
        log = self.logger.info if host_port else self.logger.debug
        log('host %s expired on switch %016x (idle %ds)', mac, sw.dp.id,
            self.conf.idle_timeout)

