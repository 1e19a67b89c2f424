"""LLDP frames name the sending switch port and nothing else parses as ours."""

from controller.lldp import is_lldp, lldp_frame, parse_lldp_frame


def test_round_trip():
    frame = lldp_frame(0x1234, 7, '0a:00:00:00:12:07')
    assert is_lldp(frame)
    assert frame[:6] == bytes.fromhex('0180c200000e')
    assert parse_lldp_frame(frame) == (0x1234, 7)


def test_large_dpid_and_port():
    frame = lldp_frame(0xffffffffffffffff, 0xfffffeff, '02:00:00:00:00:01')
    assert parse_lldp_frame(frame) == (0xffffffffffffffff, 0xfffffeff)


def test_other_frames_are_not_ours():
    arp = bytes.fromhex('ffffffffffff' '000000000001' '0806') + bytes(46)
    assert not is_lldp(arp) and parse_lldp_frame(arp) is None
    assert parse_lldp_frame(b'') is None
    truncated = lldp_frame(1, 1, '02:00:00:00:00:01')[:20]
    assert parse_lldp_frame(truncated) is None


def test_foreign_lldp_is_ignored():
    # A real bridge's LLDP: chassis ID as a MAC address (subtype 4), port ID as a name.
    chassis = bytes([0x02, 7, 4]) + bytes.fromhex('001122334455')
    port = bytes([0x04, 5, 5]) + b'eth0'
    ttl = bytes([0x06, 2, 0, 120])
    frame = (bytes.fromhex('0180c200000e' '001122334455' '88cc') + chassis + port + ttl
             + bytes(2))
    assert is_lldp(frame)
    assert parse_lldp_frame(frame) is None
