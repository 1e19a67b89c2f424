"""The update log (controller/stable/epochs.py): when an epoch is cut, with a fake clock."""

import gc

import pytest

from controller.stable.epochs import EpochRecord, Trigger, UpdateLog, collection_deferred

QUIET, MAX_DELAY = 0.5, 2.0  # binary fractions: the fake clock adds them exactly


class FakeClock:
    def __init__(self, now=100.0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def make_log(clock, **kwargs):
    """A log on ``clock``; trailing edge only unless ``leading_edge=True``."""
    kwargs.setdefault('leading_edge', False)
    return UpdateLog(
        kwargs.pop('quiet_window', QUIET),
        kwargs.pop('max_delay', MAX_DELAY),
        clock=clock,
        wall_clock=lambda: 1.7e9,
        **kwargs,
    )


def test_nothing_pending_is_never_due():
    clock = FakeClock()
    log = make_log(clock)
    assert not log.epoch_due()
    clock.advance(3600)
    assert not log.epoch_due() and log.pending == () and log.take_pending() == []


def test_a_burst_is_one_epoch_once_quiet():
    clock = FakeClock()
    log = make_log(clock)
    for i in range(20):  # 20 triggers 1/64 s apart: well within the window
        log.append('link-down', 'link %d' % i)
        assert not log.epoch_due()
        clock.advance(1 / 64)
    last = clock.now - 1 / 64
    clock.now = last + QUIET - 1 / 64
    assert not log.epoch_due()  # still inside the quiet window of the last trigger
    clock.now = last + QUIET
    assert log.epoch_due()
    taken = log.take_pending()
    assert [t.detail for t in taken] == ['link %d' % i for i in range(20)]
    assert log.pending == () and not log.epoch_due()
    assert log.take_pending() == []


def test_the_quiet_window_restarts_with_every_trigger():
    clock = FakeClock()
    log = make_log(clock)
    log.append('switch-up', 's1')
    clock.advance(0.375)
    log.append('switch-up', 's2')
    clock.advance(0.375)  # 0.75 s after the first, 0.375 s after the last
    assert not log.epoch_due()
    clock.advance(0.125)
    assert log.epoch_due()


def test_continuous_churn_is_cut_at_max_delay():
    clock = FakeClock()
    log = make_log(clock)
    cuts, epochs = [], []
    start = clock.now
    for _ in range(40):  # a trigger every quiet_window / 2 for 10 s
        if log.epoch_due():
            cuts.append(clock.now - start)
            epochs.append(log.take_pending())
        log.append('host-moved', 'h1 flapping')
        clock.advance(QUIET / 2)
    # Never quiet: each epoch is cut max_delay after its oldest trigger.
    assert cuts[0] == MAX_DELAY
    assert cuts == [2.0, 4.0, 6.0, 8.0]
    assert [len(e) for e in epochs] == [8] * 4  # 2 s of triggers 0.25 s apart


def test_hold_defers_the_quiet_window_but_not_max_delay():
    """While a switch settles the app holds the epoch; churn must not hold it for ever."""
    clock = FakeClock()
    log = make_log(clock)
    log.append('switch-up', 's1')
    clock.advance(QUIET)
    assert log.epoch_due() and not log.epoch_due(hold=True)
    clock.advance(MAX_DELAY - QUIET - 1 / 64)
    assert not log.epoch_due(hold=True)
    clock.advance(1 / 64)
    assert log.epoch_due(hold=True)
    log.take_pending()
    assert not log.epoch_due(hold=True)


def test_max_delay_equal_to_the_quiet_window_is_allowed():
    clock = FakeClock()
    log = make_log(clock, quiet_window=1.0, max_delay=1.0)
    log.append('link-up', 'a')
    clock.advance(1.0)
    assert log.epoch_due()


def test_take_pending_starts_a_fresh_window():
    clock = FakeClock()
    log = make_log(clock)
    log.append('link-up', 'a')
    clock.advance(MAX_DELAY * 2)
    assert log.epoch_due()
    log.take_pending()
    log.append('link-up', 'b')  # the old first trigger time must not carry over
    assert not log.epoch_due()
    clock.advance(QUIET)
    assert log.epoch_due()


def test_trigger_ids_are_unique_within_and_across_runs():
    clock = FakeClock()
    a, b = make_log(clock), make_log(clock)
    ids = [a.append('host-seen', str(i)).id for i in range(500)]
    ids += [b.append('host-seen', str(i)).id for i in range(500)]
    assert len(set(ids)) == 1000
    a.take_pending()
    assert a.append('host-seen', 'again').id not in ids  # the counter is not reset


def test_triggers_carry_kind_detail_and_wall_clock_time():
    clock = FakeClock()
    log = make_log(clock)
    trigger = log.append('port-down', '0000000000000001:3')
    assert isinstance(trigger, Trigger)
    assert (trigger.kind, trigger.detail, trigger.at) == ('port-down', '0000000000000001:3', 1.7e9)
    assert log.pending == (trigger,)


@pytest.mark.parametrize('quiet_window, max_delay', [(0, 1.0), (-0.5, 1.0), (1.0, 0.5), (0.0, 0.0)])
def test_invalid_parameters(quiet_window, max_delay):
    with pytest.raises(ValueError, match='quiet_window'):
        UpdateLog(quiet_window, max_delay)


def test_history_keeps_the_latest_records():
    log = make_log(FakeClock(), history=3)
    for number in range(1, 6):
        log.history.append(EpochRecord(number, 0.0, []))
    assert [r.number for r in log.history] == [3, 4, 5]


def test_epoch_record_defaults_and_dict():
    a, b = EpochRecord(1, 5.0, []), EpochRecord(2, 6.0, [])
    a.problems.append('loop')
    assert b.problems == []  # no shared mutable default
    d = a.as_dict()
    assert d['number'] == 1 and d['state'] == 'computing' and d['problems'] == ['loop']
    assert d['installed_at'] is None and d['compute_ms'] == 0.0
    assert d['first_trigger_at'] is None


def test_events_with_the_key_of_a_pending_trigger_are_coalesced_into_it():
    clock = FakeClock()
    log = make_log(clock)
    first = log.append('port-down', 'port 1:3', key=('port-down', 1, 3))
    log.append('port-up', 'port 1:3', key=('port-up', 1, 3))
    for n in range(100):  # 1.5625 s of flaps: within max_delay
        clock.advance(1 / 64)
        again = log.append('port-down', 'port 1:3, flap %d' % n, key=('port-down', 1, 3))
    assert again.id == first.id and again.events == 101
    assert [(t.kind, t.detail, t.events) for t in log.pending] == [
        ('port-down', 'port 1:3, flap 99', 101),
        ('port-up', 'port 1:3', 1),
    ]
    assert not log.epoch_due()  # each event restarts the quiet window
    clock.advance(QUIET)
    assert len(log.take_pending()) == 2
    fresh = log.append('port-down', 'port 1:3', key=('port-down', 1, 3))
    assert fresh.id != first.id and fresh.events == 1  # a new epoch's trigger
    log.append('host-seen', 'a')
    log.append('host-seen', 'b')  # no key: never coalesced
    assert len(log.pending) == 3


def test_due_in_is_how_long_the_epoch_loop_may_sleep():
    clock = FakeClock()
    log = make_log(clock)
    assert log.due_in() is None  # nothing pending: nothing to wake for
    log.append('port-down', 's1:1')
    assert log.due_in() == QUIET
    clock.advance(0.25)
    log.append('port-down', 's2:1')  # the other end, later: the window restarts
    assert log.due_in() == QUIET and log.due_in(hold=True) == MAX_DELAY - 0.25
    clock.advance(QUIET)
    assert log.due_in() == 0 and log.epoch_due()
    # Under churn, max_delay after the first trigger bounds it; held, only max_delay.
    for _ in range(4):
        clock.advance(0.25)
        log.append('port-up', 's3:1', key='s3:1')
    assert log.due_in() == 0.25 and log.due_in(hold=True) == 0.25
    clock.advance(0.25)
    assert log.due_in() == 0 and log.epoch_due() and log.epoch_due(hold=True)


def test_the_first_trigger_after_a_quiet_window_is_due_at_once():
    """Leading edge: the first trigger of a burst is cut at once; the triggers that
    come while its epoch runs wait for the quiet window after the last of them (the
    second end of a link cut, a few ms later, is debounced, not cut at once too)."""
    clock = FakeClock()
    log = make_log(clock, leading_edge=True)
    log.append('port-down', 's1:1')
    assert log.epoch_due() and log.due_in() == 0
    clock.advance(1 / 64)
    log.append('port-down', 's2:1')  # before the loop took the first: same epoch
    assert log.epoch_due()
    assert [t.detail for t in log.take_pending()] == ['s1:1', 's2:1']
    clock.advance(1 / 64)
    log.append('port-down', 's3:1')  # while that epoch runs: trailing edge
    assert not log.epoch_due() and log.due_in() == QUIET
    clock.advance(QUIET)
    assert log.epoch_due()
    log.take_pending()
    clock.advance(1 / 64)
    log.append('port-up', 's2:1')  # a window after the last: a new burst, at once
    assert log.epoch_due()


def test_the_leading_edge_waits_for_a_settling_switch_and_is_off_by_choice():
    clock = FakeClock()
    log = make_log(clock, leading_edge=True)
    log.append('switch-up', 's1')
    assert not log.epoch_due(hold=True) and log.due_in(hold=True) == MAX_DELAY
    log.discard({log.pending[0].id})
    clock.advance(QUIET)
    trailing = make_log(clock)
    trailing.append('switch-up', 's1')
    assert not trailing.epoch_due() and trailing.due_in() == QUIET


def test_under_churn_the_leading_edge_adds_one_epoch_per_burst():
    """A trigger every quiet_window / 2 for 10 s, then 10 s of quiet, twice: each
    burst is one epoch at its first trigger and then as without the leading edge
    (max_delay after the oldest pending one, then once quiet)."""
    clock = FakeClock()
    log = make_log(clock, leading_edge=True)
    cuts = []
    start = clock.now
    for burst in range(2):
        for _ in range(40):
            if log.epoch_due():
                cuts.append(clock.now - start)
                log.take_pending()
            log.append('host-moved', 'h1 flapping')
            if log.epoch_due():
                cuts.append(clock.now - start)
                log.take_pending()
            clock.advance(QUIET / 2)
        while log.pending:
            clock.advance(1 / 64)
            if log.epoch_due():
                cuts.append(clock.now - start)
                log.take_pending()
        clock.now = start + 20 * (burst + 1)
    last = 9.75  # the last trigger of the first burst: the quiet window after it
    assert cuts == [0.0, 2.25, 4.25, 6.25, 8.25, last + QUIET] + [
        20 + cut for cut in (0.0, 2.25, 4.25, 6.25, 8.25, last + QUIET)
    ]


def test_the_cycle_collector_waits_for_the_end_of_a_deferred_block():
    assert gc.isenabled()
    with collection_deferred():
        assert not gc.isenabled()
        with collection_deferred():  # nested: the outer block still holds it
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collection_deferred():
        raise RuntimeError('an epoch that raises')
    assert gc.isenabled()
