"""App-conflict arbiter: every FlowMod and GroupMod of every app in this ryu-manager
process passes one arbiter that attributes, detects, resolves, gates and explains.

    ryu-manager apps/arbiter.py ryu.app.simple_switch_13 ryu.app.rest_firewall \\
        --config-file examples/arbiter/firewall_then_switch.conf

    # examples/arbiter/firewall_then_switch.conf
    [arbiter]
    policy = firewall_then_switch.yaml    # from the working directory, else beside this file

Put it first on the command line (it also works elsewhere: it takes over the switch
connection when its module is imported, before any app runs). Apps need no change:
``ryu.app.*`` and our own apps are arbitrated alike. The policy language is
controller/arbiter/policy.py's; docs/arbiter.md has the whole story. A policy file that
is not valid stops the start with every mistake at its file:line:col. SIGHUP reloads
it, read and checked in an OS thread so that switches keep being answered meanwhile;
a bad file then keeps the last good policy. Only a regular file of at most
``max_policy_bytes`` is read.

REST (Ryu's WSGI, --wsapi-port): /arbiter/conflicts, /arbiter/decisions, /arbiter/damped,
/arbiter/apps, /arbiter/explain?dpid=&table=&match=, /arbiter/votes
(controller/arbiter/rest.py). The REST server of the process (rest_firewall's routes
too) listens on 127.0.0.1 unless --wsapi-host says otherwise, and takes writes only with
the token of ``[rest]`` when one is set (controller/rest.py, docs/security.md).

Bundles (controller/arbiter/bundles.py) are opened and arbitrated message by message,
installed whole or refused whole; voting groups (controller/arbiter/voting.py) send a
rule or packet-out of their members only when a majority proposes an equivalent one.
"""

from typing import Any

from ryu import cfg
from ryu.app.wsgi import WSGIApplication
from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib import hub
from ryu.ofproto import ofproto_v1_3

from controller import app_base, metrics, rest, ui
from controller.arbiter import interpose
from controller.arbiter.engine import Arbiter
from controller.arbiter.gate import InvariantGate
from controller.arbiter.interpose import EventArbiterAlert, EventArbiterDecision
from controller.arbiter.policy import DEFAULT_POLICY, load_arbiter_policy, policy_path
from controller.arbiter.resolve import Outcome
from controller.arbiter.rest import DATA_KEY, ArbiterController
from controller.config import ConfigError
from controller.config.offload import off_loop
from controller.config.yaml_source import DEFAULT_MAX_BYTES
from controller.metrics.collectors import arbiter_families

# Before any app can send: the order of apps on the command line then does not matter.
interpose.patch_datapath()

CONF = cfg.CONF
app_base.register_options(
    'arbiter',
    [
        cfg.StrOpt(
            'policy', default=None, help='the arbiter policy (YAML); none: every app ranks equal'
        ),
        cfg.IntOpt(
            'max_policy_bytes',
            default=DEFAULT_MAX_BYTES,
            min=1,
            help='a policy file larger than this many bytes is refused',
        ),
    ],
)
rest.install()


class AppArbiter(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS = {'wsgi': WSGIApplication}
    _EVENTS = [EventArbiterDecision, EventArbiterAlert]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.path = policy_path(CONF.arbiter.policy, CONF.config_file)
        policy = self._load() if self.path else DEFAULT_POLICY
        if policy is None:
            raise SystemExit('arbiter: %s is not a valid policy (see above)' % self.path)
        self.connected: dict[int, Any] = {}  # dpid -> the connection in use (MAIN)
        self.arbiter = Arbiter(
            policy,
            send=interpose.send_direct,
            notify=self._tell,
            alert=self._alert,
            gate=InvariantGate(policy),
        )
        interpose.install(self.arbiter)
        kwargs['wsgi'].register(ArbiterController, {DATA_KEY: self.arbiter})
        metrics.serve(kwargs['wsgi'])
        metrics.add_source('arbiter', lambda: arbiter_families(self.arbiter))
        ui.serve(kwargs['wsgi'])
        ui.add_view('arbiter', ui.Partial)  # its panels; no topology of its own
        app_base.on_reload_signal(self.reload)
        self.logger.info(
            'arbiter: policy %s, order %s',
            self.path or '(none)',
            ', '.join(policy.order) or '(none)',
        )

    def start(self) -> Any:
        # Ryu's ofp_event service is instantiated after every app: narrow its events now.
        interpose.narrow_events(keep_always={self.name})
        self.threads.append(hub.spawn(self._vote_clock))
        return super().start()

    def _vote_clock(self) -> None:
        """End the voting groups' ballots whose window is over: a few checks per window."""
        while self.is_active:
            windows = [g.window for g in self.arbiter.policy.voting]
            hub.sleep(min(windows) / 4 if windows else 1.0)
            self.arbiter.expire_votes()

    def _load(self):
        """The policy file's policy, or None (the problems logged). The file is read and
        checked in an OS thread: the event loop goes on meanwhile."""
        try:
            return off_loop(load_arbiter_policy, self.path, CONF.arbiter.max_policy_bytes)
        except ConfigError as error:
            self.logger.error('arbiter: refused policy %s:\n%s', self.path, error)
            return None

    def reload(self) -> None:
        """Use the policy file as it is now, or keep the last good policy."""
        if not self.path:
            self.logger.info('arbiter: no policy file to reload')
            return
        policy = self._load()
        if policy is not None:
            self.arbiter.set_policy(policy)
            self.arbiter.gate = InvariantGate(policy)
            self.logger.info('arbiter: policy %s reloaded', self.path)

    def _tell(self, app, dp, msg, decision):
        """The app learns what became of its message: an OpenFlow error for a refusal,
        and an EventArbiterDecision to whoever observes them."""
        if decision.outcome is Outcome.REFUSE:
            ofp = dp.ofproto
            if msg.cls_msg_type == ofp.OFPT_GROUP_MOD:
                kind, code = ofp.OFPET_GROUP_MOD_FAILED, ofp.OFPGMFC_EPERM
            elif msg.cls_msg_type == ofp.OFPT_EXPERIMENTER:  # a bundle's commit
                kind, code = ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_EPERM
            else:
                kind, code = ofp.OFPET_FLOW_MOD_FAILED, ofp.OFPFMFC_EPERM
            interpose.tell_app(app, dp, msg, kind, code)
        self.send_event_to_observers(EventArbiterDecision(app, dp.id, msg, decision))

    def _alert(self, region, state):
        dpid, table_id, match = region
        kept = self.arbiter.kept(region)
        self.logger.warning(
            'arbiter: ALERT apps %s keep overriding each other on '
            'dpid=%s table=%d match=%s (%d flaps): damped, %s kept',
            ', '.join(sorted(state.apps)),
            dpid,
            table_id,
            match,
            state.flaps,
            kept,
        )
        self.send_event_to_observers(
            EventArbiterAlert(dpid, table_id, match, sorted(state.apps), kept)
        )

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    def _state_change(self, ev):
        dp = ev.datapath
        if ev.state == DEAD_DISPATCHER and dp.id is not None:
            # Only the connection in use: a switch that reconnected before its old
            # connection died keeps what the arbiter knows of it.
            if self.connected.get(dp.id, dp) is dp:
                self.connected.pop(dp.id, None)
                self.arbiter.switch_gone(dp.id)
        elif ev.state == MAIN_DISPATCHER:
            older = self.connected.get(dp.id)
            self.connected[dp.id] = dp
            if older is not None and older is not dp:
                # Newest wins, as in the apps' base (controller/app_base.py): the older
                # connection of the dpid is closed, never shares the flow-mods.
                self.logger.warning(
                    'arbiter: switch %016x connected again; the older connection is closed',
                    dp.id,
                )
                older.close()
            self.arbiter.datapaths[dp.id] = dp
