"""VLAN/ACL virtual switch: a FAUCET-style YAML policy, validated, compiled to an
OpenFlow 1.3 pipeline, and applied live.

Run it with::

    ryu-manager --config-file vswitch.conf apps/vswitch_policy.py

where vswitch.conf has::

    [vswitch_policy]
    policy_file = examples/policies/three_tenants.yaml

The policy format, its validation and the check command (``sdn-policy-check FILE``)
are in controller/vswitch; the pipeline in controller/vswitch/pipeline.py. Switches are matched
to the policy by dp_id; a switch the policy does not name is left without rules (in
fail mode secure it forwards nothing).

Live reload, on SIGHUP or when the file changes (polled every ``reload_poll`` s): the
new file is validated first; a bad file is refused, every error is logged, and the old
policy stays in force. A good one is applied as the smallest diff per switch: rules that
stay the same are not touched (traffic on untouched ports sees nothing), changed rules
are replaced in place by an ADD, gone rules are deleted, and the hosts learned on ports
whose VLANs or mirroring changed are forgotten.
"""

import os
import signal
from time import monotonic as _now

from ryu import cfg
from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib import hub
from ryu.ofproto import ofproto_v1_3

from controller import flowspec
from controller import openflow as of
from controller.learning import Learned, MacTable, is_unicast
from controller.config import ConfigError
from controller.vswitch import load_policy
from controller.vswitch import pipeline as vswitch

CONF = cfg.CONF
CONF.register_opts([
    cfg.StrOpt('policy_file', default=None, help='the YAML policy to enforce'),
    cfg.IntOpt('idle_timeout', default=300,
               help='seconds a learned destination lives without traffic'),
    cfg.FloatOpt('relearn_fraction', default=0.75,
                 help='learned sources expire after this fraction of idle_timeout'),
    cfg.IntOpt('default_max_hosts', default=256,
               help='hosts learned per port and VLAN when the policy sets no max_hosts'),
    cfg.FloatOpt('reload_poll', default=1.0,
                 help='seconds between checks of the policy file for changes'),
], group='vswitch_policy')


class SwitchState:
    def __init__(self, dp, model, plans, installed):
        self.dp = dp
        self.model = model            # the policy's Datapath
        self.plans = plans            # port -> vswitch.PortPlan
        self.installed = installed    # frozenset of static FlowSpecs in the switch
        self.hosts = {}               # vid -> MacTable


class VSwitchPolicy(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.conf = CONF.vswitch_policy
        if not self.conf.policy_file:
            raise SystemExit('vswitch_policy: set policy_file in the [vswitch_policy] '
                             'section of a --config-file')
        self.path = self.conf.policy_file
        try:
            self.policy = load_policy(self.path)
        except ConfigError as error:
            raise SystemExit('vswitch_policy: %s is not a valid policy:\n%s'
                             % (self.path, error))
        self.policy_mtime = self._mtime()
        self.vlan_max_hosts = self._vlan_max_hosts(self.policy)
        self.logger.info('policy %s loaded: %d switches, %d VLANs, %d ACLs', self.path,
                         len(self.policy.dps), len(self.policy.vlans),
                         len(self.policy.acls))
        self.switches = {}
        self.hard_timeout = max(1, int(self.conf.idle_timeout * self.conf.relearn_fraction))
        self._reload_wanted = hub.Event()
        signal.signal(signal.SIGHUP, lambda *_: self._reload_wanted.set())
        self._watcher = hub.spawn(self._watch_loop)

    @staticmethod
    def _vlan_max_hosts(policy):
        return {vlan.vid: vlan.max_hosts for vlan in policy.vlans.values()}

    # --- switches ---------------------------------------------------------------

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    def _state_change(self, ev):
        dp = ev.datapath
        if ev.state == DEAD_DISPATCHER:
            if dp.id in self.switches and self.switches[dp.id].dp is dp:
                del self.switches[dp.id]
                self.logger.info('switch %016x disconnected', dp.id)
            return
        model = self.policy.datapath_by_id(dp.id)
        if model is None:
            self.logger.warning('switch %016x is not in %s: no rules installed', dp.id,
                                self.path)
            return
        rules = vswitch.compile_datapath(self.policy, model)
        of.delete_flows(dp, *vswitch.COOKIES.all_rules())
        for spec in sorted(rules):
            dp.send_msg(flowspec.to_flow_mod(dp, spec))
        self.switches[dp.id] = SwitchState(dp, model, vswitch.port_plans(self.policy, model),
                                           rules)
        self.logger.info('switch %016x (%s) connected: %d rules', dp.id, model.name,
                         len(rules))

    # --- learning -------------------------------------------------------------------

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in(self, ev):
        msg = ev.msg
        sw = self.switches.get(msg.datapath.id)
        if sw is None or msg.cookie != vswitch.COOKIES.cookie(vswitch.SRC_MISS):
            return
        data = msg.data
        # ETH_SRC sees every frame tagged (the VLAN table pushed or checked the tag).
        if len(data) < 18 or data[12:14] != b'\x81\x00':
            return
        vid = int.from_bytes(data[14:16], 'big') & 0x0fff
        src = of.mac_text(data[6:12])
        plan = sw.plans.get(msg.match['in_port'])
        if plan is None or not plan.carries(vid) or not is_unicast(src):
            return
        hosts = sw.hosts.setdefault(vid, MacTable(self.conf.default_max_hosts, 60))
        hosts.max_total = self.vlan_max_hosts.get(vid)
        result, previous = hosts.learn(src, plan.port, max_macs=plan.max_hosts)
        if result is Learned.MOVED:
            self.logger.info('host %s (VLAN %d) moved on %s from port %d to %d', src, vid,
                             sw.model.name, previous, plan.port)
        elif result is Learned.NEW:
            self.logger.info('host %s learned on %s port %d VLAN %d', src, sw.model.name,
                             plan.port, vid)
        elif result is Learned.BANNED:
            self.logger.warning('%s port %d VLAN %d: over its max_hosts; new hosts '
                                'refused for a while', sw.model.name, plan.port, vid)
        elif result is Learned.FULL:
            # Not learned: its frames still flood within the VLAN, at a packet-in each.
            self.logger.debug('VLAN %d on %s is at its max_hosts; %s not learned', vid,
                              sw.model.name, src)
        if result in (Learned.BANNED, Learned.REFUSED, Learned.FULL):
            return
        of.send_together(sw.dp, [flowspec.to_flow_mod(sw.dp, spec) for spec in
                                 vswitch.learned_rules(plan, vid, src,
                                                       self.conf.idle_timeout,
                                                       self.hard_timeout)])

    def _forget(self, sw, port, vid):
        """Forget the hosts learned on ``port`` in VLAN ``vid``, rules and all."""
        dp, parser = sw.dp, sw.dp.ofproto_parser
        if vid in sw.hosts:
            sw.hosts[vid].forget_port(port)
        tagged_vid = vswitch.OFPVID_PRESENT | vid
        of.delete_flows(dp, *vswitch.COOKIES.rules_of_kind(vswitch.LEARN_SRC),
                        table_id=vswitch.ETH_SRC,
                        match=parser.OFPMatch(in_port=port, vlan_vid=tagged_vid))
        of.delete_flows(dp, *vswitch.COOKIES.rules_of_kind(vswitch.LEARN_DST),
                        table_id=vswitch.ETH_DST, out_port=port,
                        match=parser.OFPMatch(vlan_vid=tagged_vid))

    # --- live reload ----------------------------------------------------------------

    def _mtime(self):
        try:
            return os.stat(self.path).st_mtime_ns
        except OSError:
            return None

    def _watch_loop(self):
        while True:
            self._reload_wanted.wait(timeout=self.conf.reload_poll)
            requested = self._reload_wanted.is_set()
            self._reload_wanted.clear()
            mtime = self._mtime()
            if requested or mtime != self.policy_mtime:
                self.policy_mtime = mtime
                self.reload('SIGHUP' if requested else 'file changed')

    def reload(self, why):
        started = _now()
        try:
            new = load_policy(self.path)
        except ConfigError as error:
            self.logger.error('policy reload (%s) refused, the old policy stays in force:'
                              '\n%s', why, error)
            return
        total = 0
        for sw in list(self.switches.values()):
            model = new.datapath_by_id(sw.dp.id)
            rules = vswitch.compile_datapath(new, model) if model else frozenset()
            plans = vswitch.port_plans(new, model) if model else {}
            change = flowspec.diff(sw.installed, rules)
            mask = vswitch.COOKIES.all_rules()[1]
            for spec in change.delete:
                sw.dp.send_msg(flowspec.to_delete_strict(sw.dp, spec, mask))
            for spec in change.add:
                sw.dp.send_msg(flowspec.to_flow_mod(sw.dp, spec))
            stale = vswitch.stale_learning(sw.plans, plans)
            for port, vid in sorted(stale):
                self._forget(sw, port, vid)
            sw.model, sw.plans, sw.installed = model, plans, rules
            total += len(change)
            self.logger.info('policy reload (%s): switch %016x: %d rules added or '
                             'replaced, %d deleted; hosts forgotten on (port, VLAN) %s',
                             why, sw.dp.id, len(change.add), len(change.delete),
                             sorted(stale))
        self.policy = new
        self.vlan_max_hosts = self._vlan_max_hosts(new)
        self.logger.info('policy reload (%s) applied: %d rule changes in %.1f ms', why,
                         total, (_now() - started) * 1000)
