"""bench/stable.py's build figures: the FLOW_MOD bytes it times are the epoch's (old and
new build agree in count and size), and its RESULTS.md section and targets carry the
build and compute + check + build columns, blank where a run has none."""

from bench import stable
from controller.stable.sft import compute_sft


def test_old_and_new_build_make_the_same_flow_mods():
    snapshot = stable.fat_tree(4)
    sft = compute_sft(snapshot)
    dpids = sorted(snapshot.switches)
    new = stable.epoch_bytes(snapshot, sft, dpids)
    old = stable.epoch_bytes(snapshot, sft, dpids, old=True)
    assert new[:2] == old[:2]
    entries = sum(len(stable.pipe.switch_entries(sft, dpid)) for dpid in dpids)
    assert new[0] > entries == 20 * 16


def test_the_build_figures_of_a_case_with_and_without_the_old_build():
    snapshot = stable.fat_tree(4)
    entry, _ = stable.measure('fat-tree k=4', 'fat-tree', snapshot, 2, compare=True)
    assert entry['old_sampled'] == 1
    for key in ('build_ms', 'build_cpu_ms', 'old_build_ms', 'old_build_cpu_ms'):
        assert 0 < entry[key]['min'] <= entry[key]['median'] <= entry[key]['max']
    assert entry['compute_check_build_ms'] == round(
        entry['compute_check_ms'] + entry['build_ms']['median'], 2
    )
    plain, _ = stable.measure('fat-tree k=4', 'fat-tree', snapshot, 1)
    assert 'old_build_ms' not in plain and 'build_ms' in plain


def _result(name, switches, compute_check, build=None, old=None):
    figures = {'min': 1.0, 'median': 2.0, 'max': 3.0}
    r = {
        'name': name,
        'family': 'watts-strogatz',
        'switches': switches,
        'links': 2 * switches,
        'hosts': switches,
        'routes': switches * (switches - 1),
        'unprotected': 0,
        'violations': [],
        'repeat': 3,
        'snapshot_ms': figures,
        'compute_ms': figures,
        'check_ms': figures,
        'compute_check_ms': compute_check,
    }
    if build is not None:
        r.update(
            rules_ms=10.0,
            build_ms={'min': build, 'median': build, 'max': build},
            build_cpu_ms={'min': build, 'median': build / 2, 'max': build},
            compute_check_build_ms=compute_check + build,
        )
    if old is not None:
        r.update(
            old_build_ms={'min': old, 'median': old, 'max': old},
            old_build_cpu_ms={'min': old, 'median': old, 'max': old},
            old_sampled=20,
        )
    return r


def test_the_section_shows_the_build_columns_and_the_full_epoch_target():
    machine = dict.fromkeys(('date', 'commit', 'cpu', 'python', 'kernel'), '-')
    data = {
        'machine': dict(machine, cores=2, memory_gib=1.0),
        'seconds': 1,
        'results': [
            _result('ws n=100', 100, 5.0),
            _result('ws n=1000', 1000, 300.0, build=500.0, old=90000.0),
        ],
    }
    lines, targets = stable.section(data)
    rows = [line for line in lines if line.startswith('| ws')]
    assert all(row.count('|') == lines[lines.index(rows[0]) - 2].count('|') for row in rows)
    assert '| 500/250 | 90000/90000 (1 in 20) | 800 |' in rows[1]
    assert '|  |  |  |' in rows[0]
    assert targets == [
        ('full epoch (compute + check), 1,000 switches (ws n=1000) < 1 s', 300.0, 1000.0, 'ms'),
        (
            'full epoch (compute + check + build), 1,000 switches (ws n=1000) < 1 s',
            800.0,
            1000.0,
            'ms',
        ),
    ]
