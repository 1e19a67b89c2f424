"""FAUCET beside our apps: the controller a user would pick instead for the same job.

FAUCET (``faucet==1.10.12`` from PyPI, on os-ken) is never a dependency of the project:
the benchmark builds it a venv of its own on first use (``bench/.faucet-venv``, or
``$SDN_BENCH_FAUCET_VENV``), with a Python that FAUCET supports (3.10 to 3.12:
``$SDN_BENCH_FAUCET_PYTHON``, else the first of /usr/bin/python3, python3.12, python3.11,
python3.10 and pyenv's that fits), and reuses it while its stamp says it holds that
release. The stamp also records the versions of faucet, os-ken and Python, which every
result of FAUCET carries.

What the emulated switches (bench/ofemu.py) must send for FAUCET to learn
--------------------------------------------------------------------------
``faucet_yaml`` describes the emulator's switches: dp_ids 1..N, ``hardware: "Open
vSwitch"``, ports 1..4 native access ports of one VLAN. FAUCET's pipeline for that
config is vlan (table 0, pushes the access port's VLAN tag), eth_src (1), eth_dst (2),
flood (3); the eth_src table's miss sends the packet to the controller (and goes on to
eth_dst). FAUCET drops a packet-in unless its reason is ACTION (an output action, not a
table miss), its cookie is the DP's (``strict_packet_in_cookie``), its match has an
in_port FAUCET knows, and its frame carries the tag of a configured VLAN (the vlan table
pushed it): ``EmulatedSwitch`` options ``cookie=COOKIE, reason=OFPR_ACTION,
table_id=<eth_src>, vlan_vid=VID`` (``FaucetController.packet_in``, the table id read
from FAUCET's own parse of the config). The ports must be up in the port-desc reply
(the emulator's are LIVE).

Limits turned off, as for l2_learning (the emulator learns 100k MACs per switch):
``max_hosts: 0`` on the VLAN and the ports (defaults 256 and 255), ``ignore_learn_ins:
0`` (default 10: ignore every 10th packet-in of one timestamp). FAUCET's host timeout
(300 s) is longer than any run.

What "answered" means for FAUCET
--------------------------------
FAUCET answers a packet-in from a new source with two FLOW_MODs: in table eth_src
(in_port, vlan, eth_src = the source: go on to eth_dst) and in table eth_dst (vlan,
eth_dst = the source: output to its port), and no PACKET_OUT (the switch's own miss
path floods the packet). The emulator matches replies by MAC: whichever of the two
arrives first answers the packet-in, the other is counted as extra. l2_learning also
sends two flow-mods per packet-in, simple_switch_13 a flow-mod and a packet-out: one
answer per packet-in for all of them.
"""

import fcntl
import glob
import json
import os
import shutil
import subprocess
from collections.abc import Iterable
from typing import Any

from bench.machine import REPO
from bench.ofemu import OFPR_ACTION
from tests.harness.controller import RyuController, free_port

REQUIREMENT = 'faucet==1.10.12'
VENV = os.environ.get('SDN_BENCH_FAUCET_VENV') or os.path.join(REPO, 'bench', '.faucet-venv')
# faucet 1.10.12: python_requires >= 3.10, classifiers up to 3.12 (os-ken 3.1, eventlet)
SUPPORTED_PYTHON = ((3, 10), (3, 12))
COOKIE = 1524372928  # FAUCET's default DP cookie, written in the config all the same
VID = 100
N_PORTS = 4
INSIDE = os.path.join(REPO, 'bench', 'faucet_inside.py')
STAMP = '.bench-stamp.json'
# FAUCET answers some hundreds of packet-ins/s here: at 64 switches x 32 outstanding a
# packet-in waits seconds for its answer, which the emulator's 2 s default would count
# as a timeout (and the late answer as extra).
RESPONSE_TIMEOUT = 10.0

# name: FAUCET_LOG_LEVEL (FAUCET logs every learned host at INFO, its default)
CONTROLLERS = {'faucet (default, INFO log)': 'INFO', 'faucet (WARNING log)': 'WARNING'}


class FaucetError(RuntimeError):
    """FAUCET's venv cannot be built, or FAUCET refused a configuration."""


# --- the venv ----------------------------------------------------------------------------


def _python_version(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, '-c', 'import sys, venv; print(*sys.version_info[:2])'],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError:
        return None
    if out.returncode != 0:
        return None
    major, minor = out.stdout.split()
    return int(major), int(minor)


def faucet_python() -> str:
    """The first interpreter FAUCET supports, with the venv module."""
    candidates = [os.environ.get('SDN_BENCH_FAUCET_PYTHON'), '/usr/bin/python3']
    candidates += [shutil.which('python3.%d' % minor) for minor in (12, 11, 10)]
    candidates += sorted(
        glob.glob(os.path.expanduser('~/.pyenv/versions/3.1[012]*/bin/python3')), reverse=True
    )
    tried = []
    for python in filter(None, candidates):
        version = _python_version(python)
        tried.append('%s (%s)' % (python, '.'.join(map(str, version)) if version else 'unusable'))
        if version and SUPPORTED_PYTHON[0] <= version <= SUPPORTED_PYTHON[1]:
            return python
    raise FaucetError(
        'no Python %d.%d to %d.%d with the venv module for FAUCET; tried: %s; '
        'set SDN_BENCH_FAUCET_PYTHON'
        % (*SUPPORTED_PYTHON[0], *SUPPORTED_PYTHON[1], ', '.join(tried) or 'none')
    )


def read_stamp(venv: str = VENV) -> dict | None:
    """What the stamp of ``venv`` says (requirement, interpreter, versions), if any."""
    try:
        with open(os.path.join(venv, STAMP)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


_VERSIONS = (
    'import importlib.metadata as m, json, platform; print(json.dumps('
    '{"faucet": m.version("faucet"), "os_ken": m.version("os-ken"), '
    '"python": platform.python_version()}))'
)


def ensure_venv(venv: str = VENV) -> dict:
    """Build FAUCET's venv unless its stamp says it is there; its versions (faucet,
    os_ken, python). Raises FaucetError, with pip's last lines, if it cannot be built."""
    stamp = read_stamp(venv)
    if (
        stamp
        and stamp.get('requirement') == REQUIREMENT
        and os.path.exists(os.path.join(venv, 'bin', 'faucet'))
    ):
        return stamp['versions']
    os.makedirs(os.path.dirname(os.path.abspath(venv)), exist_ok=True)
    with open(os.path.abspath(venv) + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time
        stamp = read_stamp(venv)
        if stamp and stamp.get('requirement') == REQUIREMENT:
            return stamp['versions']
        python = faucet_python()
        print(
            'building FAUCET venv at %s with %s (%s), about a minute' % (venv, python, REQUIREMENT),
            flush=True,
        )
        shutil.rmtree(venv, ignore_errors=True)
        log = os.path.abspath(venv) + '.build.log'
        steps = {
            '%s -m venv' % python: [python, '-m', 'venv', venv],
            'pip install ' + REQUIREMENT: [
                os.path.join(venv, 'bin', 'pip'),
                'install',
                '--disable-pip-version-check',
                REQUIREMENT,
            ],
        }
        with open(log, 'w') as out:
            for label, step in steps.items():
                if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT).returncode:
                    with open(log) as f:
                        tail = ''.join(f.readlines()[-15:])
                    raise FaucetError(
                        'could not build FAUCET\'s venv at %s (%s failed; '
                        'whole log in %s):\n%s' % (venv, label, log, tail)
                    )
        versions = json.loads(
            subprocess.run(
                [os.path.join(venv, 'bin', 'python'), '-c', _VERSIONS],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        with open(os.path.join(venv, STAMP), 'w') as f:
            json.dump({'requirement': REQUIREMENT, 'python': python, 'versions': versions}, f)
        return versions


# FAUCET's parse grows with VLANs x ports (each VLAN compares every port's config):
# the 1,000-port policy takes minutes per parse on a loaded 2-core machine.
TIMEOUT = 1800.0


def inside(args: list[str], venv: str = VENV, timeout: float = TIMEOUT) -> dict:
    """The JSON that bench/faucet_inside.py prints, run by FAUCET's Python."""
    out = subprocess.run(
        [os.path.join(venv, 'bin', 'python'), INSIDE] + args,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if out.returncode:
        raise FaucetError('FAUCET failed on %s:\n%s' % (' '.join(args), out.stderr[-3000:]))
    return json.loads(out.stdout)


def check_config(path: str, venv: str = VENV, timeout: float = TIMEOUT) -> None:
    """Raise FaucetError unless FAUCET's check_faucet_config accepts ``path``."""
    out = subprocess.run(
        [os.path.join(venv, 'bin', 'check_faucet_config'), path],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if out.returncode:
        raise FaucetError(
            'check_faucet_config refused %s:\n%s' % (path, (out.stdout + out.stderr)[-3000:])
        )


# --- configuration -----------------------------------------------------------------------


def faucet_yaml(
    n_switches: int, n_ports: int = N_PORTS, vid: int = VID, cookie: int = COOKIE
) -> str:
    """faucet.yaml for the emulated switches: dp_ids 1..n, ports 1..n_ports (module
    docstring)."""
    ports = range(1, n_ports + 1)
    return switches_yaml({dpid: ports for dpid in range(1, n_switches + 1)}, vid, cookie)


def switches_yaml(
    ports_by_dpid: dict[int, Iterable[int]], vid: int = VID, cookie: int = COOKIE
) -> str:
    """faucet.yaml for the switches ``{dp_id: their port numbers}``, one DP ``sw<dp_id>``
    each, every port a native access port of VLAN ``vid``, learning limits off (module
    docstring). FAUCET ignores a switch whose dp_id it is not given, and a port it is
    not given. No stacking: on a line or a tree of switches (no loop), each switch
    learning on its own forwards like one flat VLAN."""
    lines = ['vlans:', '  bench:', '    vid: %d' % vid, '    max_hosts: 0', 'dps:']
    for dpid, ports in ports_by_dpid.items():
        lines += [
            '  sw%d:' % dpid,
            '    dp_id: %d' % dpid,
            '    hardware: "Open vSwitch"',
            '    cookie: %d' % cookie,
            '    ignore_learn_ins: 0',
            '    interfaces:',
        ]
        lines += ['      %d: {native_vlan: bench, max_hosts: 0}' % port for port in ports]
    return '\n'.join(lines) + '\n'


def topology_ports(topo: Any) -> dict[int, list[int]]:
    """``{dp_id: [port numbers]}`` of a Mininet topology's switches before it is built
    (topologies/common.py gives every link its port numbers), for ``switches_yaml``."""
    dpids = {name: int(topo.nodeInfo(name)['dpid'], 16) for name in topo.switches()}
    ports: dict[int, list[int]] = {dpid: [] for dpid in dpids.values()}
    for node1, node2, info in topo.links(withInfo=True):
        for node, port in ((node1, info['port1']), (node2, info['port2'])):
            if node in dpids:
                ports[dpids[node]].append(port)
    return {dpid: sorted(p) for dpid, p in ports.items()}


def packet_in_fields(tables: dict) -> dict:
    """The EmulatedSwitch options that make packet-ins look like those of FAUCET's
    eth_src table, from ``{dp name: {table name: id}}`` (faucet_inside.py tables)."""
    ids = {t['eth_src'] for t in tables.values()}
    if len(ids) != 1:
        raise FaucetError('FAUCET\'s eth_src table differs between switches: %s' % tables)
    return {'cookie': COOKIE, 'reason': OFPR_ACTION, 'table_id': ids.pop(), 'vlan_vid': VID}


# --- the controller process ----------------------------------------------------------------


class FaucetController(RyuController):
    """FAUCET (its ``faucet`` script, which execs osken-manager: same pid) listening for
    OpenFlow on a port of its own, its log and exceptions in ``log_path`` (FAUCET_LOG
    STDOUT, FAUCET_EXCEPTION_LOG STDERR), Prometheus on another free port of 127.0.0.1.
    ``packet_in`` holds the emulator options for its pipeline once started."""

    name = 'FAUCET'

    def __init__(self, config_text: str, log_path: str, log_level: str = 'INFO', venv: str = VENV):
        super().__init__([], log_path)
        self.venv = venv
        self.log_level = log_level
        self.faucet_config = log_path + '.faucet.yaml'
        with open(self.faucet_config, 'w') as f:
            f.write(config_text)
        self.prometheus_port = free_port()
        self.packet_in: dict = {}

    @property
    def command(self) -> list[str]:
        level = '30' if self.log_level == 'WARNING' else '20'
        return [
            os.path.join(self.venv, 'bin', 'faucet'),
            '--ryu-ofp-listen-host=127.0.0.1',
            '--ryu-ofp-tcp-listen-port=%d' % self.ofp_port,
            '--ryu-default-log-level=%s' % level,
        ]

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
        env.update(
            PATH=os.path.join(self.venv, 'bin') + os.pathsep + env.get('PATH', ''),
            FAUCET_CONFIG=self.faucet_config,
            FAUCET_LOG='STDOUT',
            FAUCET_EXCEPTION_LOG='STDERR',
            FAUCET_LOG_LEVEL=self.log_level,
            FAUCET_PROMETHEUS_ADDR='127.0.0.1',
            FAUCET_PROMETHEUS_PORT=str(self.prometheus_port),
            PYTHONWARNINGS='ignore',
        )
        return env

    def start(self, timeout: float = 60.0, emulated: bool = True) -> 'FaucetController':
        """Start FAUCET on a configuration its own check_faucet_config accepts (a refused
        one raises FaucetError naming the file); for emulated switches (``emulated``),
        first read from its parse of the config the packet-in fields they must send (real
        OVS switches need none)."""
        ensure_venv(self.venv)
        check_config(self.faucet_config, self.venv)
        if emulated:
            self.packet_in = packet_in_fields(inside(['tables', self.faucet_config], self.venv))
        return super().start(timeout)


def controller(name: str, logdir: str, n_switches: int) -> FaucetController:
    """The FAUCET of CONTROLLERS[name] for ``n_switches`` emulated switches, not started."""
    slug = 'faucet-' + CONTROLLERS[name].lower()
    return FaucetController(
        faucet_yaml(n_switches),
        os.path.join(logdir, '%s-%dsw.log' % (slug, n_switches)),
        CONTROLLERS[name],
    )


# --- policies ------------------------------------------------------------------------------


def policy_result(raw: dict) -> dict:
    """FAUCET's figures for one policy, from faucet_inside.py's ``policy`` output: load +
    validate, cold start (the flows a switch gets on connecting), the warm reload of
    the one-port change (time, the flow-mods it sends, and the rules that really differ
    between the two full programs)."""
    reload_msgs = raw['reload_messages']
    return {
        'load_validate_ms': round(raw['load_validate_ms'], 1),
        'compile_ms': round(raw['cold_start_ms'], 1),
        'flow_entries': raw['flow_entries'],
        'cold_start_flow_mods': sum(
            n for kind, n in raw['cold_start_messages'].items() if kind.startswith('flow_mod_')
        ),
        'reload_type': raw['reload_type'],
        'reload_ms': round(raw['reload_load_validate_ms'] + raw['reload_ms'], 1),
        'reload_flow_mods': sum(
            n for kind, n in reload_msgs.items() if kind.startswith('flow_mod_')
        ),
        'reload_flow_mod_deletes': sum(
            n for kind, n in reload_msgs.items() if kind.startswith('flow_mod_delete')
        ),
        'rules_differing': raw['rules_differing'],
    }


def policy(text: str, changed_text: str, workdir: str, venv: str = VENV) -> dict:
    """FAUCET's figures (``policy_result``) for the policy ``text`` (first checked by
    check_faucet_config) and its one-port change ``changed_text`` (checked by the
    reload's parse); a config FAUCET refuses gives ``{'refused': reason}``, one it
    does not get through in ``TIMEOUT`` seconds ``{'gave_up': ...}``."""
    paths = []
    for name, content in (('policy.yaml', text), ('changed.yaml', changed_text)):
        paths.append(os.path.join(workdir, name))
        with open(paths[-1], 'w') as f:
            f.write(content)
    try:
        check_config(paths[0], venv)
        return policy_result(inside(['policy'] + paths, venv))
    except FaucetError as exc:
        return {'refused': str(exc).splitlines()[-1][:200]}
    except subprocess.TimeoutExpired as exc:
        return {'gave_up': 'no result within %.0f s' % exc.timeout}


if __name__ == '__main__':  # build the venv ahead of a run: python -m bench.faucet
    print(json.dumps(ensure_venv(), indent=1))
