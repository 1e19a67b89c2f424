"""What every benchmark records about where it ran, and where results go. Imported by
the benchmarks and by bench/report.py; it imports none of them (no cycle)."""

import datetime
import os
import platform
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS_DIR = os.path.join(REPO, 'bench', 'results')
QUICK_RESULTS_DIR = os.path.join(REPO, 'bench', 'results-quick')  # not committed

# l2_learning's protections (per-port and per-switch MAC limits, packet-in rate limit,
# LLDP probe of new ports) would otherwise be what is measured: the emulator sends from
# 100k MACs per switch.
L2_UNLIMITED = {
    'l2_learning': {
        'probe_time': 0,
        'max_macs_per_port': 10**8,
        'max_macs_per_switch': 10**8,
        'packet_in_rate': 10**9,
        'packet_in_burst': 10**9,
    }
}


def machine() -> dict:
    """Date, commit (and whether code was uncommitted), cores, CPU, memory, Python,
    kernel: the header of every result file."""
    mem_kib = 0
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemTotal:'):
                mem_kib = int(line.split()[1])
    commit = subprocess.run(
        ['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ['git', 'status', '--porcelain', '--', 'apps', 'controller', 'bench'],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout
    return {
        'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
        'commit': commit + (' (+ uncommitted changes)' if dirty.strip() else ''),
        'cores': os.cpu_count(),
        'memory_gib': round(mem_kib / 2**20, 1),
        'cpu': _cpu_model(),
        'python': platform.python_version(),
        'kernel': platform.release(),
    }


def _cpu_model() -> str:
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    return platform.processor()


def machine_line(data: dict) -> str:
    """The one line of RESULTS.md that says where and when a result file was made."""
    m = data['machine']
    return '%s, commit %s, %d cores (%s), %.1f GiB, Python %s, kernel %s%s; took %ss' % (
        m['date'],
        m['commit'],
        m['cores'],
        m['cpu'],
        m['memory_gib'],
        m['python'],
        m['kernel'],
        ', QUICK mode' if data.get('quick') else '',
        data['seconds'],
    )
