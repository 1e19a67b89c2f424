"""Where a controller spends its time under the flow-setup load, sampled with py-spy.

    sudo .venv/bin/python -m bench.profile [--app 'l2_learning (WARNING log)'] [--seconds 8]

Starts the controller as bench/run.py does, drives it with the emulator (16 switches,
throughput mode), samples the ryu-manager process with py-spy, and writes the functions
with the largest inclusive share of samples to bench/results/profile-<app>.txt.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading

from bench import ofemu
from bench.machine import REPO, RESULTS_DIR
from bench.run import CONTROLLERS, controller
from bench.sampler import inclusive_shares


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--app', default='l2_learning (WARNING log)', choices=CONTROLLERS)
    parser.add_argument('--seconds', type=float, default=8.0)
    parser.add_argument('--top', type=int, default=40)
    args = parser.parse_args()
    py_spy = os.path.join(os.path.dirname(sys.executable), 'py-spy')
    logdir = tempfile.mkdtemp(prefix='sdn-profile-')
    folded = os.path.join(logdir, 'profile.folded')
    with controller(args.app, logdir) as ctl:
        load = threading.Thread(
            target=ofemu.run_benchmark_sync,
            kwargs=dict(
                host='127.0.0.1',
                port=ctl.ofp_port,
                n_switches=16,
                hosts_per_switch=100,
                mode='throughput',
                loops=int(args.seconds) + 4,
                loop_seconds=1.0,
                warmup_loops=0,
                cookie=ofemu.FROM_TABLE_MISS,
            ),
        )
        load.start()
        subprocess.run(
            [
                py_spy,
                'record',
                '--pid',
                str(ctl.pid),
                '--duration',
                str(int(args.seconds)),
                '--rate',
                '250',
                '--format',
                'raw',
                '--output',
                folded,
                '--nonblocking',
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        load.join()
    with open(folded) as f:
        total, shares = inclusive_shares(f)
    slug = re.sub(r'[^a-z0-9]+', '-', args.app.lower()).strip('-')
    out = os.path.join(RESULTS_DIR, 'profile-%s.txt' % slug)
    with open(out, 'w') as f:
        f.write(
            'py-spy, %d samples of ryu-manager running %s under 16 emulated switches '
            '(throughput mode); inclusive share of samples per function\n\n' % (total, args.app)
        )
        for name, share in sorted(shares.items(), key=lambda kv: -kv[1])[: args.top]:
            f.write('%5.1f%%  %s\n' % (100 * share, name))
    print('wrote %s' % os.path.relpath(out, REPO))


if __name__ == '__main__':
    main()
