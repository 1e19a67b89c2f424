"""bench/stable_incremental.py's RESULTS.md section: one row per recorded run, and one
target row, the median of the runs, saying how many were over the target."""

from bench import stable_incremental


def _run(ms, window, date):
    steps = {'snapshot': 5, 'compute': 16, 'check': 15, 'plan': 13, 'internal rules: build': 6}
    return {
        'machine': {'date': date, 'commit': 'abc1234'},
        'emulated': {
            'switches': 1000,
            'hosts': 100,
            'quiet_window_s': window,
            'trigger_to_stamped_ms': ms,
            'link_cut_epochs': {'epochs': 1},
            'link_cut_epoch': {'changed': 453, 'trigger_to_cut_ms': 8, 'steps_ms': steps},
        },
    }


def test_one_row_per_run_and_the_median_as_target():
    runs = [_run(99.3, 0.05, 'a'), _run(139.8, 0.01, 'b'), _run(96.7, 0.05, 'c')]
    lines, [target] = stable_incremental.section(runs)
    rows = [line for line in lines if line.startswith('| a,') or line.startswith('| b,')]
    assert len(rows) == 2 and '**140** |' in rows[1], rows
    assert '| 6 / 0 / 0 |' in rows[0]  # a step the epoch did not record shows as 0
    label, value, goal, unit = target
    assert (value, goal, unit) == (99.3, 100.0, 'ms')
    assert 'median of 3 runs, 1 over; quiet window 0.01 and 0.05 s' in label
