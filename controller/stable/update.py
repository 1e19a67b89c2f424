"""An epoch onto the switches with a per-packet-consistent update (Reitblatt et al.,
SIGCOMM 2012) that sends only the forward entries that changed, and what this run knows
is installed on each switch.

Each switch holds *stable* forward rules (any version: the entries of the last epoch
whose update it completed, ``SwitchRules.stable``) and, during an update, *overlays*
matching only the new epoch's version (controller/stable/pipeline.py). Three phases,
each one atomic bundle per switch confirmed by a barrier (controller/bundles.py); a
phase starts only when every switch confirmed the previous:

1. *internal rules*: an overlay for each entry of the epoch that differs from the
   switch's stable one (every entry if those are unknown), the failover groups they
   use, the new version admitted from links (``pipeline.version_rule``, unless admitted
   ahead by the last phase 3), and the admission of tagged frames on links the epoch
   routes over for the first time (``pipeline.admitted_ahead``). A switch none of whose
   entries changed is sent nothing. Nothing stamps the new version yet. Refused by
   any switch: the overlays are deleted and the epoch in force stays.
2. *ingress rules*: each switch with hosts stamps the new version; admission and
   flood rules change with it, except that links no longer routed over keep admitting
   tagged frames (``pipeline.while_draining``). A switch without hosts whose other
   rules do not change is not sent phase 2 (``needs_ingress_phase``): it stamps only
   frames of hosts not learned yet, with the epoch in force until its phase 3, like a
   switch whose phase 2 has not come yet. Refused part-way: the stable rules are the old
   epoch's everywhere and the overlays the new one's, so every packet still travels in
   one epoch; the overlays stay until the next epoch's phase 3.
3. after the drain time, *stable rules updated*: the changed and new entries become
   stable rules, the removed ones are deleted (unknown contents: every stable rule is
   replaced), every overlay of any epoch goes, then the groups nothing uses and the
   admissions kept through phase 2; a switch phase 2 skipped stamps the epoch from then.

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
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Protocol

from controller import openflow as of
from controller.bundles import errors_text
from controller.cookies import KIND_MASK
from controller.flowspec import FlowSpec, diff, in_order, to_delete_strict, to_flow_mod
from controller.stable import pipeline as pipe
from controller.stable import rulebytes
from controller.stable.epochs import EpochRecord
from controller.stable.sft import Snapshot, StableForwardingTable

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
        # The SFT whose entries for this switch its stable forward rules hold (shared by
        # the switches that completed the same epoch); None: unknown.
        self.stable: StableForwardingTable | None = None
        self.stable_groups: Counter = Counter()  # group id -> stable rules using it
        # The epoch whose version its links already admit ahead (phase 3 admits the
        # next number's), so that phase 1 need not; None: not known to.
        self.next_admitted: int | None = None


@dataclass
class SwitchPlan:
    """What one switch gets in one epoch's update."""

    overlays: dict[str, pipe.Entry]  # phase 1 overlays; phase 3 makes them stable
    removed: list[str]  # hosts whose stable rule phase 3 deletes
    wipe: bool  # stable rules unknown: phase 3 replaces all of them
    groups: dict[int, tuple[int, int]]  # failover groups the overlays use: id -> ports
    group_users: Counter  # group id -> stable rules using it after phase 3
    port_rules: set[FlowSpec]  # admission, flood and ingress rules after phase 3
    admit: list[FlowSpec]  # phase 1: link admissions ahead of the version
    unblock: list[FlowSpec]  # phase 1: the unused-link drops they replace
    has_hosts: bool  # hosts are admitted on it: phase 2 goes to it


@dataclass
class UpdatePlan:
    """One epoch's update of a set of switches."""

    epoch: int
    sft: StableForwardingTable
    switches: list[SwitchRules]
    plans: dict[int, SwitchPlan]  # dpid -> its plan

    @property
    def changed(self) -> int:
        """Entries sent as overlays, all switches together."""
        return sum(len(plan.overlays) for plan in self.plans.values())


def plan_update(
    epoch: int, snapshot: Snapshot, sft: StableForwardingTable, switches: list[SwitchRules]
) -> UpdatePlan:
    """The rules each of ``switches`` gets for ``epoch``: overlays where its entries
    differ from its stable ones (what it holds now also decides what phase 1 admits
    ahead). The SFTs are compared once per distinct stable SFT among the switches."""
    tree = snapshot.tree_ports()
    hosts_at = pipe.hosts_by_switch(snapshot)
    changes: dict[int, pipe.EntryChanges] = {}  # id(stable SFT) -> changes from it
    ingress = pipe.ingress_rule(epoch)
    plans = {}
    for sw in switches:
        dpid = sw.dp.id
        if sw.stable is None:
            overlays = pipe.switch_entries(sft, dpid)
            removed: dict[str, pipe.Entry] = {}
            before: list[pipe.Entry] = []
            users: Counter = Counter()
        else:
            if id(sw.stable) not in changes:
                changes[id(sw.stable)] = pipe.entry_changes(sw.stable, sft)
            diff_ = changes[id(sw.stable)]
            mine = diff_.changed.get(dpid, {})
            removed = diff_.removed.get(dpid, {})
            overlays = {mac: now for mac, (_, now) in mine.items()}
            before = [was for was, _ in mine.values() if was is not None] + list(removed.values())
            users = sw.stable_groups
        groups = {}
        if before or overlays:  # else the stable groups stay as they are: no copy
            users = users.copy()
            for entry in before:
                group = pipe.entry_group(entry)
                if group:
                    users[group[0]] -= 1
            for entry in overlays.values():
                group = pipe.entry_group(entry)
                if group:
                    users[group[0]] += 1
                    groups[group[0]] = group[1]
            users = +users  # without the groups no rule uses any more
        desired = pipe.port_rules(snapshot, dpid, tree, hosts_at)
        desired.add(ingress)
        admit, unblock = pipe.admitted_ahead(sw.port_rules, desired)
        plans[dpid] = SwitchPlan(
            overlays,
            sorted(removed),
            sw.stable is None,
            groups,
            users,
            desired,
            admit,
            unblock,
            bool(hosts_at.get(dpid)),
        )
    return UpdatePlan(epoch, sft, list(switches), plans)


def port_rule_changes(sw: SwitchRules, desired: set[FlowSpec]) -> list:
    """The messages that turn ``sw``'s admission, flood and ingress rules into
    ``desired``."""
    dp = sw.dp
    if sw.port_rules is None:
        # Unknown contents (a new connection): clear and rewrite in the same atomic
        # bundle, so no packet sees the switch in between.
        wipe = [of.flow_delete(dp, *pipe.COOKIES.rules_of_kind(kind)) for kind in PORT_RULE_KINDS]
        return wipe + [to_flow_mod(dp, spec, shared=True) for spec in in_order(desired)]
    change = diff(sw.port_rules, desired)
    return [to_delete_strict(dp, spec, KIND_MASK) for spec in change.delete] + [
        to_flow_mod(dp, spec, shared=True) for spec in change.add
    ]


def needs_ingress_phase(sw: SwitchRules, plan: SwitchPlan) -> bool:
    """Whether ``sw`` must be sent phase 2: its port rules are unknown, it has hosts
    (its ingress rule stamps their frames), or a rule other than its ingress rule
    changes. Otherwise its ingress rule stamps only frames of sources not yet learned,
    and changes in its phase 3 bundle (docs/stable_routing.md, "Phase 2 where the hosts
    are"). A set difference first: on most switches only the ingress rule differs."""
    if sw.port_rules is None or plan.has_hosts:
        return True
    return any(
        pipe.COOKIES.kind_of(spec.cookie) != pipe.INGRESS
        for spec in sw.port_rules ^ plan.port_rules
    )


def internal_rules(sw: SwitchRules, plan: SwitchPlan, epoch: int) -> list:
    """Phase 1 for one switch: new groups, the overlays (FlowModBlocks: their bytes
    made column-wise, controller/stable/rulebytes.py), the admissions ahead, and the
    new version admitted from links (unless the last phase 3 admitted it ahead). A
    switch none of whose entries changed gets nothing: no bundle at all."""
    dp = sw.dp
    return (
        [
            of.failover_group(dp, gid, ports)
            for gid, ports in sorted(plan.groups.items())
            if gid not in sw.groups
        ]
        + rulebytes.forward_blocks(plan.overlays, epoch, overlay=True)
        + [to_delete_strict(dp, spec, KIND_MASK) for spec in plan.unblock]
        + [to_flow_mod(dp, spec, shared=True) for spec in plan.admit]
        + (
            []
            if sw.next_admitted == epoch
            else [to_flow_mod(dp, pipe.version_rule(epoch), shared=True)]
        )
    )


def stable_rules(sw: SwitchRules, plan: SwitchPlan, epoch: int) -> list:
    """Phase 3 for one switch, one atomic bundle: the stable rules become ``epoch``'s
    (FlowModBlocks, as the overlays of phase 1), every overlay goes, links admit
    ``epoch``'s version (and the next one's, ahead) only, then the final port rules and
    the groups nothing uses."""
    dp = sw.dp
    wipe = (
        [of.flow_delete(dp, *pipe.COOKIES.rules_of_kind(pipe.ROUTE), table_id=pipe.FORWARD_TABLE)]
        if plan.wipe
        else []
    )
    return (
        wipe
        + rulebytes.forward_blocks(plan.overlays, epoch)
        + [to_delete_strict(dp, pipe.stable_rule_of(mac), KIND_MASK) for mac in plan.removed]
        + [of.flow_delete(dp, *pipe.COOKIES.rules_of_kind(pipe.NEXT), table_id=pipe.FORWARD_TABLE)]
        + [
            of.flow_delete(
                dp, *pipe.COOKIES.rules_of_kind(pipe.VERSION), table_id=pipe.INGRESS_TABLE
            ),
            to_flow_mod(dp, pipe.version_rule(epoch), shared=True),
            # The next epoch's version, ahead: nothing stamps it before that epoch's
            # phase 2 (a switch left behind stamps an older one), and its phase 1 then
            # has nothing to send to a switch none of whose entries change.
            to_flow_mod(dp, pipe.version_rule(epoch + 1), shared=True),
        ]
        + port_rule_changes(sw, plan.port_rules)
        + [of.group_delete(dp, gid) for gid in sorted(sw.groups - set(plan.group_users))]
    )


def holds_retired(sw: SwitchRules, plan: UpdatePlan) -> None:
    """Record that ``sw`` holds what phase 3 of ``plan`` leaves: the epoch's entries as
    stable rules, the groups they use, its port rules, the next version admitted."""
    ours = plan.plans[sw.dp.id]
    sw.stable = plan.sft
    sw.stable_groups = ours.group_users
    sw.groups = set(ours.group_users)
    sw.port_rules = ours.port_rules
    sw.next_admitted = plan.epoch + 1


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
        ``retire``). ``record.install_ms`` runs from ``started`` (perf_counter);
        ``record.changed`` counts the entries sent as overlays."""
        record.state = 'installing'
        record.changed = plan.changed
        if self._phase(
            record,
            'internal rules',
            plan.switches,
            lambda sw: internal_rules(sw, plan.plans[sw.dp.id], plan.epoch),
        ):
            self._discard(plan)
            self._failed(record, plan.switches)  # the admissions ahead may or may not be there
            return False
        selecting = perf_counter()
        for sw in plan.switches:
            ours = plan.plans[sw.dp.id]
            sw.groups |= set(ours.groups)
            if sw.port_rules is not None and (ours.unblock or ours.admit):
                sw.port_rules = (sw.port_rules - set(ours.unblock)) | set(ours.admit)

        # The others keep stamping the epoch in force until their phase 3, like a
        # switch whose phase 2 has not come yet.
        stamping = [sw for sw in plan.switches if needs_ingress_phase(sw, plan.plans[sw.dp.id])]
        draining = {
            sw.dp.id: pipe.while_draining(sw.port_rules, plan.plans[sw.dp.id].port_rules)
            for sw in stamping
        }
        record.steps_ms['ingress rules: select'] = (perf_counter() - selecting) * 1000
        if self._phase(
            record,
            'ingress rules',
            stamping,
            lambda sw: port_rule_changes(sw, draining[sw.dp.id]),
        ):
            # The stable rules are untouched (still known); the overlays stay until the
            # next epoch's phase 3: frames stamped with this version may be travelling.
            self._failed(record, plan.switches)
            return False
        for sw in stamping:
            sw.port_rules = draining[sw.dp.id]
        record.state = 'installed'
        record.installed_at = time.time()
        record.install_ms = (perf_counter() - started) * 1000
        return True

    def retire(self, record: EpochRecord, plan: UpdatePlan) -> None:
        """After the drain time, phase 3 on the switches still connected; a switch that
        does not confirm it has its stable and port rules rewritten in full by the next
        epoch."""
        self.sleep(self.drain_time)
        started = perf_counter()
        live = [sw for sw in plan.switches if self.is_connected(sw)]
        failed = self._phase(
            record,
            'old rules removed',
            live,
            lambda sw: stable_rules(sw, plan.plans[sw.dp.id], plan.epoch),
        )
        for sw in live:
            if sw.dp.id in failed:
                sw.port_rules = sw.stable = None
                continue
            holds_retired(sw, plan)
        record.cleanup_ms = (perf_counter() - started) * 1000

    def _phase(
        self,
        record: EpochRecord,
        name: str,
        switches: list[SwitchRules],
        messages_for: Callable[[SwitchRules], list],
    ) -> set[int]:
        """Build every switch's bundle, send them all, then wait for all; the dpids of
        the switches that did not confirm it (empty: all did). The time of each of the
        three goes to ``record.steps_ms``."""
        started = perf_counter()
        bundles = [(sw, messages_for(sw)) for sw in switches]
        built = perf_counter()
        sent = [(sw, self.send_bundle(sw.dp, msgs)) for sw, msgs in bundles]
        sending_done = perf_counter()
        deadline = self.clock() + self.install_timeout
        failed = set()
        for sw, transaction in sent:
            if not transaction.wait(max(0.0, deadline - self.clock())):
                transaction.abandon()
                reason = 'did not confirm %s within %.1fs' % (name, self.install_timeout)
            elif transaction.errors:
                reason = 'refused %s: %s' % (name, errors_text(transaction.errors))
            else:
                continue
            failed.add(sw.dp.id)
            self._fault(record, sw, name, reason)
        steps = record.steps_ms
        steps[name + ': build'] = (built - started) * 1000
        steps[name + ': send'] = (sending_done - built) * 1000
        steps[name + ': confirmed'] = (perf_counter() - sending_done) * 1000
        self.logger.debug(
            'epoch %d: %s on %d switches: %s',
            record.number,
            name,
            len(switches),
            'FAILED' if failed else 'confirmed',
        )
        if failed:
            record.problems.append('%s not confirmed by every switch' % name)
        return failed

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
        """Remove a half-installed epoch's overlays and version admission (nothing
        stamps its version)."""
        for sw in plan.switches:
            sw.next_admitted = None  # if it was this epoch's, it is deleted with it
            if self.is_connected(sw):
                for kind, table in (
                    (pipe.NEXT, pipe.FORWARD_TABLE),
                    (pipe.VERSION, pipe.INGRESS_TABLE),
                ):
                    of.delete_flows(
                        sw.dp, pipe.epoch_cookie(kind, plan.epoch), ALL_BITS, table_id=table
                    )
