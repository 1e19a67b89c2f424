"""The arbiter's policy: which app wins where apps' rules overlap, what each app may do,
how fights are damped and which invariants every change must keep. A YAML file, loaded
into immutable values, every mistake reported as ``file:line:col: key.path: message``
(the YAML reading and the error type are controller/config's, the match fields
controller/ofmatch.py's).

Apps are named by their module's last component, as they are typed after
``ryu-manager``: ``ryu.app.simple_switch_13`` is ``simple_switch_13``,
``apps/l2_learning.py`` is ``l2_learning``. Flow-mods no app can be found for belong to
``unknown``.

    order: [rest_firewall, simple_switch_13]   # earlier wins where rules overlap
    pipeline:                    # optional: stages, each in tables of its own
      - [rest_firewall]          #   stage 0: tables 0.. ; output NORMAL = next stage
      - [simple_switch_13]       #   stage 1: the app's table 0 is table 1 here
    apps:
      rest_firewall:
        security: true           # its drop rules win over anyone's (deny wins)
        tables: 1                # tables the app uses (default 1)
      steer_via_3:
        flowspace:               # the header space the app may touch at all
          - {eth_type: 0x800, ipv4_dst: 10.0.0.0/24}
        may: [output]            # of drop, output, modify, controller (default all)
        max_rules: 100           # rules per switch
        flow_mod_rate: 20        # flow-mods per second (token bucket) ...
        flow_mod_burst: 40       # ... and its bucket (default: the rate)
    overrides:                   # a winner for one region, before the order
      - {match: {eth_type: 0x800, ipv4_dst: 10.0.0.9}, winner: steer_via_3, dpid: 1}
    damping:                     # RFC 2439 flap damping of contested regions
      {penalty: 1000, suppress: 2000, reuse: 750, half_life: 30, max_suppress: 120}
    topology:                    # links the gate walks (LLDP-discovered links add to it)
      links: [[1, 2, 2, 1]]      # dpid, port, dpid, port
      hosts: {h1: {dpid: 1, port: 1, ip: 10.0.0.1}}
    invariants:
      no_loops: true
      no_black_holes: true
      isolation: [[h1, h3]]      # host pairs that must never reach each other
    unknown: lowest              # flow-mods of no known app: 'lowest' rank or 'refuse'
    voting:                      # N-version voting (controller/arbiter/voting.py)
      l2:                        #   a group's name
        members: [simple_switch_13, learning_replica, flooding_replica]
        quorum: 2                #   members that must agree (default: a majority)
        window: 1.0              #   seconds a ballot waits for votes (default 1)
        match_on: [eth_dst]      #   match fields compared (default: all)
"""

import ipaddress
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from controller import ofmatch
from controller.arbiter.voting import VotingGroup
from controller.config.frozen import FrozenDict
from controller.config.schema import describe, strict_validator
from controller.config.yaml_source import DEFAULT_MAX_BYTES, Path, load_checked, load_file

UNKNOWN_APP = 'unknown'
RIGHTS = ('drop', 'output', 'modify', 'controller')
ALL_RIGHTS = frozenset(RIGHTS)
MAX_TABLES = 254  # OpenFlow 1.3 table ids 0..254 (255 is OFPTT_ALL)
MAX_DPID = 2**64 - 1


@dataclass(frozen=True)
class AppPolicy:
    """What one app may do. ``flowspace`` is a tuple of (match fields, TernaryMatch); an
    empty tuple allows all header space. ``line`` is where the app's entry is (None for
    an app the file does not list)."""

    name: str
    security: bool = False
    tables: int = 1
    flowspace: tuple[tuple[FrozenDict, Any], ...] = ()
    may: frozenset[str] = frozenset(RIGHTS)
    max_rules: int | None = None
    flow_mod_rate: float | None = None
    flow_mod_burst: int | None = None
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Override:
    """``winner`` wins wherever two apps' rules overlap inside ``match`` (on ``dpid``, or
    on every switch)."""

    index: int
    fields: FrozenDict
    match: Any  # TernaryMatch
    winner: str
    dpid: int | None = None
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Damping:
    """Flap damping after RFC 2439: each override of a region by another app adds
    ``penalty``; the penalty halves every ``half_life`` seconds; above ``suppress`` the
    region is damped (the policy's winner stays, the others are held back) until it
    decays below ``reuse``; it never stays damped longer than ``max_suppress``."""

    penalty: float = 1000.0
    suppress: float = 2000.0
    reuse: float = 750.0
    half_life: float = 30.0
    max_suppress: float = 120.0

    @property
    def ceiling(self) -> float:
        """The highest penalty kept: one that decays to ``reuse`` in ``max_suppress``."""
        return self.reuse * 2 ** (self.max_suppress / self.half_life)


@dataclass(frozen=True)
class Host:
    name: str
    dpid: int
    port: int
    ip: str | None = None


@dataclass(frozen=True)
class Invariants:
    no_loops: bool = True
    no_black_holes: bool = True
    isolation: tuple[tuple[str, str], ...] = ()
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ArbiterPolicy:
    """The whole policy. ``clause_line`` maps a clause's key path ('order',
    'apps.x.flowspace', ...) to its line, so decisions can cite it."""

    source: str = '<default>'
    order: tuple[str, ...] = ()
    pipeline: tuple[tuple[str, ...], ...] = ()
    apps: FrozenDict = FrozenDict()
    overrides: tuple[Override, ...] = ()
    damping: Damping = Damping()
    links: tuple[tuple[int, int, int, int], ...] = ()  # (dpid, port, dpid, port)
    hosts: FrozenDict = FrozenDict()
    invariants: Invariants = Invariants()
    unknown: str = 'lowest'
    voting: tuple[VotingGroup, ...] = ()
    lines: FrozenDict = field(default=FrozenDict(), compare=False)
    # name -> AppPolicy, found once (a plain dict: asked on every flow-mod)
    _by_name: dict[str, AppPolicy] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def app(self, name: str) -> AppPolicy:
        """The AppPolicy of ``name``; an app the file does not list may do anything."""
        found = self._by_name.get(name)
        if found is None:
            found = self.apps[name] if name in self.apps else AppPolicy(name)
            self._by_name[name] = found
        return found

    def unrestricted(self, name: str) -> bool:
        """Whether ``name`` may propose anything, as often as it likes (no flowspace,
        rights, budget or rate): no rights check can refuse its rules."""
        app = self.app(name)
        return (
            not app.flowspace
            and app.may >= ALL_RIGHTS
            and app.max_rules is None
            and app.flow_mod_rate is None
            and not (name == UNKNOWN_APP and self.unknown == 'refuse')
        )

    def rank(self, name: str) -> int:
        """Position in ``order`` (0 wins over 1); unordered apps after every ordered one,
        all equal; ``unknown`` last of all."""
        if name in self.order:
            return self.order.index(name)
        return len(self.order) + (1 if name == UNKNOWN_APP else 0)

    def cite(self, path: str) -> str:
        """'order (policy.yaml:3)': a clause and where it is written."""
        line = self.lines.get(path)
        return '%s (%s:%d)' % (path, self.source, line) if line else '%s (%s)' % (path, self.source)

    def stage_of(self, app: str) -> tuple[int | None, int, int | None]:
        """(index of the app's pipeline stage, its first table, the next stage's first
        table or None for the last stage). An app outside the pipeline keeps its tables:
        (None, 0, None)."""
        base = 0
        for index, stage in enumerate(self.pipeline):
            width = max(self.app(name).tables for name in stage)
            if app in stage:
                last = index == len(self.pipeline) - 1
                return index, base, None if last else base + width
            base += width
        return None, 0, None


DEFAULT_POLICY = ArbiterPolicy()


# --- the JSON Schema -------------------------------------------------------------------


def _int(low, high, expect):
    return {'type': 'integer', 'minimum': low, 'maximum': high, 'expect': expect}


def _number(low, expect):
    return {'type': ['number', 'integer'], 'exclusiveMinimum': low, 'expect': expect}


def _mapping(properties, expect, required=()):
    schema = {
        'type': 'object',
        'expect': expect,
        'properties': properties,
        'additionalProperties': False,
    }
    if required:
        schema['required'] = list(required)
    return schema


_APP_NAME = {
    'type': 'string',
    'minLength': 1,
    'expect': "an app name (its module's last part, e.g. simple_switch_13)",
}
_APP_LIST = {'type': 'array', 'items': _APP_NAME, 'expect': 'a list of app names'}
_DPID = {
    'type': 'integer',
    'minimum': 0,
    'maximum': MAX_DPID,
    'expect': 'a datapath id, an integer 0..2**64-1',
}
_PORT = _int(1, ofmatch.OFPP_MAX, 'a port number 1..0xffffff00')
_MATCH = _mapping(
    {
        name: {'type': kind.json_types, 'expect': kind.expect}
        for name, kind in ofmatch.MATCH_FIELDS.items()
    },
    'match fields (OpenFlow 1.3 names)',
)
_MATCH['properties'].update(
    {alias: _MATCH['properties'][name] for alias, name in ofmatch.ALIASES.items()}
)

_APP = _mapping(
    {
        'security': {'type': 'boolean', 'expect': 'true or false'},
        'tables': _int(1, MAX_TABLES, 'the number of tables the app uses, 1..254'),
        'flowspace': {
            'type': 'array',
            'items': _MATCH,
            'minItems': 1,
            'expect': 'a list of matches (the header space the app may touch)',
        },
        'may': {
            'type': 'array',
            'uniqueItems': True,
            'items': {'enum': list(RIGHTS), 'expect': 'one of %s' % ', '.join(RIGHTS)},
            'expect': 'a list of rights: %s' % ', '.join(RIGHTS),
        },
        'max_rules': _int(0, 2**31 - 1, 'the most rules per switch, an integer >= 0'),
        'flow_mod_rate': _number(0, 'flow-mods per second, a number > 0'),
        'flow_mod_burst': _int(1, 2**31 - 1, 'flow-mods at once, an integer >= 1'),
    },
    'app settings (security, tables, flowspace, may, max_rules, flow_mod_rate, flow_mod_burst)',
)

_HOST = _mapping(
    {
        'dpid': _DPID,
        'port': _PORT,
        'ip': {'type': 'string', 'expect': 'an IPv4 address'},
    },
    'a host (dpid, port, ip)',
    required=['dpid', 'port'],
)

POLICY_SCHEMA = _mapping(
    {
        'order': dict(_APP_LIST, expect='a list of app names, the winner first'),
        'pipeline': {
            'type': 'array',
            'minItems': 1,
            'items': dict(_APP_LIST, minItems=1, expect='a list of the app names of one stage'),
            'expect': 'a list of stages, each a list of app names',
        },
        'apps': {
            'type': 'object',
            'additionalProperties': _APP,
            'expect': 'a mapping of app name -> app settings',
        },
        'overrides': {
            'type': 'array',
            'expect': 'a list of overrides',
            'items': _mapping(
                {'match': _MATCH, 'winner': _APP_NAME, 'dpid': _DPID},
                'an override (match, winner, dpid)',
                required=['match', 'winner'],
            ),
        },
        'damping': _mapping(
            {
                'penalty': _number(0, 'the penalty of one override, a number > 0'),
                'suppress': _number(0, 'the penalty above which a region is damped'),
                'reuse': _number(0, 'the penalty below which a damped region is released'),
                'half_life': _number(0, 'seconds for the penalty to halve'),
                'max_suppress': _number(0, 'the longest a region stays damped, seconds'),
            },
            'damping settings (penalty, suppress, reuse, half_life, max_suppress)',
        ),
        'topology': _mapping(
            {
                'links': {
                    'type': 'array',
                    'expect': 'a list of [dpid, port, dpid, port]',
                    'items': {
                        'type': 'array',
                        'minItems': 4,
                        'maxItems': 4,
                        'prefixItems': [_DPID, _PORT, _DPID, _PORT],
                        'expect': 'a link [dpid, port, dpid, port]',
                    },
                },
                'hosts': {
                    'type': 'object',
                    'additionalProperties': _HOST,
                    'expect': 'a mapping of host name -> dpid, port, ip',
                },
            },
            'the topology (links, hosts)',
        ),
        'invariants': _mapping(
            {
                'no_loops': {'type': 'boolean', 'expect': 'true or false'},
                'no_black_holes': {'type': 'boolean', 'expect': 'true or false'},
                'isolation': {
                    'type': 'array',
                    'expect': 'a list of [host, host] pairs',
                    'items': {
                        'type': 'array',
                        'minItems': 2,
                        'maxItems': 2,
                        'items': {'type': 'string', 'expect': 'a host name'},
                        'expect': 'a pair of host names',
                    },
                },
            },
            'invariants (no_loops, no_black_holes, isolation)',
        ),
        'unknown': {'enum': ['lowest', 'refuse'], 'expect': "'lowest' or 'refuse'"},
        'voting': {
            'type': 'object',
            'expect': 'a mapping of voting group name -> members, quorum, window, match_on',
            'additionalProperties': _mapping(
                {
                    'members': dict(
                        _APP_LIST, minItems=2, expect='a list of two or more app names'
                    ),
                    'quorum': _int(1, 2**31 - 1, 'how many members must agree, an integer'),
                    'window': _number(0, 'seconds a ballot waits for votes, a number > 0'),
                    'match_on': {
                        'type': 'array',
                        'minItems': 1,
                        'uniqueItems': True,
                        'items': {
                            'enum': list(ofmatch.MATCH_FIELDS),
                            'expect': 'an OpenFlow 1.3 match field name',
                        },
                        'expect': 'a list of match field names',
                    },
                },
                'a voting group (members, quorum, window, match_on)',
                required=['members'],
            ),
        },
    },
    'a mapping with order, pipeline, apps, overrides, damping, topology, invariants, '
    'unknown, voting',
)

_VALIDATOR = strict_validator(POLICY_SCHEMA)


def _schema_issues(data: Any) -> Iterator[tuple[Path, str, bool]]:
    """(path, message, at_key) for every place ``data`` breaks POLICY_SCHEMA, worded
    with each schema's 'expect'."""
    for error in _VALIDATOR.iter_errors(data):
        path = tuple(error.absolute_path)
        schema, value, kind = error.schema, error.instance, error.validator
        expect = schema.get('expect', '')
        if kind == 'additionalProperties':
            for key in value:
                if key not in schema.get('properties', {}):
                    yield (
                        path + (key,),
                        "unknown key '%s'; expected one of %s"
                        % (key, ', '.join(schema['properties'])),
                        True,
                    )
        elif kind == 'required':
            for key in error.validator_value:
                if key not in value:
                    yield (
                        path,
                        "missing key '%s' (%s)" % (key, schema['properties'][key]['expect']),
                        False,
                    )
        elif kind in ('minItems', 'maxItems', 'minLength'):
            yield path, 'expected %s; got %s' % (expect, describe(value)), False
        elif kind == 'uniqueItems':
            yield path, 'an item is listed twice; expected %s' % expect, False
        elif kind in ('minimum', 'maximum', 'exclusiveMinimum'):
            yield path, '%s is out of range; expected %s' % (value, expect), False
        else:
            yield path, 'expected %s; got %s' % (expect, describe(value)), False


# --- loading ---------------------------------------------------------------------------


def load_arbiter_policy(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> ArbiterPolicy:
    """The ArbiterPolicy in the YAML file at ``path``; ConfigError (every problem, each
    with file:line:col) if it is unreadable, not a regular file, larger than
    ``max_bytes`` or wrong."""
    return load_file(path, load_arbiter_policy_text, max_bytes)


def load_arbiter_policy_text(text: str | bytes, filename: str = '<string>') -> ArbiterPolicy:
    """The ArbiterPolicy in ``text`` (str or UTF-8 bytes)."""
    if _empty(text):
        # An empty file is a valid policy: every app ranks equal and may do anything.
        return ArbiterPolicy(source=filename)
    return load_checked(
        text,
        filename,
        POLICY_SCHEMA['expect'],
        _schema_issues,
        lambda source: _Builder(source).build(),
    )


class _Builder:
    """The model from schema-checked data, and the checks across places. Values of a wrong
    type were reported by the schema and are skipped here."""

    def __init__(self, source):
        self.source = source
        self.lines = {}
        self.known_apps = set()

    def issue(self, path: Path, message: str) -> None:
        if not self.source.has_issue_at(path):
            self.source.issue(path, message)

    def _line(self, *path):
        line = self.source.line_of(path)
        if line:
            self.lines['.'.join(str(p) for p in path)] = line
        return line

    def build(self) -> ArbiterPolicy | None:
        data = self.source.data
        if not isinstance(data, dict):
            return None
        order = self._names(data.get('order'), ('order',))
        pipeline = self._pipeline(data.get('pipeline'))
        self.known_apps = (
            set(order) | {n for stage in pipeline for n in stage} | set(_dict(data.get('apps')))
        )
        apps = {
            name: self._app(name, conf)
            for name, conf in (data.get('apps') or {}).items()
            if isinstance(conf, dict)
        }
        overrides = tuple(
            self._override(index, conf)
            for index, conf in enumerate(_list(data.get('overrides')))
            if isinstance(conf, dict)
        )
        hosts = self._hosts(_dict(_dict(data.get('topology')).get('hosts')))
        links = tuple(
            tuple(link)
            for link in _list(_dict(data.get('topology')).get('links'))
            if isinstance(link, list) and len(link) == 4
        )
        self._line('topology', 'links')
        invariants = self._invariants(_dict(data.get('invariants')), hosts)
        damping = self._damping(_dict(data.get('damping')))
        voting = self._voting(_dict(data.get('voting')))
        for name in ('unknown',):
            self._line(name)
        return ArbiterPolicy(
            source=self.source.filename,
            order=order,
            pipeline=pipeline,
            apps=FrozenDict(apps),
            overrides=overrides,
            damping=damping,
            links=links,
            hosts=FrozenDict(hosts),
            invariants=invariants,
            unknown=data.get('unknown', 'lowest'),
            voting=voting,
            lines=FrozenDict(self.lines),
        )

    def _names(self, names, path):
        self._line(*path)
        seen = []
        for index, name in enumerate(_list(names)):
            if not isinstance(name, str):
                continue
            if name in seen:
                self.issue(path + (index,), "app '%s' is listed twice" % name)
            seen.append(name)
        return tuple(seen)

    def _pipeline(self, stages):
        self._line('pipeline')
        result, seen = [], {}
        for index, stage in enumerate(_list(stages)):
            names = self._names(stage, ('pipeline', index))
            for position, name in enumerate(names):
                if name in seen:
                    self.issue(
                        ('pipeline', index, position),
                        "app '%s' is in stage %d "
                        "already; an app has one stage" % (name, seen[name]),
                    )
                seen.setdefault(name, index)
            result.append(names)
        return tuple(result)

    def _app(self, name, conf):
        path = ('apps', name)
        line = self._line(*path)
        for key in conf:
            self._line(*path, key)
        flowspace = tuple(
            self._match(path + ('flowspace', index), fields)
            for index, fields in enumerate(_list(conf.get('flowspace')))
            if isinstance(fields, dict)
        )
        rate = conf.get('flow_mod_rate')
        burst = conf.get('flow_mod_burst')
        if burst is not None and rate is None:
            self.issue(path + ('flow_mod_burst',), 'flow_mod_burst needs flow_mod_rate')
        may = conf.get('may')
        return AppPolicy(
            name=name,
            security=conf.get('security') is True,
            tables=conf.get('tables') if isinstance(conf.get('tables'), int) else 1,
            flowspace=tuple(f for f in flowspace if f is not None),
            may=frozenset(may) if isinstance(may, list) else frozenset(RIGHTS),
            max_rules=conf.get('max_rules'),
            flow_mod_rate=float(rate) if isinstance(rate, (int, float)) else None,
            flow_mod_burst=burst
            if burst is not None
            else (max(1, math.ceil(rate)) if isinstance(rate, (int, float)) else None),
            line=line,
        )

    def _match(self, path, fields):
        """(fields, TernaryMatch) of a match mapping; None (reported) if it is wrong."""
        from ryu.ofproto import ofproto_v1_3_parser as parser

        from controller.arbiter.match import TernaryMatch

        match, problems = ofmatch.normalise_match(
            fields, lambda key: self.source.plain.get(path + (key,))
        )
        for key, message in problems:
            self.issue(path + (key,), message)
        if problems:
            return None
        return FrozenDict(match), TernaryMatch.from_ofp(parser.OFPMatch(**match))

    def _override(self, index, conf):
        path = ('overrides', index)
        line = self._line(*path)
        match = self._match(path + ('match',), _dict(conf.get('match'))) or (FrozenDict(), None)
        winner = conf.get('winner')
        if isinstance(winner, str) and winner not in self.known_apps:
            self.issue(
                path + ('winner',),
                "unknown app '%s'; name it under order, pipeline or apps first" % winner,
            )
        return Override(
            index=index,
            fields=match[0],
            match=match[1],
            winner=conf.get('winner'),
            dpid=conf.get('dpid'),
            line=line,
        )

    def _hosts(self, conf):
        hosts = {}
        for name, host in conf.items():
            if not isinstance(host, dict):
                continue
            ip = host.get('ip')
            if isinstance(ip, str):
                try:
                    ipaddress.IPv4Address(ip)
                except ValueError:
                    self.issue(
                        ('topology', 'hosts', name, 'ip'), 'expected an IPv4 address; got %r' % ip
                    )
                    ip = None
            hosts[name] = Host(
                name, host.get('dpid'), host.get('port'), ip if isinstance(ip, str) else None
            )
        return hosts

    def _invariants(self, conf, hosts):
        line = self._line('invariants')
        pairs = []
        for index, pair in enumerate(_list(conf.get('isolation'))):
            if not (isinstance(pair, list) and len(pair) == 2):
                continue
            for position, name in enumerate(pair):
                if isinstance(name, str) and name not in hosts:
                    self.issue(
                        ('invariants', 'isolation', index, position),
                        "unknown host '%s'; hosts under topology.hosts: %s"
                        % (name, ', '.join(hosts) or 'none'),
                    )
            pairs.append(tuple(pair))
        self._line('invariants', 'isolation')
        return Invariants(
            no_loops=conf.get('no_loops', True) is not False,
            no_black_holes=conf.get('no_black_holes', True) is not False,
            isolation=tuple(pairs),
            line=line,
        )

    def _voting(self, conf):
        groups, seen = [], {}
        for name, group in conf.items():
            if not isinstance(group, dict) or not isinstance(group.get('members'), list):
                continue
            path = ('voting', name)
            line = self._line(*path)
            members = self._names(group['members'], path + ('members',))
            for position, member in enumerate(members):
                if member in seen:
                    self.issue(
                        path + ('members', position),
                        "app '%s' votes in group '%s' already; an app is in one group"
                        % (member, seen[member]),
                    )
                seen.setdefault(member, name)
            quorum = group.get('quorum')
            if not isinstance(quorum, int) or isinstance(quorum, bool):
                quorum = len(members) // 2 + 1
            elif not len(members) / 2 < quorum <= len(members):
                self.issue(
                    path + ('quorum',),
                    '%d is not a majority of the %d members; expected %d..%d'
                    % (quorum, len(members), len(members) // 2 + 1, len(members)),
                )
            window = group.get('window', 1.0)
            match_on = group.get('match_on')
            groups.append(
                VotingGroup(
                    name=str(name),
                    members=members,
                    quorum=quorum,
                    window=float(window) if isinstance(window, (int, float)) else 1.0,
                    match_on=tuple(match_on) if isinstance(match_on, list) else (),
                    clause='voting.%s (%s:%s)' % (name, self.source.filename, line),
                )
            )
        return tuple(groups)

    def _damping(self, conf):
        self._line('damping')
        values = {
            key: float(value)
            for key, value in conf.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
        }
        damping = Damping(**{k: v for k, v in values.items() if k in Damping.__dataclass_fields__})
        if damping.reuse >= damping.suppress:
            self.issue(
                ('damping', 'reuse' if 'reuse' in conf else 'suppress'),
                'reuse (%g) must be below suppress (%g), or a damped region '
                'would never be released' % (damping.reuse, damping.suppress),
            )
        return damping


def _empty(text):
    """Whether ``text`` holds no YAML document (nothing, or comments only); a text
    that does not even parse is not empty, the loader reports it. Only the first
    events are parsed: a large file is read once, by the loader."""
    try:
        events = yaml.parse(text, Loader=yaml.SafeLoader)
        next(events)  # the stream's start
        return isinstance(next(events), yaml.StreamEndEvent)
    except (yaml.YAMLError, UnicodeDecodeError, StopIteration):
        return False


def _list(value):
    return value if isinstance(value, list) else []


def _dict(value):
    return value if isinstance(value, dict) else {}


def policy_path(path: str | None, config_files: Iterable[str] | None) -> str | None:
    """``path`` as given if it exists (or is absolute, or None), else beside the first
    config file that has it: a config file can name its policy wherever ryu-manager
    runs."""
    if not path or os.path.isabs(path) or os.path.exists(path):
        return path
    for config in config_files or ():
        beside = os.path.join(os.path.dirname(os.path.abspath(config)), path)
        if os.path.exists(beside):
            return beside
    return path  # (the loader then says it does not exist)
