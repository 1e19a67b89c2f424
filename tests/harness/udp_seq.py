"""A sequence-numbered UDP stream: the sender and the receiver that
tests/harness/traffic.py (udp_stream) runs inside Mininet hosts with the system python3.
Standard library only.

    python3 udp_seq.py receive PORT MAX_SECONDS
        Prints 'ready' once bound, records every datagram until SIGTERM/SIGINT or
        MAX_SECONDS (so it always ends by itself), then prints one JSON line:
        {"seqs": [sequence numbers in arrival order, duplicates included],
         "delays_ms": [one-way delay of each first arrival]}

    python3 udp_seq.py send HOST PORT RATE_PPS DURATION_S
        Prints 'sending', then sends round(RATE_PPS * DURATION_S) datagrams numbered
        from 0, datagram i at start + i / RATE_PPS, or fewer if SIGTERM/SIGINT ends it
        early (a test that has seen what it waited for), then prints
        {"sent": N, "send_errors": E} (N: the datagrams numbered). A datagram the
        kernel refuses (no route, ...) keeps its number, so it shows up as lost.

Each datagram holds a 64-bit sequence number and the send time from the monotonic clock:
the hosts of one Mininet network are processes of one machine and share that clock, so
the receiver can measure one-way delay.
"""

import json
import signal
import socket
import struct
import sys
import time

DATAGRAM = struct.Struct('!Qd')  # sequence number, send time (time.monotonic())
POLL_S = 0.1  # how often the receiver looks at its stop conditions
RECEIVE_BUFFER = 4 << 20  # bursts after an outage must not overflow the socket


def _stop_on_signals():
    """A list that SIGTERM or SIGINT makes non-empty."""
    stop = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.append(True))
    return stop


def receive(port, max_seconds):
    stop = _stop_on_signals()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    sock.bind(('0.0.0.0', port))
    print('ready', flush=True)

    seqs, delays_ms, seen = [], [], set()

    def record(data):
        if len(data) < DATAGRAM.size:
            return  # not ours
        seq, sent_at = DATAGRAM.unpack_from(data)
        seqs.append(seq)
        if seq not in seen:
            seen.add(seq)
            delays_ms.append(round((time.monotonic() - sent_at) * 1000, 3))

    sock.settimeout(POLL_S)
    deadline = time.monotonic() + max_seconds
    while not stop and time.monotonic() < deadline:
        try:
            record(sock.recv(2048))
        except TimeoutError:
            pass
    # Datagrams already queued when we were told to stop arrived in time: count them.
    sock.setblocking(False)
    while True:
        try:
            record(sock.recv(2048))
        except BlockingIOError:
            break
    print(json.dumps({'seqs': seqs, 'delays_ms': delays_ms}), flush=True)


def send(host, port, rate_pps, duration_s):
    stop = _stop_on_signals()
    count = int(round(rate_pps * duration_s))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    errors = 0
    print('sending', flush=True)
    start = time.monotonic()
    for seq in range(count):
        if stop:
            count = seq
            break
        # A fixed schedule, not a fixed sleep: the rate does not drift with send time.
        wait = start + seq / rate_pps - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            sock.sendto(DATAGRAM.pack(seq, time.monotonic()), (host, port))
        except OSError:
            errors += 1
    print(json.dumps({'sent': count, 'send_errors': errors}), flush=True)


def main(argv):
    if len(argv) == 3 and argv[0] == 'receive':
        receive(int(argv[1]), float(argv[2]))
    elif len(argv) == 5 and argv[0] == 'send':
        send(argv[1], int(argv[2]), float(argv[3]), float(argv[4]))
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main(sys.argv[1:])
