"""bench/scaling.py: the fits RESULTS.md's "Scaling" section reports, on points whose
line is known."""

import pytest

from bench import scaling


def test_a_linear_fit_finds_the_line():
    fit = scaling.fit_linear([(1, 12.0), (4, 15.0), (16, 27.0), (64, 75.0)])
    assert fit.slope == pytest.approx(1.0) and fit.intercept == pytest.approx(11.0)
    assert fit.r2 == pytest.approx(1.0) and fit.predict(100) == pytest.approx(111.0)


def test_a_power_fit_finds_the_exponent():
    fit = scaling.fit_power([(n, 3 * n**2) for n in (100, 250, 500, 1000)])
    assert fit.slope == pytest.approx(2.0) and fit.predict(2000) == pytest.approx(3 * 2000**2)


def test_no_fit_without_two_distinct_sizes_and_noise_lowers_r2():
    assert scaling.fit_linear([(16, 1.0), (16, 2.0)]) is None
    assert scaling.fit_power([(0, 1.0), (10, 0.0), (5, 2.0)]) is None  # one usable point
    assert scaling.fit_linear([(1, 1.0), (2, 5.0), (3, 2.0), (4, 6.0)]).r2 < 0.7


def test_the_section_fits_throughput_runs_only_and_skips_what_is_missing():
    def run(controller, mode, switches, rate):
        return {
            'controller': controller,
            'mode': mode,
            'n_switches': switches,
            'answered_per_s': {'median': rate},
        }

    flowsetup = {
        'results': [run('app', 'throughput', n, 1e6 / (20 + 0.5 * n)) for n in (1, 4, 16, 64)]
        + [run('app', 'latency', 16, 1.0)]
    }
    lines = scaling.section({'flowsetup': flowsetup, 'memory': None}, plots=None)
    rows = [line for line in lines if line.startswith('| flow setup')]
    assert rows == [
        '| flow setup vs switches | app | 4 | linear | +0.50 us per packet-in '
        'for each added switch | 1.000 |'
    ]
    assert not any('memory' in line for line in lines)
    assert scaling.section({}, plots=None) == []


def test_the_host_sweep_is_its_own_curve_and_stays_out_of_the_switch_curve():
    def run(switches, hosts, us):
        return {
            'controller': 'app',
            'mode': 'throughput',
            'n_switches': switches,
            'hosts_per_switch': hosts,
            'answered_per_s': {'median': 1e6 / us},
        }

    flowsetup = {
        'results': [run(n, 100, 20 + n) for n in (1, 4, 16, 64)]
        + [run(16, hosts, 36 * (hosts / 100) ** 0.25) for hosts in (1000, 10000)]
    }
    lines = scaling.section({'flowsetup': flowsetup}, plots=None)
    assert '| flow setup vs switches | app | 4 | linear | +1.00 us per packet-in ' in '\n'.join(
        lines
    )
    (hosts_row,) = [line for line in lines if line.startswith('| flow setup vs hosts')]
    assert '| 3 | power | time grows as hosts^0.25 |' in hosts_row


def test_each_controller_runs_the_switch_sweep_the_host_sweep_and_latency():
    from bench import faucet, run

    ours = run._flowsetup_runs('l2_learning (WARNING log)', quick=False)
    assert ours == [('throughput', n, 100) for n in (1, 4, 16, 64)] + [
        ('throughput', 16, 1000),
        ('throughput', 16, 10000),
        ('latency', 16, 100),
    ]
    theirs = run._flowsetup_runs(next(iter(faucet.CONTROLLERS)), quick=False)
    assert ('throughput', 16, 1000) in theirs and ('throughput', 16, 10000) not in theirs
    assert run._flowsetup_runs('l2_learning (WARNING log)', quick=True) == [
        ('throughput', 16, 100),
        ('latency', 16, 100),
    ]


def test_the_metrics_cost_section_reports_each_set_up_and_its_target():
    from bench import metrics_cost

    figures = {
        'cpu_us_per_answered': {'off': 100.0, 'on': 103.0, 'on, scraped 1/s': 110.0},
        'cpu_cost_vs_off': {'on': 0.03, 'on, scraped 1/s': 0.10},
        'answered_per_s': {'off': 1000.0, 'on': 980.0, 'on, scraped 1/s': 900.0},
        'cost_vs_off': {'on': 0.02, 'on, scraped 1/s': 0.10},
    }
    data = {
        'machine': {
            'date': 'd',
            'commit': 'c',
            'cores': 2,
            'cpu': 'x',
            'memory_gib': 1.0,
            'python': '3',
            'kernel': 'k',
        },
        'seconds': 1,
        'rounds': 3,
        'summary': {'throughput': figures},
        'hot_path': {
            'added_us_per_packet_in': 0.4,
            'l2_handler_us_per_packet_in': 20.0,
            'added_vs_handler': 0.02,
        },
    }
    lines, targets = metrics_cost.section(data)
    assert '| throughput | on | 980 | 103.0 | +3.0% | +2.0% |' in lines
    assert '| throughput | off | 1000 | 100.0 |  |  |' in lines
    assert targets == [('metrics on: flow-setup CPU cost vs off', 3.0, 5.0, '%')]


def test_the_policy_curve_has_faucets_series_where_faucet_gave_figures():
    def entry(ports, faucet):
        return {'ports': ports, 'load_validate_ms': ports, 'compile_ms': ports, 'faucet': faucet}

    policy = {
        'results': [
            entry(10, {'load_validate_ms': 10.0, 'compile_ms': 1.0}),
            entry(100, {'load_validate_ms': 1000.0, 'compile_ms': 10.0}),
            entry(1000, {'gave_up': 'no result within 600 s'}),
        ]
    }
    lines = scaling.section({'policy': policy}, plots=None)
    rows = {line.split(' | ')[1]: line for line in lines if line.startswith('| policy vs ports')}
    assert 'ports^2.00' in rows['FAUCET load + validate']
    assert 'ports^1.00' in rows['FAUCET cold start (its compile)']
    assert 'ports^1.00' in rows['load + validate']
