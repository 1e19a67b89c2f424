"""cbench for OpenFlow 1.3: emulated switches send packet-ins, we count the answers.

    .venv/bin/python -m bench.cbench --controller 127.0.0.1:6653 --switches 16 \\
        --hosts 100 --mode throughput --loops 5 --loop-seconds 2 --warmup 1 [--json out.json]

    # start the controller too (ryu-manager of this environment, on a free port,
    # stopped at the end):
    .venv/bin/python -m bench.cbench --start-app ryu.app.simple_switch_13 --switches 4
    .venv/bin/python -m bench.cbench --start-app one_flowmod --switches 4   # bench/apps/

    # FAUCET (bench/faucet.py: its own venv, built on first use; a faucet.yaml for the
    # emulated switches; packet-ins as its eth_src table sends them):
    .venv/bin/python -m bench.cbench --start-faucet --switches 4

    # memory: RSS of the controller after it has learned 1k, 10k, 100k MACs
    .venv/bin/python -m bench.cbench --start-app ryu.app.simple_switch_13 \\
        --memory 1000,10000,100000 --memory-rate 5000

The report gives, per loop, the responses (FLOW_MOD + PACKET_OUT messages, as cbench
counts them) per second of each switch and in all, the packet-ins answered per second
(one per packet-in, whatever the app sends: the figure to compare apps), then
min/max/avg/median over the loops, and in latency mode the round-trip percentiles.
How replies are matched to packet-ins, what "ready" means and the defaults are
explained in ``bench/ofemu.py``. Exit status: 0, 2 when the benchmark failed (the
error names the switch and the phase), 1 on bad arguments.
"""

import argparse
import json
import os
import sys
import tempfile

from bench import faucet
from bench.ofemu import (
    DEFAULT_WINDOW,
    FROM_TABLE_MISS,
    OFPR_ACTION,
    OFPR_NO_MATCH,
    BenchError,
    measure_memory_sync,
    run_benchmark_sync,
)
from tests.harness.controller import RyuController

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_APPS = os.path.join(REPO, 'bench', 'apps')


# --- running ryu-manager -------------------------------------------------------------------


def resolve_app(app):
    """A file path (made absolute), a bench app name (``one_flowmod`` ->
    bench/apps/one_flowmod.py) or a module name (``ryu.app.simple_switch_13``)."""
    if os.path.exists(app):
        return os.path.abspath(app)
    candidate = os.path.join(BENCH_APPS, app + '.py')
    if '.' not in app and '/' not in app and os.path.exists(candidate):
        return candidate
    return app


# --- report --------------------------------------------------------------------------------


def _per_switch(values, seconds, limit=64):
    shown = ' '.join('%.0f' % (v / seconds) for v in values[:limit])
    return shown + (' ...' if len(values) > limit else '')


def format_loop(lp):
    label = 'warm-up %2d' % (lp.index + 1) if lp.warmup else 'loop %5d' % (lp.index + 1)
    return (
        '%s: %d switches: responses/s %s  total = %.2f per ms | %.1f responses/s '
        '(answered %.1f/s, flow-mods %.1f/s, packet-outs %.1f/s%s)'
        % (
            label,
            len(lp.per_switch_responses),
            _per_switch(lp.per_switch_responses, lp.seconds),
            lp.responses_per_s / 1000.0,
            lp.responses_per_s,
            lp.answered_per_s,
            lp.flow_mods_per_s,
            lp.packet_outs_per_s,
            ', %d timeouts' % lp.timeouts if lp.timeouts else '',
        )
    )


def format_summary(r):
    lines = []
    learn = r.learn
    lines.append(
        'handshake: %d switches ready in %.3f s; learning: %d packet-ins, '
        '%d answered, %d timeouts in %.3f s'
        % (
            r.n_switches,
            r.handshake_seconds,
            learn.packet_ins,
            learn.answered,
            learn.timeouts,
            learn.seconds,
        )
    )
    s, a = r.responses_summary(), r.answered_summary()
    if s['min'] is not None:
        lines.append(
            'RESULT: %d switches %d loops min/max/avg/median = '
            '%.2f/%.2f/%.2f/%.2f responses/s (stdev %.2f)'
            % (r.n_switches, len(r.loops), s['min'], s['max'], s['avg'], s['median'], s['stdev'])
        )
        lines.append(
            '        answered packet-ins min/max/avg/median = '
            '%.2f/%.2f/%.2f/%.2f per s' % (a['min'], a['max'], a['avg'], a['median'])
        )
    lat = r.latency()
    if lat:
        lines.append(
            'latency (round trip, %d samples): min %.0f  p50 %.0f  p90 %.0f  '
            'p99 %.0f  max %.0f  mean %.0f us'
            % (
                lat['n'],
                lat['min'] * 1e6,
                lat['p50'] * 1e6,
                lat['p90'] * 1e6,
                lat['p99'] * 1e6,
                lat['max'] * 1e6,
                lat['mean'] * 1e6,
            )
        )
    t = r.totals
    lines.append(
        'totals: %d packet-ins, %d answered, %d timeouts, %d flow-mods, '
        '%d packet-outs, %d group-mods, %d extra replies, %d unmatched'
        % (
            t['packet_ins'],
            t['answered'],
            t['timeouts'],
            t['flow_mods'],
            t['packet_outs'],
            t['group_mods'],
            t['extra'],
            t['unmatched'],
        )
    )
    if r.controller_errors:
        lines.append(
            'controller sent %d OFPT_ERROR (dpid, type, code, xid): %s'
            % (len(r.controller_errors), r.controller_errors[:5])
        )
    return '\n'.join(lines)


def format_memory(m):
    lines = [
        'memory of pid %d (%s), %d switches x %d ports: baseline %d KiB'
        % (m.pid, m.controller, m.n_switches, m.n_ports, m.baseline_rss_kib),
        '%10s %12s %12s %9s %9s %9s'
        % ('macs', 'rss KiB', 'delta KiB', 'seconds', 'answered', 'timeouts'),
    ]
    for p in m.points:
        lines.append(
            '%10d %12d %12d %9.2f %9d %9d'
            % (
                p.macs,
                p.rss_kib,
                p.rss_kib - m.baseline_rss_kib,
                p.learn.seconds,
                p.learn.answered,
                p.learn.timeouts,
            )
        )
    return '\n'.join(lines)


# --- command line --------------------------------------------------------------------------


def _controller(text):
    host, sep, port = text.rpartition(':')
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError('expected HOST:PORT, got %r' % text)
    return host, int(port)


def _cookie(text):
    if text == FROM_TABLE_MISS:
        return text
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError('expected an integer or %r' % FROM_TABLE_MISS) from None


def _counts(text):
    try:
        counts = [int(x) for x in text.replace('k', '000').split(',') if x]
    except ValueError:
        raise argparse.ArgumentTypeError('expected a list like 1000,10000,100000') from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError('MAC counts must be >= 1')
    return counts


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog='python -m bench.cbench',
        description='cbench-like OpenFlow 1.3 controller benchmark (emulated switches)',
    )
    p.add_argument(
        '--controller',
        type=_controller,
        default=('127.0.0.1', 6653),
        metavar='HOST:PORT',
        help='controller to connect to (default %(default)s)',
    )
    p.add_argument('--switches', type=int, default=16, help='emulated switches (16)')
    p.add_argument(
        '--hosts', type=int, default=100, help='hosts per switch, learned before measuring (100)'
    )
    p.add_argument('--ports', type=int, default=4, help='ports per switch (4)')
    p.add_argument('--mode', choices=('throughput', 'latency'), default='throughput')
    p.add_argument('--loops', type=int, default=10, help='measured loops (10)')
    p.add_argument('--loop-seconds', type=float, default=1.0, help='seconds per loop (1)')
    p.add_argument('--warmup', type=int, default=1, help='warm-up loops, not counted (1)')
    p.add_argument(
        '--window',
        type=int,
        default=None,
        help='throughput mode: outstanding packet-ins per switch (%d)' % DEFAULT_WINDOW,
    )
    p.add_argument(
        '--cookie',
        type=_cookie,
        default=0,
        help="packet-in cookie: an integer or '%s' (0)" % FROM_TABLE_MISS,
    )
    p.add_argument(
        '--reason',
        choices=('no_match', 'action'),
        default='no_match',
        help='packet-in reason (no_match)',
    )
    p.add_argument(
        '--response-timeout',
        type=float,
        default=2.0,
        help='seconds after which an unanswered packet-in is given up (2)',
    )
    p.add_argument('--handshake-timeout', type=float, default=15.0)
    p.add_argument(
        '--src-macs',
        type=int,
        default=100000,
        help='distinct source MACs per switch in the measured phase (100000)',
    )
    p.add_argument('--json', metavar='PATH', help='also write the result as JSON')
    p.add_argument('--quiet', action='store_true', help='no per-loop lines')
    g = p.add_argument_group('controller started by the benchmark')
    g.add_argument(
        '--start-app',
        nargs='+',
        metavar='APP',
        help='start ryu-manager APP... on a free port (file, module, or a name '
        'of bench/apps/), benchmark it, stop it',
    )
    g.add_argument(
        '--default-log-level',
        type=int,
        default=30,
        help="ryu-manager's --default-log-level (30: warnings; INFO logging of "
        "every packet-in would be measured too)",
    )
    g.add_argument(
        '--ryu-arg',
        action='append',
        default=[],
        metavar='ARG',
        help='extra argument for ryu-manager (repeatable), e.g. --ryu-arg=--config-file=my.conf',
    )
    g.add_argument(
        '--start-faucet',
        action='store_true',
        help='start FAUCET instead (bench/faucet.py), with a faucet.yaml for '
        'the emulated switches, and send packet-ins as its pipeline does',
    )
    g.add_argument('--app-log', metavar='PATH', help="keep ryu-manager's output there")
    m = p.add_argument_group('memory instead of speed')
    m.add_argument(
        '--memory',
        type=_counts,
        metavar='K1,K2,...',
        help="RSS of the controller after it learned K1, K2, ... MACs "
        "(cumulative); needs --start-app or --pid",
    )
    m.add_argument(
        '--memory-rate', type=float, default=5000.0, help='MACs learned per second in all (5000)'
    )
    m.add_argument('--pid', type=int, help='pid of the controller given by --controller')
    args = p.parse_args(argv)
    if args.memory and not (args.start_app or args.start_faucet or args.pid):
        p.error('--memory needs --start-app, --start-faucet or --pid (whose RSS to read)')
    if args.start_app and args.start_faucet:
        p.error('--start-app or --start-faucet, not both')
    for name in ('switches', 'hosts', 'ports', 'loops'):
        if getattr(args, name) < 1:
            p.error('--%s must be >= 1' % name)
    if args.warmup < 0 or args.loop_seconds <= 0:
        p.error('--warmup must be >= 0 and --loop-seconds > 0')
    return args


def main(argv=None):
    args = parse_args(argv)
    proc = None
    packet_in = {
        'cookie': args.cookie,
        'reason': OFPR_ACTION if args.reason == 'action' else OFPR_NO_MATCH,
    }
    try:
        if args.start_faucet:
            log_path = args.app_log or tempfile.mkstemp(prefix='ofemu-faucet-', suffix='.log')[1]
            proc = faucet.FaucetController(
                faucet.faucet_yaml(args.switches, args.ports),
                log_path,
                'WARNING' if args.default_log_level >= 30 else 'INFO',
            )
            proc.start()
            host, port, pid = '127.0.0.1', proc.ofp_port, proc.pid
            packet_in = proc.packet_in
            what = 'FAUCET (pid %d, log %s)' % (pid, log_path)
        elif args.start_app:
            log_path = args.app_log or tempfile.mkstemp(prefix='ofemu-ryu-', suffix='.log')[1]
            log_level = (
                []
                if args.default_log_level is None
                else ['--default-log-level', str(args.default_log_level)]
            )
            proc = RyuController(
                [resolve_app(a) for a in args.start_app],
                log_path,
                extra_args=log_level + args.ryu_arg,
            )
            proc.start()
            host, port, pid = '127.0.0.1', proc.ofp_port, proc.pid
            what = '%s (ryu-manager pid %d)' % (' '.join(args.start_app), pid)
        else:
            (host, port), pid = args.controller, args.pid
            what = 'controller'
        if args.memory:
            print(
                'ofemu memory: %s at %s:%d, %d switches x %d ports, steps %s MACs at '
                '%.0f/s'
                % (
                    what,
                    host,
                    port,
                    args.switches,
                    args.ports,
                    ','.join(map(str, args.memory)),
                    args.memory_rate,
                ),
                flush=True,
            )
            result = measure_memory_sync(
                host,
                port,
                pid,
                args.memory,
                args.switches,
                args.ports,
                rate=args.memory_rate,
                response_timeout=args.response_timeout,
                handshake_timeout=args.handshake_timeout,
                **packet_in,
            )
            print(format_memory(result))
        else:
            window = 1 if args.mode == 'latency' else (args.window or DEFAULT_WINDOW)
            print(
                'ofemu cbench: %s at %s:%d, %d switches x %d hosts on %d ports, '
                'OpenFlow 1.3, mode %s (window %d), %d loops x %g s, %d warm-up'
                % (
                    what,
                    host,
                    port,
                    args.switches,
                    args.hosts,
                    args.ports,
                    args.mode,
                    window,
                    args.loops,
                    args.loop_seconds,
                    args.warmup,
                ),
                flush=True,
            )
            on_loop = None if args.quiet else (lambda lp: print(format_loop(lp), flush=True))
            result = run_benchmark_sync(
                host,
                port,
                args.switches,
                args.hosts,
                args.mode,
                args.loops,
                args.loop_seconds,
                args.warmup,
                n_ports=args.ports,
                window=window,
                **packet_in,
                response_timeout=args.response_timeout,
                handshake_timeout=args.handshake_timeout,
                src_macs_per_switch=args.src_macs,
                on_loop=on_loop,
            )
            print(format_summary(result))
        if args.json:
            data = result.to_dict()
            data['app'] = args.start_app
            if args.start_faucet:
                data['app'], data['versions'] = ['faucet'], faucet.ensure_venv()
            with open(args.json, 'w') as f:
                json.dump(data, f, indent=2)
        return 0
    except BenchError as exc:
        print('error: %s' % exc, file=sys.stderr)
        if proc is not None:
            state = 'running' if proc.alive() else 'exited %s' % proc.process.returncode
            print('%s (%s), last lines:\n%s' % (proc.name, state, proc.log_tail()), file=sys.stderr)
        return 2
    except RuntimeError as exc:  # ryu-manager or FAUCET would not start
        print('error: %s' % exc, file=sys.stderr)
        return 2
    finally:
        if proc is not None:
            proc.stop()


if __name__ == '__main__':
    sys.exit(main())
