"""Real traffic between Mininet hosts, measured and returned as plain data.

- ``reachability_matrix``: ping every ordered host pair -> ``Reachability``.
- ``ping_stream``: a timed ping -> ``StreamResult`` (loss, duplicates, outage, RTT).
- ``udp_stream``: a sequence-numbered UDP stream (tests/harness/udp_seq.py) ->
  ``StreamResult`` (loss, duplicates, reordering, outage, one-way delay).
- ``iperf3_run`` / ``iperf3_throughput``: TCP or UDP throughput with iperf3.

Hosts are Mininet hosts (``name``, ``IP()``, ``cmd()``, ``popen()``). The parsing and
analysis are pure functions of text or numbers (``parse_ping_output``,
``analyse_arrivals``, ``parse_iperf3_json``), unit-tested without a network.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import subprocess
import time
from dataclasses import dataclass, field

UDP_SEQ = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'udp_seq.py')
PYTHON = 'python3'  # the system one: udp_seq.py needs nothing but the standard library
START_TIMEOUT_S = 10  # for a receiver or an iperf3 server to be listening
UDP_LINGER_S = 0.5  # after the sender ends, for datagrams still in flight
# Pings started at once by one source. It also keeps each shell line well under the
# 4095 characters a terminal line may hold (Mininet talks to host shells over a pty).
PARALLEL_PINGS = 32
# Spacing of the pings to one destination when reachability sends more than one: the
# shortest ping allows without root.
REACHABILITY_INTERVAL_S = 0.2


# -- sequence analysis shared by ping and UDP streams ---------------------------------


@dataclass
class Latency:
    """min/avg/max of a stream's delays: 'rtt' (ping) or 'one-way' (udp_stream)."""

    kind: str
    min_ms: float
    avg_ms: float
    max_ms: float

    @classmethod
    def of(cls, kind, samples_ms):
        """Latency of the samples, or None without any."""
        if not samples_ms:
            return None
        return cls(kind, min(samples_ms), sum(samples_ms) / len(samples_ms), max(samples_ms))

    def __str__(self):
        return '%s min/avg/max %.3f/%.3f/%.3f ms' % (
            self.kind,
            self.min_ms,
            self.avg_ms,
            self.max_ms,
        )


@dataclass
class StreamResult:
    """What arrived of a stream of ``sent`` numbered packets sent every ``interval_s``.

    ``longest_gap_ms`` is the longest run of consecutive lost sequence numbers times
    the interval: how long the path was out. ``errors`` counts ICMP errors reported to
    ping (e.g. Destination Host Unreachable) or datagrams the UDP sender could not send.
    """

    label: str
    sent: int
    interval_s: float
    received_seqs: list = field(default_factory=list)  # sorted, each once
    lost_seqs: list = field(default_factory=list)
    duplicates: int = 0
    reordered: int = 0
    longest_gap_ms: float = 0.0
    latency: Latency | None = None
    errors: int = 0

    @property
    def received(self):
        return len(self.received_seqs)

    @property
    def loss_percent(self):
        return 100.0 * len(self.lost_seqs) / self.sent if self.sent else 0.0

    def summary(self):
        text = (
            '%s: %d sent every %.1f ms, %d received, %.1f%% loss, longest outage '
            '%.0f ms, %d duplicates, %d reordered'
            % (
                self.label,
                self.sent,
                self.interval_s * 1000,
                self.received,
                self.loss_percent,
                self.longest_gap_ms,
                self.duplicates,
                self.reordered,
            )
        )
        if self.errors:
            text += ', %d errors' % self.errors
        if self.latency:
            text += ', %s' % self.latency
        if self.lost_seqs:
            text += '; lost %s' % format_ranges(self.lost_seqs)
        return text

    __str__ = summary


def _runs(numbers):
    """[3, 4, 5, 9] -> [(3, 5), (9, 9)]: the runs of consecutive integers."""
    runs = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return [tuple(run) for run in runs]


def format_ranges(numbers, limit=10):
    """[3, 4, 5, 9] -> '3-5, 9'; past ``limit`` ranges the rest is counted, not listed."""
    runs = _runs(numbers)
    shown = ['%d' % a if a == b else '%d-%d' % (a, b) for a, b in runs[:limit]]
    if len(runs) > limit:
        shown.append('... (%d more ranges)' % (len(runs) - limit))
    return ', '.join(shown)


def analyse_arrivals(arrivals, sent, interval_s, first_seq=0, *, label='', latency=None, errors=0):
    """A StreamResult from the sequence numbers in the order they arrived.

    The stream was ``sent`` packets numbered ``first_seq``, ``first_seq + 1``, ...
    A number seen again is a duplicate; a number lower than one that arrived before it
    is reordered; a number that never arrived is lost.
    """
    seen = set()
    duplicates = reordered = 0
    highest = None
    for seq in arrivals:
        if seq in seen:
            duplicates += 1
            continue
        if highest is not None and seq < highest:
            reordered += 1
        seen.add(seq)
        highest = seq if highest is None else max(highest, seq)
    lost = [seq for seq in range(first_seq, first_seq + sent) if seq not in seen]
    longest = max((last - first + 1 for first, last in _runs(lost)), default=0)
    return StreamResult(
        label=label,
        sent=sent,
        interval_s=interval_s,
        received_seqs=sorted(seen),
        lost_seqs=lost,
        duplicates=duplicates,
        reordered=reordered,
        longest_gap_ms=longest * interval_s * 1000.0,
        latency=latency,
        errors=errors,
    )


# -- ping ---------------------------------------------------------------------------

_STAMP = re.compile(r'^\[(\d+\.\d+)\]\s*')  # ping -D: receive time before each line
_ICMP_SEQ = re.compile(r'\bicmp_seq=(\d+)')
_TIME = re.compile(r'\btime[=<]\s*([\d.]+)\s*ms')
_TRANSMITTED = re.compile(r'(\d+) packets transmitted')


def _measured_interval(reply_times):
    """Seconds between pings as they really went, from {icmp_seq: receive time}: ping
    can space them well beyond -i (on the test VM 200 pings at -i 0.01 took 3.2 s), and
    an outage counted in lost pings is only as right as the spacing it is multiplied by.
    None if fewer than two replies tell."""
    if len(reply_times) < 2:
        return None
    first, last = min(reply_times), max(reply_times)
    return (reply_times[last] - reply_times[first]) / (last - first)


def parse_ping_output(text, count=None, interval=1.0, label='ping'):
    """A StreamResult from the output of iputils ``ping`` (icmp_seq counts from 1).

    Replies ('64 bytes from ...: icmp_seq=3 ... time=0.05 ms', '(DUP!)' ones included)
    are the arrivals; 'From ... icmp_seq=N Destination Host Unreachable' lines are
    errors, not replies. The number sent comes from the summary line, or from ``count``
    when ping was stopped before printing it. With ``ping -D`` (timestamps) the
    interval between pings is measured from the replies; without, ``interval`` (what
    was given to -i) is taken as it.
    """
    arrivals, rtts_ms, reply_times, errors = [], [], {}, 0
    for line in text.splitlines():
        stamp = _STAMP.match(line)
        body = line[stamp.end() :] if stamp else line.lstrip()
        seq = _ICMP_SEQ.search(body)
        if seq and ' bytes from ' in body:
            arrivals.append(int(seq.group(1)))
            rtt = _TIME.search(body)
            if '(DUP!)' not in body:
                if rtt:
                    rtts_ms.append(float(rtt.group(1)))
                if stamp:
                    reply_times[int(seq.group(1))] = float(stamp.group(1))
        elif seq and body.startswith('From '):
            errors += 1
    transmitted = _TRANSMITTED.search(text)
    if transmitted:
        sent = int(transmitted.group(1))
    else:
        sent = count if count is not None else max(arrivals, default=0)
    return analyse_arrivals(
        arrivals,
        sent,
        _measured_interval(reply_times) or interval,
        first_seq=1,
        label=label,
        latency=Latency.of('rtt', rtts_ms),
        errors=errors,
    )


def _ping_command(ip, count, interval, timeout, bind=None):
    return 'ping -D -n -c %d -i %g -W %g %s%s' % (
        count,
        interval,
        timeout,
        '-I %s ' % bind if bind else '',
        ip,
    )


@dataclass(frozen=True)
class Endpoint:
    """One address of a host, to ping from and to: a VLAN sub-interface, an alias.
    ``bind`` is the interface pings from it leave by. Works wherever a host does in
    reachability_matrix (it has ``name``, ``IP()`` and ``cmd()``)."""

    name: str
    host: object
    ip: str
    bind: str = None

    def IP(self):
        return self.ip

    def cmd(self, line):
        return self.host.cmd(line)


def ping_stream(src, dst, count, interval=0.01, dst_ip=None, timeout=1.0):
    """Ping ``dst`` from ``src`` ``count`` times, ``interval`` seconds apart (below
    0.2 s needs root), each reply awaited at most ``timeout`` s. ``dst_ip`` overrides
    ``dst.IP()`` (e.g. after moving an address). The outage is measured with the real
    spacing of the pings (see parse_ping_output)."""
    ip = dst_ip or dst.IP()
    output = src.cmd(_ping_command(ip, count, interval, timeout))
    return parse_ping_output(
        output,
        count=count,
        interval=interval,
        label='ping %s -> %s (%s)' % (src.name, dst.name, ip),
    )


# -- reachability -------------------------------------------------------------------


@dataclass
class Reachability:
    """Ping results of every ordered pair of ``hosts`` (names), ``count`` pings each.

    ``results[(src, dst)]`` is True when at least one reply came back;
    ``received[(src, dst)]`` is how many did.
    """

    hosts: list
    count: int
    received: dict

    @property
    def results(self):
        return {pair: n > 0 for pair, n in self.received.items()}

    @property
    def loss_percent(self):
        """Lost pings over all pings sent, as Mininet's pingall reports it."""
        sent = self.count * len(self.received)
        return 100.0 * (sent - sum(self.received.values())) / sent if sent else 0.0

    def unreachable(self):
        """The pairs that got no reply, in host order."""
        return [pair for pair, ok in self.results.items() if not ok]

    def expect(self, reachable_pairs):
        """The pairs whose result differs from the expectation that exactly
        ``reachable_pairs`` (pairs of names or of hosts) reach each other: empty when
        all is as expected, so ``assert not reach.expect(pairs), reach.table()``."""
        expected = {(str(a), str(b)) for a, b in reachable_pairs}
        return [pair for pair, ok in self.results.items() if ok != (pair in expected)]

    def table(self):
        """A matrix, sources down, destinations across: 'ok' reached, 'X' not."""
        width = max([len(name) for name in self.hosts] + [2]) + 2
        rows = [' ' * width + ''.join(name.rjust(width) for name in self.hosts)]
        for src in self.hosts:
            results = self.results
            cells = (
                '-' if (src, dst) not in results else 'ok' if results[(src, dst)] else 'X'
                for dst in self.hosts
            )
            rows.append(src.ljust(width) + ''.join(cell.rjust(width) for cell in cells))
        return '\n'.join(rows)

    def __str__(self):
        return '%s\n%d pairs, %d unreachable, %.1f%% loss' % (
            self.table(),
            len(self.received),
            len(self.unreachable()),
            self.loss_percent,
        )


def _ping_in_parallel(src, dsts, count, timeout):
    """Ping every host of ``dsts`` from ``src`` at the same time, in one shell line;
    returns each destination's ping output. Each ping's lines are prefixed with the
    destination's index, so outputs that interleave are told apart. The subshell's
    ``wait`` waits for these pings only, not for jobs a test left in the host's shell."""
    bind = getattr(src, 'bind', None)
    pings = (
        "%s 2>&1 | sed 's/^/%d|/' &"
        % (_ping_command(dst.IP(), count, REACHABILITY_INTERVAL_S, timeout, bind), index)
        for index, dst in enumerate(dsts)
    )
    line = '(%s wait)' % ' '.join(pings)
    outputs = [[] for _ in dsts]
    for row in src.cmd(line).splitlines():
        index, bar, text = row.partition('|')
        if bar and index.isdigit() and int(index) < len(dsts):
            outputs[int(index)].append(text)
    return ['\n'.join(lines) for lines in outputs]


def reachability_matrix(hosts, count=1, timeout=1.0):
    """Ping every ordered pair of distinct hosts (or Endpoints of distinct hosts)
    ``count`` times (replies awaited ``timeout`` s). One source at a time, its
    destinations in parallel (a k=4 fat-tree's 240 pairs take 16 rounds, not 240)."""
    received = {}
    for src in hosts:
        dsts = [dst for dst in hosts if getattr(dst, 'host', dst) is not getattr(src, 'host', src)]
        for start in range(0, len(dsts), PARALLEL_PINGS):
            batch = dsts[start : start + PARALLEL_PINGS]
            for dst, output in zip(
                batch, _ping_in_parallel(src, batch, count, timeout), strict=True
            ):
                received[(src.name, dst.name)] = parse_ping_output(output, count=count).received
    return Reachability(hosts=[h.name for h in hosts], count=count, received=received)


# -- processes inside hosts ---------------------------------------------------------


def _stop(proc):
    """End one process we started (never by name) and close its pipes."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()


@contextlib.contextmanager
def _processes():
    """A list to append started processes to; every one is stopped on the way out."""
    started = []
    try:
        yield started
    finally:
        for proc in started:
            _stop(proc)


def await_output(proc, needle, timeout, what):
    """Read ``proc``'s stdout until it contains ``needle`` (the process is ready);
    returns what was read. Raises if it exits first or the timeout passes.

    Reads the descriptor directly (no Python buffering), so a later communicate()
    still gets all the rest."""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    seen = b''
    while needle.encode() not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError(
                '%s not ready within %gs; it printed: %r'
                % (what, timeout, seen.decode(errors='replace'))
            )
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                proc.wait(timeout=timeout)
                raise RuntimeError(
                    '%s exited (status %s) before it was ready: %s'
                    % (what, proc.returncode, (seen + proc.stderr.read()).decode(errors='replace'))
                )
            seen += chunk
    return seen.decode()


def _finish(proc, timeout, what):
    """Wait for ``proc`` to end; its stdout as text. Raises on a failure exit."""
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(
            '%s failed (status %s): %s' % (what, proc.returncode, err.decode(errors='replace'))
        )
    return out.decode()


def _last_json_line(text):
    return json.loads([line for line in text.splitlines() if line.startswith('{')][-1])


# -- UDP stream -----------------------------------------------------------------------


def udp_stream(src, dst, rate_pps, duration_s, port=5001, dst_ip=None, stop=None):
    """Send ``rate_pps`` sequence-numbered datagrams a second for ``duration_s`` from
    ``src`` to ``dst`` (udp_seq.py on both) and report what arrived.

    ``stop``: a threading.Event that ends the stream before ``duration_s`` once set
    (by a test that has seen what it streamed for; ``duration_s`` is then the most it
    may take). Bounded: the sender runs ``duration_s`` at most, the receiver is stopped
    ``UDP_LINGER_S`` after it and would stop by itself soon after anyway; both are
    ended on the way out.
    """
    ip = dst_ip or dst.IP()
    label = 'udp %s -> %s (%s) %g pps' % (src.name, dst.name, ip, rate_pps)
    max_receive_s = duration_s + 2 * START_TIMEOUT_S
    with _processes() as started:
        receiver = dst.popen([PYTHON, UDP_SEQ, 'receive', str(port), '%g' % max_receive_s])
        started.append(receiver)
        early = await_output(receiver, 'ready', START_TIMEOUT_S, 'udp receiver on %s' % dst.name)
        sender = src.popen(
            [PYTHON, UDP_SEQ, 'send', ip, str(port), '%g' % rate_pps, '%g' % duration_s]
        )
        started.append(sender)
        sent_early = ''
        if stop is not None:
            # Its signal handlers are in place once it says so.
            sent_early = await_output(
                sender, 'sending', START_TIMEOUT_S, 'udp sender on %s' % src.name
            )
            deadline = time.monotonic() + duration_s
            while sender.poll() is None and time.monotonic() < deadline:
                if stop.wait(0.05):
                    sender.terminate()
                    break
        sender_report = _last_json_line(
            sent_early
            + _finish(sender, duration_s + START_TIMEOUT_S, 'udp sender on %s' % src.name)
        )
        time.sleep(UDP_LINGER_S)
        receiver.terminate()
        receiver_report = _last_json_line(
            early + _finish(receiver, START_TIMEOUT_S, 'udp receiver on %s' % dst.name)
        )
    return analyse_arrivals(
        receiver_report['seqs'],
        sender_report['sent'],
        1.0 / rate_pps,
        label=label,
        latency=Latency.of('one-way', receiver_report['delays_ms']),
        errors=sender_report['send_errors'],
    )


# -- iperf3 -------------------------------------------------------------------------


class Iperf3Error(RuntimeError):
    """iperf3 could not measure; the message is iperf3's own error text."""


@dataclass
class Iperf3Result:
    """One iperf3 test. ``mbps`` is what the receiver got; ``raw`` the whole JSON."""

    protocol: str
    mbps: float
    sent_mbps: float
    seconds: float
    retransmits: int | None = None  # TCP
    lost_percent: float | None = None  # UDP
    jitter_ms: float | None = None  # UDP
    raw: dict = field(default_factory=dict, repr=False)

    def __str__(self):
        text = '%s %.1f Mbit/s received (%.1f sent) over %.1f s' % (
            self.protocol,
            self.mbps,
            self.sent_mbps,
            self.seconds,
        )
        if self.retransmits is not None:
            text += ', %d retransmits' % self.retransmits
        if self.lost_percent is not None:
            text += ', %.2f%% lost, jitter %.3f ms' % (self.lost_percent, self.jitter_ms)
        return text


def parse_iperf3_json(text):
    """An Iperf3Result from the output of ``iperf3 -c ... -J``; Iperf3Error if iperf3
    reported an error (it does so inside the JSON, with exit status 0)."""
    try:
        report = json.loads(text)
    except ValueError:
        raise Iperf3Error('iperf3 printed no JSON: %s' % text.strip()[:2000]) from None
    if report.get('error'):
        raise Iperf3Error('iperf3: %s' % report['error'])
    end = report['end']
    # UDP reports of older iperf3 have only 'sum'; TCP ones always have both.
    received = end.get('sum_received') or end['sum']
    sent = end.get('sum_sent') or end['sum']
    return Iperf3Result(
        protocol=report['start']['test_start']['protocol'],
        mbps=received['bits_per_second'] / 1e6,
        sent_mbps=sent['bits_per_second'] / 1e6,
        seconds=received['seconds'],
        retransmits=sent.get('retransmits'),
        lost_percent=received.get('lost_percent'),
        jitter_ms=received.get('jitter_ms'),
        raw=report,
    )


def iperf3_run(src, dst, seconds=5, udp=False, bitrate=None, port=5201, dst_ip=None):
    """Measure ``src`` -> ``dst`` throughput with iperf3 (a one-off server on ``dst``).
    ``bitrate`` is iperf3's -b (e.g. '100M'; its UDP default is only 1 Mbit/s)."""
    ip = dst_ip or dst.IP()
    command = [
        'iperf3',
        '-c',
        ip,
        '-p',
        str(port),
        '-J',
        '-t',
        '%g' % seconds,
        '--connect-timeout',
        '3000',
    ]
    if udp:
        command.append('-u')
    if bitrate:
        command += ['-b', str(bitrate)]
    with _processes() as started:
        server = dst.popen(['iperf3', '-s', '-1', '-p', str(port), '--forceflush'])
        started.append(server)
        await_output(server, 'Server listening', START_TIMEOUT_S, 'iperf3 server on %s' % dst.name)
        client = src.popen(command)
        started.append(client)
        out, err = client.communicate(timeout=seconds + 30)
    try:
        return parse_iperf3_json(out.decode())
    except Iperf3Error as error:
        stderr = err.decode(errors='replace').strip()
        where = '%s -> %s: %s' % (src.name, dst.name, error)
        raise Iperf3Error(' '.join(filter(None, [where, stderr]))) from None


def iperf3_throughput(src, dst, seconds=5, udp=False, **options):
    """Mbit/s received in an iperf3 test (see iperf3_run for ``options`` and for the
    whole result, raw JSON included)."""
    return iperf3_run(src, dst, seconds=seconds, udp=udp, **options).mbps


# -- raw frames ---------------------------------------------------------------------

_SEND_FROM_RANDOM_MACS = """python3 - <<'PYEOF'
import os, socket, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('%(intf)s', 0))
for _ in range(%(count)d):
    src = bytes([0x02]) + os.urandom(5)
    s.send(b'\\xff' * 6 + src + b'\\x88\\xb5' + b'flood' * 10)
    time.sleep(%(gap)g)   # paced, so the veth and the switch drop none of them
PYEOF"""


def send_from_random_macs(host, count, gap_s=0.001):
    """``host`` broadcasts ``count`` frames, each from a new random locally administered
    MAC (EtherType 0x88b5, local experimental): a MAC-flooding host, or many new hosts."""
    host.cmd(_SEND_FROM_RANDOM_MACS % {'intf': host.intf(), 'count': count, 'gap': gap_s})
