"""py-spy for the benchmarks: a process sampled while a benchmark drives it, and the
inclusive share of samples per function (bench/profile.py, bench/stable_incremental.py
--profile, bench/arbiter.py --profile)."""

import collections
import os
import signal
import subprocess
import sys
import time


def inclusive_shares(folded_lines):
    """{'function (file)': share of samples whose stack contains it} from py-spy's raw
    (collapsed-stack) output: one 'frame;frame;... count' line per distinct stack."""
    total, counts = 0, collections.Counter()
    for line in folded_lines:
        stack, _, count = line.rstrip().rpartition(' ')
        if not stack:
            continue
        total += int(count)
        names = set()
        for frame in stack.split(';'):
            function, _, where = frame.partition(' (')
            names.add('%s (%s)' % (function, os.path.basename(where.split(':')[0])))
        for name in names:
            counts[name] += int(count)
    return total, {name: n / total for name, n in counts.items()} if total else {}


class Sampler:
    """py-spy sampling process ``pid`` from now (once attached) until ``stop``; the
    inclusive shares of samples per function go to ``path``, as bench/profile.py
    writes them, and the raw stacks to ``path``.folded."""

    def __init__(self, pid, path):
        self.path = path
        self.folded = path + '.folded'
        py_spy = os.path.join(os.path.dirname(sys.executable), 'py-spy')
        self.process = subprocess.Popen(
            [py_spy, 'record', '-p', str(pid), '-r', '200', '-f', 'raw', '-o', self.folded],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # attached before what is to be sampled

    def stop(self, top=45):
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=30)
        with open(self.folded) as f:
            total, shares = inclusive_shares(f)
        with open(self.path, 'w') as f:
            f.write('py-spy, %d samples\n' % total)
            for name, share in sorted(shares.items(), key=lambda item: -item[1])[:top]:
                f.write('%5.1f%%  %s\n' % (share * 100, name))
