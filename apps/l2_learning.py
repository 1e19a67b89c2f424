"""L2 learning switch for OpenFlow 1.3 that is safe on looped topologies.

Run it with::

    ryu-manager apps/l2_learning.py [--config-file l2.conf]

The app discovers links itself with LLDP (controller/app_base.py, controller/discovery.py):
no ``--observe-links`` and no ``ryu.topology`` app, whose per-packet-in host discovery
would double the cost of learning. Settings go in the ``[l2_learning]`` section of a
config file (options below; the README has a table and an example).

The pipeline, and every rule of it, is controller/l2/pipeline.py's. Known traffic is
forwarded by the switch alone. An unknown source is copied to the controller, which
learns it, while the switch forwards the frame itself (flood along the tree or the known
destination): learning never delays a packet.

Loop safety: a port is forwarding only when it is a host port (no LLDP seen on it for
``probe_time`` seconds after it came up) or a switch-to-switch port on the spanning tree
of the discovered switch graph (controller/topology.py). Every other port drops what it
receives and is left out of floods, like an STP blocking port. When the tree changes,
every learned entry is flushed, because paths learned over the old tree may now lead
nowhere.
"""

from collections.abc import Iterable
from time import monotonic as _now
from typing import Any

from ryu import cfg
from ryu.controller import ofp_event
from ryu.controller.handler import MAIN_DISPATCHER, set_ev_cls

from controller import app_base, discovery, metrics, ui
from controller import openflow as of
from controller.app_base import Link, SuiteApp, register_options
from controller.flowspec import FlowSpec, to_flow_mod
from controller.l2 import pipeline as pipe
from controller.l2 import rest as l2_rest
from controller.learning import Learned, MacTable, is_unicast
from controller.metrics.collectors import LearnBans
from controller.rate_limit import TokenBucket, packet_in_options
from controller.topology import spanning_tree_ports
from controller.ui import views

register_options(
    'l2_learning',
    [
        cfg.IntOpt(
            'idle_timeout',
            default=300,
            help='seconds a learned destination entry lives without traffic',
        ),
        cfg.FloatOpt(
            'relearn_fraction',
            default=0.75,
            help='source entries expire after this fraction of idle_timeout so an '
            'active host is re-learned (and its destination entry refreshed) '
            'before the destination entry could expire',
        ),
        cfg.IntOpt(
            'max_macs_per_port',
            default=64,
            help='MACs learned on one host port before the port is banned',
        ),
        cfg.IntOpt(
            'max_macs_per_switch',
            default=16384,
            help='MACs learned per switch, on all its ports; then no new MAC until some expire',
        ),
        cfg.IntOpt(
            'ban_time', default=60, help='seconds a port over its MAC limit learns no new MAC'
        ),
    ],
    packet_in_options(500.0, 1000),
    discovery.options(link_timeout=3.5),
    app_base.base_options(),
)

PROBE_INTERVAL = 0.25  # seconds between looks for ports and switches whose probe ended
# Rewriting a switch's floods costs one rule per forwarding port, each out of all the
# others (~0.25 s for 1,024 ports): budgeted in flood rules per switch, and done by the
# probe loop (whose sends let the event handlers run) above EVENT_LOOP_FLOOD_PORTS.
# Until then, ports are blocked at once and the floods follow at a probe tick. A small
# switch never notices; a large one is rewritten about once a second at most.
FLOOD_RULES_PER_S = 1000.0
FLOOD_RULES_AT_ONCE = 1500
EVENT_LOOP_FLOOD_PORTS = 64


class SwitchState:
    """What the app keeps per connected switch."""

    def __init__(self, dp: Any, conf: Any) -> None:
        self.dp = dp
        self.macs = MacTable(conf.max_macs_per_port, conf.ban_time)
        self.macs.max_total = conf.max_macs_per_switch
        self.packet_ins = TokenBucket(conf.packet_in_rate, conf.packet_in_burst)
        self.port_rules = pipe.PortRules()
        self.flood_rules = TokenBucket(FLOOD_RULES_PER_S, FLOOD_RULES_AT_ONCE, app_base.clock)
        # Until the first probe_time has passed, the rules a previous run of the app left
        # in the switch keep forwarding, untouched: a controller restart costs no traffic.
        self.reconcile_at: float | None = None


class L2Learning(SuiteApp):
    CONFIG_GROUP = 'l2_learning'
    DISCOVERY = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tree_ports: dict[int, set[int]] = {}  # dpid -> switch ports on the tree
        # Read once: the packet-in path uses them (the options do not change at run time).
        self.idle_timeout = self.conf.idle_timeout
        self.host_templates = pipe.host_rule_templates(
            pipe.src_hard_timeout(self.conf.idle_timeout, self.conf.relearn_fraction),
            self.conf.idle_timeout,
        )
        self.spawn_loop('probe', PROBE_INTERVAL, self._probe_tick)
        self.bans = LearnBans()  # counted as they happen, for /metrics and /l2/bans
        self.serve_rest(l2_rest.L2LearningRest, {l2_rest.REST_APP: self})
        metrics.add_source(self.name, lambda: l2_rest.metric_families(self))
        ui.add_view('l2_learning', lambda: views.l2_view(self))

    # --- messages: where the pipeline's changes become OpenFlow ---------------------

    @staticmethod
    def _send(dp: Any, changes: Iterable[pipe.Change]) -> None:
        parser = dp.ofproto_parser
        for change in changes:
            if isinstance(change, FlowSpec):
                # Packed where the match allows: a flood rule may hold thousands of outputs.
                packed = all(field in of.PACKABLE_FIELDS for field, _ in change.match)
                dp.send_msg(to_flow_mod(dp, change, packed=packed))
            else:
                cookie, mask = pipe.COOKIES.rules_of_kind(change.kind)
                dp.send_msg(
                    of.flow_delete(
                        dp,
                        cookie,
                        mask,
                        table_id=change.table,
                        match=parser.OFPMatch(**dict(change.match)),
                        out_port=change.out_port,
                        priority=change.priority,
                    )
                )

    # --- switch and port life cycle (SuiteApp hooks) ----------------------------------

    def new_switch(self, dp: Any) -> SwitchState:
        return SwitchState(dp, self.conf)

    def switch_connected(self, sw: SwitchState) -> None:
        sw.reconcile_at = _now() + self.conf.probe_time
        self._send(sw.dp, pipe.base_rules())
        self.logger.info(
            'switch %016x connected with %d live ports', sw.dp.id, len(self.live_ports(sw.dp.id))
        )
        if self.conf.probe_time <= 0:
            self._reconcile(sw)

    def switch_disconnected(self, sw: SwitchState, graph_changed: bool) -> None:
        self.logger.info('switch %016x disconnected', sw.dp.id)
        self.log_throttle.forget((sw.dp.id, 'full'))
        if graph_changed:
            self._update_tree()

    def port_up(self, sw: SwitchState, port: Any) -> None:
        self.logger.info(
            'port %016x:%d up; probing for %.1fs', sw.dp.id, port.port_no, self.conf.probe_time
        )
        self._program_ports(sw)

    def port_down(self, sw: SwitchState, port_no: int, link_gone: bool) -> None:
        macs = sw.macs.forget_port(port_no)
        self._send(sw.dp, pipe.port_flush(port_no))
        self.logger.info(
            'port %016x:%d down; flushed %d learned MACs', sw.dp.id, port_no, len(macs)
        )
        if link_gone:
            self.logger.info('link on %016x:%d gone with the port', sw.dp.id, port_no)
            self._update_tree()
        else:
            self._program_ports(sw)

    # --- topology: links and the spanning tree ------------------------------------------

    def link_up(self, sw: SwitchState, in_port: int, link: Link) -> None:
        self.logger.info('link %016x:%d -> %016x:%d discovered', *link)
        self._update_tree()

    def links_expired(self, links: list[Link]) -> None:
        for src_dpid, src_port, dst_dpid, dst_port in links:
            self.logger.info(
                'link %016x:%d -> %016x:%d gone (no LLDP for %.1fs)',
                src_dpid,
                src_port,
                dst_dpid,
                dst_port,
                self.conf.link_timeout,
            )
        self._update_tree()

    def is_host_port(self, sw: SwitchState, port_no: int) -> bool:
        return bool(sw.macs.macs_on_port(port_no))  # no LLDP accepted where hosts are

    def _update_tree(self) -> None:
        tree_ports = spanning_tree_ports(self.graph)
        # Any change of which ports are on the tree flushes; a change of which ports are
        # switch-to-switch without one is picked up by _program_ports.
        changed = tree_ports != self.tree_ports
        self.tree_ports = tree_ports
        if changed:
            tree_links = sum(len(p) for p in tree_ports.values()) // 2
            self.logger.info(
                'spanning tree recomputed: %d switches, %d tree links, '
                '%d discovered link directions; flushing learned MACs',
                len(tree_ports),
                tree_links,
                len(self.graph.links),
            )
            self._flush_learned()
        for sw in self.switches.values():
            self._program_ports(sw)

    def _flush_learned(self) -> None:
        for sw in self.switches.values():
            if sw.reconcile_at is not None:
                continue  # its old learned entries go when it is taken over
            sw.macs.clear()
            self._send(sw.dp, pipe.learned_flush())

    def _probe_tick(self) -> None:
        """Take over switches whose first probe time has passed, and promote ports whose
        probe time has passed to forwarding."""
        now = _now()
        for sw in list(self.switches.values()):
            if sw.reconcile_at is not None:
                if now >= sw.reconcile_at:
                    self._reconcile(sw)
            elif sw.port_rules.floods_due or pipe.probe_ended(
                self.discovery.up_since(sw.dp.id),
                sw.port_rules.forwarding,
                now,
                self.conf.probe_time,
            ):
                self._program_ports(sw, in_probe_loop=True)

    def _reconcile(self, sw: SwitchState) -> None:
        """Replace whatever the switch holds (a previous run's rules, or nothing) by what
        the discovered topology says: floods and drops for every port, no learned entry."""
        sw.reconcile_at = None
        forwarding = self._forwarding_ports(sw)
        self._send(sw.dp, pipe.takeover_deletes(sw.dp.ports, forwarding))
        self._program_ports(sw, forwarding, in_probe_loop=True, takeover=True)
        self.logger.info(
            'switch %016x: taken over after %.1fs of LLDP', sw.dp.id, self.conf.probe_time
        )

    def _forwarding_ports(self, sw: SwitchState) -> set[int]:
        dpid = sw.dp.id
        return pipe.forwarding_ports(
            self.discovery.up_since(dpid),
            self.graph.inter_switch_ports(dpid),
            self.tree_ports.get(dpid, ()),
            _now(),
            self.conf.probe_time,
        )

    def _program_ports(
        self,
        sw: SwitchState,
        forwarding: set[int] | None = None,
        in_probe_loop: bool = False,
        takeover: bool = False,
    ) -> None:
        """Bring the switch's PORT_DROP and FLOOD rules to what the port states say.
        Floods that are many or over the budget are left to the probe loop: the ports
        that must stop forwarding are blocked at once."""
        if sw.reconcile_at is not None:
            return  # not taken over yet: see _reconcile
        if forwarding is None:
            forwarding = self._forwarding_ports(sw)
        rules, live = sw.port_rules, self.live_ports(sw.dp.id)
        if (
            rules.floods_current(forwarding)
            or (
                (in_probe_loop or len(forwarding) <= EVENT_LOOP_FLOOD_PORTS)
                and sw.flood_rules.allow(len(forwarding))
            )
            or takeover
        ):
            changes = rules.program(forwarding, live)
        else:
            changes = rules.block(forwarding, live)
        self._send(sw.dp, changes)
        if changes:
            self.logger.info(
                'switch %016x: forwarding ports %s, blocked %s%s',
                sw.dp.id,
                _ports_text(rules.forwarding),
                _ports_text(rules.drops),
                '; floods rewritten at the next probe' if rules.floods_due else '',
            )

    # --- learning -----------------------------------------------------------------------

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in(self, ev: Any) -> None:
        msg = ev.msg
        sw = self.switch_of(msg.datapath)
        if sw is None:
            return
        if msg.cookie == pipe.LLDP_COOKIE:
            fields = self.packet_in_fields(sw, msg)
            if fields is not None:
                self.lldp_in(sw, *fields)
            return
        if msg.cookie != pipe.MISS_COOKIE:
            return  # another app's packet-in
        if sw.reconcile_at is not None:
            return  # ports not classified yet: learning now could point into a loop
        if not sw.packet_ins.allow():
            self.logger.debug('switch %016x: packet-in over the rate limit, ignored', sw.dp.id)
            return
        fields = self.packet_in_fields(sw, msg)
        if fields is None:
            return  # malformed: counted and logged by the base
        in_port, frame = fields
        # The Ethernet source is all learning needs: slice it rather than parse.
        src = of.mac_text(frame[6:12])
        # Only forwarding ports (those with a flood rule) learn: never a blocked or
        # probing port, nor the bridge's own LOCAL port.
        if not is_unicast(src) or in_port not in sw.port_rules.forwarding:
            return
        self.logger.debug('switch %016x: packet-in port %d from %s', sw.dp.id, in_port, src)
        self._learn(sw, src, in_port)

    def _learn(self, sw: SwitchState, mac: str, in_port: int) -> None:
        host_port = in_port not in self.graph.inter_switch_ports(sw.dp.id)
        result, previous = sw.macs.learn(mac, in_port, limit=host_port)
        if result is Learned.MOVED:
            self.logger.info(
                'host %s moved on switch %016x from port %d to %d; forgetting it everywhere',
                mac,
                sw.dp.id,
                previous,
                in_port,
            )
            self._forget_everywhere(mac)
            result, _ = sw.macs.learn(mac, in_port, limit=host_port)
        if result is Learned.BANNED:
            self._ban_port(sw, in_port)
        if result is Learned.FULL and self.log_throttle.ready((sw.dp.id, 'full')):
            self.logger.warning(
                'switch %016x: %d MACs learned (max_macs_per_switch); new '
                'MACs are not learned until some expire',
                sw.dp.id,
                len(sw.macs),
            )
        if result in (Learned.BANNED, Learned.REFUSED, Learned.FULL):
            return
        if result is Learned.NEW:
            log = self.logger.info if host_port else self.logger.debug
            log('host %s learned on switch %016x port %d', mac, sw.dp.id, in_port)
        self._install_host(sw, mac, in_port)

    def _install_host(self, sw: SwitchState, mac: str, port: int) -> None:
        # The hot path: both rules stamped from templates made at start, in one write.
        of.send_stamped(sw.dp, self.host_templates, of.mac_bytes(mac), port)

    def _forget_everywhere(self, mac: str) -> None:
        for sw in self.switches.values():
            sw.macs.forget(mac)
            self._send(sw.dp, pipe.host_deletes(mac))

    def _ban_port(self, sw: SwitchState, port: int) -> None:
        self._send(sw.dp, [pipe.ban_rule(port, self.conf.ban_time)])
        self.bans.ban(sw.dp.id, port)
        self.logger.warning(
            'switch %016x port %d: more than %d MACs; new MACs refused for %ds',
            sw.dp.id,
            port,
            self.conf.max_macs_per_port,
            self.conf.ban_time,
        )

    @set_ev_cls(ofp_event.EventOFPFlowRemoved, MAIN_DISPATCHER)
    def _flow_removed(self, ev: Any) -> None:
        msg = ev.msg
        sw = self.switch_of(msg.datapath)
        if (
            sw is None
            or msg.reason != msg.datapath.ofproto.OFPRR_IDLE_TIMEOUT
            or pipe.COOKIES.kind_of(msg.cookie) != pipe.DST
            or not pipe.COOKIES.owns(msg.cookie)
        ):
            return
        mac = msg.match.get('eth_dst')
        if not isinstance(mac, str):
            return  # not one of our destination rules, whatever its cookie says
        port = sw.macs.lookup(mac)
        # The source entry goes too, so the host's next frame is learned afresh.
        sw.macs.forget(mac)
        self._send(sw.dp, pipe.host_deletes(mac))
        host_port = port is not None and port not in self.graph.inter_switch_ports(sw.dp.id)
        log = self.logger.info if host_port else self.logger.debug
        log('host %s expired on switch %016x (idle %ds)', mac, sw.dp.id, self.idle_timeout)


def _ports_text(ports: set[int]) -> str:
    """Port numbers for a log line: listed, or counted with their range when many."""
    if len(ports) <= 16:
        return str(sorted(ports))
    return '%d ports %d..%d' % (len(ports), min(ports), max(ports))
