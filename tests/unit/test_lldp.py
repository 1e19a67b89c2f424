"""controller/lldp.py: signed LLDP frames name the sending switch port; a frame that is
altered, cut, stale or signed with another key is refused with its reason, another LLDP
speaker's frame is left alone, and no input makes the check raise."""

import struct

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from ryu.lib.packet import lldp, packet

from controller.lldp import FRAME_BYTES, PROCESS_KEY, LldpKey, Rejection, frame_head, lldp_frame
from tests.harness.forged_lldp import forgeries, sent_at

KEY = LldpKey(b'a secret of this controller')
NOW = 1_700_000_000.0
MAX_AGE = 3.0
MAC = '0a:00:00:00:12:07'


def genuine(dpid=0x1234, port_no=7, sent_at=NOW, key=KEY):
    return lldp_frame(dpid, port_no, MAC, key, sent_at)


def check(frame, now=NOW, key=KEY):
    return key.verify(frame, now, MAX_AGE)


def test_round_trip():
    frame = genuine()
    assert len(frame) == FRAME_BYTES
    assert frame[:14] == bytes.fromhex('0180c200000e0a000000120788cc')
    assert check(frame) == (0x1234, 7)


def test_large_dpid_and_port():
    assert check(genuine(0xFFFFFFFFFFFFFFFF, 0xFFFFFEFF)) == (0xFFFFFFFFFFFFFFFF, 0xFFFFFEFF)


def test_the_frame_is_lldp_as_other_tools_read_it():
    """Ryu's parser (as Wireshark or a bridge would) sees a chassis ID, a port ID, a TTL
    and one organisationally specific TLV."""
    tlvs = packet.Packet(genuine()).get_protocol(lldp.lldp).tlvs
    assert [type(t) for t in tlvs] == [
        lldp.ChassisID,
        lldp.PortID,
        lldp.TTL,
        lldp.OrganizationallySpecific,
        lldp.End,
    ]
    assert tlvs[0].chassis_id == b'dpid:0000000000001234'
    assert tlvs[1].port_id == struct.pack('!I', 7)
    assert tlvs[3].oui == b'\x0a\x53\x44' and tlvs[3].subtype == 1


def test_a_frame_is_fresh_within_max_age_either_way():
    assert check(genuine(), now=NOW + MAX_AGE - 0.01) == (0x1234, 7)
    assert check(genuine(), now=NOW - MAX_AGE + 0.01) == (0x1234, 7)  # a clock ahead
    assert check(genuine(), now=NOW + MAX_AGE + 0.01) is Rejection.STALE
    assert check(genuine(), now=NOW - MAX_AGE - 0.01) is Rejection.STALE


def test_another_key_and_the_process_key():
    assert check(genuine(key=LldpKey(b'another controller'))) is Rejection.BAD_MAC
    assert check(genuine(key=KEY)) == (0x1234, 7)
    assert PROCESS_KEY.verify(lldp_frame(5, 6, MAC), NOW, 1e12) == (5, 6)
    assert check(lldp_frame(5, 6, MAC, sent_at=NOW)) is Rejection.BAD_MAC


def _altered_at(offset):
    """What an altered byte at ``offset`` of a genuine frame makes of it."""
    if offset < 22:  # the chassis TLV's header, subtype or 'dpid:' is no longer ours
        return (None, Rejection.MALFORMED)  # another speaker's chassis, or a broken one
    if 22 <= offset < 38 or 41 <= offset < 45 or 55 <= offset < 79:
        return (Rejection.BAD_MAC,)  # dpid, port number, time, signature
    return (Rejection.MALFORMED,)  # the layout around them


@pytest.mark.parametrize('offset', range(14, 81))
def test_any_altered_byte_is_refused(offset):
    frame = bytearray(genuine())
    frame[offset] ^= 0x01
    assert check(bytes(frame)) in _altered_at(offset)


def test_the_ethernet_source_is_not_what_is_signed():
    """The port's MAC only makes the frame look right on the wire; the chassis and port
    ID TLVs name the sender."""
    frame = bytearray(genuine())
    frame[6:12] = bytes.fromhex('020000000099')
    assert check(bytes(frame)) == (0x1234, 7)


def test_invented_sender_is_refused():
    unsigned_old_style = frame_head(0x99, 1, MAC) + b'\x00\x00'  # before frames were signed
    assert check(unsigned_old_style) is Rejection.MALFORMED
    forged = frame_head(0x99, 1, MAC) + genuine()[49:]  # someone else's signature
    assert check(forged) is Rejection.BAD_MAC
    guessed = LldpKey(b'').sign(frame_head(0x1234, 7, MAC), NOW)  # a guessed key
    assert check(guessed) is Rejection.BAD_MAC


@pytest.mark.parametrize('length', range(FRAME_BYTES))
def test_every_truncation_is_malformed(length):
    assert check(genuine()[:length]) is Rejection.MALFORMED


def test_padding_after_the_end_is_accepted():
    assert check(genuine() + bytes(20)) == (0x1234, 7)


def test_foreign_lldp_is_ignored():
    # A real bridge's LLDP: chassis ID as a MAC address (subtype 4), port ID as a name.
    chassis = bytes([0x02, 7, 4]) + bytes.fromhex('001122334455')
    port = bytes([0x04, 5, 5]) + b'eth0'
    ttl = bytes([0x06, 2, 0, 120])
    frame = bytes.fromhex('0180c200000e00112233445588cc') + chassis + port + ttl + bytes(2)
    assert check(frame) is None
    # A chassis TLV that does not fit in the frame, or no chassis TLV first: malformed.
    assert check(frame[:20]) is Rejection.MALFORMED
    assert check(frame[:14] + port + chassis) is Rejection.MALFORMED


def test_what_is_no_lldp_at_all_is_malformed():
    arp = bytes.fromhex('ffffffffffff0000000000010806') + bytes(46)
    assert check(arp) is Rejection.MALFORMED
    assert check(b'') is Rejection.MALFORMED
    assert check(b'not lldp') is Rejection.MALFORMED


def test_a_signed_chassis_that_is_no_hex_is_malformed():
    """Only a holder of the key could make one; still not a dpid."""
    head = bytearray(frame_head(0x1234, 7, MAC))
    head[22:38] = b'not-hexadecimal!'
    assert check(KEY.sign(bytes(head), NOW)) is Rejection.MALFORMED


# --- never raises, never accepts what was not signed -------------------------------

VERDICTS = (type(None), Rejection)


@given(st.binary(max_size=200))
def test_random_bytes_never_raise_nor_pass(data):
    assert isinstance(check(data), VERDICTS)


@given(st.binary(max_size=120))
def test_random_bytes_after_an_lldp_header_never_raise_nor_pass(data):
    frame = bytes.fromhex('0180c200000e02000000000188cc') + data
    assert isinstance(check(frame), VERDICTS)


@given(st.binary(max_size=120))
def test_random_bytes_after_our_chassis_start_never_raise_nor_pass(data):
    frame = genuine()[:22] + data
    assert isinstance(check(frame), VERDICTS)


@given(st.integers(0, FRAME_BYTES - 1), st.binary(min_size=1, max_size=40))
# Cut in the End TLV and continued with zeros: the whole frame again, then one byte
# after its End TLV, which 802.1AB leaves unread (as Ethernet padding): accepted.
@example(cut=FRAME_BYTES - 1, tail=b'\x00\x00')
def test_a_genuine_frame_cut_and_continued_passes_only_if_whole(cut, tail):
    """Refused unless the continued frame holds the genuine one whole; bytes after
    its End TLV are not part of the LLDPDU, so those frames are accepted."""
    frame = genuine()
    continued = frame[:cut] + tail
    if continued.startswith(frame):
        assert check(continued) == (0x1234, 7)
    else:
        assert isinstance(check(continued), VERDICTS)


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**32 - 1), st.floats(0, 2**40, allow_nan=False))
def test_every_dpid_port_and_time_round_trips(dpid, port_no, sent_at):
    frame = lldp_frame(dpid, port_no, MAC, KEY, sent_at)
    assert KEY.verify(frame, int(sent_at * 1000) / 1000, MAX_AGE) == (dpid, port_no)


def test_what_the_mininet_attacker_sends_is_refused():
    """tests/harness/forged_lldp.py's forgeries of a captured frame, refused for what
    they are (the Mininet test then sees them refused by the running controller)."""
    captured = genuine(1, 1)
    assert sent_at(captured) == NOW
    verdicts = {kind: check(frame) for kind, frame in forgeries(captured, NOW + 5).items()}
    assert verdicts == {
        'invented chassis': Rejection.BAD_MAC,
        'a real switch port, signature copied': Rejection.BAD_MAC,
        'invented port': Rejection.BAD_MAC,
        'wrong signature': Rejection.BAD_MAC,
        'made younger': Rejection.BAD_MAC,
        'truncated': Rejection.MALFORMED,
        'unsigned, as before signatures': Rejection.MALFORMED,
    }
