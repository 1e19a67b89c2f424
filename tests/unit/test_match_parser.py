"""controller/match_parser.py against Ryu's own OFPMatch.parser: same answers, both ways."""

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ryu.ofproto import ofproto_parser
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser13

from controller import match_parser

RYU_PARSE = match_parser._ryu_parser

macs = st.binary(min_size=6, max_size=6).map(lambda b: ':'.join('%02x' % x for x in b))
ipv4 = st.ip_addresses(v=4).map(str)
match_fields = st.fixed_dictionaries(
    {},
    optional={
        'in_port': st.integers(1, ofp.OFPP_MAX),
        'metadata': st.integers(0, 2**64 - 1)
        | st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)),
        'eth_dst': macs | st.tuples(macs, macs),
        'eth_src': macs,
        'eth_type': st.integers(0, 0xFFFF),
        'vlan_vid': st.integers(0, 0x1FFF),
        'ip_proto': st.integers(0, 255),
        'ipv4_src': ipv4 | st.tuples(ipv4, ipv4),
        'tcp_dst': st.integers(0, 0xFFFF),
        'tunnel_id': st.integers(0, 2**64 - 1),
    },
)


def serialized(fields: dict) -> bytes:
    buf = bytearray()
    parser13.OFPMatch(**fields).serialize(buf, 0)
    return bytes(buf)


def old_fields(match) -> list:
    return [(type(f).__name__, f.header, f.value, getattr(f, 'mask', None)) for f in match.fields]


def assert_same(ours, ryus) -> None:
    assert isinstance(ours, parser13.OFPMatch)
    assert (ours.type, ours.length) == (ryus.type, ryus.length)
    assert ours.items() == ryus.items()
    assert dict(ours.iteritems()) == dict(ryus.iteritems())
    for key, value in ryus.items():
        assert ours[key] == value and ours.get(key) == value and key in ours
    assert ours.get('ipv6_dst', 'absent') == ryus.get('ipv6_dst', 'absent')
    assert str(ours) == str(ryus)
    assert ours.to_jsondict() == ryus.to_jsondict()
    assert old_fields(ours) == old_fields(ryus)
    assert ours._flow.__dict__ == ryus._flow.__dict__
    assert ours._wc.__dict__ == ryus._wc.__dict__
    again, theirs = bytearray(), bytearray()
    ours.serialize(again, 0)
    ryus.serialize(theirs, 0)
    assert again == theirs


@settings(max_examples=300, deadline=None)
@given(fields=match_fields, pad=st.binary(max_size=12))
def test_parsed_matches_read_print_and_serialize_as_ryus(fields, pad):
    cache = match_parser.MatchCache()
    raw = pad + serialized(fields)
    ryus = RYU_PARSE(raw, len(pad))
    first = cache.parse(raw, len(pad))  # a miss: Ryu's parser, result cached
    second = cache.parse(bytearray(raw), len(pad))  # a hit
    assert (cache.misses, cache.hits) == (1, 1)
    assert isinstance(second, match_parser.ParsedMatch)
    assert_same(first, ryus)
    assert_same(second, ryus)


def test_a_hit_reads_its_own_message_not_the_first_one():
    cache = match_parser.MatchCache()
    first = cache.parse(serialized({'in_port': 3}), 0)
    second = cache.parse(serialized({'in_port': 3}), 0)
    second._fields2.append(('eth_type', 0x800))  # a list of its own, as Ryu gives
    assert first.items() == [('in_port', 3)]
    assert cache.parse(serialized({'in_port': 3}), 0).items() == [('in_port', 3)]


@pytest.mark.parametrize('cut', [6, 9, 12])
def test_a_truncated_match_raises_ryus_error_and_is_not_cached(cut):
    cache = match_parser.MatchCache()
    whole = serialized({'in_port': 3, 'eth_dst': '00:00:00:00:00:01'})
    cache.parse(whole, 0)
    with pytest.raises(Exception) as ours:
        cache.parse(whole[:cut], 0)
    with pytest.raises(Exception) as ryus:
        RYU_PARSE(whole[:cut], 0)
    assert type(ours.value) is type(ryus.value)
    assert len(cache.fields) == 1


def test_a_full_cache_starts_again():
    cache = match_parser.MatchCache(size=4)
    for port in range(1, 10):
        cache.parse(serialized({'in_port': port}), 0)
    assert 1 <= len(cache.fields) <= 4
    assert cache.parse(serialized({'in_port': 9}), 0).items() == [('in_port', 9)]


def packet_in(in_port: int, frame: bytes) -> bytes:
    match = serialized({'in_port': in_port})
    body = struct.pack('!IHBBQ', ofp.OFP_NO_BUFFER, len(frame), 0, 0, 7) + match + b'\0\0' + frame
    return struct.pack('!BBHI', ofp.OFP_VERSION, ofp.OFPT_PACKET_IN, 8 + len(body), 1) + body


def test_installed_the_packet_in_path_uses_it(monkeypatch):
    class Datapath:
        ofproto = ofp
        ofproto_parser = parser13

    monkeypatch.setattr(match_parser, 'CACHE', match_parser.MatchCache())
    match_parser.install()
    try:
        frame = bytes(range(60))
        raw = packet_in(2, frame)
        header = struct.unpack_from('!BBHI', raw)
        msgs = [ofproto_parser.msg(Datapath(), *header, raw) for _ in range(3)]
    finally:
        match_parser.uninstall()
    assert [m.match['in_port'] for m in msgs] == [2, 2, 2]
    assert all(m.data == frame and m.cookie == 7 for m in msgs)
    assert (match_parser.CACHE.misses, match_parser.CACHE.hits) == (1, 2)
    assert parser13.OFPMatch.parser(serialized({'in_port': 5}), 0).items() == [('in_port', 5)]
    assert type(parser13.OFPMatch.parser(serialized({'in_port': 5}), 0)) is parser13.OFPMatch
