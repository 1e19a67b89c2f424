"""The arbiter's REST API on Ryu's WSGI server (``--wsapi-port``), JSON throughout:

    GET /arbiter/conflicts    rules held back, rewritten or shared, with the clause
    GET /arbiter/decisions    recent decisions (?app=NAME, ?limit=N; newest last)
    GET /arbiter/damped       match regions damped now, the apps fighting, who is kept
    GET /arbiter/apps         per app: rules per switch, decisions by outcome, cookie range
    GET /arbiter/explain?dpid=1&table=0&match=eth_type=0x800,ipv4_dst=10.0.0.2
                              the rules overlapping that region, in effect first, held
                              rules, damping, decisions about it
    GET /arbiter/votes        voting groups with their counts, and the latest ballots
                              in which a member disagreed (?limit=N)

A request that cannot be answered gets a JSON ``{"error": ...}`` with 400 (a parameter
that is not what it should be: not an integer, a dpid outside 64 bits, a table outside
0..254, a match that does not parse, text that is not UTF-8). controller/rest.py guards
the server these run on (token for writes, body limit, a JSON 500 for anything else).
"""

from typing import Any

from ryu.app.wsgi import ControllerBase, Response, route

from controller import ofmatch
from controller.arbiter.match import TernaryMatch
from controller.cookies import APP_SHIFT
from controller.rest import json_response

DATA_KEY = 'arbiter'
MAX_DPID = 2**64 - 1
MAX_TABLE = 254  # OpenFlow 1.3 table ids (255 is OFPTT_ALL)
EXPLAIN_USAGE = '/arbiter/explain?dpid=1&table=0&match=eth_type=0x800,ipv4_dst=10.0.0.2'


def parse_match_text(text: str | None) -> TernaryMatch:
    """'eth_type=0x800,ipv4_dst=10.0.0.0/24' -> TernaryMatch; ValueError with what is
    wrong. Fields and values as in a policy file."""
    from ryu.ofproto import ofproto_v1_3_parser as parser

    fields = {}
    for part in filter(None, (text or '').split(',')):
        key, equals, value = part.partition('=')
        if not equals:
            raise ValueError('%r is not field=value' % part)
        fields[key.strip()] = value.strip()
    unknown = [k for k in fields if ofmatch.field_name(k) is None]
    if unknown:
        raise ValueError(
            'unknown match field %s; known: %s'
            % (', '.join(unknown), ', '.join(ofmatch.MATCH_FIELDS))
        )
    match, problems = ofmatch.normalise_match(fields)
    if problems:
        raise ValueError('; '.join('%s: %s' % p for p in problems))
    return TernaryMatch.from_ofp(parser.OFPMatch(**match))


def query_int(query: Any, name: str, default: int | None, low: int, high: int) -> int:
    """The integer parameter ``name`` of a request's query (decimal, or 0x hex and the
    like), ``default`` if absent; ValueError saying what is wrong. The query's text
    itself may be what is wrong (UnicodeDecodeError is a ValueError)."""
    text = query.get(name)
    if text is None:
        if default is None:
            raise ValueError('%s is required' % name)
        return default
    try:
        value = int(text.strip(), 0)
    except ValueError:
        raise ValueError('%s must be an integer, got %r' % (name, text[:40])) from None
    if not low <= value <= high:
        raise ValueError('%s must be in %d..%d, got %d' % (name, low, high, value))
    return value


def _bad_request(error: ValueError) -> Response:
    if isinstance(error, UnicodeDecodeError):
        return json_response({'error': 'the query string is not UTF-8 text'}, 400)
    return json_response({'error': str(error)}, 400)


class ArbiterController(ControllerBase):
    """Read-only views of the arbiter's state."""

    def __init__(self, req: Any, link: Any, data: dict, **config: Any) -> None:
        super().__init__(req, link, data, **config)
        self.arbiter = data[DATA_KEY]

    @route('arbiter', '/arbiter/conflicts', methods=['GET'])
    def conflicts(self, req: Any, **_: Any) -> Response:
        return json_response(self.arbiter.conflicts())

    @route('arbiter', '/arbiter/decisions', methods=['GET'])
    def decisions(self, req: Any, **_: Any) -> Response:
        try:
            app = req.GET.get('app')
            limit = query_int(req.GET, 'limit', 100, -(2**63), 2**63)
        except ValueError as error:
            return _bad_request(error)
        found = [d.as_dict() for d in self.arbiter.decisions if app in (None, d.app)]
        return json_response(found[-limit:] if limit > 0 else [])

    @route('arbiter', '/arbiter/damped', methods=['GET'])
    def damped(self, req: Any, **_: Any) -> Response:
        return json_response(self.arbiter.damped())

    @route('arbiter', '/arbiter/apps', methods=['GET'])
    def apps(self, req: Any, **_: Any) -> Response:
        arbiter = self.arbiter
        counts = arbiter.rule_counts()
        names = set(counts) | {app for app, _ in arbiter.counts}
        return json_response(
            {
                app: {
                    'rules': {str(dpid): n for dpid, n in counts.get(app, {}).items()},
                    'decisions': {
                        outcome: n for (name, outcome), n in arbiter.counts.items() if name == app
                    },
                    'cookie_range': '0x%04x' % arbiter.cookies.app_id(app)
                    if app in arbiter.cookies.ids
                    else None,
                    'cookie_shift': APP_SHIFT,
                }
                for app in sorted(names)
            }
        )

    @route('arbiter', '/arbiter/explain', methods=['GET'])
    def explain(self, req: Any, **_: Any) -> Response:
        try:
            dpid = query_int(req.GET, 'dpid', None, 0, MAX_DPID)
            table = query_int(req.GET, 'table', 0, 0, MAX_TABLE)
            match = parse_match_text(req.GET.get('match', ''))
        except UnicodeDecodeError as error:
            return _bad_request(error)
        except ValueError as error:
            return json_response({'error': '%s; for example %s' % (error, EXPLAIN_USAGE)}, 400)
        return json_response(self.arbiter.explain(dpid, table, match))

    @route('arbiter', '/arbiter/votes', methods=['GET'])
    def votes(self, req: Any, **_: Any) -> Response:
        try:
            limit = query_int(req.GET, 'limit', 100, 0, 2**31)
        except ValueError as error:
            return _bad_request(error)
        return json_response(self.arbiter.elections.view(limit))
