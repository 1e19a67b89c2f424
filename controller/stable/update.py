"""An epoch onto the switches with a per-packet-consistent update (Reitblatt et al.,
SIGCOMM 2012), and what this run knows is installed on each switch.

Three phases, each one atomic bundle per switch confirmed by a barrier
(controller/bundles.py); a phase starts only when every switch confirmed the previous:

1. *internal rules*: the epoch's forward rules and the failover groups they use, which
   match a version no packet carries yet, and the admission of tagged frames on links
   the epoch routes over for the first time (``pipeline.admitted_ahead``). Refused by
   any switch: the half-installed rules are deleted and the epoch in force stays.
2. *ingress rules*: each switch stamps the new version; admission and flood rules
   change with it, except that links no longer routed over keep admitting tagged frames
   (``pipeline.while_draining``). Refused part-way: both epochs' rules are everywhere,
   so every packet still travels in one epoch, and the next epoch finishes the job.
3. after the drain time, *old rules removed*: the previous epochs' forward rules, the
   groups nothing uses any more, and the admissions kept through phase 2.

A switch that refuses a phase or does not confirm it within ``install_timeout`` (one
deadline per phase, however many switches are silent) fails it as above, is named in
``record.faults`` and reported to ``on_fault``, which the app uses to leave it out of
the next epochs (controller/stable/faults.py); its unanswered bundle is given up.

No Ryu events here: the caller gives the bundle sender (``BundleClient.send``), the
sleep for the drain and the test of whether a switch is still connected, so the
protocol runs against tests/harness/fakes.py's FakeDatapath in unit tests.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Protocol

from controller import openflow as of
from controller.bundles import errors_text
from controller.cookies import KIND_MASK
from controller.flowspec import FlowSpec, diff, in_order, to_delete_strict, to_flow_mod
from controller.stable import pipeline as pipe
from controller.stable.epochs import EpochRecord
from controller.stable.sft import Snapshot, StableForwardingTable
from controller.topology import spanning_tree_ports

ALL_BITS = 0xFFFFFFFFFFFFFFFF
PORT_RULE_KINDS = (pipe.LINK, pipe.HOST, pipe.FLOOD, pipe.INGRESS)


class BundleTransaction(Protocol):
    """What the update needs of a bundle in flight (controller/bundles.py's Transaction)."""

    errors: list

    @property
    def answered(self) -> bool: ...

    def wait(self, timeout: float) -> bool: ...

    def abandon(self) -> None: ...


SendBundle = Callable[[Any, list], BundleTransaction]
# (the switch, the phase it failed, why) -> what becomes of it, for the log line
OnFault = Callable[['SwitchRules', str, str], str]


class SwitchRules:
    """What this run knows is installed on one connected switch."""

    def __init__(self, dp: Any) -> None:
        self.dp = dp
        self.port_rules: set[FlowSpec] | None = None  # admission/flood/ingress; None: unknown
        self.groups: set[int] = set()  # failover group ids installed by this run
        self.route_epochs: set[int] = set()  # epochs whose forward rules are on it


@dataclass
class SwitchPlan:
    """What one switch gets in one epoch's update."""

    routes: set[FlowSpec]  # the epoch's forward rules
    groups: dict[int, tuple[int, int]]  # failover groups they use: id -> (primary, backup)
    port_rules: set[FlowSpec]  # admission, flood and ingress rules after phase 3
    admit: list[FlowSpec]  # phase 1: link admissions ahead of the version
    unblock: list[FlowSpec]  # phase 1: the unused-link drops they replace


@dataclass
class UpdatePlan:
    """One epoch's update of a set of switches."""

    epoch: int
    switches: list[SwitchRules]
    plans: dict[int, SwitchPlan]  # dpid -> its plan


def plan_update(
    epoch: int, snapshot: Snapshot, sft: StableForwardingTable, switches: list[SwitchRules]
) -> UpdatePlan:
    """The rules each of ``switches`` gets for ``epoch`` (what they hold now decides what
    phase 1 admits ahead)."""
    tree = spanning_tree_ports(snapshot.graph())
    plans = {}
    for sw in switches:
        routes, groups = pipe.route_rules(sft, sw.dp.id, epoch)
        desired = pipe.port_rules(snapshot, sw.dp.id, tree) | {pipe.ingress_rule(epoch)}
        admit, unblock = pipe.admitted_ahead(sw.port_rules, desired)
        plans[sw.dp.id] = SwitchPlan(routes, groups, desired, admit, unblock)
    return UpdatePlan(epoch, list(switches), plans)


def port_rule_changes(sw: SwitchRules, desired: set[FlowSpec]) -> list:
    """The messages that turn ``sw``'s admission, flood and ingress rules into
    ``desired``."""
    dp = sw.dp
    if sw.port_rules is None:
        # Unknown contents (a new connection): clear and rewrite in the same atomic
        # bundle, so no packet sees the switch in between.
        wipe = [of.flow_delete(dp, *pipe.COOKIES.rules_of_kind(kind)) for kind in PORT_RULE_KINDS]
        return wipe + [to_flow_mod(dp, spec) for spec in in_order(desired)]
    change = diff(sw.port_rules, desired)
    return [to_delete_strict(dp, spec, KIND_MASK) for spec in change.delete] + [
        to_flow_mod(dp, spec) for spec in change.add
    ]


def internal_rules(sw: SwitchRules, plan: SwitchPlan) -> list:
    """Phase 1 for one switch: new groups, the forward rules, the admissions ahead."""
    dp = sw.dp
    return (
        [
            of.failover_group(dp, gid, ports)
            for gid, ports in sorted(plan.groups.items())
            if gid not in sw.groups
        ]
        + [to_flow_mod(dp, spec) for spec in in_order(plan.routes)]
        + [to_delete_strict(dp, spec, KIND_MASK) for spec in plan.unblock]
        + [to_flow_mod(dp, spec) for spec in plan.admit]
    )


def old_rules(sw: SwitchRules, plan: SwitchPlan, epoch: int) -> list:
    """Phase 3 for one switch: other epochs' forward rules, the final port rules, the
    groups ``plan`` does not use."""
    dp = sw.dp
    return (
        [
            of.flow_delete(
                dp, pipe.epoch_cookie(pipe.ROUTE, old), ALL_BITS, table_id=pipe.FORWARD_TABLE
            )
            for old in sorted(sw.route_epochs - {epoch})
        ]
        + port_rule_changes(sw, plan.port_rules)
        + [of.group_delete(dp, gid) for gid in sorted(sw.groups - set(plan.groups))]
    )


class Updater:
    """Sends epochs to switches in the three phases; ``record.state`` says how far each
    got ('installing', 'installed', 'failed') and ``record.problems`` why not further."""

    def __init__(
        self,
        send_bundle: SendBundle,
        sleep: Callable[[float], None],
        is_connected: Callable[[SwitchRules], bool],
        install_timeout: float,
        drain_time: float,
        logger: logging.Logger,
        on_fault: OnFault | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.send_bundle = send_bundle
        self.sleep = sleep
        self.is_connected = is_connected
        self.install_timeout = install_timeout
        self.drain_time = drain_time
        self.logger = logger
        self.on_fault = on_fault
        self.clock = clock

    def stamp(self, record: EpochRecord, plan: UpdatePlan, started: float) -> bool:
        """Phases 1 and 2: True once every switch stamps the new version (then call
        ``retire``). ``record.install_ms`` runs from ``started`` (perf_counter)."""
        record.state = 'installing'
        if not self._phase(
            record,
            'internal rules',
            plan.switches,
            lambda sw: internal_rules(sw, plan.plans[sw.dp.id]),
        ):
            self._discard(plan)
            self._failed(record, plan.switches)  # the admissions ahead may or may not be there
            return False
        for sw in plan.switches:
            ours = plan.plans[sw.dp.id]
            sw.groups |= set(ours.groups)
            sw.route_epochs.add(plan.epoch)
            if sw.port_rules is not None:
                sw.port_rules = (sw.port_rules - set(ours.unblock)) | set(ours.admit)

        draining = {
            sw.dp.id: pipe.while_draining(sw.port_rules, plan.plans[sw.dp.id].port_rules)
            for sw in plan.switches
        }
        if not self._phase(
            record,
            'ingress rules',
            plan.switches,
            lambda sw: port_rule_changes(sw, draining[sw.dp.id]),
        ):
            self._failed(record, plan.switches)
            return False
        for sw in plan.switches:
            sw.port_rules = draining[sw.dp.id]
        record.state = 'installed'
        record.installed_at = time.time()
        record.install_ms = (perf_counter() - started) * 1000
        return True

    def retire(self, record: EpochRecord, plan: UpdatePlan) -> None:
        """After the drain time, phase 3 on the switches still connected; a switch that
        does not confirm it has its port rules rewritten in full by the next epoch."""
        self.sleep(self.drain_time)
        started = perf_counter()
        live = [sw for sw in plan.switches if self.is_connected(sw)]
        if self._phase(
            record,
            'old rules removed',
            live,
            lambda sw: old_rules(sw, plan.plans[sw.dp.id], plan.epoch),
        ):
            for sw in live:
                ours = plan.plans[sw.dp.id]
                sw.route_epochs = {plan.epoch}
                sw.groups = set(ours.groups)
                sw.port_rules = ours.port_rules
        else:
            for sw in live:
                sw.port_rules = None
        record.cleanup_ms = (perf_counter() - started) * 1000

    def _phase(
        self,
        record: EpochRecord,
        name: str,
        switches: list[SwitchRules],
        messages_for: Callable[[SwitchRules], list],
    ) -> bool:
        """Send each switch its bundle, then wait for all; True if every switch
        confirmed it."""
        sent = [(sw, self.send_bundle(sw.dp, messages_for(sw))) for sw in switches]
        deadline = self.clock() + self.install_timeout
        ok = True
        for sw, transaction in sent:
            if not transaction.wait(max(0.0, deadline - self.clock())):
                transaction.abandon()
                reason = 'did not confirm %s within %.1fs' % (name, self.install_timeout)
            elif transaction.errors:
                reason = 'refused %s: %s' % (name, errors_text(transaction.errors))
            else:
                continue
            ok = False
            self._fault(record, sw, name, reason)
        self.logger.debug(
            'epoch %d: %s on %d switches: %s',
            record.number,
            name,
            len(switches),
            'confirmed' if ok else 'FAILED',
        )
        if not ok:
            record.problems.append('%s not confirmed by every switch' % name)
        return ok

    def _fault(self, record: EpochRecord, sw: SwitchRules, phase: str, reason: str) -> None:
        """One line for a switch that failed a phase: why, and what becomes of it (a
        switch that disconnected is not at fault: it gets all its rules when it is
        back)."""
        if not self.is_connected(sw):
            reason, outcome = 'disconnected during %s' % phase, ''
        else:
            outcome = self.on_fault(sw, phase, reason) if self.on_fault else ''
        record.faults.append({'switch': '%016x' % sw.dp.id, 'phase': phase, 'reason': reason})
        self.logger.error(
            'epoch %d: switch %016x %s%s',
            record.number,
            sw.dp.id,
            reason,
            '; ' + outcome if outcome else '',
        )

    def _failed(self, record: EpochRecord, switches: list[SwitchRules]) -> None:
        record.state = 'failed'
        for sw in switches:
            sw.port_rules = None  # the next epoch rewrites them in one bundle

    def _discard(self, plan: UpdatePlan) -> None:
        """Remove a half-installed epoch's forward rules (nothing stamps its version)."""
        for sw in plan.switches:
            if self.is_connected(sw):
                of.delete_flows(
                    sw.dp,
                    pipe.epoch_cookie(pipe.ROUTE, plan.epoch),
                    ALL_BITS,
                    table_id=pipe.FORWARD_TABLE,
                )
