"""The base of the suite's Ryu apps: what every app does the same way, in one place.

An app subclasses :class:`SuiteApp`, names its config section, says whether it wants
LLDP link discovery, and fills in the hooks it needs::

    class MyApp(SuiteApp):
        CONFIG_GROUP = 'my_app'       # options registered with register_options()
        DISCOVERY = True              # LLDP links into self.graph (needs lldp options)

        def new_switch(self, dp):     # the app's per-switch state; must have .dp
            return MySwitch(dp)

        def switch_connected(self, sw): ...
        def port_up(self, sw, port): ...

What the base owns:

- the switch registry ``self.switches`` (dpid -> the app's state), and
  ``self.left_alone``, the connected switches that ``new_switch`` declined (an app
  whose configuration names its switches takes them with
  ``take_left_alone_switches()`` once a reload names them). A disconnect counts
  only for the datapath that is registered: a switch that reconnected before its old
  connection died is not forgotten by the old connection's DEAD event. Two connections
  with one dpid: the newest wins, the older one is closed (logged), as in Open vSwitch
  and FAUCET; so a switch that reconnects is served at once, and the two never share
  flow-mods (a lying switch that takes a dpid over is shut out by TLS, docs/tls.md);
- bounded state per switch (controller/switch_ports.py): at most ``max_ports`` ports
  tracked (the rest ignored, also in Ryu's ``dp.ports``, logged), and PORT_STATUS
  coalesced per port, so that neither a switch of 5,000 ports nor a flap storm costs
  more than O(max_ports);
- port status dispatch: carrier and admin state turned into ``port_up`` /
  ``port_down`` hooks, once per change (apps with discovery);
- LLDP discovery (controller/discovery.py) and its timer, where ``DISCOVERY`` is set:
  ``link_up`` for a link direction heard of for the first time, ``links_expired`` for
  those not heard of for ``link_timeout``;
- packet-ins checked before use (``packet_in_fields``): a malformed one is counted per
  switch and dropped with one log line a minute at most, never a traceback; the
  tracebacks Ryu itself logs for messages it cannot parse become one line a minute too
  (controller/openflow.py);
- supervised worker loops (``spawn_loop``): a round that raises is logged and counted
  and the loop goes on; ``loop_failure_limit`` rounds failing in a row stop the whole
  controller with a CRITICAL line and exit status 70, rather than let it run half-dead
  (a switch then falls back to its fail mode, and a supervisor restarts the process);
- one SIGHUP handler for the whole process (``on_reload_signal``): every app that
  reloads something subscribes, so two apps loaded together both hear it;
- the process's REST server (Ryu's WSGI, ``self.wsgi``) and its GET /metrics
  (controller/metrics): OpenFlow counters per switch counted once per process, the
  base's own, and whatever the app adds with ``metrics.add_source``; with
  ``stats_interval`` set, port and flow statistics polled from every switch; and the
  web view at GET /ui/ (controller/ui), drawn from what apps add with ``ui.add_view``.

The base's settings (``base_options()``) go in the app's section like the discovery
ones; an app that does not register them gets their defaults.
"""

import logging
import os
import signal
from collections.abc import Callable, Iterable
from time import monotonic as _now
from typing import Any

from ryu import cfg
from ryu.app.wsgi import WSGIApplication
from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib import hub
from ryu.ofproto import ofproto_v1_3

from controller import discovery, match_parser, metrics, rest, ui
from controller.discovery import Link
from controller.metrics import collectors
from controller.metrics import openflow as of_metrics
from controller.openflow import PacketInGuard, quiet_ryu_parse_errors
from controller.rate_limit import LogThrottle
from controller.switch_ports import SwitchPorts
from controller.topology import SwitchGraph

CONF = cfg.CONF
# Whatever serves REST in a process of our apps (theirs, Ryu's rest_firewall) is bound to
# loopback by default and guarded (controller/rest.py).
rest.install()
# OpenFlow counted where every message passes, before the arbiter (which imports this
# module first) finds Ryu's senders.
of_metrics.install()
metrics.add_source('openflow', of_metrics.families)

#: exit status when a worker loop keeps failing (EX_SOFTWARE of sysexits.h)
EXIT_LOOP_FAILED = 70
DEFAULT_MAX_PORTS = 1024
DEFAULT_PORT_STATUS_INTERVAL = 0.5
DEFAULT_LOOP_FAILURE_LIMIT = 10
DEFAULT_STATS_INTERVAL = 0.0  # off
LLDP_HOLD_LOOK = 0.005  # how often a held LLDP round looks whether it may go
#: the base's settings when the app's section has none of them
BASE_DEFAULTS: dict[str, Any] = {
    'max_ports': DEFAULT_MAX_PORTS,
    'port_status_interval': DEFAULT_PORT_STATUS_INTERVAL,
    'loop_failure_limit': DEFAULT_LOOP_FAILURE_LIMIT,
    'stats_interval': DEFAULT_STATS_INTERVAL,
}


def base_options(
    max_ports: int = DEFAULT_MAX_PORTS,
    port_status_interval: float = DEFAULT_PORT_STATUS_INTERVAL,
    loop_failure_limit: int = DEFAULT_LOOP_FAILURE_LIMIT,
    stats_interval: float = DEFAULT_STATS_INTERVAL,
) -> list:
    """The base's settings, for an app to register in its own config section."""
    return [
        cfg.IntOpt(
            'max_ports',
            default=max_ports,
            min=1,
            help='ports tracked per switch; a switch that announces more has the '
            'rest ignored (logged)',
        ),
        cfg.FloatOpt(
            'port_status_interval',
            default=port_status_interval,
            min=0.01,
            help='a port whose status keeps changing is acted on at most about '
            'once per this many seconds (the newest status wins)',
        ),
        cfg.IntOpt(
            'loop_failure_limit',
            default=loop_failure_limit,
            min=1,
            help='rounds in a row a worker loop may fail before the controller '
            'stops (exit status 70)',
        ),
        cfg.FloatOpt(
            'stats_interval',
            default=stats_interval,
            min=0,
            help='seconds between polls of every switch for port and flow statistics '
            '(exported on /metrics); 0: no polling',
        ),
    ]


def clock() -> float:
    """The base's clock (time.monotonic), for an app's TokenBucket: looked up at each
    call, so that a test that replaces ``app_base._now`` moves it too."""
    return _now()


def _stop_process(status: int) -> None:
    """End ryu-manager at once with ``status``, its log flushed first: no green thread
    can end the process otherwise (SystemExit would end only the thread)."""
    logging.shutdown()
    os._exit(status)


def register_options(group: str, *option_lists: Iterable[Any]) -> None:
    """Register an app's options (its own, ``discovery.options()``,
    ``rate_limit.packet_in_options()``, ...) in its section of the config file."""
    CONF.register_opts([opt for options in option_lists for opt in options], group=group)


# --- SIGHUP, fanned out ------------------------------------------------------------

_reload_subscribers: list = []


def on_reload_signal(callback: Callable[[], None]) -> None:
    """Call ``callback()`` on every SIGHUP. It runs in a green thread of its own, so it
    may block (read a file, send messages); one failing subscriber does not stop the
    others. The process-wide handler is installed with the first subscriber."""
    if not _reload_subscribers:
        signal.signal(signal.SIGHUP, _fan_out)
    _reload_subscribers.append(callback)


def _fan_out(_signum, _frame):
    for callback in list(_reload_subscribers):
        hub.spawn(callback)


# --- the app base ------------------------------------------------------------------


class SuiteApp(app_manager.RyuApp):
    """Switch registry, bounded port state and dispatch, optional LLDP discovery,
    checked packet-ins and supervised loops."""

    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS = {'wsgi': WSGIApplication}
    #: the app's section of the config file (its options registered beforehand)
    CONFIG_GROUP: str | None = None
    #: whether the app discovers links with LLDP (the section has discovery.options())
    DISCOVERY = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # the app's options (Any: oslo.config has no types), None without a section
        self.conf: Any = CONF[self.CONFIG_GROUP] if self.CONFIG_GROUP else None
        self.switches: dict = {}  # dpid -> the app's switch state (has .dp)
        # dpid -> the datapath of a connected switch new_switch left alone (see
        # take_left_alone_switches)
        self.left_alone: dict[int, Any] = {}
        self.loops: list = []  # the threads of spawn_loop, ended by stop()
        self.loop_failures: dict[str, int] = {}  # loop name -> rounds failed so far
        self.max_ports: int = self._base_setting('max_ports')
        self.port_status_interval: float = self._base_setting('port_status_interval')
        self.loop_failure_limit: int = self._base_setting('loop_failure_limit')
        self.stats_interval: float = self._base_setting('stats_interval')
        self.switch_ports: dict[int, SwitchPorts] = {}  # dpid -> its ports' bookkeeping
        self.packet_in_guard = PacketInGuard(self.logger)
        # at most a line a minute per (dpid, what) for what a switch may repeat at will
        self.log_throttle = LogThrottle()
        self._sending_lldp = False  # port changes wait while an LLDP round is sent
        quiet_ryu_parse_errors()
        match_parser.install()
        if self.DISCOVERY:
            self.graph = SwitchGraph()
            options = CONF[self.CONFIG_GROUP]
            self.discovery = discovery.LinkDiscovery.from_options(
                self.graph, options, self._is_host_port, self.logger
            )
            self.spawn_loop('LLDP', options.lldp_interval, self._lldp_tick)
            self.spawn_loop('port status', self.port_status_interval, self._port_status_tick)
        # The process's REST server (None where an app is built without Ryu's contexts).
        self.wsgi: Any = kwargs.get('wsgi')
        metrics.serve(self.wsgi)
        ui.serve(self.wsgi)
        metrics.add_source(self.name + ' base', lambda: collectors.base_families(self))
        if self.stats_interval > 0 and of_metrics.POLLER.claim():
            self.spawn_loop('statistics poll', self.stats_interval, of_metrics.POLLER.poll)

    def _base_setting(self, name: str) -> Any:
        return (
            getattr(self.conf, name, BASE_DEFAULTS[name])
            if self.conf is not None
            else BASE_DEFAULTS[name]
        )

    # --- hooks (override what the app needs) ----------------------------------------

    def new_switch(self, dp: Any) -> Any:
        """The app's state for a switch that connected (with ``.dp``), or None to leave
        the switch alone."""
        raise NotImplementedError

    def switch_connected(self, sw: Any) -> None:
        """After the switch is registered (and its live ports known to discovery)."""

    def switch_disconnected(self, sw: Any, graph_changed: bool) -> None:
        """After the switch is forgotten; ``graph_changed``: the switch graph changed
        (the switch, and any links it had, left it)."""

    def port_up(self, sw: Any, port: Any) -> None:
        """A port (an OFPPort) became live: carrier and administratively up."""

    def port_down(self, sw: Any, port_no: int, link_gone: bool) -> None:
        """A live port went down or was deleted; ``link_gone``: a link went with it."""

    def link_up(self, sw: Any, in_port: int, link: Link) -> None:
        """A link direction heard of for the first time, proven by LLDP on
        ``sw``:``in_port``."""

    def links_expired(self, links: list) -> None:
        """Link directions not heard of for ``link_timeout``; already forgotten."""

    def is_host_port(self, sw: Any, port_no: int) -> bool:
        """Whether a host has been learned on ``port_no`` of ``sw``: discovery then
        accepts no link onto that port (a host relaying another port's LLDP frame), unless
        the port is on a link already."""
        return False

    def holds_lldp(self) -> bool:
        """Whether the next LLDP round should wait: the app is busy with something
        the round would slow down (stable_routing: an epoch until stamped). A round
        waits at most ``lldp_hold_limit`` seconds (see ``_lldp_tick``)."""
        return False

    def probes_links(self) -> bool:
        """Whether this process sends LLDP probes now. An app running as one of
        several replicas (controller/replicas/) says no while it is not the switches'
        master: a switch refuses packet-outs from a SLAVE controller."""
        return True

    # --- helpers for apps -------------------------------------------------------------

    def switch_of(self, dp: Any) -> Any:
        """The registered state of ``dp`` (this very connection), or None."""
        sw = self.switches.get(dp.id)
        return sw if sw is not None and sw.dp is dp else None

    def take_left_alone_switches(self) -> None:
        """Ask new_switch again about each connected switch it left alone (after a
        configuration change that may name it now), and take those it accepts as if
        they had just connected."""
        for dp in list(self.left_alone.values()):
            if dp.is_active:
                self._switch_up(dp)

    def serve_rest(self, controller: type, data: dict) -> None:
        """Register ``controller``'s routes on the process's REST server with ``data``
        (an app built without Ryu's contexts, as in a unit test, serves none)."""
        if self.wsgi is not None:
            self.wsgi.register(controller, data)

    def live_ports(self, dpid: int) -> set:
        return self.discovery.live_ports(dpid)

    def _is_host_port(self, dpid: int, port_no: int) -> bool:
        sw = self.switches.get(dpid)
        return sw is not None and self.is_host_port(sw, port_no)

    def packet_in_fields(self, sw: Any, msg: Any) -> tuple[int, bytes | bytearray] | None:
        """(in_port, frame) of a packet-in from ``sw``, checked (controller/openflow.py's
        ``packet_in_fields``); None for a malformed one, which is counted in
        ``self.packet_in_guard.dropped[dpid]`` and logged once a minute at most."""
        return self.packet_in_guard.fields(sw.dp.id, msg)

    def lldp_in(self, sw: Any, in_port: int, frame: bytes | bytearray) -> None:
        """An LLDP packet-in (the app recognises its own by cookie)."""
        link = self.discovery.lldp_in(sw.dp.id, in_port, bytes(frame), _now())
        if link:
            self.link_up(sw, in_port, link)

    def spawn_loop(self, name: str, interval: float, tick: Callable[[], None]) -> Any:
        """Run ``tick()`` every ``interval`` seconds for as long as the app lives.

        A round that raises is logged with its traceback, counted in
        ``self.loop_failures[name]``, and the loop goes on. ``loop_failure_limit``
        rounds failing in a row stop the controller (CRITICAL, exit status 70): a loop
        that fails every round is a bug, and an app without its loop (no LLDP, no port
        probes) forwards wrongly while it looks alive."""
        self.loop_failures.setdefault(name, 0)

        def loop():
            in_a_row = 0
            while True:
                hub.sleep(interval)
                try:
                    tick()
                except Exception:  # one bad round must not end every later one
                    in_a_row += 1
                    self.loop_failures[name] += 1
                    if in_a_row >= self.loop_failure_limit:
                        self.logger.critical(
                            '%s: the %s loop failed %d rounds in a row; stopping the '
                            'controller (exit status %d) rather than running without it',
                            self.name,
                            name,
                            in_a_row,
                            EXIT_LOOP_FAILED,
                            exc_info=True,
                        )
                        _stop_process(EXIT_LOOP_FAILED)
                        return
                    self.logger.exception(
                        '%s: the %s loop failed this round; it goes on '
                        '(%d in a row, the controller stops at %d)',
                        self.name,
                        name,
                        in_a_row,
                        self.loop_failure_limit,
                    )
                else:
                    in_a_row = 0

        thread = hub.spawn(loop)
        self.loops.append(thread)
        return thread

    def stop(self) -> None:
        """End the app's loops, then what Ryu ends (its event thread)."""
        for thread in self.loops:
            hub.kill(thread)
        self.loops = []
        super().stop()

    # --- Ryu events ---------------------------------------------------------------------

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    def _base_state_change(self, ev):
        dp = ev.datapath
        if ev.state == MAIN_DISPATCHER:
            self._switch_up(dp)
        elif dp.id is not None and self.left_alone.get(dp.id) is dp:
            del self.left_alone[dp.id]
        elif dp.id is not None and self.switch_of(dp) is not None:
            sw = self.switches.pop(dp.id)
            self.switch_ports.pop(dp.id, None)
            self.packet_in_guard.forget(dp.id)
            self.log_throttle.forget((dp.id, 'ports'))
            graph_changed = self.discovery.switch_down(dp.id) if self.DISCOVERY else False
            self.switch_disconnected(sw, graph_changed)

    def _switch_up(self, dp: Any) -> None:
        old = self.switches.get(dp.id)
        if old is not None and old.dp is not dp:
            # The newest connection wins; the old one must not receive what is meant for
            # the new one, nor be read from (its DEAD event then finds it unregistered).
            self.logger.warning(
                'switch %016x: a second connection (from %s) takes over '
                'from the one from %s, which is closed',
                dp.id,
                _address(dp),
                _address(old.dp),
            )
            old.dp.close()
        sw = self.new_switch(dp)
        if sw is None:
            self.left_alone[dp.id] = dp
            return
        self.left_alone.pop(dp.id, None)
        ports = SwitchPorts(self.max_ports, self.port_status_interval, clock)
        ignored = ports.admit_all(dp.ports)
        for port_no in ignored:
            dp.ports.pop(port_no, None)
        if ignored:
            self.logger.warning(
                'switch %016x announced %d ports: %d tracked (max_ports), '
                'ports %d and above ignored',
                dp.id,
                len(dp.ports) + len(ignored),
                self.max_ports,
                ignored[0],
            )
        self.switches[dp.id] = sw
        self.switch_ports[dp.id] = ports
        if self.DISCOVERY:
            self.discovery.switch_up(dp, _now())
        self.switch_connected(sw)

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def _base_port_status(self, ev):
        msg = ev.msg
        sw = self.switch_of(msg.datapath)
        if sw is None:
            return
        dp, desc = sw.dp, msg.desc
        ofp = dp.ofproto
        if msg.reason not in (ofp.OFPPR_ADD, ofp.OFPPR_MODIFY, ofp.OFPPR_DELETE):
            return  # Ryu ignores it too
        ports = self.switch_ports[dp.id]
        if not ports.admit(desc.port_no):
            dp.ports.pop(desc.port_no, None)  # Ryu's copy stays bounded too
            if self.log_throttle.ready((dp.id, 'ports')):
                self.logger.warning(
                    'switch %016x: port %d ignored: %d ports tracked '
                    '(max_ports); %d ignored so far',
                    dp.id,
                    desc.port_no,
                    self.max_ports,
                    ports.ignored,
                )
            return
        if not self.DISCOVERY:
            if msg.reason == ofp.OFPPR_DELETE:
                ports.release(desc.port_no)
            return
        if ports.offer(desc.port_no, (msg.reason, desc), hold=self._sending_lldp):
            self._port_changed(sw, msg.reason, desc)

    def _port_changed(self, sw: Any, reason: int, port: Any) -> None:
        dp = sw.dp
        deleted = reason == dp.ofproto.OFPPR_DELETE
        if deleted:
            self.switch_ports[dp.id].release(port.port_no)
        live = not deleted and discovery.is_live(dp, port)
        was_live = port.port_no in self.discovery.up_since(dp.id)
        if live and not was_live:
            self.discovery.port_up(dp, port, _now())
            self.port_up(sw, port)
        elif was_live and not live:
            link_gone = self.discovery.port_down(dp.id, port.port_no)
            self.port_down(sw, port.port_no, link_gone)

    def _port_status_tick(self) -> None:
        """Act on the port statuses that waited (one per port: the newest)."""
        for dpid, ports in list(self.switch_ports.items()):
            while not self._sending_lldp and self.switch_ports.get(dpid) is ports:
                waiting = ports.take_waiting()
                if waiting is None:
                    break
                self._port_changed(self.switches[dpid], *waiting[1])

    def _lldp_tick(self):
        self._lldp_held()
        # Port changes wait while the round is sent (a full send queue lets the event
        # loop run in between): the round goes out of the ports it started with.
        if self.probes_links():
            self._sending_lldp = True
            try:
                self.discovery.probe_all()
            finally:
                self._sending_lldp = False
        expired = self.discovery.expire(_now())
        if expired:
            self.links_expired(expired)

    def _lldp_held(self) -> None:
        """Wait while the app holds LLDP rounds, at most the hold limit: a round
        then comes at most lldp_interval + limit after the one before, which keeps a
        link's frames at least lldp_interval apart from its link_timeout."""
        if not self.holds_lldp():
            return
        options = CONF[self.CONFIG_GROUP]
        until = _now() + lldp_hold_limit(options.lldp_interval, options.link_timeout)
        while self.holds_lldp() and _now() < until:
            hub.sleep(LLDP_HOLD_LOOK)


def lldp_hold_limit(interval: float, link_timeout: float) -> float:
    """The longest an LLDP round may wait for the app: one interval, less if the link
    timeout is under three (a link stays at least one interval from expiring)."""
    return max(0.0, min(interval, link_timeout - 2 * interval))


def _address(dp: Any) -> str:
    address = getattr(dp, 'address', None)
    return '%s:%s' % address[:2] if isinstance(address, tuple) else str(address)
