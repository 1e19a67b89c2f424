"""Each app starts under the real ``ryu-manager`` of this environment and programs
switches: emulated OpenFlow 1.3 switches (bench/ofemu.py) connect, and the flow-mods each
app installs on connect must come back, with the app's own cookie.

No root and no Mininet, so this runs on every Python the suite supports (.ci/run runs
the unit tests on each one it finds): it is the check that Ryu 4.34, eventlet and our Ryu
fix (controller/ryu_compat.py) work together on that interpreter, beyond importing.
"""

import asyncio
import os
import time

import pytest

from bench import ofemu
from controller.cookies import APP_SHIFT, THIRD_PARTY_BASE, owner_of
from tests.harness.controller import REPO, RyuController

THREE_TENANTS = os.path.join(REPO, 'examples', 'policies', 'three_tenants.yaml')
ARBITER_CONF = os.path.join(REPO, 'examples', 'arbiter', 'firewall_then_switch.conf')

# (apps, config sections, extra ryu-manager arguments, flow-mods expected per switch at
# least, owner of the table-miss rule's cookie)
APPS = {
    # LLDP to the controller and the table-miss rule.
    'l2_learning': (['apps/l2_learning.py'], None, [], 2, 'l2_learning'),
    # The four-table base pipeline, before any epoch.
    'stable_routing': (['apps/stable_routing.py'], None, [], 4, 'stable_routing'),
    # The compiled three-tenant pipeline of dp 1 and 2 (a delete of stale rules first).
    'vswitch_policy': (
        ['apps/vswitch_policy.py'],
        {'vswitch_policy': {'policy_file': THREE_TENANTS}},
        [],
        20,
        'vswitch_policy',
    ),
    # Ryu's own learning switch and firewall through the arbiter: their table-miss
    # rules arrive rewritten into the third-party cookie ranges.
    'arbiter': (
        ['apps/arbiter.py', 'ryu.app.simple_switch_13', 'ryu.app.rest_firewall'],
        None,
        ['--config-file', ARBITER_CONF],
        2,
        'third party',
    ),
    # docs/architecture.md's example: one drop rule, no table-miss rule at all.
    'ethertype_filter': (['examples/apps/ethertype_filter.py'], None, [], 1, None),
}


async def _connect(port, dpids, want_flow_mods, timeout, table_miss):
    # Ready means the table-miss rule (priority 0, empty match) has arrived, for apps
    # that install one; otherwise the first flow-mod.
    cookie = ofemu.FROM_TABLE_MISS if table_miss else 0
    switches = [ofemu.EmulatedSwitch(dpid, n_ports=6, port=port, cookie=cookie) for dpid in dpids]
    try:
        await asyncio.gather(*(sw.start(timeout) for sw in switches))
        deadline = time.monotonic() + timeout
        while any(sw.flow_mods < want_flow_mods for sw in switches) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return [
            (sw.dpid, sw.flow_mods, sw.table_miss_cookie, sw.controller_errors) for sw in switches
        ]
    finally:
        for sw in switches:
            sw.close()


def _cookie_owner(cookie):
    if cookie is not None and cookie >> APP_SHIFT >= THIRD_PARTY_BASE:
        return 'third party'
    return owner_of(cookie) if cookie is not None else None


@pytest.mark.parametrize('name', sorted(APPS))
def test_app_starts_and_programs_switches(name, tmp_path):
    apps, config, extra, want, owner = APPS[name]
    with RyuController(apps, str(tmp_path / 'ryu.log'), config=config, extra_args=extra) as ryu:
        seen = asyncio.run(
            _connect(ryu.ofp_port, [1, 2], want, timeout=20.0, table_miss=owner is not None)
        )
        log = ryu.log_text()
        assert ryu.alive(), log
    for dpid, flow_mods, miss_cookie, errors in seen:
        assert flow_mods >= want, (
            'switch %d got %d flow-mods from %s, expected at least '
            '%d:\n%s' % (dpid, flow_mods, name, want, log)
        )
        assert _cookie_owner(miss_cookie) == owner, (dpid, hex(miss_cookie or 0))
        assert errors == [], errors
    assert 'Traceback' not in log, log
