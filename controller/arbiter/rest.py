"""The arbiter's REST API on Ryu's WSGI server (``--wsapi-port``), JSON throughout:

    GET /arbiter/conflicts    rules held back, rewritten or shared, with the clause
    GET /arbiter/decisions    recent decisions (?app=NAME, ?limit=N; newest last)
    GET /arbiter/damped       match regions damped now, the apps fighting, who is kept
    GET /arbiter/apps         per app: rules per switch, decisions by outcome, cookie range
    GET /arbiter/explain?dpid=1&table=0&match=eth_type=0x800,ipv4_dst=10.0.0.2
                              the rules overlapping that region, in effect first, held
                              rules, damping, decisions about it
"""

import json

from ryu.app.wsgi import ControllerBase, Response, route

from controller.arbiter.match import TernaryMatch
from controller.cookies import APP_SHIFT
from controller import ofmatch

DATA_KEY = 'arbiter'


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
        raise ValueError('unknown match field %s; known: %s' % (
            ', '.join(unknown), ', '.join(ofmatch.MATCH_FIELDS)))
    match, problems = ofmatch.normalise_match(fields)
    if problems:
        raise ValueError('; '.join('%s: %s' % p for p in problems))
    return TernaryMatch.from_ofp(parser.OFPMatch(**match))


def _json(body, status=200):
    return Response(status=status, content_type='application/json', charset='utf-8',
                    body=json.dumps(body, indent=1, sort_keys=True, default=str))


class ArbiterController(ControllerBase):
    """Read-only views of the arbiter's state."""

    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.arbiter = data[DATA_KEY]

    @route('arbiter', '/arbiter/conflicts', methods=['GET'])
    def conflicts(self, req, **_):
        return _json(self.arbiter.conflicts())

    @route('arbiter', '/arbiter/decisions', methods=['GET'])
    def decisions(self, req, **_):
        app = req.GET.get('app')
        try:
            limit = int(req.GET.get('limit', 100))
        except ValueError:
            return _json({'error': 'limit must be an integer'}, 400)
        found = [d.as_dict() for d in self.arbiter.decisions if app in (None, d.app)]
        return _json(found[-limit:] if limit > 0 else [])

    @route('arbiter', '/arbiter/damped', methods=['GET'])
    def damped(self, req, **_):
        return _json(self.arbiter.damped())

    @route('arbiter', '/arbiter/apps', methods=['GET'])
    def apps(self, req, **_):
        arbiter = self.arbiter
        counts = arbiter.rule_counts()
        names = set(counts) | {app for app, _ in arbiter.counts}
        return _json({app: {
            'rules': {str(dpid): n for dpid, n in counts.get(app, {}).items()},
            'decisions': {outcome: n for (name, outcome), n in arbiter.counts.items()
                          if name == app},
            'cookie_range': '0x%04x' % arbiter.cookies.app_id(app)
            if app in arbiter.cookies.ids else None,
            'cookie_shift': APP_SHIFT,
        } for app in sorted(names)})

    @route('arbiter', '/arbiter/explain', methods=['GET'])
    def explain(self, req, **_):
        try:
            dpid = int(req.GET['dpid'], 0)
            table = int(req.GET.get('table', '0'), 0)
            match = parse_match_text(req.GET.get('match', ''))
        except KeyError:
            return _json({'error': 'dpid is required: /arbiter/explain?dpid=1&table=0'
                                   '&match=eth_type=0x800,ipv4_dst=10.0.0.2'}, 400)
        except ValueError as error:
            return _json({'error': str(error)}, 400)
        return _json(self.arbiter.explain(dpid, table, match))
