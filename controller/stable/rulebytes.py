"""The FLOW_MODs of a switch's forward rules (controller/stable/pipeline.py's
``forward_rule``) as bytes, made column-wise from templates.

A full epoch of 1,000 switches with a host each has 999,000 forward entries, sent
twice (phase 1 overlays, phase 3 stable rules): built as FlowSpecs and serialized by
Ryu (about 0.1 ms each) that was two minutes of CPU per copy. The rules of one epoch
differ only in the MAC they match and the port or group they send to; what they do
(deliver, output, group), whether they are overlays and the epoch fix everything
else. So each of those six shapes is serialized once per epoch by Ryu with sentinel
values (a FlowModTemplate), and a switch's rules of one shape are that prototype
repeated, its MAC and port columns written with numpy (a FlowModBlock): byte for byte
what Ryu makes of ``to_flow_mod(forward_rule(...))`` (tests/unit/test_stable_rulebytes.py).
"""

from collections.abc import Mapping

import numpy as np

from controller.flowspec import flow_mod_template
from controller.openflow import FlowModBlock, FlowModTemplate, mac_bytes, mac_text
from controller.stable import pipeline as pipe

TEMPLATES_KEPT = 64  # (epoch, overlay, action) templates: a few epochs' six
MACS_KEPT = 1 << 20  # MAC text -> bytes, cleared past this many
MAX_PORT = 0xFFFFFFFF
ENTRY_CODES_KEPT = 1 << 16  # distinct entries numbered (_EntryCodes)

_templates: dict[tuple[int, bool, str], FlowModTemplate] = {}


class _MacBytes(dict):
    """MAC text -> its 6 bytes, kept: an epoch looks each host's MAC up once per switch."""

    def __missing__(self, mac: str) -> bytes:
        if len(self) >= MACS_KEPT:
            self.clear()
        try:
            raw = mac_bytes(mac)
        except (ValueError, AttributeError):
            raw = b''
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


class _EntryCodes(dict):
    """Entry -> a small number, with each number's forward action and target in
    ``actions`` and ``targets``: a switch's entries are numbered in one pass (few are
    distinct: a network has few (port, backup) pairs), then split and stamped by
    number. Cleared (by forward_blocks, between calls) past ENTRY_CODES_KEPT."""

    def __init__(self) -> None:
        super().__init__()
        self.actions: list[int] = []  # index in pipeline.FORWARD_ACTIONS
        self.targets: list[int] = []  # port or group id

    def __missing__(self, entry: pipe.Entry) -> int:
        action, target = pipe.forward_action(entry)  # a group's ports checked here
        code = self[entry] = len(self.actions)
        self.actions.append(pipe.FORWARD_ACTIONS.index(action))
        self.targets.append(target)
        return code

    def reset(self) -> None:
        self.clear()
        self.actions.clear()
        self.targets.clear()


_CODES = _EntryCodes()


def forward_blocks(
    entries: Mapping[str, pipe.Entry], epoch: int, overlay: bool = False
) -> list[FlowModBlock]:
    """The FLOW_MODs adding ``forward_rule(mac, entry, epoch, overlay)`` for every
    {mac: entry} of ``entries``, as at most three FlowModBlocks (deliver, output,
    group rules, each in the order of ``entries``)."""
    count = len(entries)
    if not count:
        return []
    if len(_CODES) >= ENTRY_CODES_KEPT:
        _CODES.reset()
    codes = np.fromiter(map(_CODES.__getitem__, entries.values()), np.int64, count)
    actions = np.array(_CODES.actions, np.int64)[codes]
    targets = np.array(_CODES.targets, np.int64)[codes]
    mac_rows = np.frombuffer(b''.join(map(_MAC_BYTES.__getitem__, entries)), np.uint8).reshape(
        count, 6
    )
    blocks = []
    for number, action in enumerate(pipe.FORWARD_ACTIONS):
        rows = np.flatnonzero(actions == number)
        if len(rows):
            blocks.append(_block(epoch, overlay, action, mac_rows[rows], targets[rows]))
    return blocks


def _block(
    epoch: int, overlay: bool, action: str, mac_rows: np.ndarray, targets: np.ndarray
) -> FlowModBlock:
    if targets.min() < 0 or targets.max() > MAX_PORT:
        at = int(np.argmax((targets < 0) | (targets > MAX_PORT)))
        raise ValueError(
            'forward rule for %s: port %d is not an OpenFlow port (0..%d)'
            % (mac_text(mac_rows[at].tobytes()), targets[at], MAX_PORT)
        )
    return FlowModBlock(forward_template(epoch, overlay, action), mac_rows, targets)
