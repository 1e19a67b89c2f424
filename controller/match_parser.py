"""Ryu's OpenFlow 1.3 match parser, with the repeated work taken out of the packet-in path.

Why: parsing the match of every packet-in was the largest single cost of a flow setup
in l2_learning's profile (22% of the samples; bench/ANALYSIS.md). Ryu's
``OFPMatch.parser`` builds each match twice, once as the OXM field list apps read
(``match['in_port']``) and once as the OpenFlow-1.0-style ``fields`` list of field
objects, and constructs the 40-field ``Flow`` and the ``FlowWildcards`` that only the
old API's serializer reads. A switch's packet-in matches are few and repeat (the
in_port, sometimes metadata or a tunnel id), so:

- the OXM fields of a match already parsed are looked up by the match's bytes (a
  bounded cache) instead of converted again, field by field, to user values;
- the old API's ``fields``, ``_flow`` and ``_wc`` are built from the same bytes by
  Ryu's own code the first time something reads them.

A match not seen before (or one Ryu refuses: a truncated one raises Ryu's own
``OFPTruncatedMessage``) goes through Ryu's parser unchanged, and its result fills the
cache. The object returned either way is an ``OFPMatch`` that reads, prints, compares,
serializes and converts to JSON as Ryu's does (tests/unit/test_match_parser.py holds the
two to the same answers for generated matches).

``install()`` replaces ``OFPMatch.parser`` for the whole process (every message with a
match: packet-ins, flow-removed, flow stats), once; SuiteApp does it at start-up.
"""

import struct
from typing import Any

from ryu.ofproto import ofproto_v1_3_parser as parser13

#: distinct matches kept; the cache is emptied when it is full (a switch's packet-in
#: matches number its ports, so only a flood of distinct flow-stats matches fills it)
CACHE_SIZE = 4096
_MATCH_HEADER = struct.Struct('!HH')
_ryu_parser = parser13.OFPMatch.parser  # bound classmethod: Ryu's, kept for misses


class ParsedMatch(parser13.OFPMatch):
    """An ``OFPMatch`` read from a message, whose old-API attributes wait until read."""

    def __init__(self, type_: int, length: int, fields2: list, buf: Any, offset: int) -> None:
        # Not OFPMatch.__init__: it builds the Flow and FlowWildcards eagerly.
        self.type = type_
        self.length = length
        self._fields2 = fields2
        self._raw = (buf, offset)

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes not set yet: the old API's, built as Ryu would.
        if name in ('_wc', '_flow', 'fields'):
            self._wc = parser13.FlowWildcards()
            self._flow = parser13.Flow()
            self.fields: list = []
            buf, offset = self._raw
            parser13.OFPMatch.parser_old(self, buf, offset + 4, self.length - 4)
            return self.__dict__[name]
        raise AttributeError(name)


# Ryu names an object by its class in str() and to_jsondict(): keep Ryu's name.
ParsedMatch.__name__ = ParsedMatch.__qualname__ = 'OFPMatch'


class MatchCache:
    """OXM field lists by the match bytes they were parsed from."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self.fields: dict[bytes, tuple] = {}
        self.hits = 0
        self.misses = 0

    def parse(self, buf: Any, offset: int) -> Any:
        """Ryu's ``OFPMatch.parser(buf, offset)``, from the cache where it can."""
        type_, length = _MATCH_HEADER.unpack_from(buf, offset)
        raw = bytes(buf[offset : offset + length])
        known = self.fields.get(raw)
        if known is not None:
            self.hits += 1
            return ParsedMatch(type_, length, list(known), buf, offset)
        self.misses += 1
        match = _ryu_parser(buf, offset)  # raises Ryu's error for a truncated match
        if len(raw) == length >= 4:
            if len(self.fields) >= self.size:
                self.fields.clear()
            self.fields[raw] = tuple(match._fields2)
        return match


CACHE = MatchCache()


def _parse(cls: Any, buf: Any, offset: int) -> Any:
    return CACHE.parse(buf, offset)


def install() -> None:
    """Make ``OFPMatch.parser`` the cached one for this process (idempotent)."""
    parser13.OFPMatch.parser = classmethod(_parse)


def uninstall() -> None:
    """Put Ryu's parser back (benchmarks compare the two)."""
    parser13.OFPMatch.parser = classmethod(_ryu_parser.__func__)
