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

- the switch registry ``self.switches`` (dpid -> the app's state). A disconnect counts
  only for the datapath that is registered: a switch that reconnected before its old
  connection died is not forgotten by the old connection's DEAD event;
- port status dispatch: carrier and admin state turned into ``port_up`` /
  ``port_down`` hooks, once per change (apps with discovery);
- LLDP discovery (controller/discovery.py) and its timer, where ``DISCOVERY`` is set:
  ``link_up`` for a link direction heard of for the first time, ``links_expired`` for
  those not heard of for ``link_timeout``;
- worker loops that survive their own exceptions (``spawn_loop``): a fault is logged
  with its traceback and the loop goes on, instead of the thread dying quietly while
  ryu-manager runs on;
- one SIGHUP handler for the whole process (``on_reload_signal``): every app that
  reloads something subscribes, so two apps loaded together both hear it.
"""

import signal
from time import monotonic as _now
from typing import Any, Callable, Iterable, Optional

from ryu import cfg
from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib import hub
from ryu.ofproto import ofproto_v1_3

from controller import discovery
from controller.discovery import Link
from controller.topology import SwitchGraph

CONF = cfg.CONF


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
    """Switch registry, port dispatch, optional LLDP discovery and guarded loops."""

    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]
    #: the app's section of the config file (its options registered beforehand)
    CONFIG_GROUP: Optional[str] = None
    #: whether the app discovers links with LLDP (the section has discovery.options())
    DISCOVERY = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # the app's options (Any: oslo.config has no types), None without a section
        self.conf: Any = CONF[self.CONFIG_GROUP] if self.CONFIG_GROUP else None
        self.switches: dict = {}     # dpid -> the app's switch state (has .dp)
        self.loops: list = []        # the threads of spawn_loop, ended by stop()
        if self.DISCOVERY:
            self.graph = SwitchGraph()
            options = CONF[self.CONFIG_GROUP]
            self.discovery = discovery.LinkDiscovery.from_options(
                self.graph, options, self._is_host_port, self.logger)
            self.spawn_loop('LLDP', options.lldp_interval, self._lldp_tick)

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

    # --- helpers for apps -------------------------------------------------------------

    def switch_of(self, dp: Any) -> Any:
        """The registered state of ``dp`` (this very connection), or None."""
        sw = self.switches.get(dp.id)
        return sw if sw is not None and sw.dp is dp else None

    def live_ports(self, dpid: int) -> set:
        return self.discovery.live_ports(dpid)

    def _is_host_port(self, dpid: int, port_no: int) -> bool:
        sw = self.switches.get(dpid)
        return sw is not None and self.is_host_port(sw, port_no)

    def lldp_in(self, sw: Any, in_port: int, frame: bytes) -> None:
        """An LLDP packet-in (the app recognises its own by cookie)."""
        link = self.discovery.lldp_in(sw.dp.id, in_port, frame, _now())
        if link:
            self.link_up(sw, in_port, link)

    def spawn_loop(self, name: str, interval: float, tick: Callable[[], None]) -> Any:
        """Run ``tick()`` every ``interval`` seconds for as long as the app lives; an
        exception is logged and the loop goes on."""
        def loop():
            while True:
                hub.sleep(interval)
                try:
                    tick()
                except Exception:   # one bad round must not end every later one
                    self.logger.exception('%s: the %s loop failed this round; it goes on',
                                          self.name, name)
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
            sw = self.new_switch(dp)
            if sw is None:
                return
            self.switches[dp.id] = sw
            if self.DISCOVERY:
                self.discovery.switch_up(dp, _now())
            self.switch_connected(sw)
        elif dp.id is not None and self.switch_of(dp) is not None:
            sw = self.switches.pop(dp.id)
            graph_changed = self.discovery.switch_down(dp.id) if self.DISCOVERY else False
            self.switch_disconnected(sw, graph_changed)

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def _base_port_status(self, ev):
        msg = ev.msg
        sw = self.switch_of(msg.datapath)
        if sw is None or not self.DISCOVERY:
            return
        dp, port = sw.dp, msg.desc
        live = msg.reason != dp.ofproto.OFPPR_DELETE and discovery.is_live(dp, port)
        was_live = port.port_no in self.discovery.live_ports(dp.id)
        if live and not was_live:
            self.discovery.port_up(dp, port, _now())
            self.port_up(sw, port)
        elif was_live and not live:
            link_gone = self.discovery.port_down(dp.id, port.port_no)
            self.port_down(sw, port.port_no, link_gone)

    def _lldp_tick(self):
        self.discovery.probe_all()
        expired = self.discovery.expire(_now())
        if expired:
            self.links_expired(expired)
