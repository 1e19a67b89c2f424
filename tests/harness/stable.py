"""What apps/stable_routing.py says (its REST endpoints) and what the switches do (their
flow tables), side by side, for the stable-routing tests."""

from controller.cookies import CookieSpace
from controller.stable import pipeline as pipe
from tests.harness import flows
from tests.harness.network import Polling, host_ports, switch_links, wait_until


def dpid_of(switch_name):
    """Switch sN has dpid N (topologies/common.py)."""
    return int(switch_name[1:])


def wait_for_epoch(ctl, net, timeout=30.0):
    """Wait until an installed epoch knows every host of ``net``, its phase 3 is over
    (its entries are stable rules, no overlay left) and nothing is pending; returns the
    status (its 'epoch' is None if that never happened)."""

    def settled():
        status = ctl.rest('/stable/epoch')
        if not (
            status['epoch'] is not None
            and status['pending_triggers'] == 0
            and status['epoch'] == status['last_epoch_cut']
            and status['hosts'] == len(net.hosts)
        ):
            return None
        last = _last(ctl)
        return last['hosts'] == len(net.hosts) and last['cleanup_ms'] > 0 and status

    return wait_until(settled, timeout, interval=0.3) or ctl.rest('/stable/epoch')


def _last(ctl):
    return ctl.rest('/stable/history?limit=1')[-1]


def sft_path(ctl, net, src_switch, dst_host, tables=None):
    """Switch names from ``src_switch`` to ``dst_host``'s switch on the SFT's next hops.
    ``tables``: a dict that keeps the SFTs read, for a caller that checks many paths of
    one epoch (each switch's table is then asked once)."""
    mac = dst_host.MAC()
    by_dpid = {dpid_of(s.name): s.name for s in net.switches}
    path = [src_switch]
    tables = {} if tables is None else tables
    for _ in range(len(net.switches)):
        dpid = dpid_of(path[-1])
        if dpid not in tables:
            tables[dpid] = ctl.rest('/stable/sft/%016x' % dpid)
        table = tables[dpid]
        entry = next(e for e in table['entries'] if e['host'] == mac)
        if 'deliver_port' in entry:
            return path
        path.append(by_dpid[int(entry['next_hop'], 16)])
    raise AssertionError('SFT path from %s to %s does not end: %s' % (src_switch, mac, path))


def forward_rules(switch, epoch):
    """{eth_dst: FlowEntry} of the forward rules a frame stamped with ``epoch``'s version
    meets on ``switch``: the epoch's overlay where there is one (during its update),
    else the stable rule (controller/stable/pipeline.py)."""
    stable, overlays = {}, {}
    for f in flows.dump_flows(switch, pipe.FORWARD_TABLE):
        kind = cookie_kind(f)
        if kind == pipe.ROUTE:
            stable[f.match.get('dl_dst')] = f
        elif kind == pipe.NEXT and f.cookie == pipe.epoch_cookie(pipe.NEXT, epoch):
            overlays[f.match.get('dl_dst')] = f
    return {**stable, **overlays}


def overlays_on(switch):
    """Overlay rules (priority 200, cookie kind NEXT) on ``switch`` now."""
    return sum(
        1
        for f in flows.dump_flows(switch, pipe.FORWARD_TABLE)
        if cookie_kind(f) == pipe.NEXT and f.priority == pipe.OVERLAY_PRIORITY
    )


class OverlaySampler(Polling):
    """While it runs (a ``with`` block), the most overlay rules seen at once on each
    switch (``peak``), read with dump-flows one switch after the other."""

    def __init__(self, switches):
        super().__init__(self._sample, interval=0.05)
        self.peak = dict.fromkeys(switches, 0)

    def _sample(self):
        for switch in self.peak:
            self.peak[switch] = max(self.peak[switch], overlays_on(switch))


def next_port(entry):
    """The port a forward rule sends out of: its output, or its failover group's primary
    (group ids are primary << 16 | backup, controller/stable/pipeline.py)."""
    for action in entry.action_list:
        if action.startswith('group:'):
            return int(action.split(':', 1)[1]) >> 16
    ports = entry.output_ports
    return ports[0] if ports else None


def flow_path(net, src_switch, dst_host, epoch, tables=None):
    """Switch names a frame for ``dst_host`` entering at ``src_switch`` crosses, read from
    the switches' flow tables of ``epoch``; ends with the delivering switch.
    ``tables``: as sft_path's, each switch's forward rules dumped once."""
    peer = {}
    for (a, pa), (b, pb) in switch_links(net):
        peer[(a, pa)] = b
        peer[(b, pb)] = a
    tables = {} if tables is None else tables
    path, mac = [src_switch], dst_host.MAC()
    target = host_ports(net)[dst_host.name]
    for _ in range(len(net.switches)):
        here = path[-1]
        tables.setdefault(here, forward_rules(here, epoch))
        entry = tables[here].get(mac)
        if entry is None:
            raise AssertionError('%s has no rule of epoch %d for %s' % (here, epoch, mac))
        port = next_port(entry)
        if (here, port) == target:
            return path
        path.append(peer[(here, port)])
    raise AssertionError('flow path from %s to %s loops: %s' % (src_switch, mac, path))


def cookie_kind(entry):
    return CookieSpace.kind_of(entry.cookie)


class PathRecorder(Polling):
    """While it runs (a ``with`` block), the flow-table path (flow_path) of every
    (source host, destination host) pair in each epoch that gets installed:
    ``paths[epoch][(src name, dst name)]``. It polls the epoch in force every
    ``interval`` s; an epoch's rules stay until the next one is installed and drained
    (drain_time), so every installed epoch is read."""

    def __init__(self, ctl, net, pairs, interval=0.1):
        super().__init__(self._read, interval)
        self.ctl, self.net, self.pairs = ctl, net, pairs
        self.attached = host_ports(net)
        self.paths = {}

    def _read(self):
        epoch = self.ctl.rest('/stable/epoch')['epoch']
        if epoch is not None and epoch not in self.paths:
            try:
                self.paths[epoch] = {
                    (src.name, dst.name): flow_path(
                        self.net, self.attached[src.name][0], dst, epoch
                    )
                    for src, dst in self.pairs
                }
            except AssertionError:
                pass  # superseded while being read: the next poll tells

    def hops(self, src, dst):
        """Every directed switch hop (a, b) of the pair's path in any recorded epoch."""
        return {
            hop
            for paths in self.paths.values()
            for path in [paths[(src.name, dst.name)]]
            for hop in zip(path, path[1:], strict=False)
        }
