"""MacTable: learning, moves, per-port limits and bans, port flush."""

from controller.learning import Learned, MacTable, is_unicast


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def make_table(limit=3, ban=10):
    clock = FakeClock()
    return MacTable(limit, ban, clock=clock), clock


def test_new_then_refreshed():
    table, _ = make_table()
    assert table.learn('00:00:00:00:00:01', 1) == (Learned.NEW, None)
    assert table.learn('00:00:00:00:00:01', 1) == (Learned.REFRESHED, None)
    assert table.lookup('00:00:00:00:00:01') == 1
    assert len(table) == 1


def test_move_reports_previous_port_and_updates_ports():
    table, _ = make_table()
    table.learn('00:00:00:00:00:01', 1)
    assert table.learn('00:00:00:00:00:01', 4) == (Learned.MOVED, 1)
    assert table.lookup('00:00:00:00:00:01') == 4
    assert table.macs_on_port(1) == set()
    assert table.macs_on_port(4) == {'00:00:00:00:00:01'}


def test_limit_bans_port_for_ban_time_but_known_hosts_stay():
    table, clock = make_table(limit=2, ban=10)
    table.learn('02:00:00:00:00:01', 1)
    table.learn('02:00:00:00:00:02', 1)
    assert table.learn('02:00:00:00:00:03', 1) == (Learned.BANNED, None)
    assert table.is_banned(1)
    assert table.learn('02:00:00:00:00:05', 1) == (Learned.REFUSED, None)
    assert table.learn('02:00:00:00:00:01', 1) == (Learned.REFRESHED, None)
    # still banned even after a known MAC leaves the port
    table.forget('02:00:00:00:00:02')
    assert table.learn('02:00:00:00:00:04', 1) == (Learned.REFUSED, None)
    clock.now += 10
    assert not table.is_banned(1)
    assert table.learn('02:00:00:00:00:04', 1) == (Learned.NEW, None)


def test_limit_not_applied_where_caller_says_so():
    table, _ = make_table(limit=1)
    for i in range(10):
        assert table.learn('02:00:00:00:00:%02x' % i, 7, limit=False)[0] is Learned.NEW
    assert len(table.macs_on_port(7)) == 10


def test_other_ports_unaffected_by_a_ban():
    table, _ = make_table(limit=1)
    table.learn('02:00:00:00:00:01', 1)
    assert table.learn('02:00:00:00:00:02', 1)[0] is Learned.BANNED
    assert table.learn('02:00:00:00:00:02', 2)[0] is Learned.NEW


def test_forget_port_flushes_only_that_port():
    table, _ = make_table()
    table.learn('00:00:00:00:00:01', 1)
    table.learn('00:00:00:00:00:02', 1)
    table.learn('00:00:00:00:00:03', 2)
    assert table.forget_port(1) == {'00:00:00:00:00:01', '00:00:00:00:00:02'}
    assert table.lookup('00:00:00:00:00:01') is None
    assert table.lookup('00:00:00:00:00:03') == 2


def test_forget_with_port_guard():
    table, _ = make_table()
    table.learn('00:00:00:00:00:01', 1)
    assert not table.forget('00:00:00:00:00:01', port=2)
    assert table.forget('00:00:00:00:00:01', port=1)
    assert '00:00:00:00:00:01' not in table


def test_is_unicast():
    assert is_unicast('00:00:00:00:00:01')
    assert is_unicast('02:00:00:00:00:01')
    assert not is_unicast('ff:ff:ff:ff:ff:ff')
    assert not is_unicast('01:00:5e:00:00:01')
    assert not is_unicast('33:33:00:00:00:01')


def test_per_port_limit_override():
    table, _ = make_table(limit=100)
    assert table.learn('02:00:00:00:00:01', 1, max_macs=1)[0] is Learned.NEW
    assert table.learn('02:00:00:00:00:02', 1, max_macs=1)[0] is Learned.BANNED
    assert table.learn('02:00:00:00:00:02', 2)[0] is Learned.NEW


def test_table_wide_limit_refuses_new_macs_but_not_moves():
    table, _ = make_table(limit=100)
    table.max_total = 2
    assert table.learn('02:00:00:00:00:01', 1)[0] is Learned.NEW
    assert table.learn('02:00:00:00:00:02', 2)[0] is Learned.NEW
    assert table.learn('02:00:00:00:00:03', 3) == (Learned.FULL, None)
    assert not table.is_banned(3)  # no port is to blame
    assert table.learn('02:00:00:00:00:01', 3) == (Learned.MOVED, 1)
    table.forget('02:00:00:00:00:02')
    assert table.learn('02:00:00:00:00:03', 3)[0] is Learned.NEW
