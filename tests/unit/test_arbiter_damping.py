"""controller/arbiter/damping.py: RFC 2439-style flap damping of contested regions, on an
injected clock."""

import pytest

from controller.arbiter.damping import FlapDamper
from controller.arbiter.policy import Damping

CONFIG = Damping(penalty=1000, suppress=2000, reuse=750, half_life=10, max_suppress=40)
REGION = (1, 0, 'eth_type=0x800,ipv4_dst=10.0.0.100')


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def damper():
    clock = Clock()
    return FlapDamper(CONFIG, clock), clock


def fight(damper, rounds, region=REGION):
    """A and B propose opposite actions, one after the other; the newly-suppressed
    flags."""
    flags = []
    for _ in range(rounds):
        for app, port in (('a', 2), ('b', 3)):
            flags.append(damper.propose(region, app, ('output', port))[1])
    return flags


def test_alternating_apps_are_damped_after_the_threshold(damper):
    damper, _ = damper
    flags = fight(damper, 2)  # a, b, a, b: three changes of hands
    assert flags == [False, False, True, False]  # 2000 reached at the second flap
    state = damper.state(REGION)
    assert state.flaps == 3 and state.suppressed and state.alerts == 1
    assert state.apps == {'a', 'b'}
    assert damper.damped() == [(REGION, state)]


def test_the_same_app_or_the_same_actions_are_no_flap(damper):
    damper, _ = damper
    for _ in range(10):
        damper.propose(REGION, 'a', ('output', 2))
    for app in ('b', 'c', 'b'):
        damper.propose(REGION, app, ('output', 2))  # other apps, same actions
    state = damper.state(REGION)
    assert state.flaps == 0 and state.penalty == 0 and not state.suppressed


def test_the_penalty_halves_every_half_life_and_the_region_is_released(damper):
    damper, clock = damper
    fight(damper, 2)
    penalty = damper.state(REGION).penalty
    clock.now += CONFIG.half_life
    assert damper.state(REGION).penalty == pytest.approx(penalty / 2)
    assert penalty == pytest.approx(3000)
    assert damper.suppressed(REGION)  # 1500 > reuse 750
    clock.now += CONFIG.half_life + 0.1
    assert not damper.suppressed(REGION)  # just under 750: released
    assert damper.damped() == []


def test_a_long_fight_stays_damped_no_longer_than_max_suppress_after_it_ends(damper):
    damper, clock = damper
    fight(damper, 200)
    assert damper.state(REGION).penalty == pytest.approx(CONFIG.ceiling)
    clock.now += CONFIG.max_suppress - 0.5
    assert damper.suppressed(REGION)
    clock.now += 1.0
    assert not damper.suppressed(REGION)


def test_slow_alternation_is_never_damped(damper):
    damper, clock = damper
    for turn in range(40):  # one change of hands every two half-lives
        damper.propose(REGION, 'ab'[turn % 2], ('output', 2 + turn % 2))
        clock.now += 2 * CONFIG.half_life
    state = damper.state(REGION)  # the penalty tends to 1000 / (1 - 1/4) < 2000
    assert state.flaps == 39 and not state.suppressed and state.alerts == 0


def test_regions_are_independent_and_quiet_ones_are_forgotten(damper):
    damper, clock = damper
    other = (1, 0, 'ipv4_dst=10.0.0.7')
    fight(damper, 2)
    damper.propose(other, 'a', ('output', 2))
    assert damper.suppressed(REGION) and not damper.suppressed(other)
    damper.forget_quiet()
    assert damper.state(other) is None and damper.state(REGION) is not None
    clock.now += 30 * CONFIG.half_life
    damper.forget_quiet()
    assert damper.state(REGION) is None


def test_regions_are_listed_by_scope_until_forgotten():
    clock = Clock()
    damper = FlapDamper(CONFIG, clock, scope=lambda region: region[:2])
    other_table = (1, 1, 'ipv4_dst=10.0.0.7')
    fight(damper, 2)
    damper.propose(other_table, 'a', ('output', 2))
    assert set(damper.regions_in((1, 0))) == {REGION}
    assert set(damper.regions_in((1, 1))) == {other_table}
    assert not damper.regions_in((2, 0))
    damper.forget_quiet()
    assert not damper.regions_in((1, 1)) and set(damper.regions_in((1, 0))) == {REGION}
