"""The arbiter's decision for one proposed rule: pure, from the rule, the installed rules
it overlaps, the app's own rules and the policy, to a ``Decision`` that names the policy
clause that decided it.

Rights come first (flowspace, may, max_rules): breaking one refuses the rule. Then each
installed rule of another app that overlaps the proposal with other actions is a
conflict, and the policy says who wins it:

0. a table-miss rule (priority 0, matching everything) is an app's default, not a
   claim: any other app's specific rule goes above it;
1. an override whose match meets the overlap and names one of the two apps;
2. deny wins: a security app's rule that drops beats a rule that does not;
3. the order: the app listed earlier wins;
4. otherwise the installed rule stays (first come, first served).

The winner's rule must take effect where the two overlap, so the proposal is placed at a
priority above every rule it beats and below every rule that beats it, as close to the
priority the app asked for as that allows, and keeping its order with the app's own
overlapping rules. A proposal that a winner covers completely, or that no priority can
place below a winner, is held back until the winner's rule goes. Installed rules that
the proposal beats and covers completely (they would never take effect again), or that
it cannot be placed above, are evicted, and proposed again after it, so that they land
below it or are held back themselves: the switch holds only rules that take effect.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from controller.arbiter.policy import UNKNOWN_APP
from controller.arbiter.rules import Relation, Rule

if TYPE_CHECKING:
    from controller.arbiter.policy import ArbiterPolicy

MIN_PRIORITY, MAX_PRIORITY = 0, 0xFFFF
NO_CONFLICT = 'no conflict'
NO_CONFLICT_REASON = 'no overlapping rule of another app acts otherwise'


class Outcome(enum.Enum):
    INSTALL = 'install'  # as proposed
    REWRITE = 'rewrite'  # at another priority (or table), so the winner takes effect
    MERGE = 'merge'  # another app installed the same rule: shared
    HOLD = 'hold'  # kept back until the rule that beats it goes
    REFUSE = 'refuse'  # breaks the app's rights, an invariant, or is damped

    @property
    def changes(self) -> bool:
        """Whether the switch gets something other than what the app asked for."""
        return self is not Outcome.INSTALL


@dataclass(frozen=True)
class Verdict:
    """Who won one conflict and by which clause."""

    existing: Rule  # the installed rule
    relation: Relation
    proposal_wins: bool
    clause: str


@dataclass(frozen=True)
class Decision:
    """What to do with ``rule`` (as proposed): install ``placed`` (the rule as it goes to
    the switch), hold it, or refuse it; ``clause`` cites the policy, ``reason`` says
    why in words; ``evict`` are installed rules the proposal displaces."""

    outcome: Outcome
    rule: Rule | None  # None: a group-mod's
    clause: str
    reason: str
    placed: Rule | None = None
    evict: tuple[Rule, ...] = ()
    verdicts: tuple[Verdict, ...] = ()

    def __str__(self) -> str:
        placed = ''
        if self.outcome is Outcome.REWRITE and self.placed is not None:
            placed = ' at priority %d' % self.placed.priority
        return '%s%s: %s [%s]' % (self.outcome.value, placed, self.reason, self.clause)


def rights_violation(
    rule: Rule, policy: ArbiterPolicy, installed_count: int = 0
) -> tuple[str, str] | None:
    """(clause, reason) if ``rule`` breaks its app's rights in ``policy``, else None.
    ``installed_count`` is how many rules the app already has on the switch (not
    counting one this rule replaces)."""
    if policy.unrestricted(rule.app):
        return None
    app = policy.app(rule.app)
    base = 'apps.%s' % rule.app
    if rule.app == UNKNOWN_APP and policy.unknown == 'refuse':
        return policy.cite('unknown'), 'flow-mods of no known app are refused'
    if app.flowspace and not any(region.covers(rule.match) for _, region in app.flowspace):
        return policy.cite(base + '.flowspace'), (
            'match %s is outside the flowspace of %s (%s)'
            % (rule.match, rule.app, ' or '.join(str(r) for _, r in app.flowspace))
        )
    for right, used in (
        ('drop', rule.drops),
        ('output', bool(rule.output_ports)),
        ('modify', rule.modifies_headers),
        ('controller', rule.outputs_to_controller),
    ):
        if used and right not in app.may:
            return policy.cite(base + '.may'), '%s may not %s (may: %s)' % (
                rule.app,
                right,
                ', '.join(sorted(app.may)) or 'nothing',
            )
    if app.max_rules is not None and installed_count >= app.max_rules:
        return policy.cite(base + '.max_rules'), (
            '%s has %d rules on switch %s, its budget is %d'
            % (rule.app, installed_count, rule.dpid, app.max_rules)
        )
    return None


def verdict(
    proposed: Rule,
    existing: Rule,
    relation: Relation,
    policy: ArbiterPolicy,
    owners: Iterable[str] | None = None,
) -> Verdict:
    """Who wins between ``proposed`` and the installed ``existing`` (whose apps are
    ``owners``, when shared), and the clause that says so."""
    rivals = tuple(owners or (existing.app,))
    if is_table_miss(existing) != is_table_miss(proposed):
        # A table-miss is an app's default for what no rule claims, not a claim on the
        # whole header space: another app's specific rule goes above it.
        return Verdict(existing, relation, is_table_miss(existing), 'table-miss rules are defaults')
    for override in policy.overrides:
        if override.dpid is not None and override.dpid != proposed.dpid:
            continue
        if override.winner not in (proposed.app,) + rivals:
            continue
        if override.match is not None and override.match.intersects(
            proposed.match.intersection(existing.match)
        ):
            return Verdict(
                existing,
                relation,
                override.winner == proposed.app,
                policy.cite('overrides.%d' % override.index),
            )
    security = [(proposed, proposed.app)] + [(existing, app) for app in rivals]
    deniers = {
        rule is proposed for rule, app in security if rule.drops and policy.app(app).security
    }
    if len(deniers) == 1:
        wins = deniers == {True}
        app = proposed.app if wins else next(a for a in rivals if policy.app(a).security)
        return Verdict(
            existing, relation, wins, policy.cite('apps.%s.security' % app) + ' deny wins'
        )
    mine = policy.rank(proposed.app)
    theirs = min(policy.rank(app) for app in rivals)
    if mine != theirs:
        ahead, behind = (proposed.app, rivals[0]) if mine < theirs else (rivals[0], proposed.app)
        return Verdict(
            existing,
            relation,
            mine < theirs,
            policy.cite('order') + ' %s before %s' % (ahead, behind),
        )
    return Verdict(
        existing,
        relation,
        False,
        'incumbent: %s and %s rank equal, the installed rule stays'
        % (proposed.app, '/'.join(rivals)),
    )


def is_table_miss(rule: Rule) -> bool:
    """Priority 0 and matching everything: the rule for packets no other rule takes."""
    return rule.priority == MIN_PRIORITY and not rule.match.fields


def resolve(
    proposed: Rule,
    conflicts: Iterable[tuple[Rule, Relation]],
    policy: ArbiterPolicy,
    own: Sequence[tuple[Rule, int]] = (),
    owners: Callable[[Rule], Iterable[str] | None] = lambda rule: None,
) -> Decision:
    """The Decision for ``proposed`` given ``conflicts`` [(installed rule of another app,
    Relation)] that overlap it, ``own`` [(installed rule of the same app, priority the
    app asked for)] that overlap it, and ``owners(rule)``: the apps sharing a rule."""
    verdicts = tuple(
        verdict(proposed, rule, relation, policy, owners(rule))
        for rule, relation in conflicts
        if rule.actions != proposed.actions
    )
    if not verdicts:
        return Decision(Outcome.INSTALL, proposed, NO_CONFLICT, NO_CONFLICT_REASON, placed=proposed)
    beaten = [v for v in verdicts if v.proposal_wins]
    beating = [v for v in verdicts if not v.proposal_wins]
    covered_by = next((v for v in beating if v.existing.match.covers(proposed.match)), None)
    if covered_by is not None:
        return Decision(
            Outcome.HOLD,
            proposed,
            covered_by.clause,
            '%s rule %s covers it and wins'
            % (covered_by.existing.app, _short(covered_by.existing)),
            verdicts=verdicts,
        )
    # A beaten rule the proposal covers would never take effect again: it makes way.
    dead = [v for v in beaten if proposed.match.covers(v.existing.match)]
    beaten = [v for v in beaten if v not in dead]
    low = max([MIN_PRIORITY] + [v.existing.priority + 1 for v in beaten])
    high = min([MAX_PRIORITY] + [v.existing.priority - 1 for v in beating])
    own_low = max(
        [low]
        + [
            rule.priority + 1
            for rule, asked in own
            if asked < proposed.priority and rule.actions != proposed.actions
        ]
    )
    own_high = min(
        [high]
        + [
            rule.priority - 1
            for rule, asked in own
            if asked > proposed.priority and rule.actions != proposed.actions
        ]
    )
    if own_low <= own_high:
        low, high = own_low, own_high
    if high < MIN_PRIORITY:
        winner = min(beating, key=lambda v: v.existing.priority)
        return Decision(
            Outcome.HOLD,
            proposed,
            winner.clause,
            'no priority is left below %s rule %s, which wins'
            % (winner.existing.app, _short(winner.existing)),
            verdicts=verdicts,
        )
    priority = min(max(proposed.priority, low), high)
    # When it must stay below a winner yet above a rule it beats that is higher still,
    # the beaten rules at or above its place make way too (and are proposed again).
    evict = dead + [v for v in beaten if v.existing.priority >= priority]
    binding = _binding(proposed.priority, priority, beaten, beating)
    if binding is not None:
        clause = binding.clause
        why = (
            'it stays above %s rule %s'
            if binding.proposal_wins
            else '%s rule %s wins where they overlap'
        ) % (binding.existing.app, _short(binding.existing))
    elif priority != proposed.priority:
        clause = 'order of %s\'s own rules' % proposed.app
        why = 'it keeps its place among its own overlapping rules'
    else:
        clause = (evict or verdicts)[0].clause
        why = 'it wins or stays below every rule it overlaps'
    if evict:
        why += '; evicts %s, which it beats' % ', '.join(
            '%s rule %s' % (v.existing.app, _short(v.existing)) for v in evict
        )
    outcome = Outcome.INSTALL if priority == proposed.priority else Outcome.REWRITE
    if priority != proposed.priority:
        why = 'priority %d -> %d so that %s' % (proposed.priority, priority, why)
    return Decision(
        outcome,
        proposed,
        clause,
        why,
        placed=dataclasses.replace(proposed, priority=priority),
        evict=tuple(v.existing for v in evict),
        verdicts=verdicts,
    )


def _binding(
    asked: int, placed: int, beaten: Sequence[Verdict], beating: Sequence[Verdict]
) -> Verdict | None:
    """The verdict whose rule set the placement, or None if the app's own rules did."""
    if placed > asked and beaten:
        top = max(beaten, key=lambda v: v.existing.priority)
        return top if top.existing.priority + 1 == placed else None
    if placed < asked and beating:
        bottom = min(beating, key=lambda v: v.existing.priority)
        return bottom if bottom.existing.priority - 1 == placed else None
    return None


def _short(rule: Rule) -> str:
    return 'table %d priority %d %s' % (rule.table_id, rule.priority, rule.match)
