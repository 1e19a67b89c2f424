"""How each cost grows: fitted slopes over the figures bench/run.py recorded.

No measurement of its own: bench/report.py calls ``section`` with the JSON results of
the other benchmarks and writes the fits into RESULTS.md, one plot per curve. Two fits,
least squares (``statistics.linear_regression``):

- linear, ``y = a + b x``: the cost of one more unit (a switch, a learned MAC);
- power, ``y = c x^k`` (a line on log-log axes): how the cost grows with size, k = 1
  linear, k = 2 quadratic. Used where the sizes span decades (rules, ports, switches of
  an epoch).

R² says how well the line fits; with three or four points it is a description, not a
proof.
"""

import math
import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Fit:
    """A fitted line: ``slope`` per unit of x (linear) or the exponent (power)."""

    kind: str  # 'linear' or 'power'
    slope: float
    intercept: float
    r2: float
    points: int

    def predict(self, x: float) -> float:
        if self.kind == 'linear':
            return self.intercept + self.slope * x
        return math.exp(self.intercept) * x**self.slope


def _r2(xs: list[float], ys: list[float], slope: float, intercept: float) -> float:
    mean = statistics.fmean(ys)
    total = sum((y - mean) ** 2 for y in ys)
    residual = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    return 1.0 - residual / total if total else 1.0


def fit_linear(points: list[tuple[float, float]]) -> Fit | None:
    """The least-squares line through ``points`` (x, y); None under two distinct x."""
    xs, ys = [float(x) for x, _ in points], [float(y) for _, y in points]
    if len(set(xs)) < 2:
        return None
    slope, intercept = statistics.linear_regression(xs, ys)
    return Fit('linear', slope, intercept, _r2(xs, ys, slope, intercept), len(points))


def fit_power(points: list[tuple[float, float]]) -> Fit | None:
    """The least-squares line on log-log axes (its slope is the growth exponent);
    points with x or y not above zero are left out."""
    logged = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y > 0]
    line = fit_linear(logged)
    if line is None:
        return None
    return Fit('power', line.slope, line.intercept, line.r2, line.points)


@dataclass(frozen=True)
class Curve:
    """One measured curve: its name, axes, points and fit."""

    name: str  # short, for the table
    title: str
    xlabel: str
    ylabel: str
    series: dict  # label -> [(x, y)]
    kind: str  # which fit: 'linear' or 'power'
    plot: str  # file name of its plot
    reading: str  # what the slope means, with {slope} to fill in

    def fits(self) -> dict[str, Fit | None]:
        fit = fit_linear if self.kind == 'linear' else fit_power
        return {label: fit(points) for label, points in self.series.items()}


BASE_HOSTS = 100  # learned hosts per switch of the switch sweep (bench/run.py)
BASE_SWITCHES = 16  # switches of the host sweep


def _us_per_packet_in(data: dict, keep, x_of) -> dict[str, list]:
    """Per controller, (x, 1e6 / answered rate) of the throughput runs ``keep`` takes."""
    series: dict[str, list] = {}
    for entry in data['results']:
        rate = (entry.get('answered_per_s') or {}).get('median')
        if entry.get('mode') == 'throughput' and rate and keep(entry):
            series.setdefault(entry['controller'], []).append((x_of(entry), 1e6 / rate))
    return {label: sorted(points) for label, points in series.items() if len(points) > 1}


def flowsetup_curve(data: dict) -> Curve | None:
    """CPU-bound cost of one packet-in (1/answered rate) against the switch count."""
    series = _us_per_packet_in(
        data,
        lambda entry: entry.get('hosts_per_switch', BASE_HOSTS) == BASE_HOSTS,
        lambda entry: entry['n_switches'],
    )
    if not series:
        return None
    return Curve(
        'flow setup vs switches',
        'Flow setup: time per answered packet-in against switches',
        'emulated switches',
        'us per packet-in (1 / answered rate)',
        series,
        'linear',
        'scaling_flowsetup.png',
        '{slope:+.2f} us per packet-in for each added switch',
    )


def flowsetup_hosts_curve(data: dict) -> Curve | None:
    """The same against the hosts each switch has learned (16 switches)."""
    series = _us_per_packet_in(
        data,
        lambda entry: entry['n_switches'] == BASE_SWITCHES,
        lambda entry: entry.get('hosts_per_switch', BASE_HOSTS),
    )
    if not series:
        return None
    return Curve(
        'flow setup vs hosts',
        'Flow setup: time per answered packet-in against learned hosts per switch',
        'learned hosts per switch (%d switches)' % BASE_SWITCHES,
        'us per packet-in (1 / answered rate)',
        series,
        'power',
        'scaling_flowsetup_hosts.png',
        'time grows as hosts^{slope:.2f}',
    )


def memory_curve(data: dict) -> Curve | None:
    """Controller RSS growth against learned MACs."""
    series = {
        entry['controller']: [(p['macs'], p['delta_kib'] * 1024) for p in entry['points']]
        for entry in data['results']
        if len(entry.get('points', ())) > 1
    }
    if not series:
        return None
    return Curve(
        'memory vs learned MACs',
        'Memory: RSS growth against learned MACs',
        'learned MACs',
        'bytes above idle',
        series,
        'linear',
        'scaling_memory.png',
        '{slope:.0f} bytes per learned MAC',
    )


def epoch_curve(data: dict) -> Curve | None:
    """Epoch compute + check time against switches, per topology family."""
    series: dict[str, list] = {}
    for entry in data['results']:
        if entry.get('compute_check_ms') and 'change' not in entry['name']:
            series.setdefault(entry['family'], []).append(
                (entry['switches'], entry['compute_check_ms'])
            )
    series = {label: sorted(points) for label, points in series.items() if len(points) > 1}
    if not series:
        return None
    return Curve(
        'epoch vs switches',
        'Stable routing: epoch compute + check against switches',
        'switches (one host each, or the fat-tree hosts)',
        'ms',
        series,
        'power',
        'scaling_epoch.png',
        'time grows as switches^{slope:.2f}',
    )


def arbiter_curve(data: dict) -> Curve | None:
    """Arbiter cost per proposed rule against the rules already installed."""
    results = data['results']
    series = {
        label: [(entry['installed'], entry['all']['p50_us']) for entry in results.get(key, ())]
        for label, key in (
            ('shared tables (conflicts checked)', 'overhead'),
            ('single-app tables', 'overhead_single_app'),
        )
    }
    series = {label: points for label, points in series.items() if len(points) > 1}
    if not series:
        return None
    return Curve(
        'arbiter vs rules',
        'Arbiter: cost per proposed rule against rules installed',
        'rules installed',
        'us per rule (p50)',
        series,
        'power',
        'scaling_arbiter.png',
        'cost grows as rules^{slope:.2f}',
    )


def policy_curve(data: dict) -> Curve | None:
    """VLAN/ACL policy load + validate and compile time against the ports of the policy
    (its ACL rules grow with it, as bench/run.py's sizes say)."""
    results = data['results']
    theirs = [
        (r['ports'], r['faucet']) for r in results if 'load_validate_ms' in r.get('faucet', {})
    ]
    series = {
        'load + validate': [(r['ports'], r['load_validate_ms']) for r in results],
        'compile': [(r['ports'], r['compile_ms']) for r in results],
        'FAUCET load + validate': [(ports, f['load_validate_ms']) for ports, f in theirs],
        'FAUCET cold start (its compile)': [(ports, f['compile_ms']) for ports, f in theirs],
    }
    series = {label: points for label, points in series.items() if len(points) > 1}
    if not series:
        return None
    return Curve(
        'policy vs ports',
        'VLAN/ACL policy: load and compile time against ports',
        'ports (ACL rules grow with them)',
        'ms',
        series,
        'power',
        'scaling_policy.png',
        'time grows as ports^{slope:.2f}',
    )


CURVES = (
    ('flowsetup', flowsetup_curve),
    ('flowsetup', flowsetup_hosts_curve),
    ('memory', memory_curve),
    ('stable-compute', epoch_curve),
    ('arbiter', arbiter_curve),
    ('policy', policy_curve),
)


def section(results: dict[str, dict], plots) -> list[str]:
    """The "Scaling" section of RESULTS.md from ``results`` (benchmark name -> its JSON
    data, absent ones left out), drawing one plot per curve when ``plots`` is given."""
    curves = [make(results[name]) for name, make in CURVES if results.get(name)]
    curves = [curve for curve in curves if curve is not None]
    if not curves:
        return []
    out = [
        '## Scaling: how each cost grows (bench/scaling.py)',
        '',
        'Least-squares fits over the figures above (linear: the cost of one more unit; '
        'power: the exponent of the growth, a straight line on log-log axes). R² near 1 '
        'means the line describes the points; with 3 or 4 points it describes, it does '
        'not prove.',
        '',
        '| curve | series | points | fit | slope | R² |',
        '| --- | --- | ---: | --- | --- | ---: |',
    ]
    for curve in curves:
        for label, fit in curve.fits().items():
            if fit is not None:
                out.append(
                    '| %s | %s | %d | %s | %s | %.3f |'
                    % (
                        curve.name,
                        label,
                        fit.points,
                        fit.kind,
                        curve.reading.format(slope=fit.slope),
                        fit.r2,
                    )
                )
    if plots is not None:
        out.append('')
        for curve in curves:
            plots.line(
                curve.plot,
                curve.title,
                curve.xlabel,
                curve.ylabel,
                curve.series,
                logx=curve.kind == 'power',
                logy=curve.kind == 'power',
            )
            out += ['![%s](%s)' % (curve.title, plots.link(curve.plot)), '']
    return out
