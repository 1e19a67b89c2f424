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

The file is read and checked in an OS thread (controller/config/offload.py), so
switches keep being answered while a large policy loads; only a regular file of at most
``max_policy_bytes`` is read (docs/security.md).
"""

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
from controller.metrics.collectors import LearnBans, ReloadStatus
from controller.metrics.openflow import OPENFLOW
from controller.ui import views
from controller.vswitch import load_policy, pipeline
from controller.vswitch import rest as vswitch_rest
from controller.vswitch.include import FilesWatch
from controller.vswitch.switch import LearningSettings, PolicySwitch

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
        self.learning = LearningSettings.from_options(
            self.conf.idle_timeout, self.conf.relearn_fraction, self.conf.default_max_hosts
        )
        self.reloads = ReloadStatus('vswitch_policy')
        self.reloads.loaded(self.policy.to_data())
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

    # --- switches ---------------------------------------------------------------

    def new_switch(self, dp: Any) -> PolicySwitch | None:
        sw = PolicySwitch.of(dp, self.policy)
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

    def switch_disconnected(self, sw: PolicySwitch, graph_changed: bool) -> None:
        self.logger.info('switch %016x disconnected', sw.dp.id)

    # --- learning -------------------------------------------------------------------

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in(self, ev: Any) -> None:
        msg = ev.msg
        sw = self.switch_of(msg.datapath)
        kind = msg.cookie
        if sw is None or kind not in (self._learn_cookie, self._vip_cookie):
            return
        fields = self.packet_in_fields(sw, msg)  # None: malformed, counted by the base
        if fields is None:
            return
        if kind == self._vip_cookie:  # ARP, ND or a ping for a router address
            of.send_together(sw.dp, sw.answer(*fields))
            return
        seen = sw.learn(*fields, self.learning)
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
            new = off_loop(load_policy, self.path, self.conf.max_policy_bytes)
        except ConfigError as error:
            self.logger.error(
                'policy reload (%s) refused, the old policy stays in force:\n%s', why, error
            )
            self.reloads.refused_policy(why, str(error))
            return
        checked = _now()
        total = 0
        for sw in list(self.switches.values()):
            change = sw.apply(new)
            for msg in change.messages:
                sw.dp.send_msg(msg)
            total += len(change)
            self.logger.info(
                'policy reload (%s): switch %016x: %d rules added or '
                'replaced, %d deleted; hosts forgotten on (port, VLAN) %s',
                why,
                sw.dp.id,
                change.added,
                change.deleted,
                change.forgotten,
            )
        self.policy = new
        self.watch.follow(new.files)
        self.reloads.applied_policy(why, new.to_data(), total)
        self.logger.info(
            'policy reload (%s) applied: %d rule changes in %.1f ms (the file '
            'read and checked in %.1f ms)',
            why,
            total,
            (_now() - checked) * 1000,
            (checked - started) * 1000,
        )
