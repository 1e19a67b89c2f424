"""The one guard in front of Ryu's REST server, for every app of the process.

Every Ryu app that serves REST (ours: the arbiter, stable_routing; third-party ones such
as ``ryu.app.rest_firewall``) registers its routes on the one WSGIApplication that
ryu-manager serves with ``ryu.app.wsgi.WSGIServer`` on ``--wsapi-host``:``--wsapi-port``.
:func:`install`, called when our apps are imported (once per process, whichever comes
first), puts :class:`RestGuard` between that server and the application, and:

- makes ``--wsapi-host`` default to 127.0.0.1 instead of Ryu's 0.0.0.0: the REST API
  can change forwarding (rest_firewall's rules, the arbiter's decisions), so it is
  reachable from this host only unless the operator opens it (``--wsapi-host 0.0.0.0``,
  with a token: a warning is logged when it is opened without one);
- with a token configured (``[rest] token = ...`` or ``token_file = ...`` in the
  ``--config-file``), refuses every request that may write (any method but GET, HEAD
  and OPTIONS, on every route, ours and third-party ones) without the header
  ``Authorization: Bearer <token>``: 401 with a JSON body. The token is compared in
  constant time;
- refuses a request body over ``[rest] max_body_bytes`` (1 MiB by default) with 413,
  before reading it;
- answers an exception of any app with a JSON 500 without the traceback (eventlet's
  server would put the traceback in the body), and logs the traceback once.

:func:`json_response` is how our endpoints answer, errors included.
"""

import hashlib
import hmac
import io
import ipaddress
import json
import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ryu import cfg
from ryu.app import wsgi

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

LOOPBACK = '127.0.0.1'
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# Methods that only read: every other method needs the token (default deny, so that a
# WebDAV-like verb of some third-party app is not an open door).
READ_METHODS = frozenset({'GET', 'HEAD', 'OPTIONS'})

OPTIONS = [
    cfg.StrOpt(
        'token',
        default=None,
        secret=True,
        help='the bearer token every REST write request must carry '
        '(Authorization: Bearer <token>); none: writes need no token',
    ),
    cfg.StrOpt('token_file', default=None, help='a file holding the token (instead of token)'),
    cfg.IntOpt(
        'max_body_bytes',
        default=DEFAULT_MAX_BODY_BYTES,
        min=0,
        help='a REST request body larger than this many bytes is refused',
    ),
]

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict, StartResponse], Iterable[bytes]]


def json_response(body: Any, status: int = 200) -> wsgi.Response:
    """A JSON answer (values JSON does not know, such as a dpid's int subclass or a
    match, written as their str)."""
    return wsgi.Response(
        status=status,
        content_type='application/json',
        charset='utf-8',
        body=json.dumps(body, indent=1, sort_keys=True, default=str),
    )


@dataclass(frozen=True)
class RestSettings:
    """What the guard enforces: ``token`` None lets writes through."""

    token: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    @classmethod
    def from_conf(cls, conf: Any) -> 'RestSettings':
        """The settings of the ``[rest]`` section; ValueError for a token that cannot
        be used (both options set, an unreadable or empty token file, an empty token)."""
        token = conf.token
        if conf.token_file:
            if token:
                raise ValueError('set one of token and token_file in [rest], not both')
            try:
                with open(conf.token_file, encoding='utf-8') as f:
                    token = f.read().strip()
            except (OSError, UnicodeDecodeError) as error:
                raise ValueError(
                    'cannot read the token file %s: %s'
                    % (conf.token_file, getattr(error, 'strerror', error))
                ) from None
            if not token:
                raise ValueError('the token file %s is empty' % conf.token_file)
        elif token is not None and not token.strip():
            raise ValueError('[rest] token is empty')
        return cls(token.strip() if token else None, conf.max_body_bytes)


def token_matches(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header value carries ``token`` as a bearer token.
    Constant time: both sides are hashed first, so neither the length nor the place of
    the first difference shows in the time taken."""
    scheme, _, given = (authorization or '').strip().partition(' ')
    if scheme.lower() != 'bearer':
        return False
    return hmac.compare_digest(
        hashlib.sha256(given.strip().encode()).digest(), hashlib.sha256(token.encode()).digest()
    )


class RestGuard:
    """WSGI middleware around Ryu's WSGIApplication: token check for writes, body size
    limit, JSON 500 for exceptions."""

    def __init__(self, app: WsgiApp, settings: RestSettings) -> None:
        self.app = app
        self.settings = settings

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get('REQUEST_METHOD', 'GET').upper()
        if (
            self.settings.token is not None
            and method not in READ_METHODS
            and not token_matches(environ.get('HTTP_AUTHORIZATION'), self.settings.token)
        ):
            return _error(
                start_response,
                401,
                'this request changes state: it needs '
                'the header "Authorization: Bearer <token>" with the token of '
                'the [rest] section',
                [('WWW-Authenticate', 'Bearer')],
            )
        refusal = self._limit_body(environ)
        if refusal is not None:
            return _error(start_response, *refusal)
        started: list[bool] = []

        def tracking_start_response(*args: Any) -> Any:
            started.append(True)
            return start_response(*args)

        try:
            return self.app(environ, tracking_start_response)
        except Exception:
            LOG.exception('REST %s %s failed; answered 500', method, environ.get('PATH_INFO', ''))
            return _error(
                start_response,
                500,
                'internal error; the controller log has the details',
                exc_info=sys.exc_info() if started else None,
            )

    def _limit_body(self, environ: dict) -> tuple[int, str] | None:
        """(status, message) refusing the body, or None. A chunked body has no length
        up front: it is read here, up to the limit, and handed on from memory."""
        limit = self.settings.max_body_bytes
        length = environ.get('CONTENT_LENGTH') or ''
        if length:
            try:
                size = int(length)
            except ValueError:
                return 400, 'Content-Length is not a number'
            if size > limit:
                return 413, 'the request body is %d bytes, over the limit of %d bytes' % (
                    size,
                    limit,
                )
            return None
        if 'chunked' not in environ.get('HTTP_TRANSFER_ENCODING', '').lower():
            return None
        body = environ['wsgi.input'].read(limit + 1)
        if len(body) > limit:
            return 413, 'the request body is over the limit of %d bytes' % limit
        environ['wsgi.input'] = io.BytesIO(body)
        environ['CONTENT_LENGTH'] = str(len(body))
        del environ['HTTP_TRANSFER_ENCODING']
        return None


def _error(
    start_response: StartResponse,
    status: int,
    message: str,
    headers: list[tuple[str, str]] | None = None,
    exc_info: Any = None,
) -> Iterable[bytes]:
    response = json_response({'error': message}, status)
    response.headerlist.extend(headers or [])
    start_response(response.status, response.headerlist, *([exc_info] if exc_info else []))
    return [response.body]


def register_once(wsgi: Any, controller: type) -> None:
    """Register ``controller``'s routes on the process's WSGIApplication unless they
    are already: routes every app of the process serves (/metrics, /ui/) are asked for
    by each app, and served once. ``wsgi`` None (an app built without Ryu's contexts):
    nothing."""
    if wsgi is None:
        return
    served = wsgi.__dict__.setdefault('sdn_registered', set())
    if controller not in served:
        wsgi.register(controller)
        served.add(controller)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name) is this machine only."""
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def start_guarded_service(app_mgr: Any) -> Any:
    """What ``ryu.app.wsgi.start_service`` does (ryu-manager calls it once every app is
    loaded: the REST server of the process's WSGIApplication, if an app asked for one),
    with :class:`RestGuard` in front of the application. SystemExit for a ``[rest]``
    section that cannot be used: the operator asked for a token, none is better."""
    application = next(
        (
            instance
            for instance in app_mgr.contexts.values()
            if type(instance) is wsgi.WSGIApplication
        ),
        None,
    )
    if application is None:
        return None
    try:
        settings = RestSettings.from_conf(CONF.rest)
    except ValueError as error:
        raise SystemExit('REST: %s' % error) from None
    host, port = CONF.wsapi_host, CONF.wsapi_port
    if settings.token is None and not is_loopback(host):
        LOG.warning(
            'REST: listening on %s:%d without a token: anyone who reaches this '
            'host can change forwarding; set [rest] token or token_file '
            '(docs/security.md)',
            host,
            port,
        )
    LOG.info(
        'REST: listening on %s:%d; writes %s; bodies up to %d bytes',
        host,
        port,
        'need the token' if settings.token else 'need no token',
        settings.max_body_bytes,
    )
    return wsgi.WSGIServer(RestGuard(application, settings))


def install() -> None:
    """Guard this process's REST server (idempotent): register ``[rest]``, make
    ``--wsapi-host`` default to 127.0.0.1, and have ryu-manager start its server with
    :func:`start_guarded_service` (it looks ``ryu.app.wsgi.start_service`` up when it
    calls it, after loading every app)."""
    if wsgi.start_service is start_guarded_service:
        return
    CONF.register_opts(OPTIONS, group='rest')
    CONF.set_default('wsapi_host', LOOPBACK)
    wsgi.start_service = start_guarded_service
