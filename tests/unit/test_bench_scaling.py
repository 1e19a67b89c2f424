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
