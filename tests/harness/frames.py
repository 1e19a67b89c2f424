"""Raw Ethernet frames between Mininet hosts: send hand-built frames (802.1Q tags
included) and see which hosts received them, and with which tags.

The kernel takes a received frame's outer VLAN tag out of the frame (VLAN offload) before
a raw socket sees it; receivers read it back from the packet's auxiliary data
(PACKET_AUXDATA), so tags are reported as they arrived.
"""

import ast
import os
import time

MAX_START_S = 20.0  # for every receiver to be listening

# A receiver listens from the moment it says so (its ready file) until the stop file
# appears (or at most MAX_LISTEN_S): the frames are sent only once every receiver is
# listening, however long the hosts' Pythons take to start on a loaded machine.
_RECEIVE = '''python3 - <<'PYEOF' > %(out)s 2>&1 &
import os, socket, struct, time
SOL_PACKET, PACKET_AUXDATA, TP_STATUS_VLAN_VALID = 263, 8, 0x10
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(('%(intf)s', 0))
s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
s.settimeout(0.1)
open('%(out)s.ready', 'w').close()
seen, end = {}, time.time() + %(max_s)f
while time.time() < end and not os.path.exists('%(stop)s'):
    try:
        data, ancillary, _, address = s.recvmsg(2048, socket.CMSG_SPACE(32))
    except socket.timeout:
        continue
    if address[2] == socket.PACKET_OUTGOING:
        continue
    outer = b''
    for level, kind, aux in ancillary:
        if (level, kind) == (SOL_PACKET, PACKET_AUXDATA) and len(aux) >= 20:
            status = struct.unpack_from('=I', aux)[0]
            tci, tpid = struct.unpack_from('=HH', aux, 16)
            if status & TP_STATUS_VLAN_VALID:
                outer = struct.pack('!HH', tpid or 0x8100, tci)
    for token in %(tokens)r:
        at = data.find(token.encode())
        if at >= 0:
            # What follows the MACs: tags (8100 VVVV ...) and the EtherType.
            seen.setdefault(token, set()).add((outer + data[12:at])[:12].hex())
print({token: sorted(headers) for token, headers in seen.items()})
PYEOF'''

_SEND = '''python3 -c "import socket; s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); \
s.bind(('%(intf)s', 0)); [s.send(bytes.fromhex('%(frame)s')) for _ in range(3)]"'''


def frame(dst, src, token, vids=(), ethertype=0x88B5):
    """An Ethernet frame (hex) with 802.1Q tags ``vids`` (outer first) and a token."""
    tags = ''.join('8100%04x' % vid for vid in vids)
    payload = token.encode().ljust(46, b'.').hex()
    return dst.replace(':', '') + src.replace(':', '') + tags + '%04x' % ethertype + payload


def _listening(outs, launched, timeout):
    """Wait until every receiver of ``outs`` (its output file), all launched by
    ``launched``, is listening."""
    while not all(os.path.exists(out + '.ready') for out in outs):
        if time.monotonic() > launched + timeout:
            late = [out for out in outs if not os.path.exists(out + '.ready')]
            raise RuntimeError('receivers not listening after %.0f s: %s' % (timeout, late))
        time.sleep(0.02)
    print('receivers listening %.2f s after the last was launched' % (time.monotonic() - launched))


def received_headers(net, probes, seconds=3.0):
    """Send each (sender, frame, token) probe once every host listens; {token: {host:
    set of the hex headers (tags and EtherType) the token's frames arrived with}}
    received within ``seconds`` of the sending."""
    tokens = [token for _, _, token in probes]
    stop = '/tmp/rx-stop'
    outs = {host.name: '/tmp/rx-%s' % host.name for host in net.hosts}
    for path in [stop] + [out + '.ready' for out in outs.values()]:
        if os.path.exists(path):
            os.unlink(path)
    for host in net.hosts:
        host.cmd(
            _RECEIVE
            % {
                'out': outs[host.name],
                'intf': host.intf().name,
                'max_s': seconds + MAX_START_S,
                'stop': stop,
                'tokens': tokens,
            }
        )
    _listening(outs.values(), time.monotonic(), MAX_START_S)
    for sender, hexframe, _ in probes:
        sender.cmd(_SEND % {'intf': sender.intf().name, 'frame': hexframe})
    time.sleep(seconds)
    open(stop, 'w').close()
    got = {token: {} for token in tokens}
    for host in net.hosts:
        host.cmd('wait')
        seen = ast.literal_eval(host.cmd('cat /tmp/rx-%s' % host.name).strip() or '{}')
        for token, headers in seen.items():
            got[token][host.name] = set(headers)
    return got


def who_receives(net, probes, seconds=3.0):
    """Send each (sender, frame, token) probe; {token: set of hosts that got it}."""
    return {token: set(hosts) for token, hosts in received_headers(net, probes, seconds).items()}
