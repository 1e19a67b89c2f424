"""Large but valid policy files, for the tests of bounded and off-loop loading: a
shipped example with one long list added that no switch uses, so that loading it costs
what its size costs while the rules installed stay those of the example."""

import os

from tests.harness.controller import REPO

THREE_TENANTS = os.path.join(REPO, 'examples', 'policies', 'three_tenants.yaml')
FIREWALL_THEN_SWITCH = os.path.join(REPO, 'examples', 'arbiter', 'firewall_then_switch.yaml')


def _ipv4(i):
    return '10.%d.%d.%d' % (i >> 16 & 255, i >> 8 & 255, i & 255)


def _grow(head, line_of, size):
    """``head`` followed by ``line_of(0)``, ``line_of(1)``, ... while the whole stays
    within ``size`` bytes (ASCII)."""
    lines, total, i = [head], len(head), 0
    while True:
        line = line_of(i)
        if total + len(line) > size:
            return ''.join(lines)
        lines.append(line)
        total += len(line)
        i += 1


def large_vswitch_policy(size, base=THREE_TENANTS):
    """The VLAN policy ``base`` plus an ACL that no port applies, ``size`` bytes in all."""
    with open(base) as f:
        text = f.read()
    head, acls, tail = text.partition('\nacls:\n')
    assert acls, 'the base policy has no acls section'
    head += acls + '  unused-long-list:\n'
    body = _grow(
        '',
        lambda i: (
            '    - rule: {eth_type: 0x800, ipv4_dst: %s, actions: {allow: true}}\n' % _ipv4(i)
        ),
        size - len(head) - len(tail),
    )
    return head + body + tail


def large_arbiter_policy(size, base=FIREWALL_THEN_SWITCH):
    """The arbiter policy ``base`` plus the flowspace of an app that is not running,
    ``size`` bytes in all."""
    with open(base) as f:
        text = f.read()
    head = text + '  not_running:\n    flowspace:\n'
    return _grow(head, lambda i: '      - {eth_type: 0x800, ipv4_dst: %s}\n' % _ipv4(i), size)


def write_atomically(path, text):
    """Replace the file at ``path`` by one holding ``text`` in one step (a rename), as
    editors and deployment tools do: a reader never sees half of it."""
    temporary = '%s.new' % path
    with open(temporary, 'w') as f:
        f.write(text)
    os.replace(temporary, path)
