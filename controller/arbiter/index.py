"""The installed rules of every app on every switch, per table, found by overlap without
scanning the table: for each rule an app proposes, the arbiter asks which installed
rules of other apps share packets with it, and how they relate.

Design: tuple space search (Srinivasan, Suri and Varghese, 1999; Open vSwitch's
classifier is one). The rules of one app in one table are split into groups by *shape*:
the fields their match gives with the mask of each (``in_port``/exact +
``eth_src``/exact, ``eth_type``/exact + ``ipv4_dst``/24, ...). A group keeps its rules
in a hash table keyed by their values. Two cubes overlap exactly when their values agree
on the bits both masks hold, so a query looks, in each group, under the key that is its
own values cut to those common bits: one lookup per group, whatever the group's size.
When the query holds all of the group's bits that key is the group's own; otherwise the
group builds (once, then keeps up to date) a second hash table keyed by just those bits,
so "every rule with this eth_src, any in_port" is also one lookup. Per group and query
shape it is also known which of the two covers the other (a mask contains the other's),
so classifying the hits needs no match algebra at all. The plan for a query shape (the
lookups and cover flags for every group) is cached until a group comes or goes.

Rules are indexed per app, so the rules of the proposing app are not even looked at when
its conflicts are asked for. Matches that leave out prerequisites are indexed by each of
their closed cubes (see match.py) and compared with the match algebra.

Cost of a query: one hash lookup per group of the other apps, plus one step per rule
found. Groups are as many as distinct rule shapes (a learning switch has two or three;
an ACL of 100 rules typically 10-30), so a table of 100k rules costs about what one of
10k does.
"""

from collections.abc import Collection, Iterable, Iterator

from ryu.ofproto import ofproto_v1_3 as ofp

from controller.arbiter.match import TernaryMatch
from controller.arbiter.rules import Relation, Rule, relate

_MAX_PLANS = 4096  # query shapes remembered per app and table

Shape = tuple[tuple[str, int], ...]  # (field, mask) of each field of a cube
Values = tuple[int, ...]  # the values of a cube, in its shape's order
Projection = tuple[tuple[int, int], ...]  # (position in a shape, mask) of the bits kept
RuleSlot = tuple[int, TernaryMatch]  # (priority, match): a rule in its table
# values under a projection -> {(rule slot, the cube's values): rule}
ProjectedTable = dict[Values, dict[tuple[RuleSlot, Values], Rule]]
# One group's part of a query plan: its table for the bits shared with the query, the
# (field, mask) pairs of the query's key there, query covers group, group covers query.
PlanStep = tuple[ProjectedTable, Shape, bool, bool]


def _shape_and_values(cube: TernaryMatch) -> tuple[Shape, Values]:
    fields = cube.fields
    return (
        tuple((name, mask) for name, (value, mask) in fields.items()),
        tuple(value for value, mask in fields.values()),
    )


class _Group:
    """The cubes of one shape, among one app's rules in one table, by value."""

    __slots__ = ('whole', 'projections')

    def __init__(self, shape: Shape) -> None:
        self.whole: Projection = tuple(
            (position, mask) for position, (name, mask) in enumerate(shape)
        )
        # projection -> its table; the projection onto the whole shape is always there.
        # Two cubes of one rule may share a shape, and then a projected bucket.
        self.projections: dict[Projection, ProjectedTable] = {self.whole: {}}

    @staticmethod
    def _project(values: Values, projection: Projection) -> Values:
        return tuple(values[position] & mask for position, mask in projection)

    def add(self, values: Values, key: RuleSlot, rule: Rule) -> None:
        for projection, table in self.projections.items():
            table.setdefault(self._project(values, projection), {})[key, values] = rule

    def remove(self, values: Values, key: RuleSlot) -> None:
        for projection, table in self.projections.items():
            projected = self._project(values, projection)
            bucket = table[projected]
            del bucket[key, values]
            if not bucket:
                del table[projected]

    def __bool__(self) -> bool:
        return bool(self.projections[self.whole])

    def projection(self, projection: Projection) -> ProjectedTable:
        """The hash table of ``projection``, built on first use."""
        table = self.projections.get(projection)
        if table is None:
            table = {}
            for values, bucket in self.projections[self.whole].items():
                table.setdefault(self._project(values, projection), {}).update(bucket)
            self.projections[projection] = table
        return table


class _TupleSpace:
    """One app's rules in one table."""

    __slots__ = ('rules', 'empty', 'groups', 'plans')

    def __init__(self) -> None:
        self.rules: dict[RuleSlot, Rule] = {}
        self.empty: dict[RuleSlot, Rule] = {}  # the rules whose match no packet meets
        self.groups: dict[Shape, _Group] = {}
        self.plans: dict[Shape, list[PlanStep]] = {}  # by query shape (see _plan)

    def add(self, key: RuleSlot, rule: Rule) -> None:
        self.rules[key] = rule
        if rule.match.is_empty:
            self.empty[key] = rule
        for cube in rule.match.cubes:
            shape, values = _shape_and_values(cube)
            group = self.groups.get(shape)
            if group is None:
                group = self.groups[shape] = _Group(shape)
                self.plans.clear()
            group.add(values, key, rule)

    def remove(self, key: RuleSlot) -> None:
        rule = self.rules.pop(key)
        self.empty.pop(key, None)
        for cube in rule.match.cubes:
            shape, values = _shape_and_values(cube)
            group = self.groups[shape]
            group.remove(values, key)
            if not group:
                del self.groups[shape]
                self.plans.clear()

    def _plan(self, query_shape: Shape) -> list[PlanStep]:
        """For each group: its hash table for the bits it shares with a query of
        ``query_shape``, the (field, mask) pairs that make the query's key there, and
        whether the query covers the group's cubes and the reverse, where they meet."""
        query_masks = dict(query_shape)
        steps: list[PlanStep] = []
        for shape, group in self.groups.items():
            group_masks = dict(shape)
            projection = tuple(
                (position, mask & query_masks.get(name, 0))
                for position, (name, mask) in enumerate(shape)
                if mask & query_masks.get(name, 0)
            )
            lookup = tuple((shape[position][0], mask) for position, mask in projection)
            query_covers = all(not mask & ~group_masks.get(name, 0) for name, mask in query_shape)
            group_covers = all(not mask & ~query_masks.get(name, 0) for name, mask in shape)
            steps.append((group.projection(projection), lookup, query_covers, group_covers))
        if len(self.plans) >= _MAX_PLANS:
            self.plans.clear()
        self.plans[query_shape] = steps
        return steps

    def hits(self, cube: TernaryMatch) -> Iterator[tuple[Rule, bool, bool]]:
        """(rule, cube covers the rule's cube, the rule's cube covers cube) for each of
        the rules' cubes that meets the closed cube ``cube``."""
        fields = cube.fields
        shape = tuple((name, mask) for name, (value, mask) in fields.items())
        steps = self.plans.get(shape)
        if steps is None:
            steps = self._plan(shape)
        for table, lookup, query_covers, group_covers in steps:
            bucket = table.get(tuple(fields[name][0] & mask for name, mask in lookup))
            if bucket:
                for rule in bucket.values():
                    yield rule, query_covers, group_covers

    def overlaps(self, match: TernaryMatch) -> Collection[tuple[Rule, bool, bool]]:
        """(rule, match covers it, it covers match) for each rule that shares packets
        with ``match``, once each."""
        cubes = match.cubes
        found = {}
        for cube in cubes:
            for rule, query_covers, group_covers in self.hits(cube):
                if id(rule) in found:
                    continue
                if len(cubes) > 1 or len(rule.match.cubes) > 1:
                    # Several cubes: the covers of one pair of cubes say nothing of the
                    # whole matches.
                    query_covers = match.covers(rule.match)
                    group_covers = rule.match.covers(match)
                found[id(rule)] = (rule, query_covers, group_covers)
        return found.values()

    def covered_by(self, match: TernaryMatch) -> list[Rule]:
        """The rules whose packets are all in ``match``: those it covers of the rules
        it overlaps, and those no packet meets (a switch refuses most of those)."""
        return [rule for rule, covered, _ in self.overlaps(match) if covered] + list(
            self.empty.values()
        )


class _Table:
    __slots__ = ('rules', 'spaces')

    def __init__(self) -> None:
        self.rules: dict[RuleSlot, Rule] = {}  # whatever its app
        self.spaces: dict[str, _TupleSpace] = {}  # app -> its rules

    def spaces_of(self, app: str | None) -> list[_TupleSpace]:
        """The tuple spaces of every app, or of ``app`` only if it is given."""
        if app is None:
            return list(self.spaces.values())
        return [self.spaces[app]] if app in self.spaces else []


def _by_priority(rules: Iterable[Rule]) -> list[Rule]:
    return sorted(rules, key=lambda rule: -rule.priority)


class RuleIndex:
    """The installed rules of all apps, per switch and table. A rule is identified as
    OpenFlow identifies a flow entry, by (dpid, table_id, priority, match)."""

    def __init__(self) -> None:
        self._switches: dict[int, dict[int, _Table]] = {}  # dpid -> table_id -> table

    def _table(self, dpid: int, table_id: int) -> _Table | None:
        return self._switches.get(dpid, {}).get(table_id)

    def add(self, rule: Rule) -> Rule | None:
        """Install ``rule``; returns the rule it replaces (same dpid, table, priority
        and match, of any app) or None."""
        table = self._switches.setdefault(rule.dpid, {}).setdefault(rule.table_id, _Table())
        key = rule.priority, rule.match
        replaced = table.rules.get(key)
        if replaced is not None:
            self._forget(table, replaced)
        table.rules[key] = rule
        space = table.spaces.get(rule.app)
        if space is None:
            space = table.spaces[rule.app] = _TupleSpace()
        space.add(key, rule)
        return replaced

    def _forget(self, table: _Table, rule: Rule) -> None:
        key = rule.priority, rule.match
        del table.rules[key]
        space = table.spaces[rule.app]
        space.remove(key)
        if not space.rules:
            del table.spaces[rule.app]

    def remove(self, rule: Rule) -> Rule | None:
        """Remove the rule with ``rule``'s identity (whatever its app and actions);
        returns it, or None if there is none."""
        table = self._table(rule.dpid, rule.table_id)
        found = None if table is None else table.rules.get((rule.priority, rule.match))
        if table is not None and found is not None:
            self._forget(table, found)
            if not table.rules:
                tables = self._switches[rule.dpid]
                del tables[rule.table_id]
                if not tables:
                    del self._switches[rule.dpid]
        return found

    def has_table(self, dpid: int, table_id: int) -> bool:
        """Whether any rule is installed in that table."""
        return self._table(dpid, table_id) is not None

    def get(self, dpid: int, table_id: int, priority: int, match: TernaryMatch) -> Rule | None:
        table = self._table(dpid, table_id)
        return None if table is None else table.rules.get((priority, match))

    def overlapping(
        self, dpid: int, table_id: int, match: TernaryMatch, app: str | None = None
    ) -> list[Rule]:
        """The rules of every app (or of ``app`` only) in that table that share a
        packet with ``match``, highest priority first."""
        table = self._table(dpid, table_id)
        if table is None:
            return []
        return _by_priority(
            rule for space in table.spaces_of(app) for rule, _, _ in space.overlaps(match)
        )

    def conflicts(self, rule: Rule) -> list[tuple[Rule, Relation]]:
        """[(installed rule, Relation)] for every installed rule of another app that
        shares a packet with ``rule`` in its table, highest priority first. Relations
        with ``is_conflict`` false (identical, redundant, benign) are included."""
        table = self._table(rule.dpid, rule.table_id)
        if table is None:
            return []
        found = [
            (existing, relate(rule, existing, new_covers, existing_covers))
            for app, space in table.spaces.items()
            if app != rule.app
            for existing, new_covers, existing_covers in space.overlaps(rule.match)
        ]
        found.sort(key=lambda pair: -pair[0].priority)
        return found

    def rules_of(self, app: str | None, dpid: int | None = None) -> list[Rule]:
        """The rules of ``app`` (of every app if None; on switch ``dpid`` only, if
        given)."""
        return [
            rule
            for table in self._tables(dpid)
            for space in table.spaces_of(app)
            for rule in space.rules.values()
        ]

    def _tables(self, dpid: int | None) -> list[_Table]:
        switches = self._switches.values() if dpid is None else [self._switches.get(dpid, {})]
        return [table for tables in switches for table in tables.values()]

    def count(self, app: str | None = None, dpid: int | None = None) -> int:
        """How many rules (of ``app``, on ``dpid``, if given) are installed."""
        return sum(
            len(space.rules) for table in self._tables(dpid) for space in table.spaces_of(app)
        )

    def remove_switch(self, dpid: int) -> list[Rule]:
        """Forget every rule of switch ``dpid`` (it disconnected); returns them."""
        tables = self._switches.pop(dpid, {})
        return [rule for table in tables.values() for rule in table.rules.values()]

    def delete_matching(
        self,
        dpid: int,
        table_id: int,
        match: TernaryMatch,
        strict: bool = False,
        priority: int | None = None,
        cookie: int = 0,
        cookie_mask: int = 0,
        out_port: int = ofp.OFPP_ANY,
        app: str | None = None,
        out_group: int = ofp.OFPG_ANY,
    ) -> list[Rule]:
        """Remove and return the rules an OpenFlow 1.3 DELETE (or, with ``strict``,
        DELETE_STRICT) flow-mod selects: in table ``table_id`` (OFPTT_ALL: every table
        of the switch), those whose match ``match`` covers (strict: the rule of exactly
        that match and ``priority``), whose cookie equals ``cookie`` on the bits of
        ``cookie_mask``, that output to ``out_port`` and to group ``out_group`` unless
        those are OFPP_ANY / OFPG_ANY; of app ``app`` only, if given."""
        slot = None  # strict: the one rule's
        if strict:
            if priority is None:
                raise ValueError('a strict delete needs the priority of the rule')
            slot = (priority, match)
        tables = self._switches.get(dpid, {})
        if table_id != ofp.OFPTT_ALL:
            tables = {table_id: tables[table_id]} if table_id in tables else {}
        selected: list[Rule] = []
        for table in tables.values():
            if slot is not None:
                found = table.rules.get(slot)
                candidates = [] if found is None else [found]
            else:
                candidates = [
                    rule for space in table.spaces_of(app) for rule in space.covered_by(match)
                ]
            selected.extend(
                rule
                for rule in candidates
                if (
                    (app is None or rule.app == app)
                    and not (rule.cookie ^ cookie) & cookie_mask
                    and (out_port == ofp.OFPP_ANY or rule.outputs_to(out_port))
                    and (out_group == ofp.OFPG_ANY or out_group in rule.groups)
                )
            )
        for rule in selected:
            self.remove(rule)
        return _by_priority(selected)
