"""Epoch compute and check time of the stable-routing app (controller/stable/sft.py: numpy
and scipy): one process, no root, no switches.

    .venv/bin/python -m bench.stable            # about a minute; bench/results/
    .venv/bin/python -m bench.stable --quick    # a few seconds; bench/results-quick/

For each topology: the snapshot (Snapshot.from_switch_graph of a SwitchGraph holding
both directions of every link, as apps/stable_routing.py builds it), compute_sft and
check_sft, each timed ``--repeat`` times (min / median / max); and, once, the FlowSpecs
the app derives for every switch before installing (route_rules + port_rules with one
spanning tree, what its install step computes). The app's ``compute_ms`` covers snapshot
+ compute_sft, its ``check_ms`` check_sft.

Topologies:
  fat-tree k     topologies/fattree.py's numbering and ports, k/2 hosts per edge switch
  ws n           networkx connected_watts_strogatz_graph(n, 4, 0.1): a ring lattice of
                 degree 4 with 10% of its edges rewired (small world), one host per switch
  3-regular n    networkx random_regular_graph(3, n), connected, one host per switch
  link change    fat-tree k=8 after one aggregation-core link is removed: the app
                 recomputes the whole table from the new snapshot; the figure is that,
                 plus how many (destination, switch) routes actually changed and how
                 many violations the previous epoch's table has on the new snapshot

Raw figures go to bench/results/stable-compute.json, the plot to
bench/results/stable-compute.png (--quick: bench/results-quick/, never the recorded
figures). ``section(data)`` renders the JSON as a bench/RESULTS.md section.
"""

import argparse
import dataclasses
import gc
import json
import os
import statistics
import sys
import time
from types import SimpleNamespace

import networkx as nx
import numpy as np
from ryu.ofproto import ofproto_v1_3, ofproto_v1_3_parser

from bench.machine import QUICK_RESULTS_DIR, REPO, RESULTS_DIR, machine, machine_line
from controller.flowspec import in_order, to_flow_mod
from controller.stable import pipeline as pipe
from controller.stable import rulebytes
from controller.stable.sft import Snapshot, check_sft, compute_sft
from controller.topology import SwitchGraph, spanning_tree_ports
from topologies.numbering import host_mac

NAME = 'stable-compute'

FULL_EPOCH_TARGET_MS = 1000.0  # issue 5: a full epoch of 1,000 switches under 1 s
LINK_CHANGE_TARGET_MS = 50.0  # issue 5: after one link change, fat-tree k=8


# --- topologies ------------------------------------------------------------------


def fat_tree_links(k):
    """[(a, port_a, b, port_b)] of the k-ary fat-tree, numbered and wired as
    topologies/fattree.py documents (core, then aggregation, then edge switches)."""
    half = k // 2
    core = half * half

    def aggregation(pod, a):
        return core + pod * half + a + 1

    def edge(pod, e):
        return core + k * half + pod * half + e + 1

    links = []
    for pod in range(k):
        for e in range(half):
            for a in range(half):
                links.append((edge(pod, e), half + 1 + a, aggregation(pod, a), 1 + e))
        for a in range(half):
            for j in range(half):
                links.append((aggregation(pod, a), half + 1 + j, a * half + j + 1, 1 + pod))
    return links


def fat_tree(k, links=None):
    """Snapshot of the k-ary fat-tree with k/2 hosts on every edge switch (ports 1..k/2,
    hosts numbered edge switch by edge switch). ``links`` replaces the full set (to take
    some away); every switch keeps its k live ports."""
    if k < 2 or k % 2:
        raise ValueError('fat-tree: k must be even and >= 2, got %r' % (k,))
    half = k // 2
    n_switches = 5 * k * k // 4
    first_edge = n_switches - k * half + 1
    hosts = {}
    for number, dpid in enumerate(range(first_edge, n_switches + 1)):
        for port in range(1, half + 1):
            hosts[host_mac(number * half + port)] = (dpid, port)
    ports = {dpid: range(1, k + 1) for dpid in range(1, n_switches + 1)}
    return Snapshot.make(
        range(1, n_switches + 1), fat_tree_links(k) if links is None else links, hosts, ports
    )


def snapshot_of_graph(g, hosts_per_switch=1):
    """Snapshot of a networkx graph whose nodes are dpids (ints >= 1): each switch has
    hosts on ports 1..hosts_per_switch, then one port per neighbour, in dpid order."""
    links, ports, hosts = [], {}, {}
    port_to = {}
    for u in sorted(g):
        first = hosts_per_switch + 1
        port_to[u] = {v: first + i for i, v in enumerate(sorted(g.adj[u]))}
        ports[u] = list(range(1, first + len(port_to[u])))
        for port in range(1, hosts_per_switch + 1):
            hosts[host_mac(len(hosts) + 1)] = (u, port)
    for a, b in g.edges:
        links.append((a, port_to[a][b], b, port_to[b][a]))
    return Snapshot.make(g.nodes, links, hosts, ports)


def watts_strogatz(n, seed=1):
    g = nx.connected_watts_strogatz_graph(n, 4, 0.1, seed=seed)
    return nx.relabel_nodes(g, lambda i: i + 1)


def random_regular(n, degree=3, seed=1):
    for attempt in range(100):
        g = nx.random_regular_graph(degree, n, seed=seed + attempt)
        if nx.is_connected(g):
            return nx.relabel_nodes(g, lambda i: i + 1)
    raise RuntimeError('no connected %d-regular graph of %d nodes' % (degree, n))


def switch_graph_of(snapshot):
    """The SwitchGraph the app would hold: both directions of every link discovered."""
    graph = SwitchGraph()
    for dpid in snapshot.switches:
        graph.add_switch(dpid)
    for a, pa, b, pb in snapshot.links:
        graph.add_link(a, pa, b, pb)
        graph.add_link(b, pb, a, pa)
    return graph


# --- measuring -------------------------------------------------------------------


def _timed(fn, repeat):
    """(result of the last call, [seconds of each call]). Each call starts after a full
    garbage collection, with the collector on (as in the app): what it costs to collect
    the call's own garbage is counted, leftovers of earlier calls are not."""
    times, result = [], None
    for _ in range(repeat):
        result = None
        gc.collect()
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return result, times


def _ms(times):
    return {
        'min': round(min(times) * 1000, 2),
        'median': round(statistics.median(times) * 1000, 2),
        'max': round(max(times) * 1000, 2),
    }


def pipeline_rules(snapshot, sft, epoch=1):
    """What the app's install step computes for every switch: (flow rules, groups)."""
    tree = spanning_tree_ports(snapshot.graph())
    rules = groups = 0
    for dpid in sorted(snapshot.switches):
        route, group = pipe.route_rules(sft, dpid, epoch)
        rules += len(route) + len(pipe.port_rules(snapshot, dpid, tree)) + 1
        groups += len(group)
    return rules, groups


_DATAPATH = SimpleNamespace(ofproto=ofproto_v1_3, ofproto_parser=ofproto_v1_3_parser)
OLD_BUILD_RULES = 50_000  # the old build times at most this many forward rules (see below)


def _forward_bytes_old(entries, epoch):
    """Forward rules' FLOW_MOD bytes as update.py built them before rulebytes.py: a
    FlowSpec each, to_flow_mod and Ryu's serializer."""
    out = []
    for mac, entry in sorted(entries.items()):
        msg = to_flow_mod(_DATAPATH, pipe.forward_rule(mac, entry, epoch), shared=True)
        msg.xid = 0
        msg.serialize()
        out.append(msg.buf)
    return out


def _forward_bytes_new(entries, epoch):
    return [block.rows for block in rulebytes.forward_blocks(entries, epoch)]


def epoch_bytes(snapshot, sft, dpids, old=False, epoch=1):
    """The FLOW_MOD bytes of every switch's (of ``dpids``) stable forward rules and
    port rules (admission, flood, ingress), as a full epoch's phase 3 sends them, from
    the snapshot and its SFT: (FLOW_MODs, bytes, seconds of the entries part). The
    entries (pipeline.switch_entries, what update.plan_update gives a switch of unknown
    contents) are timed apart; the same port rules' bytes in the old and new build
    (to_flow_mod, as update.py makes them)."""
    tree = spanning_tree_ports(snapshot.graph())
    hosts_at = pipe.hosts_by_switch(snapshot)
    ingress = pipe.ingress_rule(epoch)
    forward_bytes = _forward_bytes_old if old else _forward_bytes_new
    count = size = 0
    entries_s = 0.0
    for dpid in dpids:
        started = time.perf_counter()
        entries = pipe.switch_entries(sft, dpid)
        entries_s += time.perf_counter() - started
        parts = forward_bytes(entries, epoch)
        port_specs = in_order(pipe.port_rules(snapshot, dpid, tree, hosts_at) | {ingress})
        for spec in port_specs:
            msg = to_flow_mod(_DATAPATH, spec, shared=True)
            msg.xid = 0
            msg.serialize()
            parts.append(msg.buf)
        count += len(entries) + len(port_specs)
        size += sum(part.nbytes if isinstance(part, np.ndarray) else len(part) for part in parts)
    return count, size, entries_s


def build_figures(snapshot, sft, repeat, compare):
    """The build's figures of one case: the new build (rulebytes.py) ``repeat`` times
    and, with ``compare``, the old one (FlowSpecs through Ryu) in turn with it, each
    after a full garbage collection: wall and CPU ms. The old build of more than
    OLD_BUILD_RULES forward rules (at ~0.1 ms each) is timed on every k-th switch
    only and scaled up by k ('old_sampled': k)."""
    dpids = sorted(snapshot.switches)
    wall, cpu, entries, old_wall, old_cpu = [], [], [], [], []
    routes = sum(len(table) for table in sft.routes.values()) + len(snapshot.hosts)
    step = max(1, -(-routes // OLD_BUILD_RULES))
    result = None
    for _ in range(repeat):
        gc.collect()
        started, started_cpu = time.perf_counter(), time.process_time()
        result = epoch_bytes(snapshot, sft, dpids)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        entries.append(result[2])
        if compare:
            gc.collect()
            started, started_cpu = time.perf_counter(), time.process_time()
            epoch_bytes(snapshot, sft, dpids[::step], old=True)
            old_wall.append((time.perf_counter() - started) * step)
            old_cpu.append((time.process_time() - started_cpu) * step)
    figures = {
        'build_ms': _ms(wall),
        'build_cpu_ms': _ms(cpu),
        'build_entries_ms': _ms(entries),
        'build_flow_mods': result[0],
        'build_bytes': result[1],
    }
    if compare:
        figures.update(old_build_ms=_ms(old_wall), old_build_cpu_ms=_ms(old_cpu), old_sampled=step)
    return figures


def measure(name, family, snapshot, repeat, rules=True, compare=False):
    """Time snapshot, compute and check of ``snapshot``, and the build of its FLOW_MODs
    (``compare``: the old build too); one result entry."""
    graph = switch_graph_of(snapshot)
    hosts = snapshot.host_map()
    ports = {dpid: ports_ for dpid, ports_ in snapshot.ports}
    rebuilt, snapshot_times = _timed(
        lambda: Snapshot.from_switch_graph(graph, hosts, ports), repeat
    )
    assert rebuilt == snapshot, 'SwitchGraph round trip changed the snapshot'
    # Each compute gets a new Snapshot object, as each epoch does: what compute_sft caches
    # on a snapshot (its arrays, the search) is paid every time. check_sft runs on the
    # snapshot the table was computed from, as in the app.
    fresh = [dataclasses.replace(snapshot) for _ in range(repeat)]
    epochs = iter(fresh)
    sft, compute_times = _timed(lambda: compute_sft(next(epochs)), repeat)
    violations, check_times = _timed(lambda: check_sft(sft, fresh[-1]), repeat)
    entry = {
        'name': name,
        'family': family,
        'switches': len(snapshot.switches),
        'links': len(snapshot.links),
        'hosts': len(snapshot.hosts),
        'destinations': len(sft.routes),
        'routes': sum(len(table) for table in sft.routes.values()),
        'unprotected': len(sft.unprotected()),
        'violations': [str(v) for v in violations[:5]],
        'repeat': repeat,
        'snapshot_ms': _ms(snapshot_times),
        'compute_ms': _ms(compute_times),
        'check_ms': _ms(check_times),
        'compute_check_ms': round(
            (statistics.median(compute_times) + statistics.median(check_times)) * 1000, 2
        ),
    }
    entry['epoch_ms'] = round(entry['compute_check_ms'] + entry['snapshot_ms']['median'], 2)
    if rules:
        (n_rules, n_groups), rule_times = _timed(lambda: pipeline_rules(snapshot, sft), 1)
        entry.update(rules_ms=round(rule_times[0] * 1000, 1), flow_rules=n_rules, groups=n_groups)
        entry.update(build_figures(snapshot, sft, repeat, compare))
        entry['compute_check_build_ms'] = round(
            entry['compute_check_ms'] + entry['build_ms']['median'], 2
        )
    return entry, sft


def link_change(k, repeat):
    """Fat-tree k after aggregation switch 1 of pod 1 loses its link to core switch 1."""
    before = fat_tree(k)
    aggregation = (k // 2) ** 2 + 1
    gone = [link for link in before.links if (link[0], link[2]) == (1, aggregation)]
    assert len(gone) == 1
    after = fat_tree(k, links=set(before.links) - set(gone))
    old_sft = compute_sft(before)
    entry, new_sft = measure(
        'fat-tree k=%d, link s%d-s1 down' % (k, aggregation), 'link change', after, repeat
    )
    entry['changed_routes'] = sum(
        1
        for dst, table in new_sft.routes.items()
        for dpid, route in table.items()
        if old_sft.routes.get(dst, {}).get(dpid) != route
    )
    entry['old_table_rejected'] = len(check_sft(old_sft, after))
    return entry


def cases(quick):
    """[(name, family, snapshot factory)] in the order they are run."""
    fat_ks = (4, 8) if quick else (4, 8, 16)
    sizes = (100, 250) if quick else (100, 250, 500, 1000)
    out = [('fat-tree k=%d' % k, 'fat-tree', lambda k=k: fat_tree(k)) for k in fat_ks]
    out += [
        ('ws n=%d' % n, 'watts-strogatz', lambda n=n: snapshot_of_graph(watts_strogatz(n)))
        for n in sizes
    ]
    out += [
        ('3-regular n=%d' % n, '3-regular', lambda n=n: snapshot_of_graph(random_regular(n)))
        for n in sizes
    ]
    return out


def benchmark(quick, logdir=None, repeat=None, compare=False):
    """Every case; the ``results`` list of the JSON (bench/run.py's signature).
    ``compare``: time the old build (FlowSpecs through Ryu) too, in turn with the new."""
    repeat = repeat or (2 if quick else 3)
    results = []
    for name, family, make in cases(quick):
        entry, _sft = measure(name, family, make(), repeat, compare=compare)
        results.append(entry)
        print(row(entry), flush=True)
    entry = link_change(8, max(repeat, 5))
    results.append(entry)
    print(row(entry), flush=True)
    return results


def targets(results):
    """[(label, measured ms, goal ms, 'ms')], each met when measured < goal (the
    below-goal form of bench/report.py's targets)."""
    out = []
    big = [r for r in results if r['family'] != 'link change' and r['switches'] >= 1000]
    if big:
        worst = max(big, key=lambda r: r['compute_check_ms'])
        out.append(
            (
                'full epoch (compute + check), 1,000 switches (%s) < 1 s' % worst['name'],
                worst['compute_check_ms'],
                FULL_EPOCH_TARGET_MS,
                'ms',
            )
        )
        built = [r for r in big if 'compute_check_build_ms' in r]
        if built:
            worst = max(built, key=lambda r: r['compute_check_build_ms'])
            out.append(
                (
                    'full epoch (compute + check + build), 1,000 switches (%s) < 1 s'
                    % worst['name'],
                    worst['compute_check_build_ms'],
                    FULL_EPOCH_TARGET_MS,
                    'ms',
                )
            )
    for r in results:
        if r['family'] == 'link change' and r['name'].startswith('fat-tree k=8'):
            out.append(
                (
                    'epoch after one link change (compute + check), fat-tree k=8 < 50 ms',
                    r['compute_check_ms'],
                    LINK_CHANGE_TARGET_MS,
                    'ms',
                )
            )
    return out


# --- output ----------------------------------------------------------------------

HEADER = '%-30s %5s %5s %5s %8s %9s %9s %9s %10s %8s %9s %9s %9s %8s' % (
    'topology',
    'sw',
    'links',
    'hosts',
    'routes',
    'snap ms',
    'compute',
    'check',
    'comp+chk',
    'rules ms',
    'build ms',
    'old build',
    'c+c+build',
    'unprot',
)


def _build_text(r, key):
    """'median' of a build figure, 'cpu' after a slash: '' where not measured."""
    if key not in r:
        return ''
    return '%.0f/%.0f' % (r[key]['median'], r[key.replace('_ms', '_cpu_ms')]['median'])


def row(r):
    return '%-30s %5d %5d %5d %8d %9.1f %9.1f %9.1f %10.1f %8s %9s %9s %9s %8d%s' % (
        r['name'],
        r['switches'],
        r['links'],
        r['hosts'],
        r['routes'],
        r['snapshot_ms']['median'],
        r['compute_ms']['median'],
        r['check_ms']['median'],
        r['compute_check_ms'],
        '%.0f' % r['rules_ms'] if 'rules_ms' in r else '',
        _build_text(r, 'build_ms'),
        _build_text(r, 'old_build_ms'),
        '%.0f' % r['compute_check_build_ms'] if 'compute_check_build_ms' in r else '',
        r['unprotected'],
        '  VIOLATIONS: %s' % r['violations'] if r['violations'] else '',
    )


def section(data, plots=None):
    """(markdown lines, targets) of bench/RESULTS.md for the JSON of one run. ``plots``:
    bench/report.py's plot helper (its ``dir`` and ``link``), or None for no plot."""
    image = None
    if plots is not None and plot(data['results'], os.path.join(plots.dir, NAME + '.png')):
        image = plots.link(NAME + '.png')
    out = [
        '## Stable routing: epoch compute and check time (controller/stable/sft.py)',
        '',
        machine_line(data),
        '',
        'numpy and scipy, one process, no switches (`python -m bench.stable`). "Snapshot" '
        'is Snapshot.from_switch_graph, "compute" compute_sft, "check" check_sft: the '
        'app\'s compute_ms is snapshot + compute, its check_ms is check. Median of %d '
        'runs (%d for the link change; min-max in brackets), each after a full garbage '
        'collection. "Rules" is route_rules + port_rules of every switch as FlowSpecs, '
        'computed once. "Build" is the FLOW_MOD bytes of every switch\'s stable forward '
        'rules and port rules as a full epoch sends them (controller/stable/rulebytes.py '
        'for the forward rules, from each switch\'s entries, which it includes; wall ms, '
        'CPU ms after the slash), "old build" the same through FlowSpecs and Ryu\'s '
        'serializer as before rulebytes.py (with --compare-build; timed on every k-th '
        'switch and scaled by k past %d forward rules). "Link change": the app '
        'recomputes the whole table from the new snapshot; "changed" is how many '
        '(destination, switch) routes differ from the previous epoch\'s.'
        % (data['results'][0]['repeat'], data['results'][-1]['repeat'], OLD_BUILD_RULES),
        '',
        '| topology | switches | links | hosts | routes | snapshot ms | compute ms | '
        'check ms | compute + check ms | rules ms | build ms | old build ms | '
        'compute + check + build ms | unprotected | violations |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: '
        '| ---: | ---: | ---: |',
    ]
    for r in data['results']:
        name = r['name'] + (' (changed: %d)' % r['changed_routes'] if 'changed_routes' in r else '')
        out.append(
            '| %s | %d | %d | %d | %d | %.1f | %.1f (%.1f-%.1f) | %.1f (%.1f-%.1f) '
            '| %.1f | %s | %s | %s | %s | %d | %d |'
            % (
                name,
                r['switches'],
                r['links'],
                r['hosts'],
                r['routes'],
                r['snapshot_ms']['median'],
                r['compute_ms']['median'],
                r['compute_ms']['min'],
                r['compute_ms']['max'],
                r['check_ms']['median'],
                r['check_ms']['min'],
                r['check_ms']['max'],
                r['compute_check_ms'],
                '%.0f' % r['rules_ms'] if 'rules_ms' in r else '',
                _build_text(r, 'build_ms'),
                _build_text(r, 'old_build_ms')
                + (' (1 in %d)' % r['old_sampled'] if r.get('old_sampled', 1) > 1 else ''),
                '%.0f' % r['compute_check_build_ms'] if 'compute_check_build_ms' in r else '',
                r['unprotected'],
                len(r['violations']),
            )
        )
    if image:
        out += ['', '![epoch compute time](%s)' % image]
    return out, targets(data['results'])


def plot(results, path):
    """compute and check time against the number of switches, log-log; False without
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = (
        ('fat-tree', 's', 'tab:blue'),
        ('watts-strogatz', 'o', 'tab:green'),
        ('3-regular', '^', 'tab:purple'),
    )
    for family, marker, colour in styles:
        points = sorted(
            (r['switches'], r['compute_ms']['median'], r['check_ms']['median'])
            for r in results
            if r['family'] == family
        )
        if not points:
            continue
        xs, compute, check = zip(*points, strict=True)
        ax.plot(xs, compute, marker=marker, color=colour, label='compute_sft, %s' % family)
        ax.plot(
            xs,
            check,
            marker=marker,
            color=colour,
            linestyle='--',
            markerfacecolor='none',
            label='check_sft, %s' % family,
        )
    for r in results:
        if r['family'] == 'link change':
            ax.plot(
                [r['switches']],
                [r['compute_check_ms']],
                marker='*',
                markersize=12,
                color='tab:red',
                linestyle='',
                label='compute + check after one link change (%s; target 50 ms)'
                % r['name'].split(',')[0],
            )
    ax.axhline(FULL_EPOCH_TARGET_MS, color='grey', linewidth=0.8, linestyle=':')
    left = min(r['switches'] for r in results)
    ax.annotate(
        '1 s: target of compute + check at 1,000 switches',
        (left, FULL_EPOCH_TARGET_MS * 1.15),
        fontsize=8,
        color='grey',
    )
    ax.set_xscale('log')
    ax.set_yscale('log')
    ax.set(
        title='Stable forwarding table: compute and check time per epoch',
        xlabel='switches (one destination per host switch)',
        ylabel='ms (median)',
    )
    ax.grid(True, alpha=0.3, which='both')
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='small topologies only')
    parser.add_argument('--repeat', type=int, help='runs per figure (default 3, quick 2)')
    parser.add_argument(
        '--compare-build',
        action='store_true',
        help='time the old build (FlowSpecs through Ryu) too, in turn with the new one',
    )
    parser.add_argument(
        '--out',
        help='results directory (default bench/results, or bench/results-quick with --quick)',
    )
    args = parser.parse_args(argv)
    out_dir = args.out or (QUICK_RESULTS_DIR if args.quick else RESULTS_DIR)
    os.makedirs(out_dir, exist_ok=True)
    started = time.monotonic()
    print(HEADER)
    results = benchmark(args.quick, repeat=args.repeat, compare=args.compare_build)
    data = {
        'machine': machine(),
        'quick': args.quick,
        'results': results,
        'seconds': round(time.monotonic() - started, 1),
    }
    with open(os.path.join(out_dir, NAME + '.json'), 'w') as f:
        json.dump(data, f, indent=1)
    print()
    for label, value, goal, unit in targets(results):
        print(
            'target: %-80s %8.1f %s  %s' % (label, value, unit, 'met' if value < goal else 'MISSED')
        )
    plotted = plot(results, os.path.join(out_dir, NAME + '.png'))
    print(
        'wrote %s%s'
        % (
            os.path.relpath(os.path.join(out_dir, NAME + '.json'), REPO),
            ' and %s.png' % NAME if plotted else ' (no matplotlib: no plot)',
        )
    )
    bad = [r['name'] for r in results if r['violations']]
    if bad:
        print('computed tables with violations: %s' % ', '.join(bad))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
