"""N-version voting (the VERB idea: diverse replicas vote on forwarding updates): two or
more apps that do the same job form a *voting group* (``voting:`` in the arbiter's
policy), and what they propose reaches the switch only when a majority of them propose
an equivalent thing. Pure: the arbiter (controller/arbiter/engine.py) asks, and does
what the count says.

Equivalence is on forwarding behaviour, not on how a member writes its rule:

- *Where*: the switch, the table, and the match restricted to the group's ``match_on``
  fields (all fields if it names none): ``simple_switch_13``'s
  ``in_port=1,eth_src=A,eth_dst=B`` and a replica's ``eth_dst=B`` are one ballot with
  ``match_on: [eth_dst]``. For a packet-out: the switch, its in_port and the packet.
- *What*: the set of ports the packets go out of (reserved ports like FLOOD included;
  the controller as 'controller'), the groups, and the header changes in order.
  Cookies, priorities, timeouts, flags, buffer ids, max_len and gotos are not
  compared.

A ballot opens with its first vote and waits ``window`` seconds. Once ``quorum``
members (a majority by default) vote the same, it is *carried*: the proposals of one
member who voted so, the *carrier* (the first such member in the group's order), go to
the switch; the other agreeing members' proposals are absorbed (the carrier's rule
stands for them); the dissenters' are refused. A vote that comes after is settled at
once against the decision (the carrier's new rule of that ballot is sent, an agreeing
one absorbed, a dissenting one refused), and still counts: when a majority forms on
another behaviour (a host moved), that is carried. A ballot with no majority when its
window ends refuses all its proposals. Every carried or failed flow-mod ballot is
recorded (``records``) with each member's vote; packet-out ballots are counted
(``stats``).
"""

from __future__ import annotations

import collections
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from controller.arbiter.match import TernaryMatch
from controller.arbiter.rules import ActionsKey

RECORDS_KEPT = 1000
DECIDED_KEPT = 100_000  # carried flow-mod ballots remembered (oldest forgotten first)
_NOT_BEHAVIOUR = ('goto', 'meter', 'metadata', 'clear')  # instructions not compared

Behaviour = tuple[frozenset[Any], tuple[Any, ...], tuple[Any, ...]]  # outputs, groups, changes
BallotKey = tuple[Any, ...]  # ('rule'|'packet', group, dpid, ...)


@dataclass(frozen=True)
class VotingGroup:
    """Apps that do the same job and vote (the policy's ``voting.<name>``)."""

    name: str
    members: tuple[str, ...]
    quorum: int
    window: float = 1.0
    match_on: tuple[str, ...] = ()  # match fields compared; () for all
    clause: str = ''  # 'voting.NAME (policy.yaml:LINE)'


def behaviour(actions: ActionsKey) -> Behaviour:
    """What a rule (or packet-out) does to packets, from its ``actions_key``."""
    outputs: set[Any] = set()
    groups: list[Any] = []
    changes: list[Any] = []
    for instruction in actions:
        if instruction[0] not in ('apply', 'write'):
            continue  # gotos, meters, metadata: how the app lays out its tables
        for action in instruction[1]:
            if action[0] == 'output':
                outputs.add(action[1])
            elif action[0] == 'controller':
                outputs.add('controller')
            elif action[0] == 'group':
                groups.append(action[1])
            else:
                changes.append(action)
    return frozenset(outputs), tuple(groups), tuple(changes)


def behaviour_text(done: Behaviour) -> str:
    """'output:2', 'output:FLOOD+controller', 'drop', 'group:5,set_field:...'."""
    names = {0xFFFFFFFB: 'FLOOD', 0xFFFFFFFC: 'ALL', 0xFFFFFFF8: 'IN_PORT', 0xFFFFFFFA: 'NORMAL'}
    outputs, groups, changes = done
    ports = sorted(names.get(p, str(p)) if p != 'controller' else p for p in outputs)
    parts = ['output:' + '+'.join(ports)] if ports else []
    parts += ['group:%s' % g for g in groups]
    parts += [':'.join(str(part) for part in change) for change in changes]
    return ','.join(parts) or 'drop'


def rule_ballot(group: VotingGroup, dpid: int, table_id: int, match: TernaryMatch) -> BallotKey:
    """The ballot of a rule: its switch, table and match cut to ``match_on``."""
    return ('rule', group.name, dpid, table_id, projected(match, group.match_on))


def packet_ballot(group: VotingGroup, dpid: int, in_port: Any, packet: Hashable) -> BallotKey:
    """The ballot of a packet-out: its switch, in_port and packet (bytes or buffer id)."""
    return ('packet', group.name, dpid, in_port, packet)


def projected(match: TernaryMatch, fields: Sequence[str]) -> Hashable:
    """The match restricted to ``fields`` (its whole identity if none are named)."""
    identity = match.closed_identity
    if identity is None:  # several cubes: compared whole
        return str(match)
    if not fields:
        return identity
    return tuple(item for item in identity if item[0] in fields)


def where_text(key: BallotKey) -> str:
    if key[0] == 'rule':
        _, _, dpid, table_id, match = key
        if not isinstance(match, str):
            match = ','.join('%s=%s/%s' % (n, hex(v), hex(m)) for n, (v, m) in match) or '*'
        return 'dpid=%s table=%d %s' % (dpid, table_id, match)
    return 'dpid=%s packet-out in_port=%s' % (key[2], key[3])


@dataclass
class Ballot:
    group: VotingGroup
    opened: float
    votes: dict[str, Behaviour] = field(default_factory=dict)  # member -> its latest
    proposals: dict[str, list[Any]] = field(default_factory=dict)  # of that behaviour
    decided: Behaviour | None = None
    carrier: str | None = None
    record: VoteRecord | None = None  # of its latest decision

    def majority(self) -> Behaviour | None:
        tally = collections.Counter(self.votes.values())
        if not tally:
            return None
        done, count = tally.most_common(1)[0]
        return done if count >= self.group.quorum else None


@dataclass
class Count:
    """What one vote (or the end of a window) does: proposals to send (by whom),
    absorbed (agreeing, not sent) and refused (with why)."""

    carried: list[tuple[str, Any]] = field(default_factory=list)
    agreed: list[tuple[str, Any, str]] = field(default_factory=list)  # (+ carrier)
    refused: list[tuple[str, Any, str]] = field(default_factory=list)  # (+ reason)

    def extend(self, other: Count) -> None:
        self.carried += other.carried
        self.agreed += other.agreed
        self.refused += other.refused


@dataclass
class VoteRecord:
    """One rule ballot's outcome; votes that come after it are added."""

    time: float
    group: str
    where: str
    outcome: str  # 'carried' or 'no majority'
    votes: dict[str, str]  # member -> behaviour text
    carrier: str | None
    dissent: tuple[str, ...]  # members that voted otherwise than the outcome

    def as_dict(self) -> dict[str, Any]:
        return {
            'time': self.time,
            'group': self.group,
            'where': self.where,
            'outcome': self.outcome,
            'votes': dict(self.votes),
            'carrier': self.carrier,
            'dissent': list(self.dissent),
        }


def _add_vote(record: VoteRecord, member: str, done: Behaviour, decided: Behaviour) -> None:
    record.votes[member] = behaviour_text(done)
    dissent = set(record.dissent) - {member}
    if done != decided:
        dissent.add(member)
    record.dissent = tuple(sorted(dissent))


class Elections:
    """The ballots of every voting group of a policy."""

    def __init__(self, groups: Iterable[VotingGroup] = ()) -> None:
        self.groups: dict[str, VotingGroup] = {}  # by member app
        self.ballots: dict[BallotKey, Ballot] = {}  # open, and carried rule ballots
        self.records: collections.deque[VoteRecord] = collections.deque(maxlen=RECORDS_KEPT)
        # (group, 'carried'|'no majority'|'dissent:<member>', 'rule'|'packet') -> n
        self.stats: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self.set_groups(groups)

    def set_groups(self, groups: Iterable[VotingGroup]) -> None:
        """Use these groups from now on (open ballots of groups gone are dropped)."""
        self.groups = {member: group for group in groups for member in group.members}
        names = {group.name for group in self.groups.values()}
        self.ballots = {k: b for k, b in self.ballots.items() if b.group.name in names}

    def group_of(self, app: str) -> VotingGroup | None:
        return self.groups.get(app)

    def cast(
        self, key: BallotKey, member: str, done: Behaviour, proposal: Any, now: float
    ) -> Count:
        """``member`` proposes ``proposal``, which does ``done``, in ballot ``key``."""
        group = self.groups[member]
        ballot = self.ballots.get(key)
        if ballot is None:
            ballot = self.ballots[key] = Ballot(group, now)
            self._forget_oldest_decided()
        if ballot.votes.get(member) != done:
            ballot.votes[member] = done
            ballot.proposals[member] = []
        ballot.proposals[member].append(proposal)
        count = Count()
        winner = ballot.majority()
        if winner is not None and winner != ballot.decided:
            ballot.decided = winner
            ballot.carrier = next(m for m in group.members if ballot.votes.get(m) == winner)
            self._record(key, ballot, 'carried', now)
            for voter in ballot.votes:
                self._settle(ballot, voter, count, key)
        elif ballot.decided is not None:  # the decision stands until another majority
            self._settle(ballot, member, count, key)
            if ballot.record is not None:
                _add_vote(ballot.record, member, done, ballot.decided)
        return count  # (nothing: waiting for a majority or the window's end)

    def _settle(self, ballot: Ballot, member: str, count: Count, key: BallotKey) -> None:
        """The waiting proposals of ``member`` in a carried ballot: sent (the
        carrier's), absorbed (agreeing) or refused (dissenting)."""
        pending, ballot.proposals[member] = ballot.proposals[member], []
        if not pending:
            return
        carrier = ballot.carrier
        assert carrier is not None
        if member == carrier:
            count.carried += [(member, p) for p in pending]
        elif ballot.votes[member] == ballot.decided:
            count.agreed += [(member, p, carrier) for p in pending]
        else:
            reason = self._outvoted(ballot, member)
            count.refused += [(member, p, reason) for p in pending]
            self.stats[(ballot.group.name, 'dissent:' + member, key[0])] += 1

    def _outvoted(self, ballot: Ballot, member: str) -> str:
        decided = ballot.decided
        assert decided is not None
        agreeing = sorted(m for m, v in ballot.votes.items() if v == decided)
        return 'outvoted in %s: %s voted %s, %s proposed %s' % (
            ballot.group.name,
            ', '.join(agreeing),
            behaviour_text(decided),
            member,
            behaviour_text(ballot.votes[member]),
        )

    def expire(self, now: float) -> Count:
        """End the windows that are over: an open ballot without a majority refuses its
        proposals; a packet-out ballot is done (its late votes are dropped)."""
        count = Count()
        for key, ballot in list(self.ballots.items()):
            if now - ballot.opened < ballot.group.window:
                continue
            if ballot.decided is None:
                del self.ballots[key]
                self._record(key, ballot, 'no majority', now)
                reason = 'no majority in %s within %gs: %s' % (
                    ballot.group.name,
                    ballot.group.window,
                    '; '.join(
                        '%s %s' % (m, behaviour_text(v)) for m, v in sorted(ballot.votes.items())
                    ),
                )
                for member, proposals in ballot.proposals.items():
                    count.refused += [(member, p, reason) for p in proposals]
            elif key[0] == 'packet':
                del self.ballots[key]
        return count

    def _forget_oldest_decided(self) -> None:
        if len(self.ballots) > DECIDED_KEPT:
            oldest = next(
                (k for k, b in self.ballots.items() if b.decided is not None and k[0] == 'rule'),
                None,
            )
            if oldest is not None:
                del self.ballots[oldest]

    def _record(self, key: BallotKey, ballot: Ballot, outcome: str, now: float) -> None:
        group = ballot.group.name
        self.stats[(group, outcome, key[0])] += 1
        if key[0] != 'rule':
            return  # (one per packet: counted only)
        ballot.record = VoteRecord(
            time=now,
            group=group,
            where=where_text(key),
            outcome=outcome,
            votes={m: behaviour_text(v) for m, v in sorted(ballot.votes.items())},
            carrier=ballot.carrier,
            dissent=tuple(sorted(m for m, v in ballot.votes.items() if v != ballot.decided)),
        )
        self.records.append(ballot.record)

    def view(self, limit: int = 100) -> dict[str, Any]:
        """What /arbiter/votes serves: the groups with their counts, and the latest
        ballots in which some member disagreed."""
        groups = {}
        for group in {g.name: g for g in self.groups.values()}.values():
            groups[group.name] = {
                'members': list(group.members),
                'quorum': group.quorum,
                'window_s': group.window,
                'match_on': list(group.match_on),
                'open_ballots': sum(
                    1 for b in self.ballots.values() if b.group is group and b.decided is None
                ),
                'counts': {
                    '%s %s' % (kind, what): n
                    for (name, what, kind), n in sorted(self.stats.items())
                    if name == group.name
                },
            }
        disagreements = [r.as_dict() for r in self.records if r.dissent][-limit:]
        return {'groups': groups, 'disagreements': disagreements}
