"""apps/stable_routing.py on Mininet + Open vSwitch: how long a network update takes and
how many flow entries it needs at its peak, against the number of switches; and the
traffic a link failure costs, against Ryu's simple_switch_stp_13 on the same failure.

    sudo .venv/bin/python -m bench.run --only stable_network [--quick]

Update: a link is cut (carrier loss), then brought back (a planned change). The
duration runs from the first trigger to the new epoch installed on every switch (the
app's own record, from /stable/history). Flow entries are sampled on every switch with
``ovs-ofctl dump-aggregate`` while the update runs; the peak is the sum of each
switch's highest count (old and new epochs' rules coexist between phase 1 and phase 3).

The updates run with ``quiet_window`` 0.05 s (``UPDATE_CONFIG``; the app's default is
0.5 s), so that "first trigger to installed" shows what the epoch itself costs; each
change also records the epoch's ``steps_ms`` and the time from its first trigger to
its cut. fat-tree k=8 (80 switches, 128 hosts) is the size issue 18's 100 ms target
names.

Failover: ring(4), h1 -> h3 (s1-s2-s3), the link s1-s2 cut under a UDP stream. Ours
fails over in the switch (fast-failover group); simple_switch_stp_13 waits for STP to
re-converge. Quick mode leaves the STP run out (it takes about two minutes).
"""

import fcntl
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from tests.harness import flows, stable
from tests.harness.controller import RyuController
from tests.harness.network import Polling, switch_links, wait_connected, wait_until
from tests.harness.preflight import MININET_LOCK, missing_for_mininet
from tests.harness.traffic import reachability_matrix, udp_stream

STABLE = ['apps/stable_routing.py']
UPDATE_CONFIG = {'stable_routing': {'quiet_window': 0.05}}
_FLOW_COUNT = re.compile(r'flow_count=(\d+)')


def run(quick, logdir):
    missing = missing_for_mininet()
    if missing:
        raise SystemExit('stable_network benchmark needs: ' + '; '.join(missing))
    with open(MININET_LOCK, 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sizes = (
            [('ring', 4), ('fattree', 4), ('fattree', 8)]
            if quick
            else [
                ('ring', 4),
                ('ring', 8),
                ('ring', 16),
                ('fattree', 4),
                ('ring', 32),
                ('fattree', 8),
            ]
        )
        return {
            'updates': [_updates(topo, logdir) for topo in sizes],
            'failover': _failover(quick, logdir),
        }


def _topo(name, *args):
    import importlib

    return importlib.import_module('topologies.' + name).topos[name](*args)


def _flow_count(switch):
    out = subprocess.run(
        ['ovs-ofctl', '-O', 'OpenFlow13', 'dump-aggregate', switch],
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout
    found = _FLOW_COUNT.search(out)
    return int(found.group(1)) if found else 0


class _FlowSampler(Polling):
    """Samples every switch's flow count in a loop; keeps each switch's highest."""

    def __init__(self, switches):
        super().__init__(self._sample)
        self.switches = switches
        self.peak = {s: 0 for s in switches}

    def _sample(self):
        for s in self.switches:
            self.peak[s] = max(self.peak[s], _flow_count(s))


def _started(apps, topo, logdir, name, config=None):
    # Mininet is imported where a network is built: bench.run imports this module on
    # interpreters that have no Mininet (the unit tests of the other benchmarks).
    from topologies.common import build_network

    ctl = RyuController(apps, '%s/%s.log' % (logdir, name), config=config).start()
    net = build_network(topo, controller_port=ctl.ofp_port)
    if wait_connected(net):
        raise RuntimeError('switches did not connect; see %s' % ctl.log_path)
    return ctl, net


def _updates(topo_args, logdir):
    name = '%s%d' % topo_args
    ctl, net = _started(
        STABLE, _topo(*topo_args), logdir, 'stable-update-' + name, config=UPDATE_CONFIG
    )
    try:
        _every_host_speaks(net.hosts)
        status = stable.wait_for_epoch(ctl, net, timeout=60.0)
        switches = [s.name for s in net.switches]
        baseline = sum(_flow_count(s) for s in switches)
        (a, _), (b, _) = switch_links(net)[0]
        row = {
            'topology': name,
            'switches': len(switches),
            'hosts': len(net.hosts),
            'flows_before': baseline,
            'quiet_window_s': UPDATE_CONFIG['stable_routing']['quiet_window'],
            'changes': [],
        }
        epoch = status['epoch']
        for change, state in (
            ('link %s-%s lost carrier' % (a, b), 'down'),
            ('link %s-%s came back' % (a, b), 'up'),
        ):
            with _FlowSampler(switches) as sampler:
                net.configLinkStatus(a, b, state)
                settled = wait_until(lambda epoch=epoch: _settled(ctl, epoch), 30, interval=0.2)
                # Phase 3 comes drain_time after the epoch is in force.
                time.sleep(1.5)
            if not settled:
                raise RuntimeError('no epoch after "%s"; see %s' % (change, ctl.log_path))
            record, burst = change_epochs(ctl, epoch, settled)
            epoch = settled['number']
            row['changes'].append(
                {
                    'change': change,
                    'epoch': record['number'],
                    **burst,
                    'triggers': record['trigger_count'],
                    'duration_ms': (record['installed_at'] - record['first_trigger_at']) * 1000,
                    'compute_ms': record['compute_ms'],
                    'check_ms': record['check_ms'],
                    'install_ms': record['install_ms'],
                    'trigger_to_cut_ms': (record['cut_at'] - record['first_trigger_at']) * 1000,
                    'changed': record['changed'],
                    'steps_ms': {step: round(ms, 1) for step, ms in record['steps_ms'].items()},
                    'peak_flows': sum(sampler.peak.values()),
                    'flows_after': sum(_flow_count(s) for s in switches),
                }
            )
            done = row['changes'][-1]
            print(
                'stable update %-8s %-28s %6.0f ms from first trigger to installed '
                '(%.0f to the cut; %d epochs, the last stamped at %.0f ms), peak %d flows '
                '(%d before); steps ms %s'
                % (
                    name,
                    change,
                    done['duration_ms'],
                    done['trigger_to_cut_ms'],
                    done['epochs'],
                    done['settled_ms'],
                    done['peak_flows'],
                    baseline,
                    done['steps_ms'],
                )
            )
        return row
    finally:
        net.stop()
        ctl.stop()


def _every_host_speaks(hosts):
    """Each host pings the next one once, all at once, so that the app learns every
    host (a full reachability matrix of fat-tree k=8's 128 hosts takes minutes)."""
    for host, other in zip(hosts, hosts[1:] + hosts[:1], strict=True):
        host.sendCmd('ping -c 1 -W 2 %s' % other.IP())
    for host in hosts:
        host.waitOutput()


def change_epochs(ctl, after_epoch, settled):
    """What one change cost, from ``settled`` (the newest record once nothing is
    pending): its first epoch (with the leading edge, cut on the change's first trigger;
    what the figures are of) and, as ``epochs`` and ``settled_ms``, how many epochs
    the change made and the time from its first trigger until the last was stamped
    (the triggers that came while the first was installed, debounced)."""
    history = ctl.rest('/stable/history?limit=10')
    first = min((r for r in history if r['number'] > after_epoch), key=lambda r: r['number'])
    return first, {
        'epochs': settled['number'] - after_epoch,
        'epochs_skipped': ctl.rest('/stable/epoch')['epochs_skipped'],
        'settled_ms': round((settled['installed_at'] - first['first_trigger_at']) * 1000, 1),
    }


def _settled(ctl, after_epoch):
    """The newest epoch record once an epoch newer than ``after_epoch`` is installed and
    nothing is pending, else None."""
    status = ctl.rest('/stable/epoch')
    if not (
        status['epoch']
        and status['epoch'] > after_epoch
        and status['pending_triggers'] == 0
        and status['epoch'] == status['last_epoch_cut']
    ):
        return None
    return ctl.rest('/stable/history?limit=1')[-1]


def _failover(quick, logdir):
    runs = [('stable_routing', STABLE, 1000, 6)]
    if not quick:
        runs.append(('simple_switch_stp_13', ['ryu.app.simple_switch_stp_13'], 100, 75))
    results = []
    for name, apps, rate, seconds in runs:
        ctl, net = _started(apps, _topo('ring', 4), logdir, 'failover-' + name)
        try:
            converged = wait_until(
                lambda net=net: reachability_matrix(net.hosts, timeout=0.5).loss_percent == 0,
                120,
                interval=2,
            )
            if not converged:
                raise RuntimeError('%s never reached 0%% loss; see %s' % (name, ctl.log_path))
            if name == 'stable_routing':
                stable.wait_for_epoch(ctl, net)
            h1, h3 = net.get('h1', 'h3')
            # s1:2 goes to s2, s1:3 to s4; STP's port roles decide which one is used.
            used = flows.busiest_port(
                's1', (2, 3), lambda h1=h1, h3=h3: h1.cmd('ping -c 50 -i 0.01 -q %s' % h3.IP())
            )
            with ThreadPoolExecutor(1) as pool:
                stream = pool.submit(udp_stream, h1, h3, rate, seconds)
                time.sleep(2.5)
                net.configLinkStatus('s1', 's2' if used == 2 else 's4', 'down')
                result = stream.result()
            results.append(
                {
                    'controller': name,
                    'rate_pps': rate,
                    'sent': result.sent,
                    'lost': len(result.lost_seqs),
                    'outage_ms': result.longest_gap_ms,
                    'duplicates': result.duplicates,
                }
            )
            print('failover %-22s %s' % (name, result.summary()))
        finally:
            net.stop()
            ctl.stop()
    return results
