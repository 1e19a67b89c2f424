"""controller/switch_ports.py: the ports the base tracks per switch, and the PORT_STATUS
budget that makes a flap storm cost O(ports), not O(messages)."""

from hypothesis import given, settings
from hypothesis import strategies as st
from ryu.ofproto.ofproto_v1_3 import OFPP_LOCAL

from controller.switch_ports import PORT_CHANGES_AT_ONCE, SwitchPorts
from tests.harness.fake_switch import FakeClock


def test_at_most_max_ports_are_tracked_lowest_first_reserved_ports_aside():
    ports = SwitchPorts(max_ports=3, interval=0.5, clock=FakeClock())
    assert ports.admit_all([5, 1, 4, 2, 3, OFPP_LOCAL]) == [4, 5]
    assert ports.tracked == {1, 2, 3} and ports.ignored == 2
    assert ports.admit(2) and ports.admit(OFPP_LOCAL) and not ports.admit(6)
    assert ports.ignored == 3
    # A deleted port frees its place.
    ports.release(2)
    assert ports.admit(6) and ports.tracked == {1, 3, 6}


def test_a_port_acts_at_once_a_few_times_then_its_newest_status_waits():
    clock = FakeClock()
    ports = SwitchPorts(max_ports=8, interval=0.5, clock=clock)
    assert [ports.offer(1, 'change %d' % n) for n in range(6)] == [True] * PORT_CHANGES_AT_ONCE + [
        False
    ] * 2
    assert ports.waiting == {1: 'change 5'}
    # While a status waits, a newer one waits too (never acted on out of order).
    clock.now += 10
    assert not ports.offer(1, 'change 6') and ports.waiting == {1: 'change 6'}
    assert ports.offer(2, 'other port')
    assert ports.take_waiting() == (1, 'change 6') and ports.take_waiting() is None
    # After the interval the budget has refilled.
    assert ports.offer(1, 'change 7')


def test_a_held_status_waits_and_a_released_port_forgets_what_waited():
    ports = SwitchPorts(max_ports=8, interval=0.5, clock=FakeClock())
    assert not ports.offer(1, 'up', hold=True) and not ports.offer(2, 'up', hold=True)
    ports.release(2)
    assert ports.waiting == {1: 'up'}


def test_a_storm_costs_a_bounded_number_of_actions_per_port_and_interval():
    clock = FakeClock()
    ports = SwitchPorts(max_ports=64, interval=0.5, clock=clock)
    acted = 0
    for _ in range(10):
        for n in range(2000):  # 2,000 statuses a second over 64 ports
            acted += ports.offer(n % 64, n)
        clock.now += 0.5
        while ports.take_waiting():  # what the base's tick acts on
            acted += 1
        clock.now += 0.5
    # the burst once, then per port and 0.5 s: one refilled token and one tick
    assert acted <= 64 * (PORT_CHANGES_AT_ONCE + 10 * 2 * 2)
    assert len(ports.waiting) == 0


@settings(max_examples=200, deadline=None)
@given(
    max_ports=st.integers(1, 6),
    statuses=st.lists(
        st.tuples(st.integers(1, 10), st.booleans(), st.booleans(), st.floats(0, 0.3)), max_size=80
    ),
)
def test_the_last_status_of_every_tracked_port_is_acted_on_after_a_tick(max_ports, statuses):
    """Whatever the storm, acting on what ``offer`` returns and on what waits gives the
    newest status of every tracked port; no more than max_ports are tracked."""
    clock = FakeClock()
    ports = SwitchPorts(max_ports=max_ports, interval=0.5, clock=clock)
    state, newest = {}, {}
    for port_no, up, hold, dt in statuses:
        clock.now += dt
        if not ports.admit(port_no):
            continue
        newest[port_no] = up
        if ports.offer(port_no, up, hold=hold):
            state[port_no] = up
        assert len(ports.tracked) <= max_ports
        assert set(ports.waiting) <= ports.tracked
    while (waiting := ports.take_waiting()) is not None:
        state[waiting[0]] = waiting[1]
    assert state == newest
