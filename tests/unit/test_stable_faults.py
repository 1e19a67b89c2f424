"""Faulty switches (controller/stable/faults.py) with a fake clock: left out after a
failure, probed after a back-off that doubles, back on probation after a confirmed
probe and no longer faulty after a confirmed epoch, over the limit after K consecutive
failures, probed at once on reconnection, forgotten a while after they left."""

import pytest

from controller.bundles import Transaction
from controller.stable.faults import FORGET_AFTER, FaultTracker
from tests.harness.stable_fakes import FakeClock

BACKOFF, MAX_BACKOFF, LIMIT, PROBE_TIMEOUT = 1.0, 4.0, 3, 0.5


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def tracker(clock):
    return FaultTracker(BACKOFF, MAX_BACKOFF, LIMIT, PROBE_TIMEOUT, clock=clock)


def answered(errors=()):
    probe = Transaction(7, 1)
    probe.errors.extend(errors)
    probe.done.set()
    return probe


def test_a_failure_benches_the_switch_until_its_backoff_is_over(tracker, clock):
    fault = tracker.failed(7, 'refused internal rules: type 1 code 5')
    assert 7 in tracker and tracker.benched() == {7}
    assert (fault.failures, fault.reason) == (1, 'refused internal rules: type 1 code 5')
    assert tracker.probes_due() == []
    clock.now += BACKOFF
    assert tracker.probes_due() == [7]
    assert tracker.as_list() == [
        {
            'switch': '0000000000000007',
            'failures': 1,
            'reason': 'refused internal rules: type 1 code 5',
            'benched': True,
        }
    ]


def test_the_backoff_doubles_up_to_its_maximum(tracker):
    assert [tracker.backoff_after(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 4.0, 4.0]
    assert tracker.backoff_after(10**6) == MAX_BACKOFF  # no overflow


def test_a_confirmed_probe_brings_it_back_on_probation(tracker, clock):
    tracker.failed(7, 'did not confirm internal rules within 5.0s')
    clock.now += BACKOFF
    probe = Transaction(7, 1)
    tracker.probe_sent(7, probe)
    assert tracker.probes_due() == [] and tracker.probe_outcomes() == []  # in flight
    probe.done.set()
    ((fault, reason),) = tracker.probe_outcomes()
    assert reason is None and fault.dpid == 7 and not fault.benched
    assert tracker.benched() == set() and 7 in tracker  # on probation
    assert tracker.probe_outcomes() == []
    assert tracker.confirmed(7) is fault and 7 not in tracker
    assert tracker.confirmed(7) is None


def test_a_refused_or_unanswered_probe_is_one_more_failure(tracker, clock):
    tracker.failed(7, 'refused internal rules: type 1 code 5')
    clock.now += BACKOFF
    tracker.probe_sent(7, answered([(1, 5), (1, 5)]))
    ((fault, reason),) = tracker.probe_outcomes()
    assert reason == 'refused the probe: type 1 code 5 (x2)' == fault.reason
    assert fault.failures == 2 and fault.benched
    clock.now += tracker.backoff_after(2)
    silent = Transaction(7, 1)
    tracker.probe_sent(7, silent)
    clock.now += PROBE_TIMEOUT - 0.125
    assert tracker.probe_outcomes() == []
    clock.now += 0.125
    ((fault, reason),) = tracker.probe_outcomes()
    assert reason == 'did not confirm the probe within 0.5s' and fault.failures == 3
    assert silent.errors == [('abandoned', None)]  # given up: no xids kept for it
    assert tracker.over_limit(fault)


def test_the_limit_counts_consecutive_failures_only(tracker):
    for _ in range(LIMIT - 1):
        fault = tracker.failed(7, 'x')
    assert not tracker.over_limit(fault)
    tracker.confirmed(7)
    fault = tracker.failed(7, 'x')
    assert fault.failures == 1 and not tracker.over_limit(fault)
    never = FaultTracker(BACKOFF, MAX_BACKOFF, 0, PROBE_TIMEOUT)
    for _ in range(100):
        fault = never.failed(7, 'x')
    assert not never.over_limit(fault)


def test_a_reconnected_switch_is_probed_at_once_and_keeps_its_count(tracker, clock):
    tracker.failed(7, 'x')
    probe = Transaction(7, 1)
    clock.now += BACKOFF
    tracker.probe_sent(7, probe)
    tracker.disconnected(7)
    assert probe.errors == [('abandoned', None)]
    assert tracker.probes_due() == [] and tracker.benched() == {7}
    fault = tracker.reconnected(7)
    assert fault is not None and fault.failures == 1 and tracker.probes_due() == [7]
    assert tracker.reconnected(8) is None and tracker.probes_due() == [7]
    tracker.disconnected(8)  # never faulty: nothing to keep
    assert 8 not in tracker


def test_disconnected_switches_are_forgotten_after_a_while(tracker, clock):
    tracker.failed(7, 'x')
    tracker.failed(8, 'x')
    tracker.disconnected(7)
    clock.now += FORGET_AFTER - 1
    tracker.forget_stale()
    assert 7 in tracker
    clock.now += 1
    tracker.forget_stale()
    assert 7 not in tracker and 8 in tracker  # 8 is still connected


@pytest.mark.parametrize('args', [(0, 1, 3, 1), (2, 1, 3, 1), (1, 2, -1, 1), (1, 2, 3, 0)])
def test_invalid_settings(args):
    with pytest.raises(ValueError, match='backoff'):
        FaultTracker(*args)
