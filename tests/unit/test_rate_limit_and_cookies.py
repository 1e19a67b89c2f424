"""TokenBucket, LogThrottle and the cookie convention."""

import pytest

from controller.cookies import APP_IDS, CookieSpace, owner_of
from controller.rate_limit import LogThrottle, TokenBucket


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_bucket_allows_burst_then_rate():
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=5, clock=clock)
    assert [bucket.allow() for _ in range(7)] == [True] * 5 + [False] * 2
    clock.now += 0.5  # 5 tokens back
    assert sum(bucket.allow() for _ in range(10)) == 5
    assert bucket.allowed == 10 and bucket.refused == 7


def test_bucket_never_exceeds_burst_after_idle():
    clock = FakeClock()
    bucket = TokenBucket(rate=100, burst=3, clock=clock)
    clock.now += 3600
    assert sum(bucket.allow() for _ in range(10)) == 3


def test_an_event_may_cost_several_tokens_and_one_above_the_burst_a_full_bucket():
    clock = FakeClock()
    bucket = TokenBucket(rate=100, burst=150, clock=clock)
    assert bucket.allow(100) and not bucket.allow(100) and bucket.allow(50)
    clock.now += 1.0
    assert not bucket.allow(1000)  # 100 tokens: not the whole bucket
    clock.now += 0.5
    assert bucket.allow(1000)  # the whole bucket
    assert not bucket.allow(1)
    clock.now += 1.5
    assert bucket.allow(1000)


def test_log_throttle_lets_one_line_per_key_and_interval():
    clock = FakeClock()
    throttle = LogThrottle(60.0, clock)
    assert [throttle.ready(1), throttle.ready(1), throttle.ready(2)] == [True, False, True]
    clock.now += 59.9
    assert not throttle.ready(1)
    clock.now += 0.1
    assert throttle.ready(1) and not throttle.ready(1)
    throttle.forget(1)
    assert throttle.ready(1)


def test_bucket_long_run_rate():
    clock = FakeClock()
    bucket = TokenBucket(rate=50, burst=1, clock=clock)
    allowed = 0
    for _ in range(10000):  # 10 s of attempts every millisecond
        clock.now += 0.001
        allowed += bucket.allow()
    assert 495 <= allowed <= 505


@pytest.mark.parametrize('rate,burst', [(0, 1), (-1, 5), (5, 0)])
def test_bucket_rejects_nonsense(rate, burst):
    with pytest.raises(ValueError):
        TokenBucket(rate, burst)


def test_cookie_ranges_are_disjoint_and_attributable():
    spaces = [CookieSpace(app) for app in APP_IDS]
    for space in spaces:
        cookie = space.cookie(kind=7, free=12345)
        assert owner_of(cookie) == space.app
        assert space.kind_of(cookie) == 7
        value, mask = space.all_rules()
        assert cookie & mask == value
        for other in spaces:
            if other is not space:
                assert not other.owns(cookie)
                other_value, other_mask = other.all_rules()
                assert cookie & other_mask != other_value


def test_kind_mask_selects_one_kind():
    space = CookieSpace('l2_learning')
    value, mask = space.rules_of_kind(3)
    assert space.cookie(3, free=99) & mask == value
    assert space.cookie(4) & mask != value
    assert owner_of(0) is None


def test_cookie_bounds():
    space = CookieSpace('l2_learning')
    with pytest.raises(ValueError):
        space.cookie(256)
    with pytest.raises(ValueError):
        space.cookie(1, free=1 << 40)
