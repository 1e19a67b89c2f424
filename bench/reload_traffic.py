"""Reload under traffic: FAUCET and vswitch_policy on one Mininet network, side by side.

    sudo .venv/bin/python -m bench.reload_traffic   ->  bench/results/reload_traffic.json

One OVS switch (userspace datapath, as the rest of the suite), seven hosts on three VLANs,
one FAUCET-format policy that both FAUCET's check_faucet_config and our ``load_policy``
accept unchanged. For each controller in turn (FAUCET 1.10.12 from its own venv,
bench/faucet.py, reloading on SIGHUP; apps/vswitch_policy.py under ryu-manager, reloading
on SIGHUP) the same edits are applied one after the other, each under sequence-numbered
UDP streams (1 ms apart) inside every VLAN. A stream is "affected" by an edit when the
edit touches its VLAN or one of its ports, yet none of the edits should stop it: a
datagram lost is the reload's doing. Per edit and controller: datagrams lost on the
affected and unaffected streams, the flow entries added, deleted and modified on the
switch (``dump-flows`` before and after, counters and ages ignored), the FLOW_MODs the
controller sent (``ovs-ofctl snoop`` during the reload) and, for FAUCET, whether its log
says warm or cold start.
"""

import fcntl
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time

from bench import faucet
from bench.machine import RESULTS_DIR, machine, machine_line
from controller.vswitch import load_policy
from tests.harness import flows
from tests.harness.controller import RyuController
from tests.harness.network import wait_connected, wait_until
from tests.harness.preflight import MININET_LOCK
from tests.harness.traffic import udp_stream

RATE_PPS = 1000  # one datagram a millisecond
STREAM_S = 8.0  # each edit's streams: the reload comes RELOAD_AT_S into them
RELOAD_AT_S = 2.0
SETTLE_S = 3.0  # after the controller said it reloaded, before the second dump
HOSTS = 7
RESTART_LINE = re.compile(r'\b(warm|cold) starting')  # FAUCET's log, on a reload
LOG_LINES = 12
# FAUCET's lines that say why a reload is a cold start
COLD_REASON = re.compile(
    r'table IDs changed|forcing cold start|all ports changed|requires cold start'
)  # of what the controller logged about each reload, kept in the result
VLANS = {'office': 100, 'guest': 200, 'lab': 300}
# host -> VLAN name at the start (port n is host hn)
START_VLANS = {1: 'office', 2: 'office', 3: 'guest', 4: 'guest', 5: 'lab', 6: 'lab', 7: 'lab'}
# (sender, receiver, UDP port): one stream inside each VLAN; h7 stays idle
STREAMS = [(1, 2, 5001), (3, 4, 5002), (5, 6, 5003)]
# port 1's input ACL: its first ``n`` refusals, then everything else allowed
ACL_REFUSALS = [
    '{dl_type: 0x800, nw_proto: 6, tcp_dst: 23, actions: {allow: 0}}',
    '{dl_type: 0x800, nw_proto: 17, udp_dst: 69, actions: {allow: 0}}',
]
ALLOW_ALL = '{actions: {allow: 1}}'
LAB_VIP = '10.0.0.254/8'  # the hosts are 10.0.0.n/8


def policy_text(vlans=START_VLANS, acl_rules=0, guest_max_hosts=8, lab_vip=False):
    """The policy after some of the edits: port ``n`` in VLAN ``vlans[n]``; port 1 with
    an input ACL of ``acl_rules`` rules (0: none); VLAN guest's max_hosts; VLAN lab's
    router address (faucet_vips)."""
    lines = []
    if acl_rules:
        lines += ['acls:', '  office-in:']
        lines += ['    - rule: %s' % r for r in ACL_REFUSALS[:acl_rules] + [ALLOW_ALL]]
    lines += ['vlans:']
    for name, vid in VLANS.items():
        lines.append('  %s:' % name)
        lines.append('    vid: %d' % vid)
        if name == 'guest':
            lines.append('    max_hosts: %d' % guest_max_hosts)
        if name == 'lab' and lab_vip:
            lines.append('    faucet_vips: [%s]' % LAB_VIP)
    lines += ['dps:', '  s1:', '    dp_id: 1', '    hardware: "Open vSwitch"', '    interfaces:']
    for port in range(1, HOSTS + 1):
        acl = ', acl_in: office-in' if port == 1 and acl_rules else ''
        lines.append('      %d: {name: h%d, native_vlan: %s%s}' % (port, port, vlans[port], acl))
    return '\n'.join(lines) + '\n'


MOVED = {**START_VLANS, 7: 'office'}
# (what changed, policy after it, the VLANs it touches): applied in this order. Once
# VLAN lab routes (the third edit), FAUCET cold-starts on any port change (the fourth).
EDITS = [
    ('ACL added to port 1 (office)', policy_text(acl_rules=1), {'office'}),
    ('VLAN guest max_hosts 8 -> 4', policy_text(acl_rules=1, guest_max_hosts=4), {'guest'}),
    (
        'router address added to VLAN lab',
        policy_text(acl_rules=1, guest_max_hosts=4, lab_vip=True),
        {'lab'},
    ),
    (
        'port 7 moved from lab to office',
        policy_text(MOVED, acl_rules=1, guest_max_hosts=4, lab_vip=True),
        {'lab', 'office'},
    ),
    (
        'second rule added to the ACL of port 1',
        policy_text(MOVED, acl_rules=2, guest_max_hosts=4, lab_vip=True),
        {'office'},
    ),
]


def check_policies(workdir):
    """Both controllers must accept every version of the policy as written."""
    for i, text in enumerate([policy_text()] + [edit[1] for edit in EDITS]):
        path = os.path.join(workdir, 'check-%d.yaml' % i)
        with open(path, 'w') as f:
            f.write(text)
        faucet.check_config(path)
        load_policy(path)


# --- what the switch holds and what it was sent -------------------------------------------


def flow_keys(switch):
    """{(table, priority, match): (cookie, actions, timeouts)} of the switch's entries."""
    return {
        (e.table, e.priority, e.match_text()): (e.cookie, e.actions, e.idle_timeout, e.hard_timeout)
        for e in flows.dump_flows(switch)
    }


def flow_diff(before, after):
    """Entries added, deleted, and modified (same table, priority and match; other
    cookie, actions or timeouts) between two ``flow_keys``."""
    return {
        'added': len(after.keys() - before.keys()),
        'deleted': len(before.keys() - after.keys()),
        'modified': sum(1 for k in before.keys() & after.keys() if before[k] != after[k]),
        'entries_before': len(before),
        'entries_after': len(after),
    }


class Snoop:
    """``ovs-ofctl snoop`` on the switch: the OpenFlow messages of its controller
    connection, for the length of the ``with`` block."""

    def __init__(self, switch, path):
        self.switch, self.path = switch, path

    def __enter__(self):
        self.out = open(self.path, 'w')
        self.process = subprocess.Popen(
            flows.OFCTL + ['snoop', self.switch],
            stdout=self.out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        time.sleep(0.5)  # connected to the snoop socket before the reload
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=5)
        self.out.close()

    def flow_mods(self):
        """{command: count} of the FLOW_MODs the controller sent, and their total."""
        counts = {}
        with open(self.path) as f:
            for line in f:
                if 'OFPT_FLOW_MOD' in line:
                    command = line.split('): ', 1)[-1].split(' ', 1)[0] or '?'
                    counts[command] = counts.get(command, 0) + 1
        return dict(counts, total=sum(counts.values()))


# --- the controllers --------------------------------------------------------------------


class Ours:
    name = 'vswitch_policy'

    def __init__(self, policy_path, logdir):
        self.policy_path = policy_path
        self.ctl = RyuController(
            ['apps/vswitch_policy.py'],
            os.path.join(logdir, 'vswitch_policy.log'),
            config={'vswitch_policy': {'policy_file': policy_path, 'reload_poll': 3600}},
        )

    def start(self):
        self.ctl.start()

    def reload(self, timeout=30.0):
        """SIGHUP, then wait for the reload to be applied; (None: one restart kind, the
        diff; the app's lines about it)."""
        applied = self.ctl.rest('/vswitch/reload')['applied']
        seen = len(self.ctl.log_text().splitlines())
        os.kill(self.ctl.pid, signal.SIGHUP)
        if not wait_until(lambda: self.ctl.rest('/vswitch/reload')['applied'] > applied, timeout):
            raise RuntimeError('vswitch_policy did not apply the reload:\n' + self.ctl.log_tail())
        said = self.ctl.log_text().splitlines()[seen:]
        return None, [line for line in said if 'SIGHUP' in line][:LOG_LINES]


class Faucet:
    name = 'faucet'

    def __init__(self, policy_path, logdir):
        self.ctl = faucet.FaucetController(policy_text(), os.path.join(logdir, 'faucet.log'))
        self.policy_path = self.ctl.faucet_config

    def start(self):
        self.ctl.start(emulated=False)

    def reload(self, timeout=30.0):
        """SIGHUP, then wait for FAUCET's log to say warm or cold start; which one, and
        what FAUCET's valve logged from the signal to that line (the changes it found)."""
        seen = len(self.ctl.log_text().splitlines())

        def since_signal():
            lines = self.ctl.log_text().splitlines()[seen:]
            ends = [i for i, line in enumerate(lines) if RESTART_LINE.search(line)]
            return lines[: ends[0] + 1] if ends else None

        os.kill(self.ctl.pid, signal.SIGHUP)
        said = wait_until(since_signal, timeout)
        if not said:
            raise RuntimeError('FAUCET did not reload:\n' + self.ctl.log_tail())
        valve = [line.split(' s1 ', 1)[-1] for line in said if ' faucet.valve ' in line]
        return RESTART_LINE.search(said[-1]).group(1), valve[-LOG_LINES:]


# --- one run --------------------------------------------------------------------------


def streams_during(net, action):
    """Run every stream of STREAMS at once, ``action()`` RELOAD_AT_S into them; the
    streams' results and what ``action`` returned."""
    results = {}

    def run(src, dst, port):
        results[(src, dst)] = udp_stream(
            net.get('h%d' % src), net.get('h%d' % dst), RATE_PPS, STREAM_S, port=port
        )

    threads = [threading.Thread(target=run, args=s) for s in STREAMS]
    for t in threads:
        t.start()
    time.sleep(RELOAD_AT_S)
    returned = action()
    for t in threads:
        t.join()
    return results, returned


def run_controller(make, workdir):
    from topologies.common import NumberedTopo, build_network

    class OneSwitch(NumberedTopo):
        def build(self):
            self.add_hosts(self.add_switch(), HOSTS)

    policy_path = os.path.join(workdir, 'policy.yaml')
    with open(policy_path, 'w') as f:
        f.write(policy_text())
    ctl = make(policy_path, workdir)
    ctl.start()
    net = None
    try:
        net = build_network(OneSwitch(), controller_port=ctl.ctl.ofp_port)
        if wait_connected(net, 30):
            raise RuntimeError('s1 did not connect to %s' % ctl.name)
        time.sleep(3)  # the cold start's rules in place
        for src, dst, _port in STREAMS:  # ARP and learning before the first stream
            net.get('h%d' % src).cmd('ping -c 2 -W 1 10.0.0.%d' % dst)
        rows = []
        for change, text, vlans in EDITS:
            before = flow_keys('s1')
            with open(ctl.policy_path, 'w') as f:
                f.write(text)
            snoop = Snoop('s1', os.path.join(workdir, '%s-snoop.txt' % ctl.name))
            with snoop:
                results, (restart, said) = streams_during(net, ctl.reload)
                time.sleep(SETTLE_S)
            after = flow_keys('s1')
            streams = []
            for (src, dst), r in sorted(results.items()):
                streams.append(
                    {
                        'stream': 'h%d -> h%d' % (src, dst),
                        'vlan': START_VLANS[src],
                        'affected': START_VLANS[src] in vlans,
                        'sent': r.sent,
                        'lost': len(r.lost_seqs),
                        'longest_outage_ms': r.longest_gap_ms,
                    }
                )
            row = {
                'change': change,
                'restart': restart,
                'lost_affected': sum(s['lost'] for s in streams if s['affected']),
                'lost_unaffected': sum(s['lost'] for s in streams if not s['affected']),
                'flows': flow_diff(before, after),
                'flow_mods': snoop.flow_mods(),
                'controller_log': said,
                'streams': streams,
            }
            print(ctl.name, json.dumps(row), flush=True)
            rows.append(row)
        return rows
    finally:
        if net is not None:
            net.stop()
        ctl.ctl.stop()


def section(data):
    """RESULTS.md's section for a reload_traffic.json (no targets)."""
    out = [
        '## Reload under traffic: FAUCET and vswitch_policy (bench/reload_traffic.py)',
        '',
        machine_line(data),
        '',
        'One OVS switch (userspace datapath), 7 hosts on VLANs office (h1, h2), guest (h3, '
        'h4) and lab (h5, h6, h7); one FAUCET-format policy both controllers load '
        'unchanged (FAUCET %s from PyPI, os-ken %s; vswitch_policy under ryu-manager). '
        'The edits below are applied in order, each by SIGHUP %.0f s into UDP streams '
        'h1 -> h2, h3 -> h4, h5 -> h6 (%d datagrams/s each, %.0f s); no edit should stop '
        'any of them. "affected": the streams of the VLANs the edit touches. Flow '
        'entries: dump-flows before and after (counters ignored; modified = same table, '
        'priority and match, other actions, cookie or timeouts). FLOW_MODs: what '
        '`ovs-ofctl snoop` saw the controller send during the streams (a cold start '
        'reconnects the switch: its whole program). Restart: what FAUCET\'s log says; '
        'vswitch_policy has one kind, the diff. %s'
        % (
            data['faucet_versions']['faucet'],
            data['faucet_versions']['os_ken'],
            data['reload_at_s'],
            data['rate_pps'],
            data['stream_s'],
            data['notes'],
        ),
        '',
        '| edit | controller | restart | lost affected | lost unaffected | longest outage ms '
        '| entries added '
        '| deleted | modified | entries after | FLOW_MODs sent |',
        '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ]
    by_controller = data['runs']
    for i, edit in enumerate(data['edits']):
        for name, rows in by_controller.items():
            row = rows[i]
            f = row['flows']
            out.append(
                '| %s | %s | %s | %d | %d | %.0f | %d | %d | %d | %d | %d |'
                % (
                    edit['change'],
                    name,
                    row['restart'] or 'n/a',
                    row['lost_affected'],
                    row['lost_unaffected'],
                    max(st['longest_outage_ms'] for st in row['streams']),
                    f['added'],
                    f['deleted'],
                    f['modified'],
                    f['entries_after'],
                    row['flow_mods']['total'],
                )
            )
    out += ['', 'Why FAUCET cold-started (its log):', '']
    for i, edit in enumerate(data['edits']):
        row = by_controller['faucet'][i]
        if row['restart'] == 'cold':
            why = [
                line.split(' s1 ', 1)[-1]  # no time and DP prefix
                for line in row['controller_log']
                if COLD_REASON.search(line)
            ]
            out.append('- %s: %s' % (edit['change'], '; '.join(why) or 'not said'))
    return out, []


def main():
    started = time.monotonic()
    versions = faucet.ensure_venv()
    with open(MININET_LOCK, 'w') as lock, tempfile.TemporaryDirectory() as tmp:
        fcntl.flock(lock, fcntl.LOCK_EX)
        check_policies(tmp)
        runs = {}
        for make in (Faucet, Ours):
            workdir = os.path.join(tmp, make.name)
            os.makedirs(workdir)
            runs[make.name] = run_controller(make, workdir)
    result = {
        'machine': machine(),
        'seconds': round(time.monotonic() - started),
        'faucet_versions': versions,
        'rate_pps': RATE_PPS,
        'stream_s': STREAM_S,
        'reload_at_s': RELOAD_AT_S,
        'policy': policy_text(),
        'edits': [{'change': c, 'policy': t, 'vlans': sorted(v)} for c, t, v in EDITS],
        'notes': 'Measured once on a shared 2-core machine that other sessions load at the '
        'same time: loss of a few datagrams can be the machine, not the reload.',
        'runs': runs,
    }
    os.makedirs(RESULTS_DIR, exist_ok=True)
    with open(os.path.join(RESULTS_DIR, 'reload_traffic.json'), 'w') as f:
        json.dump(result, f, indent=1)


if __name__ == '__main__':
    main()
