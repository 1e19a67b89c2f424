"""``sdn-stable``: what apps/stable_routing.py is doing, from its REST endpoints.

    sdn-stable [--url http://127.0.0.1:8080] epoch        current epoch, its age, pending
    sdn-stable triggers                                   triggers waiting for an epoch
    sdn-stable history [-n 20]                            recent epochs, timings, entries changed
    sdn-stable sft DPID                                   one switch's stable table
    sdn-stable unprotected                                next hops with no loop-free backup

``--json`` prints the endpoint's JSON as is. The URL is Ryu's WSGI address
(``--wsapi-host``/``--wsapi-port`` of ryu-manager; 8080 by default); the endpoints are
controller/stable/rest.py. Also ``python -m controller.stable.cli``.
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

DEFAULT_URL = 'http://127.0.0.1:8080'


def fetch(url: str, path: str) -> Any:
    try:
        with urllib.request.urlopen(url.rstrip('/') + path, timeout=10) as reply:
            return json.loads(reply.read())
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read()).get('error', error.reason)
        except ValueError:
            message = error.reason
        raise SystemExit('sdn-stable: %s%s: %s' % (url, path, message)) from None
    except (urllib.error.URLError, OSError) as error:
        raise SystemExit(
            'sdn-stable: cannot reach %s (%s); is ryu-manager running '
            'apps/stable_routing.py with --wsapi-port?' % (url, error)
        ) from None


def format_epoch(status: dict) -> str:
    if status['epoch'] is None:
        head = 'no epoch installed yet'
    else:
        head = 'epoch %d (version VID %d), installed %.1f s ago' % (
            status['epoch'],
            status['version_vid'],
            status['age_s'],
        )
    return '%s\nlast epoch cut: %s; pending triggers: %d; switches: %d; hosts: %d' % (
        head,
        status['last_epoch_cut'],
        status['pending_triggers'],
        status['switches'],
        status['hosts'],
    )


def format_triggers(triggers: list[dict]) -> str:
    if not triggers:
        return 'no pending triggers'
    return '\n'.join(
        '%s  %s  %-11s %s' % (t['id'], _clock(t['at']), t['kind'], t['detail']) for t in triggers
    )


def format_history(records: list[dict]) -> str:
    lines = [
        '%6s  %-8s  %-10s %8s %4s %5s %5s %10s %8s %10s %8s'
        % (
            'epoch',
            'cut at',
            'state',
            'triggers',
            'sw',
            'links',
            'hosts',
            'compute ms',
            'check ms',
            'install ms',
            'changed',
        )
    ]
    for r in records:
        lines.append(
            '%6d  %-8s  %-10s %8d %4d %5d %5d %10.1f %8.1f %10.1f %8s'
            % (
                r['number'],
                _clock(r['cut_at']),
                r['state'],
                r['trigger_count'],
                r['switches'],
                r['links'],
                r['hosts'],
                r['compute_ms'],
                r['check_ms'],
                r['install_ms'],
                r.get('changed', '-'),  # forward entries sent (a controller before it: -)
            )
        )
        lines += ['        ! %s' % problem for problem in r['problems']]
        lines += [
            '        ! switch %s %s' % (f['switch'], f['reason']) for f in r.get('faults', [])
        ]
        lines += [
            '        - switch %s left out as faulty (%d failures, last: %s)'
            % (e['switch'], e['failures'], e['reason'])
            for e in r.get('excluded', [])
        ]
    return '\n'.join(lines)


def format_sft(table: dict) -> str:
    lines = [
        'switch %s, epoch %d' % (table['dpid'], table['epoch']),
        '%-17s  %s' % ('host', 'action'),
    ]
    for e in table['entries']:
        if 'deliver_port' in e:
            action = 'deliver on port %d' % e['deliver_port']
        else:
            action = 'port %d to %s' % (e['port'], e['next_hop'])
            action += (
                ', backup port %d to %s' % (e['backup_port'], e['backup_next_hop'])
                if e['backup_port'] is not None
                else ', no loop-free backup'
            )
        lines.append('%-17s  %s' % (e['host'], action))
    return '\n'.join(lines)


def format_unprotected(body: dict) -> str:
    if not body['entries']:
        return 'epoch %d: every next hop has a loop-free backup' % body['epoch']
    lines = [
        'epoch %d: %d next hops without a loop-free backup (a failure of theirs '
        'waits for the next epoch)' % (body['epoch'], len(body['entries'])),
        '%-16s  %-16s  %s' % ('switch', 'towards switch', 'hosts there'),
    ]
    lines += [
        '%-16s  %-16s  %s' % (e['switch'], e['destination'], ' '.join(e['hosts']))
        for e in body['entries']
    ]
    return '\n'.join(lines)


def _clock(at: float) -> str:
    return time.strftime('%H:%M:%S', time.localtime(at))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='sdn-stable', description=__doc__.split('\n')[0])
    parser.add_argument('--url', default=DEFAULT_URL, help='Ryu WSGI address')
    parser.add_argument('--json', action='store_true', help='print the raw JSON')
    commands = parser.add_subparsers(dest='command', required=True)
    commands.add_parser('epoch', help='the epoch in force')
    commands.add_parser('triggers', help='pending triggers')
    history = commands.add_parser('history', help='recent epochs')
    history.add_argument('-n', type=int, default=20, help='how many (default 20)')
    sft = commands.add_parser('sft', help="a switch's stable forwarding table")
    sft.add_argument('dpid', help='datapath id, hexadecimal')
    commands.add_parser('unprotected', help='next hops without a loop-free backup')
    args = parser.parse_args(argv)

    endpoints: dict[str, tuple[str, Callable[[Any], str]]] = {
        'epoch': ('/stable/epoch', format_epoch),
        'triggers': ('/stable/triggers', format_triggers),
        'history': ('/stable/history?limit=%d' % getattr(args, 'n', 20), format_history),
        'sft': ('/stable/sft/%s' % getattr(args, 'dpid', ''), format_sft),
        'unprotected': ('/stable/unprotected', format_unprotected),
    }
    path, formatter = endpoints[args.command]
    body = fetch(args.url, path)
    print(json.dumps(body, indent=1) if args.json else formatter(body))
    return 0


if __name__ == '__main__':
    sys.exit(main())
