"""The REST guard of controller/rest.py as WSGI middleware, with webob test requests:
the token for every write (ours and third-party routes alike), the body limit, JSON 500
without traceback; its settings; what install() changes in Ryu. And the arbiter's
endpoints (controller/arbiter/rest.py) answering every malformed query with a JSON 400."""

import io
import logging
import types

import pytest
from ryu import cfg
from ryu.app import wsgi
from ryu.app.wsgi import ControllerBase, WSGIApplication, route
from webob import Request

from controller import rest
from controller.arbiter.engine import Arbiter
from controller.arbiter.policy import load_arbiter_policy_text
from controller.arbiter.rest import DATA_KEY, ArbiterController
from controller.rest import RestGuard, RestSettings, json_response, token_matches

TOKEN = 'correct horse battery staple'


class Echo(ControllerBase):
    """A third-party app's routes: one that reads, one that writes, one that fails."""

    @route('echo', '/echo', methods=['GET'])
    def read(self, req, **_):
        return json_response({'read': True})

    @route('echo', '/echo', methods=['POST', 'PUT', 'DELETE', 'PATCH', 'PROPFIND'])
    def write(self, req, **_):
        return json_response({'wrote': len(req.body)})

    @route('echo', '/boom', methods=['GET'])
    def boom(self, req, **_):
        raise KeyError('the secret internals')

    @route('echo', '/boom-late', methods=['GET'])
    def boom_late(self, req, **_):
        req.start_response('200 OK', [('Content-Type', 'text/plain')])
        raise RuntimeError('after the headers')


def guarded(token=TOKEN, max_body_bytes=1000):
    app = WSGIApplication()
    app.register(Echo)
    return RestGuard(app, RestSettings(token, max_body_bytes))


def call(app, path, method='GET', body=None, headers=None, **environ):
    request = Request.blank(path, method=method, headers=headers or {}, **environ)
    if body is not None:
        request.body = body
    return request.get_response(app, catch_exc_info=True)


def bearer(token=TOKEN):
    return {'Authorization': 'Bearer %s' % token}


@pytest.mark.parametrize('method', ['POST', 'PUT', 'DELETE', 'PATCH', 'PROPFIND'])
def test_a_write_without_the_token_is_refused_with_401_json(method):
    reply = call(guarded(), '/echo', method, b'{}')
    assert reply.status_int == 401 and reply.content_type == 'application/json'
    assert 'Authorization: Bearer <token>' in reply.json['error']
    assert reply.headers['WWW-Authenticate'] == 'Bearer'


@pytest.mark.parametrize(
    'header',
    [
        'Bearer wrong',
        'Bearer',
        'Basic %s' % TOKEN,
        TOKEN,
        'Bearer %s x' % TOKEN,
        'Bearer %s' % TOKEN[:-1],
        '',
    ],
)
def test_a_write_with_another_token_or_scheme_is_refused(header):
    assert call(guarded(), '/echo', 'POST', b'{}', {'Authorization': header}).status_int == 401


@pytest.mark.parametrize(
    'header', ['Bearer %s' % TOKEN, 'bearer %s' % TOKEN, '  Bearer   %s  ' % TOKEN]
)
def test_a_write_with_the_token_goes_through(header):
    reply = call(guarded(), '/echo', 'PUT', b'abc', {'Authorization': header})
    assert reply.status_int == 200 and reply.json == {'wrote': 3}


def test_the_token_also_guards_unknown_routes_but_not_reads():
    assert call(guarded(), '/nowhere', 'DELETE').status_int == 401
    assert call(guarded(), '/echo').json == {'read': True}
    assert call(guarded(), '/echo', 'HEAD').status_int == 404  # routed GET only: no 401
    assert call(guarded(), '/nowhere').status_int == 404


def test_without_a_token_writes_work_as_before():
    reply = call(guarded(token=None), '/echo', 'POST', b'xy')
    assert reply.status_int == 200 and reply.json == {'wrote': 2}


def test_token_matches_compares_whole_tokens_only():
    assert token_matches('Bearer abc', 'abc')
    assert not token_matches('Bearer abcd', 'abc')
    assert not token_matches('Bearer ab', 'abc')
    assert not token_matches(None, 'abc')
    assert not token_matches('Bearer \u00e9', 'abc')  # any text, no exception


def test_a_body_over_the_limit_is_refused_with_413_before_it_is_read():
    unread = io.BytesIO(b'x' * 1001)
    reply = call(
        guarded(),
        '/echo',
        'POST',
        headers=bearer(),
        environ={'wsgi.input': unread, 'CONTENT_LENGTH': '1001'},
    )
    assert reply.status_int == 413 and reply.content_type == 'application/json'
    assert reply.json['error'] == ('the request body is 1001 bytes, over the limit of 1000 bytes')
    assert unread.tell() == 0
    assert call(guarded(), '/echo', 'POST', b'x' * 1000, bearer()).json == {'wrote': 1000}


def chunked(body):
    return {
        'wsgi.input': io.BytesIO(body),
        'HTTP_TRANSFER_ENCODING': 'chunked',
        'CONTENT_LENGTH': '',
    }


def test_a_chunked_body_is_read_up_to_the_limit_only():
    over = io.BytesIO(b'x' * 5000)
    reply = call(
        guarded(),
        '/echo',
        'POST',
        headers=bearer(),
        environ=dict(chunked(b''), **{'wsgi.input': over}),
    )
    assert reply.status_int == 413 and over.tell() == 1001
    reply = call(guarded(), '/echo', 'POST', headers=bearer(), environ=chunked(b'x' * 999))
    assert reply.status_int == 200 and reply.json == {'wrote': 999}


def test_a_content_length_that_is_no_number_is_a_json_400():
    reply = call(guarded(), '/echo', 'POST', headers=bearer(), environ={'CONTENT_LENGTH': 'lots'})
    assert reply.status_int == 400 and reply.json['error'] == ('Content-Length is not a number')


@pytest.mark.parametrize('path', ['/boom', '/boom-late'])
def test_an_exception_is_a_json_500_without_traceback_logged_once(path, caplog):
    with caplog.at_level(logging.ERROR, logger='controller.rest'):
        reply = call(guarded(), path)
    assert reply.status_int == 500 and reply.content_type == 'application/json'
    assert reply.json == {'error': 'internal error; the controller log has the details'}
    assert b'Traceback' not in reply.body and b'secret' not in reply.body
    [record] = caplog.records
    assert record.exc_info is not None and 'GET %s' % path in record.getMessage()


# --- settings ------------------------------------------------------------------------


def conf(token=None, token_file=None, max_body_bytes=rest.DEFAULT_MAX_BODY_BYTES):
    return types.SimpleNamespace(token=token, token_file=token_file, max_body_bytes=max_body_bytes)


def test_settings_take_the_token_or_the_token_file(tmp_path):
    assert RestSettings.from_conf(conf()) == RestSettings(None, 1024 * 1024)
    assert RestSettings.from_conf(conf(' abc ')).token == 'abc'
    path = tmp_path / 'token'
    path.write_text('from-a-file\n')
    assert RestSettings.from_conf(conf(token_file=str(path))).token == 'from-a-file'


@pytest.mark.parametrize(
    'options, message',
    [
        (dict(token='  '), '[rest] token is empty'),
        (dict(token='a', token_file='/etc/hostname'), 'set one of token and token_file'),
        (dict(token_file='/nonexistent/token'), 'cannot read the token file'),
        (dict(token_file='EMPTY'), 'is empty'),
    ],
)
def test_settings_refuse_a_token_that_cannot_be_used(tmp_path, options, message):
    if options.get('token_file') == 'EMPTY':
        (tmp_path / 'empty').write_text('\n')
        options['token_file'] = str(tmp_path / 'empty')
    with pytest.raises(ValueError, match=message.replace('[', r'\[')):
        RestSettings.from_conf(conf(**options))


@pytest.mark.parametrize(
    'host, loopback',
    [
        ('127.0.0.1', True),
        ('::1', True),
        ('localhost', True),
        ('127.1.2.3', True),
        ('0.0.0.0', False),
        ('::', False),
        ('10.0.0.1', False),
        ('example.org', False),
    ],
)
def test_is_loopback(host, loopback):
    assert rest.is_loopback(host) is loopback


def test_install_makes_ryu_listen_on_loopback_by_default_and_start_the_guard():
    rest.install()
    rest.install()  # a second app: nothing more
    assert cfg.CONF.wsapi_host == '127.0.0.1'
    assert wsgi.start_service is rest.start_guarded_service
    assert cfg.CONF.rest.max_body_bytes == 1024 * 1024 and cfg.CONF.rest.token is None
    no_rest = types.SimpleNamespace(contexts={'dpset': object()})
    assert rest.start_guarded_service(no_rest) is None


# --- the arbiter's endpoints -----------------------------------------------------------


@pytest.fixture(scope='module')
def arbiter_app():
    app = WSGIApplication()
    app.register(
        ArbiterController,
        {
            DATA_KEY: Arbiter(
                load_arbiter_policy_text('', 'p.yaml'),
                send=lambda dp, msg: None,
                notify=lambda *args: None,
            )
        },
    )
    return app


@pytest.mark.parametrize(
    'query, message',
    [
        ('/arbiter/explain', 'dpid is required'),
        ('/arbiter/explain?dpid=abc', "dpid must be an integer, got 'abc'"),
        ('/arbiter/explain?dpid=-1', 'dpid must be in 0..18446744073709551615, got -1'),
        ('/arbiter/explain?dpid=%d' % 2**64, 'dpid must be in 0..'),
        ('/arbiter/explain?dpid=1&table=255', 'table must be in 0..254, got 255'),
        ('/arbiter/explain?dpid=1&table=-1', 'table must be in 0..254'),
        ('/arbiter/explain?dpid=1&table=', "table must be an integer, got ''"),
        ('/arbiter/explain?dpid=1&match=eth_type', "'eth_type' is not field=value"),
        ('/arbiter/explain?dpid=1&match=metadata=1', 'unknown match field metadata'),
        ('/arbiter/explain?dpid=1&match=tcp_dst=80', 'does not say IPv4 or IPv6'),
        ('/arbiter/explain?dpid=%ff', 'the query string is not UTF-8 text'),
        ('/arbiter/decisions?app=%ff', 'the query string is not UTF-8 text'),
        ('/arbiter/decisions?limit=ten', "limit must be an integer, got 'ten'"),
    ],
)
def test_a_malformed_arbiter_query_is_a_json_400(arbiter_app, query, message):
    reply = call(RestGuard(arbiter_app, RestSettings()), query)
    assert reply.status_int == 400 and reply.content_type == 'application/json', reply.body
    assert message in reply.json['error']


@pytest.mark.parametrize(
    'query',
    [
        '/arbiter/explain?dpid=0x1&table=0x0',
        '/arbiter/explain?dpid=7&match=eth_type=0x800,ipv4_dst=10.0.0.0/8',
        '/arbiter/decisions?limit=-1',
        '/arbiter/apps',
        '/arbiter/conflicts',
        '/arbiter/damped',
    ],
)
def test_well_formed_arbiter_queries_answer_json(arbiter_app, query):
    reply = call(arbiter_app, query)
    assert reply.status_int == 200 and reply.content_type == 'application/json'
    assert reply.json is not None
