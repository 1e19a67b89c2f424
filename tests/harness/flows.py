"""Flow tables and port counters of Open vSwitch bridges, read with ``ovs-ofctl``.

Everything here returns plain data (``FlowEntry``, ``PortCounters``) that tests assert on.
The parsers are pure functions of the ``ovs-ofctl`` text, so they are unit-tested without
a switch (tests/unit/test_harness_parsers.py).

``ovs-ofctl`` prints port names instead of numbers (``in_port="s1-eth1"``,
``output:"s1-eth2"``) when it writes to a terminal or is given ``--names``; the commands
below pass ``--no-names`` so ports are numbers, and the parser accepts both forms.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass, field

OFCTL = ['ovs-ofctl', '-O', 'OpenFlow13', '--no-names']
OFCTL_TIMEOUT_S = 10

# OVS omits the priority when it is OpenFlow's default.
DEFAULT_PRIORITY = 32768
LLDP_ETH_TYPE = '0x88cc'

# Fields of a dump-flows line that describe the entry rather than what it matches.
_ENTRY_INTS = (
    'table',
    'priority',
    'n_packets',
    'n_bytes',
    'idle_timeout',
    'hard_timeout',
    'importance',
)
_IGNORED = ('idle_age', 'hard_age')  # printed by OpenFlow 1.0 dumps: time since last hit
# Flow-mod flags OVS prints as bare words between the counters and the match.
_FLAGS = ('send_flow_rem', 'check_overlap', 'reset_counts', 'no_packet_counts', 'no_byte_counts')
# Actions that wrap a list of further actions; outputs inside them are outputs too.
_NESTED_ACTIONS = ('apply_actions', 'write_actions', 'clone')

# One token of the part before 'actions=': quoted strings (port names) may hold
# commas or spaces, so they are kept whole.
_HEAD_TOKEN = re.compile(r'(?:"(?:[^"\\]|\\.)*"|[^,\s"])+')
_ACTIONS_AT = re.compile(r'(?:^|[\s,])actions=')


class OfctlError(RuntimeError):
    """ovs-ofctl failed (no such bridge, OVS not running, ...); the message holds its
    stderr."""


def _unquote(value):
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r'\\(.)', r'\1', value[1:-1])
    return value


def split_actions(actions):
    """Split an action list at its top-level commas.

    'set_field:00:00:00:00:00:09->eth_dst,output:3' gives two actions;
    'learn(table=5,output:NXM_OF_IN_PORT[]),output:2' gives two as well, because commas
    inside parentheses, brackets or quotes belong to their action.
    """
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(actions):
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char in '([':
            depth += 1
        elif char in ')]':
            depth -= 1
        elif char == ',' and depth == 0:
            parts.append(actions[start:i])
            start = i + 1
    parts.append(actions[start:])
    return [part.strip() for part in parts if part.strip()]


def _action_name(action):
    """'output:2' -> 'output', 'controller(max_len=128)' -> 'controller', '2' -> '2'."""
    return re.split(r'[:(]', action, maxsplit=1)[0].strip().lower()


def _flat_actions(actions):
    """The actions of a list with apply_actions(...) / write_actions(...) opened up."""
    flat = []
    for action in split_actions(actions):
        name = _action_name(action)
        if name in _NESTED_ACTIONS and action.endswith(')'):
            flat.extend(_flat_actions(action[len(name) + 1 : -1]))
        else:
            flat.append(action)
    return flat


def _output_target(action):
    """The port an output action names, as text ('2', 'CONTROLLER', '"s1-eth2"'), or None.

    Forms: 'output:2', '2' (OVS prints a bare port number for some outputs),
    'output(port=2,max_len=100)'.
    """
    if action.isdigit():
        return action
    name = _action_name(action)
    if name != 'output':
        return None
    rest = action[len('output') :]
    if rest.startswith(':'):
        return rest[1:]
    found = re.search(r'port=("(?:[^"\\]|\\.)*"|[^,)]+)', rest)
    return found.group(1) if found else None


@dataclass
class FlowEntry:
    """One line of ``ovs-ofctl dump-flows``.

    ``match`` maps each match field to its text as OVS printed it (masks included, port
    names unquoted); protocol shorthands such as ``ip`` or ``arp`` map to ''.
    ``actions`` is the raw text after ``actions=``.
    """

    cookie: int = 0
    table: int = 0
    priority: int = DEFAULT_PRIORITY
    n_packets: int = 0
    n_bytes: int = 0
    duration: float = 0.0
    idle_timeout: int = 0
    hard_timeout: int = 0
    importance: int = 0
    flags: list = field(default_factory=list)
    match: dict = field(default_factory=dict)
    actions: str = ''

    @property
    def action_list(self):
        """Every action, with apply_actions/write_actions/clone opened up."""
        return _flat_actions(self.actions)

    @property
    def sends_to_controller(self):
        """Does a packet hitting this entry go to the controller (a packet-in)?"""
        return any(
            _action_name(a) == 'controller' or (_output_target(a) or '').upper() == 'CONTROLLER'
            for a in self.action_list
        )

    @property
    def is_lldp(self):
        """Does the entry match LLDP frames (the topology discovery's own packet-ins)?"""
        eth_type = self.match.get('dl_type', self.match.get('eth_type', ''))
        return eth_type.lower() == LLDP_ETH_TYPE

    @property
    def output_ports(self):
        """Numbered ports the entry outputs to, in action order. Reserved ports (FLOOD,
        IN_PORT, CONTROLLER, ...) and port names are not numbers and are left out."""
        targets = (_output_target(a) for a in self.action_list)
        return [int(t) for t in targets if t is not None and t.isdigit()]

    def match_text(self):
        return ','.join('%s=%s' % (k, v) if v != '' else k for k, v in self.match.items()) or '*'

    def __str__(self):
        timeouts = ''.join(
            ' %s=%d' % (name, value)
            for name, value in (
                ('idle_timeout', self.idle_timeout),
                ('hard_timeout', self.hard_timeout),
            )
            if value
        )
        return 'table=%d priority=%d n_packets=%d cookie=%#x%s %s actions=%s' % (
            self.table,
            self.priority,
            self.n_packets,
            self.cookie,
            timeouts,
            self.match_text(),
            self.actions,
        )


def parse_flow_line(line):
    """A FlowEntry from one dump-flows line, or None for lines that are not flows
    (the 'OFPST_FLOW reply (OF1.3)' / 'NXST_FLOW reply' headers, blank lines)."""
    found = _ACTIONS_AT.search(line)
    if not found:
        return None
    entry = FlowEntry(actions=line[found.end() :].strip())
    for token in _HEAD_TOKEN.findall(line[: found.start()]):
        key, has_value, value = token.partition('=')
        if not has_value:
            if key in _FLAGS:
                entry.flags.append(key)
            else:
                entry.match[key] = ''
        elif key in _ENTRY_INTS:
            setattr(entry, key, int(value))
        elif key == 'cookie':
            entry.cookie = int(value, 0)
        elif key == 'duration':
            entry.duration = float(value.rstrip('s'))
        elif key not in _IGNORED:
            entry.match[key] = _unquote(value)
    return entry


def parse_dump_flows(text):
    """Every flow entry in the output of ``ovs-ofctl dump-flows``, in OVS's order."""
    entries = []
    for line in text.splitlines():
        try:
            entry = parse_flow_line(line)
        except ValueError as error:
            raise ValueError('cannot parse flow line %r: %s' % (line, error)) from None
        if entry is not None:
            entries.append(entry)
    return entries


def _ofctl(*args):
    """stdout of ``ovs-ofctl -O OpenFlow13 --no-names <args>``; OfctlError on failure."""
    command = OFCTL + [str(a) for a in args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=OFCTL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise OfctlError(
            '%s did not answer within %ds' % (' '.join(command), OFCTL_TIMEOUT_S)
        ) from None
    except FileNotFoundError:
        raise OfctlError(
            'ovs-ofctl not found: install Open vSwitch (sudo bash scripts/setup.sh)'
        ) from None
    if done.returncode != 0:
        raise OfctlError(
            '%s failed (exit %d): %s' % (' '.join(command), done.returncode, done.stderr.strip())
        )
    return done.stdout


def dump_flows(switch, table=None):
    """The flow entries of bridge ``switch`` (a name such as 's1'; a Mininet switch
    works too, its str() is its name), optionally of one table only."""
    args = ['dump-flows', switch] + ([] if table is None else ['table=%d' % table])
    return parse_dump_flows(_ofctl(*args))


def table_changes(switch, seconds, watch=''):
    """The changes to bridge ``switch``'s flow table during the next ``seconds``, as
    Open vSwitch reports them to an OpenFlow flow monitor (``ovs-ofctl monitor``): one
    'event=ADDED|MODIFIED|DELETED ...' line for every flow-mod that reached the table,
    whoever sent it (an ADD of an identical rule counts too). ``watch``: a match that
    narrows it ('ip,nw_dst=10.0.0.100')."""
    spec = 'watch:!initial' + (',' + watch if watch else '')
    # SIGTERM from timeout(1): ovs-ofctl then flushes what it printed to the pipe (a
    # SIGKILL would lose it). timeout's own exit status is 124.
    command = ['timeout', '-s', 'TERM', str(seconds)] + OFCTL + ['monitor', str(switch), spec]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + OFCTL_TIMEOUT_S
    )
    if done.returncode != 124:
        raise OfctlError(
            '%s ended early (exit %d): %s'
            % (' '.join(command), done.returncode, done.stderr.strip())
        )
    # (It prints the monitor's first reply on stdout, the updates after it on stderr.)
    return [line.strip() for line in (done.stdout + done.stderr).splitlines() if 'event=' in line]


def dump_all(switch_names):
    """{switch name: its flow entries} for every switch."""
    return {str(name): dump_flows(name) for name in switch_names}


def format_flows(tables):
    """Readable text of {switch: [FlowEntry]}, sorted by table then priority, for test
    reports and the demo."""
    lines = []
    for switch, entries in tables.items():
        lines.append(
            '== %s: %d flow entries, %d packet-ins'
            % (switch, len(entries), packet_in_count(entries))
        )
        lines.extend(
            '  %s' % entry for entry in sorted(entries, key=lambda e: (e.table, -e.priority))
        )
    return '\n'.join(lines)


def packet_in_count(entries):
    """Packets that went to the controller through these entries, LLDP excluded.

    The data plane counts them for any app (Ryu's simple_switch_13 table-miss is
    ``actions=CONTROLLER:65535``, l2_learning's is ``CONTROLLER:128,goto_table:1``);
    LLDP entries are left out because topology discovery sends those all the time.
    OVS brings the counters up to date from its datapath about once a second, so read
    them a second or two after the traffic to count all of it.
    """
    return sum(e.n_packets for e in entries if e.sends_to_controller and not e.is_lldp)


# OVS brings flow counters up to date from its datapath about once a second.
COUNTER_REFRESH_S = 1.5


def wait_for_counters():
    """Sleep until the counters include the traffic sent before this call."""
    time.sleep(COUNTER_REFRESH_S)


def total_packet_ins(switch_names):
    """packet_in_count summed over the flow tables of every switch."""
    return sum(packet_in_count(dump_flows(name)) for name in switch_names)


@dataclass
class PortCounters:
    """Counters of one switch port from ``ovs-ofctl dump-ports``; None where OVS prints
    '?' (a counter the port does not keep)."""

    rx_packets: int | None = None
    tx_packets: int | None = None
    rx_bytes: int | None = None
    tx_bytes: int | None = None
    rx_dropped: int | None = None
    tx_dropped: int | None = None

    def __str__(self):
        return 'rx %s pkts %s B (drop %s), tx %s pkts %s B (drop %s)' % (
            self.rx_packets,
            self.rx_bytes,
            self.rx_dropped,
            self.tx_packets,
            self.tx_bytes,
            self.tx_dropped,
        )


_PORT_LINE = re.compile(r'^\s*port\s+("(?:[^"\\]|\\.)*"|\S+):\s*rx\s+(.*)$')
_TX_LINE = re.compile(r'^\s*tx\s+(.*)$')
_COUNTER = re.compile(r'(\w+)=([^,\s]+)')
# dump-ports names -> PortCounters field suffixes
_COUNTER_NAMES = {'pkts': 'packets', 'bytes': 'bytes', 'drop': 'dropped'}


def _port_key(text):
    """2 for '2', 'LOCAL' for 'LOCAL', 's1-eth2' for '"s1-eth2"' (with --names)."""
    text = _unquote(text)
    return int(text) if text.isdigit() else text


def _set_counters(counters, direction, text):
    for name, value in _COUNTER.findall(text):
        if name in _COUNTER_NAMES:
            setattr(
                counters,
                '%s_%s' % (direction, _COUNTER_NAMES[name]),
                None if value == '?' else int(value),
            )


def parse_dump_ports(text):
    """{port: PortCounters} from ``ovs-ofctl dump-ports`` output. Ports are numbers,
    except 'LOCAL' (the bridge's own port) and names if the dump had --names."""
    ports, current = {}, None
    for line in text.splitlines():
        port_line = _PORT_LINE.match(line)
        tx_line = _TX_LINE.match(line)
        if port_line:
            current = ports[_port_key(port_line.group(1))] = PortCounters()
            _set_counters(current, 'rx', port_line.group(2))
        elif tx_line and current is not None:
            _set_counters(current, 'tx', tx_line.group(1))
    return ports


def port_stats(switch):
    """{port number or 'LOCAL': PortCounters} of bridge ``switch``."""
    return parse_dump_ports(_ofctl('dump-ports', switch))


def busiest_port(switch, ports, during):
    """Of ``ports`` of ``switch``, the one that sent the most packets while ``during()``
    ran: which way traffic goes, when a controller does not say (STP's port roles)."""
    wait_for_counters()
    before = port_stats(switch)
    during()
    wait_for_counters()
    after = port_stats(switch)
    return max(ports, key=lambda p: after[p].tx_packets - before[p].tx_packets)
