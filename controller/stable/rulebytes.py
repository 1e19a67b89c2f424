"""The FLOW_MODs of a switch's forward rules (controller/stable/pipeline.py's
``forward_rule``) as bytes, made column-wise from templates.

A full epoch of 1,000 switches with a host each has 999,000 forward entries, sent
twice (phase 1 overlays, phase 3 stable rules): built as FlowSpecs and serialized by
Ryu (~0.3 ms each) that was seconds. The rules of one epoch differ only in the MAC
they match and the port or group they send to; what they do (deliver, output, group),
whether they are overlays and the epoch fix everything else. So each of those six
shapes is serialized once per epoch by Ryu with sentinel values (a FlowModTemplate),
and a switch's rules of one shape are that prototype repeated, its MAC and port
columns written with numpy (a FlowModBlock): byte for byte what Ryu makes of
``to_flow_mod(forward_rule(...))`` (tests/unit/test_stable_rulebytes.py).
"""

from collections.abc import Mapping
from operator import itemgetter

import numpy as np

from controller.flowspec import flow_mod_template
from controller.openflow import FlowModBlock, FlowModTemplate, mac_bytes, mac_text
from controller.stable import pipeline as pipe

TEMPLATES_KEPT = 64  # (epoch, overlay, action) templates: a few epochs' six
MACS_KEPT = 1 << 20  # MAC text -> bytes, cleared past this many
MAX_PORT = 0xFFFFFFFF

_templates: dict[tuple[int, bool, str], FlowModTemplate] = {}
_first, _second = itemgetter(0), itemgetter(1)


class _MacBytes(dict):
    """MAC text -> its 6 bytes, kept: an epoch looks each host's MAC up once per switch."""

    def __missing__(self, mac: str) -> bytes:
        if len(self) >= MACS_KEPT:
            self.clear()
        raw = mac_bytes(mac)
        if len(raw) != 6:
            raise ValueError('%r is not a MAC address (six bytes, 00:00:00:00:00:01)' % (mac,))
        self[mac] = raw
        return raw


_MAC_BYTES = _MacBytes()


def forward_template(epoch: int, overlay: bool, action: str) -> FlowModTemplate:
    """The template of ``epoch``'s forward rules doing ``action`` (pipeline's
    FORWARD_ACTIONS), stamped with the MAC matched and the port or group id."""
    key = (epoch, overlay, action)
    template = _templates.get(key)
    if template is None:
        if len(_templates) >= TEMPLATES_KEPT:
            _templates.clear()
        template = _templates[key] = flow_mod_template(
            lambda mac, target: pipe.forward_spec(mac, action, target, epoch, overlay),
            packed=False,
        )
    return template


def forward_blocks(
    entries: Mapping[str, pipe.Entry], epoch: int, overlay: bool = False
) -> list[FlowModBlock]:
    """The FLOW_MODs adding ``forward_rule(mac, entry, epoch, overlay)`` for every
    {mac: entry} of ``entries``, as at most three FlowModBlocks (deliver, output,
    group rules, each in the order of ``entries``)."""
    count = len(entries)
    if not count:
        return []
    mac_rows = np.frombuffer(b''.join(map(_MAC_BYTES.__getitem__, entries)), np.uint8).reshape(
        count, 6
    )
    values = entries.values()
    delivered = np.fromiter(map('deliver'.__eq__, map(_first, values)), bool, count)
    wheres = np.fromiter(map(_second, values), object, count)  # a port, or a Route
    blocks = []
    if delivered.any():
        rows = np.flatnonzero(delivered)
        blocks.append(_block(epoch, overlay, pipe.DELIVER, mac_rows[rows], wheres[rows]))
        forwarded = np.flatnonzero(~delivered)
        mac_rows, wheres = mac_rows[forwarded], wheres[forwarded]
    if not len(wheres):
        return blocks
    # A Route is (port, backup): backup None (no failover) becomes NaN here.
    ports = np.fromiter(map(_first, wheres), np.int64, len(wheres))
    backups = np.array(list(map(_second, wheres)), np.float64)
    plain = np.isnan(backups)
    groups = np.flatnonzero(~plain)
    if len(groups) < len(wheres):
        rows = np.flatnonzero(plain)
        blocks.append(_block(epoch, overlay, pipe.OUTPUT, mac_rows[rows], ports[rows]))
    if len(groups):
        primary, backup = ports[groups], backups[groups].astype(np.int64)
        bad = (primary <= 0) | (backup <= 0) | (np.maximum(primary, backup) > pipe.MAX_GROUP_PORT)
        if bad.any():
            at = int(np.argmax(bad))
            pipe.failover_group_id(int(primary[at]), int(backup[at]))  # raises, naming them
        # pipeline.failover_group_id, column-wise
        blocks.append(_block(epoch, overlay, pipe.GROUP, mac_rows[groups], primary << 16 | backup))
    return blocks


def _block(
    epoch: int, overlay: bool, action: str, mac_rows: np.ndarray, targets: np.ndarray
) -> FlowModBlock:
    targets = targets.astype(np.int64)
    if targets.min() < 0 or targets.max() > MAX_PORT:
        at = int(np.argmax((targets < 0) | (targets > MAX_PORT)))
        raise ValueError(
            'forward rule for %s: port %d is not an OpenFlow port (0..%d)'
            % (mac_text(mac_rows[at].tobytes()), targets[at], MAX_PORT)
        )
    return FlowModBlock(forward_template(epoch, overlay, action), mac_rows, targets)
