"""apps/stable_routing.py loaded without ryu-manager, and the Ryu events the unit tests
feed it: a switch connecting (tests/harness/stable_fakes.py's SwitchWithPorts), a
packet-in, a port status; an epoch of a given snapshot."""

import importlib.util
import os
from types import SimpleNamespace

from ryu.controller.handler import DEAD_DISPATCHER, MAIN_DISPATCHER
from ryu.ofproto import ofproto_v1_3 as ofp

from controller import app_base
from controller.stable import pipeline as pipe
from tests.harness.stable_fakes import SwitchWithPorts

APP_PATH = os.path.join(os.path.dirname(__file__), '..', '..', 'apps', 'stable_routing.py')


def _load_app_module():
    spec = importlib.util.spec_from_file_location('stable_routing_under_test', APP_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


APP = _load_app_module()


class FakeWSGI:
    def register(self, *args, **kwargs):
        pass


def make_app(monkeypatch, **options):
    """The app with no switch, no drain time, no probe time and ``options`` of
    [stable_routing] set;
    its loops are driven by hand (``app._epoch_tick()``)."""
    options.setdefault('drain_time', 0.0)
    options.setdefault('probe_time', 0.0)  # hosts learned on a port from its first frame
    for name, value in options.items():
        monkeypatch.setattr(app_base.CONF.stable_routing, name, value, raising=False)
    monkeypatch.setattr(app_base.SuiteApp, 'spawn_loop', lambda *args: None)
    return APP.StableRouting(wsgi=FakeWSGI())


def epoch_with(app, snapshot):
    """Cut an epoch of ``snapshot`` (one trigger pending); its record."""
    app._snapshot = lambda: snapshot
    app.log.append('link-up', 'test')
    app._run_epoch()
    return app.log.history[-1]


def connect(app, dpid, ports=(1, 2, 3)):
    dp = SwitchWithPorts(dpid, ports)
    app._base_state_change(SimpleNamespace(datapath=dp, state=MAIN_DISPATCHER))
    return app.switches[dpid]


def disconnect(app, sw):
    app._base_state_change(SimpleNamespace(datapath=sw.dp, state=DEAD_DISPATCHER))


def packet_in(app, sw, in_port, data, kind=pipe.BASE):
    app._packet_in(
        SimpleNamespace(
            msg=SimpleNamespace(
                datapath=sw.dp,
                match={'in_port': in_port},
                cookie=pipe.COOKIES.cookie(kind),
                data=data,
            )
        )
    )


def port_status(app, sw, port_no, live=True, reason=ofp.OFPPR_MODIFY):
    """A PORT_STATUS for ``port_no`` of ``sw``: carrier up (``live``) or down."""
    desc = SimpleNamespace(
        port_no=port_no,
        hw_addr='02:00:00:00:00:01',
        config=0,
        state=0 if live else ofp.OFPPS_LINK_DOWN,
    )
    app._base_port_status(
        SimpleNamespace(msg=SimpleNamespace(datapath=sw.dp, desc=desc, reason=reason))
    )


def host_frame(mac, ethertype=b'\x08\x06'):
    return b'\xff' * 6 + bytes.fromhex(mac.replace(':', '')) + ethertype + bytes(46)


def triggers(app):
    return [(t.kind, t.detail) for t in app.log.take_pending()]
