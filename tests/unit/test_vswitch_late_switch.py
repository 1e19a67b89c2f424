"""A switch that connects before the policy names it (vswitch_policy) gets no rules,
and gets them when a reload names it, without having to reconnect. The real
``ryu-manager`` with an emulated OpenFlow 1.3 switch (bench/ofemu.py); no root."""

import asyncio
import os
import signal
import time

from bench import ofemu
from tests.harness.controller import RyuController
from tests.harness.large_policies import THREE_TENANTS


async def _until(ryu, needle, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not ryu.log_lines(needle):
        assert time.monotonic() < deadline, ryu.log_tail()
        await asyncio.sleep(0.1)


def test_a_switch_named_by_a_reload_gets_its_rules_without_reconnecting(tmp_path):
    policy = tmp_path / 'policy.yaml'
    with open(THREE_TENANTS) as f:
        named = f.read()
    assert named.count('dp_id: 3\n') == 1
    policy.write_text(named.replace('dp_id: 3\n', 'dp_id: 9\n'))  # s3 is not switch 3
    config = {'vswitch_policy': {'policy_file': str(policy), 'reload_poll': 60}}

    async def run(ryu):
        switch = ofemu.EmulatedSwitch(3, n_ports=6, port=ryu.ofp_port)
        await switch.start(20.0)
        try:
            await _until(ryu, 'switch 0000000000000003 is not in')
            await asyncio.sleep(1.0)
            left_alone = switch.flow_mods
            tmp = str(policy) + '.new'
            with open(tmp, 'w') as f:
                f.write(named)
            os.replace(tmp, policy)
            os.kill(ryu.pid, signal.SIGHUP)
            await _until(ryu, 'switch 0000000000000003 (s3) connected')
            await asyncio.sleep(1.0)
            return left_alone, switch.flow_mods
        finally:
            switch.close()

    with RyuController(['apps/vswitch_policy.py'], str(tmp_path / 'ryu.log'), config=config) as ryu:
        left_alone, named_now = asyncio.run(run(ryu))
        log = ryu.log_text()
    assert left_alone == 0, left_alone
    assert named_now > 20, named_now  # s3's pipeline: dozens of rules
    assert 'Traceback' not in log, log
    assert log.count('(s3) connected') == 1, log
