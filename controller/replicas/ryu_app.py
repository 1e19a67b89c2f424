"""The Ryu side of the replicas: a mixin for a SuiteApp that runs the replica loop,
sends the OpenFlow role requests it decides, and reports the switches' answers.

::

    class MyApp(ReplicatedApp, SuiteApp):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.start_replicas()             # does nothing without [replicas] endpoints

        def switch_mastered(self, sw): ...    # we are its master now: take it over
        def leadership_changed(self, leading: bool): ...
        def follow_epoch(self, followed): ... # a committed epoch, checked (followers)

Role requests: ROLE_MASTER with the election's revision as generation_id to the
switches this replica masters, ROLE_SLAVE with the master's generation to the others;
never EQUAL. Open Vswitch answers a request older than the newest it saw with
OFPRRFC_STALE and refuses any change from a SLAVE with OFPBRC_IS_SLAVE: each such
answer, and each role reply, is one INFO line.
"""

from typing import Any

from ryu import cfg
from ryu.controller import ofp_event
from ryu.controller.handler import MAIN_DISPATCHER, set_ev_cls

from controller import app_base
from controller.replicas import config
from controller.replicas.coordinator import FollowedEpoch, Replicas, replicas_from_conf
from controller.replicas.mastership import LeadershipChange, RoleChange

app_base.register_options(config.GROUP, config.options())

ROLE_NAMES = {0: 'NOCHANGE', 1: 'EQUAL', 2: 'MASTER', 3: 'SLAVE'}
OFPET_BAD_REQUEST = 1
OFPBRC_IS_SLAVE = 10
OFPET_ROLE_REQUEST_FAILED = 11
ROLE_FAILURES = {
    0: 'STALE (an older generation than the switch has seen)',
    1: 'UNSUP',
    2: 'BAD_ROLE',
}


def role_request(dp: Any, master: bool, generation: int) -> Any:
    """OFPRoleRequest MASTER or SLAVE with ``generation`` as generation_id."""
    ofp = dp.ofproto
    role = ofp.OFPCR_ROLE_MASTER if master else ofp.OFPCR_ROLE_SLAVE
    return dp.ofproto_parser.OFPRoleRequest(dp, role, generation)


def role_error_text(msg: Any) -> str | None:
    """What a role-related error from a switch says, or None for other errors."""
    kind, code = getattr(msg, 'type', None), getattr(msg, 'code', None)
    if kind == OFPET_ROLE_REQUEST_FAILED:
        return 'refused our role request: %s' % ROLE_FAILURES.get(int(code or 0), 'code %s' % code)
    if kind == OFPET_BAD_REQUEST and code == OFPBRC_IS_SLAVE:
        return 'refused a message of ours: IS_SLAVE (we are not its master)'
    return None


class ReplicatedApp:
    """Mixin (before SuiteApp in the bases) for an app that may run as one of several
    replicas; ``self.replicas`` is None when the config has no etcd endpoints."""

    replicas: Replicas | None = None
    switches: dict
    logger: Any
    # What the switches were told, as applied (the election may be further: its tick
    # yields to the other green threads while it waits for etcd).
    _leading = False
    _roles_on: dict[int, tuple[Any, bool]]  # dpid -> (the connection told, master?)

    def start_replicas(self) -> None:
        """Read ``[replicas]`` and, if endpoints are set, start the replica loop."""
        self.replicas = replicas_from_conf(cfg.CONF[config.GROUP], self.logger)
        self._roles_on = {}
        if self.replicas is None:
            return
        self.logger.info(
            'replica %s: etcd at %s, lease %ds, keys under %s',
            self.replicas.replica_id,
            ', '.join(self.replicas.settings.endpoints),
            self.replicas.settings.lease_ttl,
            self.replicas.settings.prefix,
        )
        self.spawn_loop('replicas', self.replicas.settings.poll_interval, self._replicas_tick)  # type: ignore[attr-defined]

    # --- hooks for the app -----------------------------------------------------------

    def switch_mastered(self, sw: Any) -> None:
        """This replica just sent ``sw`` ROLE_MASTER: take the switch over."""

    def leadership_changed(self, leading: bool) -> None:
        """This replica became the epoch leader, or stopped being it."""

    def follow_epoch(self, followed: FollowedEpoch) -> None:
        """An epoch the leader committed, its SFT computed again here and identical."""

    # --- what the app asks -----------------------------------------------------------

    def masters(self, dpid: int) -> bool:
        """Whether this process may change ``dpid``: alone, always; as a replica, once
        it has sent the switch ROLE_MASTER for an election it still holds."""
        if self.replicas is None:
            return True
        told = self._roles_on.get(dpid)
        sw = self.switches.get(dpid)
        return told is not None and told[1] and sw is not None and sw.dp is told[0]

    def leads_epochs(self) -> bool:
        """Whether this process cuts and installs epochs: alone, always; as a replica,
        while it is the elected leader."""
        return self.replicas is None or self._leading

    def probes_links(self) -> bool:
        """SuiteApp's hook: LLDP probes (packet-outs) only from the leader, since a
        switch refuses them from a SLAVE."""
        return self.leads_epochs()

    def stop(self) -> None:
        """Give the lease back at once, so that another replica need not wait for it."""
        if self.replicas is not None:
            self.replicas.stop()
        super().stop()  # type: ignore[misc]

    # --- the loop and the switches' answers ------------------------------------------

    def _replicas_tick(self) -> None:
        assert self.replicas is not None
        for dpid, (dp, _) in list(self._roles_on.items()):
            sw = self.switches.get(dpid)
            if sw is None or sw.dp is not dp:
                del self._roles_on[dpid]
                if sw is not None:
                    self.replicas.mastership.reconnected(dpid)
        changes, followed = self.replicas.tick(list(self.switches))
        for change in changes:
            if isinstance(change, LeadershipChange):
                self._leading = change.leading
                self.leadership_changed(change.leading)
                continue
            sw = self.switches.get(change.dpid)
            if sw is None:
                continue
            self._send_role(sw.dp, change)
            self._roles_on[change.dpid] = (sw.dp, change.master)
            if change.master:
                self.switch_mastered(sw)
        for epoch in followed:
            self.follow_epoch(epoch)

    def _send_role(self, dp: Any, change: RoleChange) -> None:
        self.logger.info(
            'switch %016x: asking for role %s, generation %d',
            dp.id,
            'MASTER' if change.master else 'SLAVE',
            change.generation,
        )
        dp.send_msg(role_request(dp, change.master, change.generation))

    @set_ev_cls(ofp_event.EventOFPRoleReply, MAIN_DISPATCHER)
    def _role_reply(self, ev: Any) -> None:
        msg = ev.msg
        self.logger.info(
            'switch %016x: role is now %s, generation %s',
            msg.datapath.id,
            ROLE_NAMES.get(msg.role, msg.role),
            msg.generation_id,
        )

    def replica_error(self, msg: Any) -> bool:
        """Log a role-related error from a switch (one INFO line); False for others,
        which the app reports as it always did."""
        text = role_error_text(msg)
        if text is None:
            return False
        self.logger.info('switch %016x %s', msg.datapath.id, text)
        return True
