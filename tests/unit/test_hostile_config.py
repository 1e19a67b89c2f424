"""Hostile policy files and REST clients against the real ``ryu-manager``, with an
emulated OpenFlow 1.3 switch (bench/ofemu.py) standing in for a switch:

- a 4 MB policy reloads while the switch's packet-ins keep being answered within 1 s
  (vswitch_policy and the arbiter);
- a policy file that is too large, a FIFO or a link to /dev/zero is refused, the old
  policy stays, and a later good file is applied;
- REST listens on 127.0.0.1 unless opened; with a token, writes without it are refused
  on every route (rest_firewall's under the arbiter too); bodies are limited; no answer
  carries a traceback; an unusable token file stops the start.

No root and no Mininet: these run with the unit tests.
"""

import asyncio
import http.client
import json
import os
import shutil
import signal
import statistics
import time
import urllib.error
import urllib.request

import pytest

from bench import ofemu
from controller.vswitch import pipeline
from tests.harness.controller import REPO, RyuController, listening
from tests.harness.large_policies import (
    FIREWALL_THEN_SWITCH,
    THREE_TENANTS,
    large_arbiter_policy,
    large_vswitch_policy,
    write_atomically,
)

ARBITER_CONF = os.path.join(REPO, 'examples', 'arbiter', 'firewall_then_switch.conf')
ARBITER_APPS = ['apps/arbiter.py', 'ryu.app.simple_switch_13', 'ryu.app.rest_firewall']
TOKEN = 's3cret-token'
DST = bytes.fromhex('020000000001')


def fresh_sources(vid=None):
    """Packet-ins from port 1, each from a new source MAC (a learning app answers every
    one); tagged with ``vid`` if given (as vswitch_policy's SRC_MISS rule sends them)."""
    n = 0
    while True:
        n += 1
        src = ofemu.probe_mac(1, n)
        tag = b'\x81\x00' + vid.to_bytes(2, 'big') if vid else b''
        yield 1, src, DST, DST + src + tag + b'\x08\x00' + bytes(46)


class Traffic:
    """One emulated switch (dpid 1) sending packet-ins at ``rate`` per second, one
    outstanding at a time, each answer's round trip recorded."""

    def __init__(self, ryu, cookie, vid=None, rate=20):
        self.switch = ofemu.EmulatedSwitch(1, n_ports=6, port=ryu.ofp_port, cookie=cookie)
        self.vid, self.rate = vid, rate

    async def __aenter__(self):
        await self.switch.start(20.0)
        self.switch.start_traffic(fresh_sources(self.vid), 1, rate=self.rate, record_latency=True)
        await asyncio.sleep(1.0)
        assert self.switch.take_latencies(), 'no packet-in answered before the test'
        return self

    async def __aexit__(self, *exc):
        self.switch.close()

    async def until(self, ryu, needle, count=1, timeout=120.0):
        """Wait until ``needle`` is in ``count`` lines of the log; the round trips
        meanwhile (seconds)."""
        deadline = time.monotonic() + timeout
        while len(ryu.log_lines(needle)) < count:
            assert time.monotonic() < deadline, ryu.log_tail()
            await asyncio.sleep(0.1)
        return self.switch.take_latencies()


def sighup(ryu):
    os.kill(ryu.pid, signal.SIGHUP)


def vswitch(tmp_path, **options):
    policy = str(tmp_path / 'policy.yaml')
    shutil.copy(THREE_TENANTS, policy)
    # Every packet-in teaches a new host: no max_hosts may refuse (and not answer) one.
    config = dict(policy_file=policy, default_max_hosts=100000, reload_poll=60, **options)
    return policy, RyuController(
        ['apps/vswitch_policy.py'], str(tmp_path / 'ryu.log'), config={'vswitch_policy': config}
    )


def arbiter(tmp_path, **options):
    policy = str(tmp_path / 'arbiter.yaml')
    shutil.copy(FIREWALL_THEN_SWITCH, policy)
    return policy, RyuController(
        ARBITER_APPS, str(tmp_path / 'ryu.log'), config={'arbiter': dict(policy=policy, **options)}
    )


SRC_MISS = pipeline.COOKIES.cookie(pipeline.SRC_MISS)
APPS = {  # start, packet-in cookie and VLAN tag, what a reload logs when done
    'vswitch_policy': (vswitch, large_vswitch_policy, SRC_MISS, 100, 'policy reload (SIGHUP)'),
    'arbiter': (arbiter, large_arbiter_policy, ofemu.FROM_TABLE_MISS, None, 'arbiter: policy'),
}


# --- policy files --------------------------------------------------------------------------


@pytest.mark.parametrize('name', sorted(APPS))
def test_packet_ins_are_answered_within_1s_while_a_4mb_policy_reloads(
    name, tmp_path, record_property
):
    start, large, cookie, vid, done = APPS[name]
    policy, controller = start(tmp_path)

    async def run(ryu):
        async with Traffic(ryu, cookie, vid) as traffic:
            write_atomically(policy, large(4 * 1024 * 1024))
            started = time.monotonic()
            sighup(ryu)
            during = await traffic.until(ryu, done, count=2 if name == 'arbiter' else 1)
            return time.monotonic() - started, during, traffic.switch.timeouts

    with controller as ryu:
        took, during, timeouts = asyncio.run(run(ryu))
        log = ryu.log_text()
    assert 'refused' not in log and 'Traceback' not in log, log
    record_property('reload_seconds', round(took, 2))
    record_property('largest_round_trip_s', round(max(during), 3))
    print(
        '%s: a 4 MB policy reloaded in %.1f s; %d packet-ins answered meanwhile, '
        'round trip median %.1f ms, largest %.0f ms'
        % (name, took, len(during), statistics.median(during) * 1000, max(during) * 1000)
    )
    assert timeouts == 0
    assert len(during) >= took * 20 / 3  # about one every 50 ms, all along
    assert max(during) < 1.0


def _replace(path, kind):
    os.remove(path)
    if kind == 'fifo':
        os.mkfifo(path)
    elif kind == 'zero':
        os.symlink('/dev/zero', path)
    else:  # 50 MB, as the issue's: sparse, made in no time
        with open(path, 'wb') as f:
            f.truncate(50 * 1024 * 1024)


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        return next(int(line.split()[1]) for line in f if line.startswith('VmRSS'))


@pytest.mark.parametrize('name', sorted(APPS))
def test_bad_files_keep_the_old_policy_and_a_later_good_one_applies(name, tmp_path):
    start, large, cookie, vid, _ = APPS[name]
    policy, controller = start(tmp_path, max_policy_bytes=20000)
    refused = 'policy reload (SIGHUP) refused' if name != 'arbiter' else 'refused policy'
    with open(policy) as f:
        good = f.read()

    async def run(ryu):
        async with Traffic(ryu, cookie, vid) as traffic:
            flow_mods = traffic.switch.flow_mods
            round_trips = []
            rss_before = rss_kib(ryu.pid)
            steps = [
                ('over the limit', lambda: write_atomically(policy, large(30000))),
                ('50 MB', lambda: _replace(policy, '50 MB')),
                ('a FIFO', lambda: _replace(policy, 'fifo')),
                ('a link to /dev/zero', lambda: _replace(policy, 'zero')),
            ]
            for number, (_, make_bad) in enumerate(steps, 1):
                make_bad()
                sighup(ryu)
                round_trips += await traffic.until(ryu, refused, count=number, timeout=30)
            rss_growth = rss_kib(ryu.pid) / rss_before
            os.remove(policy)
            if name == 'arbiter':  # the app that the order puts first changes
                changed = good.replace(
                    'order: [rest_firewall, simple_switch_13]',
                    'order: [simple_switch_13, rest_firewall]',
                )
                applied = 'arbiter: policy %s reloaded' % policy
            else:  # s1's port 2 moves from VLAN green to blue
                changed = good.replace(
                    '2: {name: h2, native_vlan: green}', '2: {name: h2, native_vlan: blue}'
                )
                applied = 'policy reload (SIGHUP) applied'
            assert changed != good
            write_atomically(policy, changed)
            sighup(ryu)
            round_trips += await traffic.until(ryu, applied, timeout=30)
            await asyncio.sleep(0.5)
            round_trips += traffic.switch.take_latencies()
            return (
                round_trips,
                traffic.switch.flow_mods - flow_mods,
                traffic.switch.timeouts,
                rss_growth,
            )

    with controller as ryu:
        round_trips, new_flow_mods, timeouts, rss_growth = asyncio.run(run(ryu))
        log = ryu.log_text()
        assert ryu.alive()
    assert 'Traceback' not in log, log
    for what in (
        'over the limit of 20000 bytes',
        'it is 52428800 bytes, over the limit',
        'it is a FIFO (named pipe)',
        'a character device (a symbolic link to /dev/zero)',
    ):
        assert what in log, log
    assert rss_growth < 1.2, 'refusing the files grew RSS by %.2fx' % rss_growth
    if name == 'vswitch_policy':
        assert 'policy reload (SIGHUP) applied: 0 rule changes' not in log
        assert new_flow_mods > len(round_trips)  # the new rules, beyond the learning
    assert timeouts == 0 and max(round_trips) < 1.0


# --- REST ----------------------------------------------------------------------------------


def request(ryu, path, method='GET', body=None, token=None):
    """(status, content type, body) of ``method path`` on the controller's REST API."""
    headers = {'Authorization': 'Bearer %s' % token} if token else {}
    call = urllib.request.Request(
        'http://127.0.0.1:%d%s' % (ryu.wsapi_port, path), data=body, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(call, timeout=10) as reply:
            return reply.status, reply.headers.get_content_type(), reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get_content_type(), error.read()


def announce_body(ryu, path, size, token):
    """(status, content type, body) of a POST that announces a body of ``size`` bytes
    and sends none: a server that refuses it by its length answers at once (one that
    waited for the body would time out)."""
    connection = http.client.HTTPConnection('127.0.0.1', ryu.wsapi_port, timeout=10)
    try:
        connection.putrequest('POST', path)
        connection.putheader('Content-Length', str(size))
        connection.putheader('Authorization', 'Bearer %s' % token)
        connection.endheaders()
        reply = connection.getresponse()
        return reply.status, reply.headers.get_content_type(), reply.read()
    finally:
        connection.close()


def refused_json(answer, status):
    code, content_type, body = answer
    assert (code, content_type) == (status, 'application/json'), answer
    return json.loads(body)['error']


ENABLE = '/firewall/module/enable/0000000000000001'
RULES = '/firewall/rules/0000000000000001'
RULE = json.dumps({'nw_src': '10.0.0.1/32', 'nw_proto': 'ICMP', 'actions': 'DENY'}).encode()
MALFORMED_ARBITER_QUERIES = [
    '/arbiter/explain',
    '/arbiter/explain?dpid=zz',
    '/arbiter/explain?dpid=-1',
    '/arbiter/explain?dpid=1&table=999',
    '/arbiter/explain?dpid=1&match=nonsense',
    '/arbiter/explain?dpid=1&match=tcp_dst=80',
    '/arbiter/explain?dpid=%ff',
    '/arbiter/decisions?app=%ff%fe',
    '/arbiter/decisions?limit=x',
]


def test_rest_writes_need_the_token_on_every_route_under_the_arbiter(tmp_path):
    controller = RyuController(
        ARBITER_APPS,
        str(tmp_path / 'ryu.log'),
        config={'rest': {'token': TOKEN}},
        extra_args=['--config-file', ARBITER_CONF],
    )

    async def run(ryu):
        switch = ofemu.EmulatedSwitch(1, n_ports=4, port=ryu.ofp_port, cookie=ofemu.FROM_TABLE_MISS)
        await switch.start(20.0)
        try:
            return await asyncio.to_thread(requests, ryu)
        finally:
            switch.close()

    def requests(ryu):
        answers = {}
        for method, path, body in [
            ('PUT', ENABLE, None),
            ('POST', ENABLE, None),
            ('POST', RULES, RULE),
            ('DELETE', RULES, b'{}'),
        ]:
            answers['no token', method, path] = request(ryu, path, method, body)
            answers['wrong token', method, path] = request(ryu, path, method, body, token='guess')
        answers['status'] = request(ryu, '/firewall/module/status')
        answers['enable'] = request(ryu, ENABLE, 'PUT', token=TOKEN)
        answers['rule'] = request(ryu, RULES, 'POST', RULE, token=TOKEN)
        answers['too large'] = announce_body(ryu, RULES, 1024 * 1024 + 1, TOKEN)
        for query in MALFORMED_ARBITER_QUERIES:
            answers[query] = request(ryu, query)
        return answers

    with controller as ryu:
        answers = asyncio.run(run(ryu))
        log = ryu.log_text()
    for key, answer in answers.items():
        assert b'Traceback' not in answer[2], (key, answer)
        if key[0] in ('no token', 'wrong token'):
            assert 'Bearer <token>' in refused_json(answer, 401), key
    assert answers['status'][0] == 200
    assert answers['enable'][0] == 200 and b'firewall running' in answers['enable'][2]
    assert answers['rule'][0] == 200 and b'Rule added' in answers['rule'][2]
    assert 'over the limit of 1048576 bytes' in refused_json(answers['too large'], 413)
    for query in MALFORMED_ARBITER_QUERIES:
        refused_json(answers[query], 400)
    assert 'REST: listening on 127.0.0.1:%d; writes need the token' % ryu.wsapi_port in log
    assert 'Traceback' not in log, log


def test_stable_routing_rest_errors_are_json_without_traceback(tmp_path):
    queries = [
        '/stable/sft/zz',
        '/stable/sft/%ff',
        '/stable/sft/1',
        '/stable/history?limit=%ff',
        '/stable/history?limit=x',
        '/stable/unprotected',
    ]
    with RyuController(['apps/stable_routing.py'], str(tmp_path / 'ryu.log')) as ryu:
        answers = {query: request(ryu, query) for query in queries}
        log = ryu.log_text()
    for query, (status, content_type, body) in answers.items():
        assert status in (400, 404) and content_type == 'application/json', (query, body)
        assert b'Traceback' not in body and 'error' in json.loads(body)
    assert 'Traceback' not in log, log


class Unbound(RyuController):
    """ryu-manager without the harness's --wsapi-host: Ryu's default, or ours."""

    def __init__(self, *args, wsapi_host=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.wsapi_host = wsapi_host

    @property
    def command(self):
        command = super().command
        at = command.index('--wsapi-host')
        if self.wsapi_host is None:
            del command[at : at + 2]
        else:
            command[at + 1] = self.wsapi_host
        return command


def listening_address(port):
    """The local addresses that listen on TCP ``port`` (from /proc/net/tcp)."""
    found = set()
    with open('/proc/net/tcp') as f:
        next(f)
        for line in f:
            local, state = line.split()[1], line.split()[3]
            address, number = local.split(':')
            if state == '0A' and int(number, 16) == port:
                found.add('.'.join(str(b) for b in reversed(bytes.fromhex(address))))
    return found


@pytest.mark.parametrize(
    'host, bound, warned', [(None, '127.0.0.1', False), ('0.0.0.0', '0.0.0.0', True)]
)
def test_rest_listens_on_loopback_unless_opened_and_warns_if_opened_without_token(
    tmp_path, host, bound, warned
):
    with Unbound(
        ARBITER_APPS,
        str(tmp_path / 'ryu.log'),
        wsapi_host=host,
        extra_args=['--config-file', ARBITER_CONF],
    ) as ryu:
        deadline = time.monotonic() + 10
        while not listening(ryu.wsapi_port) and time.monotonic() < deadline:
            time.sleep(0.1)
        addresses = listening_address(ryu.wsapi_port)
        # Without a token, writes still work (from where the server is reachable).
        answer = request(ryu, '/firewall/module/enable/0000000000000001', 'PUT')
        log = ryu.log_text()
    assert addresses == {bound}, log
    assert answer[0] != 401
    assert ('without a token: anyone who reaches this host can change forwarding' in log) is warned


def test_an_unreadable_token_file_stops_the_start(tmp_path):
    controller = RyuController(
        ARBITER_APPS,
        str(tmp_path / 'ryu.log'),
        config={'rest': {'token_file': str(tmp_path / 'missing')}},
        extra_args=['--config-file', ARBITER_CONF],
    )
    try:
        controller.start()  # (OpenFlow may listen for a moment while it exits)
    except RuntimeError:
        pass
    try:
        assert controller.process.wait(timeout=20) != 0
    finally:
        controller.stop()
    assert 'REST: cannot read the token file %s' % (tmp_path / 'missing') in controller.log_text()
