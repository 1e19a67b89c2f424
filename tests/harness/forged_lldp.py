"""A hostile Mininet host's LLDP: capture the controller's frame that reaches the host,
then replay, relay or alter it, or invent one, and send it with a raw socket (scapy is
not needed: the frames are bytes, laid out as controller/lldp.py says)."""

import re
import time

from controller.lldp import frame_head

_CAPTURE = '''python3 - <<'PYEOF'
import socket, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88cc))
s.bind(('%(intf)s', 0))
s.settimeout(0.2)
last, end = b'', time.time() + %(seconds)f
while time.time() < end:
    try:
        data, address = s.recvfrom(2048)
    except socket.timeout:
        continue
    if address[2] != socket.PACKET_OUTGOING:
        last = data
print(last.hex())
PYEOF'''

_SEND = '''python3 - <<'PYEOF'
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('%(intf)s', 0))
for frame in %(frames)r:
    for _ in range(%(copies)d):
        s.send(bytes.fromhex(frame))
PYEOF'''


def sent_at(frame):
    """When the controller signed ``frame`` (seconds, wall clock)."""
    return int.from_bytes(frame[55:63], 'big') / 1000


def capture(host, seconds=1.2):
    """The newest LLDP frame ``host`` received within ``seconds`` (b'' if none)."""
    out = host.cmd(_CAPTURE % {'intf': host.intf().name, 'seconds': seconds})
    frames = re.findall(r'[0-9a-f]{28,}', out)  # after the shell's '> ' prompts
    if not frames:
        raise AssertionError('capture on %s printed no frame:\n%s' % (host.name, out))
    return bytes.fromhex(frames[-1])


def fresh_capture(host, max_age=1.5, tries=3):
    """A frame ``host`` received at most ``max_age`` seconds after it was signed (a
    loaded machine may make one capture slow)."""
    for _ in range(tries):
        frame = capture(host)
        if frame and time.time() - sent_at(frame) <= max_age:
            return frame
    raise AssertionError('%s captured no fresh LLDP frame (last: %r)' % (host.name, frame))


def send(host, frames, copies=20):
    """Send each frame ``copies`` times out of ``host``'s interface."""
    host.cmd(
        _SEND % {'intf': host.intf().name, 'frames': [f.hex() for f in frames], 'copies': copies}
    )


def forgeries(captured, now):
    """{kind: frame} of what a host makes of a frame ``captured`` from the controller,
    other than sending it as it is: a frame of its own, naming another switch or port,
    or carrying another time, without the controller's key."""
    src = captured[6:12].hex(':')
    younger = bytearray(captured)
    younger[55:63] = int(now * 1000).to_bytes(8, 'big')
    other_port = bytearray(captured)
    other_port[41:45] = (2).to_bytes(4, 'big')
    bad_signature = bytearray(captured)
    bad_signature[70] ^= 0xFF
    return {
        'invented chassis': frame_head(0x99, 1, src) + captured[49:],
        'a real switch port, signature copied': frame_head(2, 2, src) + captured[49:],
        'invented port': bytes(other_port),
        'wrong signature': bytes(bad_signature),
        'made younger': bytes(younger),
        'truncated': captured[:40],
        'unsigned, as before signatures': frame_head(2, 2, src) + b'\x00\x00',
    }
