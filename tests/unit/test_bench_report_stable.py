"""bench/report.py's Mininet stable-routing section: its quiet window and its target."""

from bench import report


def _data(window):
    change = {
        'compute_ms': 1.0,
        'check_ms': 1.0,
        'install_ms': 30.0,
        'peak_flows': 10,
        'flows_after': 8,
    }
    row = {
        'topology': 'fattree8',
        'switches': 80,
        'hosts': 128,
        'flows_before': 8,
        'changes': [
            dict(change, change='link s17-s1 lost carrier', duration_ms=91.0),
            dict(change, change='link s17-s1 came back', duration_ms=601.0),
        ],
    }
    if window is not None:
        row['quiet_window_s'] = window
    failover = {
        'controller': 'stable_routing',
        'rate_pps': 1000,
        'sent': 6000,
        'lost': 9,
        'outage_ms': 9.0,
        'duplicates': 0,
    }
    machine = {
        'date': '2026-12-07 15:40 UTC',
        'commit': 'abc1234',
        'cores': 2,
        'memory_gib': 23.5,
        'cpu': 'cpu',
        'python': '3.11.2',
        'kernel': 'k',
    }
    return {
        'machine': machine,
        'seconds': 1.0,
        'results': {'updates': [row], 'failover': [failover]},
    }


def test_the_section_states_the_window_its_runs_used_and_the_fat_tree_target():
    out, targets = report._stable_network(_data(0.05))
    assert 'quiet window 0.05 s' in out[4]
    (epoch,) = [t for t in targets if 'fat-tree k=8' in t[0]]
    assert epoch[1:] == (91.0, 100.0, 'ms')  # the cut, not the link coming back


def test_runs_from_before_the_window_was_written_read_as_the_apps_default():
    out, _ = report._stable_network(_data(None))
    assert 'quiet window 0.5 s' in out[4]
