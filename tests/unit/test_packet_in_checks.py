"""controller/openflow.py against what a lying switch sends: packet-ins checked before use
(``packet_in_fields``, ``PacketInGuard``), Ryu's own parse errors made one line a minute
(``RyuParseErrors``), and flood rules packed so that the largest one still fits in an
OpenFlow message (``PackedOutputs``)."""

import logging
import struct
import traceback
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ryu.exception import OFPTruncatedMessage
from ryu.ofproto import ofproto_parser
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from bench.flood_memory import cut_short_packet_in, malformed_packet_ins, oxm_tlv, raw_packet_in
from controller import openflow as of
from controller.flowspec import FlowSpec, to_flow_mod
from tests.harness.fake_switch import FakeClock
from tests.harness.fakes import FakeDatapath

FRAME = bytes.fromhex('ffffffffffff020000000001') + b'\x08\x06' + bytes(46)
IN_PORT_3 = oxm_tlv(0x8000, 0, struct.pack('!I', 3))

# what Ryu makes of each kind: None (it cannot parse it) or what we read from it
EXPECTED = {
    'short frame': 'a frame of 9 bytes, shorter than an Ethernet header',
    'empty frame': 'a frame of 0 bytes, shorter than an Ethernet header',
    'no in_port': 'no in_port in the match',
    'in_port 0': 'in_port 0 is not a port',
    'total_len lies short': 'a frame of 5 bytes, shorter than an Ethernet header',
    'total_len lies long': 'a frame of 10 bytes, shorter than an Ethernet header',
    'unknown OXM field': 'fields',  # Ryu keeps it as field_<n>: in_port still read
    'experimenter OXM': None,
    'in_port of 2 bytes': None,
}


@pytest.fixture
def parse_errors(monkeypatch):
    """A RyuParseErrors of its own on Ryu's loggers (none other), on a fake clock."""
    clock = FakeClock()
    errors = of.RyuParseErrors(60.0, clock)
    for name in (of.RYU_PARSER_LOGGER, of.RYU_HUB_LOGGER):
        monkeypatch.setattr(logging.getLogger(name), 'filters', [errors])
    return errors, clock


def parse(raw: bytes, dp: Any = None) -> Any:
    """The message as Ryu parses it; None where Ryu drops it (or, for a message cut
    short, raises and so ends the connection)."""
    version, msg_type, length, xid = ofproto_parser.header(raw)
    try:
        return ofproto_parser.msg(dp or FakeDatapath(), version, msg_type, length, xid, raw)
    except OFPTruncatedMessage:
        return None


def test_a_well_formed_packet_in_gives_its_port_and_frame():
    in_port, frame = of.packet_in_fields(parse(raw_packet_in(IN_PORT_3, FRAME)))
    assert in_port == 3 and bytes(frame) == FRAME
    local = oxm_tlv(0x8000, 0, struct.pack('!I', ofp.OFPP_LOCAL))
    assert of.packet_in_fields(parse(raw_packet_in(local, FRAME)))[0] == ofp.OFPP_LOCAL


@pytest.mark.parametrize('kind', sorted(EXPECTED))
def test_each_kind_of_malformed_packet_in(kind, parse_errors):
    msg = parse(malformed_packet_ins()[kind])
    expected = EXPECTED[kind]
    if expected is None:
        assert msg is None  # Ryu dropped it (one line, no traceback: below)
        return
    if expected == 'fields':
        assert of.packet_in_fields(msg)[0] == 1
        return
    assert of.packet_in_fields(msg) is None
    assert of._read_packet_in(msg) == expected


def test_messages_that_are_not_what_ryu_makes():
    for msg in (
        SimpleNamespace(),
        SimpleNamespace(match=None, data=FRAME),
        SimpleNamespace(match={'in_port': True}, data=FRAME),
        SimpleNamespace(match={'in_port': 2**40}, data=FRAME),
        SimpleNamespace(match={'in_port': ofp.OFPP_CONTROLLER}, data=FRAME),
        SimpleNamespace(match={'in_port': 1}, data='text'),
        SimpleNamespace(match={'in_port': 1}),
    ):
        assert of.packet_in_fields(msg) is None


def test_the_guard_counts_per_switch_and_logs_once_a_minute(caplog):
    clock = FakeClock()
    logger = logging.getLogger('guard under test')
    guard = of.PacketInGuard(logger, 60.0, clock)
    short = SimpleNamespace(match={'in_port': 1}, data=b'\1\2')
    with caplog.at_level(logging.INFO, logger='guard under test'):
        for _ in range(100):
            assert guard.fields(1, short) is None
        guard.fields(2, short)
        clock.now += 60
        guard.fields(1, short)
    assert guard.dropped == {1: 101, 2: 1}
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        'switch 0000000000000001: malformed packet-in dropped (a frame of 2 bytes, shorter '
        'than an Ethernet header); 1 so far (one line a minute at most)',
        'switch 0000000000000002: malformed packet-in dropped (a frame of 2 bytes, shorter '
        'than an Ethernet header); 1 so far (one line a minute at most)',
        'switch 0000000000000001: malformed packet-in dropped (a frame of 2 bytes, shorter '
        'than an Ethernet header); 101 so far (one line a minute at most)',
    ]
    assert all(r.exc_info is None for r in caplog.records)
    assert guard.fields(1, SimpleNamespace(match={'in_port': 1}, data=FRAME)) == (1, FRAME)
    guard.forget(1)
    assert guard.dropped == {2: 1}


def test_what_ryu_cannot_parse_is_one_line_a_minute_without_its_traceback(parse_errors, caplog):
    errors, clock = parse_errors
    unknown_class = malformed_packet_ins()['experimenter OXM']
    with caplog.at_level(logging.INFO, logger=of.RYU_PARSER_LOGGER):
        for _ in range(50):
            assert parse(unknown_class) is None
        clock.now += 60
        assert parse(malformed_packet_ins()['in_port of 2 bytes']) is None
    assert errors.dropped == 51
    assert [(r.levelno, r.exc_info, r.exc_text) for r in caplog.records] == [
        (logging.WARNING, None, None)
    ] * 2
    assert (
        caplog.records[0]
        .getMessage()
        .startswith('an OpenFlow message Ryu could not parse was dropped (type 10, 110 bytes: ')
    )
    assert caplog.records[1].getMessage().endswith('; 51 so far (one line a minute at most)')
    assert 'Traceback' not in caplog.text
    # Other lines of that logger pass as they are.
    with caplog.at_level(logging.INFO, logger=of.RYU_PARSER_LOGGER):
        logging.getLogger(of.RYU_PARSER_LOGGER).info('something else')
    assert caplog.records[-1].getMessage() == 'something else'


def test_a_connection_ended_on_a_message_cut_short_is_one_line_a_minute(parse_errors, caplog):
    """Ryu's reader raises on it; the connection's green thread ends with "hub: uncaught
    exception" and the traceback, which the filter shortens (tests/unit/
    test_l2_hostile_switches.py sends one to the real ryu-manager)."""
    errors, _ = parse_errors
    hub_logger = logging.getLogger(of.RYU_HUB_LOGGER)
    with caplog.at_level(logging.INFO, logger=of.RYU_HUB_LOGGER):
        raw = cut_short_packet_in()
        for _ in range(3):
            try:
                ofproto_parser.msg(FakeDatapath(), *ofproto_parser.header(raw), raw)
            except OFPTruncatedMessage:
                hub_logger.error('hub: uncaught exception: %s', traceback.format_exc())
        hub_logger.error('hub: uncaught exception: %s', 'Traceback: KeyError: 3')
    assert errors.cut_short == 3
    assert [r.getMessage() for r in caplog.records] == [
        'a switch sent an OpenFlow message cut short (truncated message: unpack_from '
        'requires a buffer of at least 35 bytes for unpacking 3 bytes at offset 32 (actual '
        'buffer size is 34)): Ryu closed its connection (the line before names it); 1 so '
        'far (one line a minute at most)',
        'hub: uncaught exception: Traceback: KeyError: 3',
    ]  # not ours to shorten


def test_the_filter_is_installed_once(monkeypatch):
    loggers = [logging.getLogger(name) for name in (of.RYU_PARSER_LOGGER, of.RYU_HUB_LOGGER)]
    for logger in loggers:
        monkeypatch.setattr(logger, 'filters', [])
    installed = of.quiet_ryu_parse_errors()
    assert of.quiet_ryu_parse_errors() is installed
    assert [logger.filters for logger in loggers] == [[installed], [installed]]


oxm_fields = st.one_of(
    st.just(IN_PORT_3),
    st.builds(
        oxm_tlv,
        st.sampled_from([0x8000, 0x8001, 0x0001, 0xFFFF, 0x1234]),
        st.integers(0, 127),
        st.binary(max_size=12),
    ),
    st.binary(max_size=10),
)  # not even a TLV


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    oxms=st.lists(oxm_fields, max_size=4).map(b''.join),
    frame=st.binary(max_size=40),
    total_len=st.one_of(st.none(), st.integers(0, 0xFFFF)),
)
def test_no_packet_in_ryu_lets_through_makes_the_check_raise(parse_errors, oxms, frame, total_len):
    msg = parse(raw_packet_in(oxms, frame, total_len))
    if msg is None:
        return  # Ryu's own drop
    fields = of.packet_in_fields(msg)
    if fields is not None:
        in_port, data = fields
        assert type(in_port) is int and len(data) >= of.ETH_HEADER_LEN


def wire(msg: Any) -> bytes:
    dp = FakeDatapath()
    dp.set_xid(msg)
    msg.serialize()
    return bytes(msg.buf)


def flood_spec(n_outputs: int) -> FlowSpec:
    return FlowSpec(
        1,
        10,
        (('in_port', 1),),
        (('apply', tuple(('output', port) for port in range(2, n_outputs + 2))),),
        0x42,
    )


def test_packed_outputs_are_ryus_outputs_on_the_wire():
    dp = FakeDatapath()
    for n in (0, 1, 300):
        packed = to_flow_mod(dp, flood_spec(n), packed=True)
        assert isinstance(packed.instructions[0], of.PackedOutputs)
        assert wire(packed) == wire(to_flow_mod(dp, flood_spec(n)))
        assert [a.port for a in packed.instructions[0].actions] == list(range(2, n + 2))
    # Not only outputs: Ryu's objects, as before.
    spec = FlowSpec(0, 0, (), (('apply', (('controller', 128), ('output', 2))),), 1)
    assert not isinstance(to_flow_mod(dp, spec, packed=True).instructions[0], of.PackedOutputs)
    assert repr(of.PackedOutputs((('output', 2), ('output', 3)))) == 'PackedOutputs(2, 3)'


def test_the_largest_flood_fits_in_one_message_and_one_more_output_would_not():
    dp = FakeDatapath()
    largest = wire(to_flow_mod(dp, flood_spec(of.MAX_OUTPUTS_PER_FLOW_MOD), packed=True))
    assert len(largest) == 0xFFFF - 7  # 16-byte outputs: the next one is past 65535
    assert isinstance(parse(largest), parser.OFPFlowMod)
    with pytest.raises(struct.error):
        wire(to_flow_mod(dp, flood_spec(of.MAX_OUTPUTS_PER_FLOW_MOD + 1), packed=True))
