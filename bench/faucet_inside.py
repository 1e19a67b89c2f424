"""Run by the Python of FAUCET's own venv (bench/faucet.py builds it), never by ours:
it imports FAUCET and nothing of this project, and prints one JSON object.

    <venv>/bin/python bench/faucet_inside.py tables CONFIG
        {dp name: {table name: table id}} of FAUCET's pipeline for CONFIG
    <venv>/bin/python bench/faucet_inside.py policy CONFIG CHANGED_CONFIG
        FAUCET's load + validate time, the cold start it would send a switch of CONFIG
        (every port up), and the reload to CHANGED_CONFIG on that running switch

The policy figures come from FAUCET's own code paths, as its unit tests drive them
(clib/valve_test_lib.py): ``dp_parser`` (what a start or a SIGHUP parses), then the
Valve's ``switch_features`` + ``datapath_connect`` (the cold start sent on connect) and
``reload_config`` (what a SIGHUP sends a connected switch), each through
``prepare_send_flows`` (FAUCET's reordering and de-duplication before sending), with no
switch attached. The counts match what an emulated switch receives from a running
FAUCET (103 flow-mods at connect and 32 on the reload for the 10-port policy).
"""

import json
import logging
import os
import sys
import tempfile
import time
import warnings

warnings.simplefilter('ignore')  # FAUCET's dependencies warn on import (eventlet, dns)
# Python put this file's folder first on the path: there, bench/faucet.py would shadow
# FAUCET's package.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

from faucet import faucet_dot1x, faucet_event, faucet_metrics, valve_of  # noqa: E402
from faucet.config_parser import dp_parser  # noqa: E402
from faucet.valve import valve_factory  # noqa: E402
from prometheus_client import CollectorRegistry  # noqa: E402

LOGNAME = 'faucet'
FLOW_MOD_COMMANDS = {0: 'add', 1: 'modify', 2: 'modify_strict', 3: 'delete', 4: 'delete_strict'}


def _parse(config_path):
    """FAUCET's parse of ``config_path`` (the only DP) and the seconds it took."""
    started = time.perf_counter()
    dps = dp_parser(config_path, LOGNAME)[2]
    return dps[0], time.perf_counter() - started


def _valve(dp, logfile):
    logger = logging.getLogger(LOGNAME)
    logger.addHandler(logging.FileHandler(logfile))
    logger.setLevel(logging.WARNING)
    metrics = faucet_metrics.FaucetMetrics(reg=CollectorRegistry())
    notifier = faucet_event.FaucetEventNotifier(None, metrics, logger)
    dot1x = faucet_dot1x.FaucetDot1x(logger, logfile, metrics, lambda *args: None)
    return valve_factory(dp)(dp, LOGNAME, metrics, notifier, dot1x)


def _count(ofmsgs):
    """Messages by kind: flow-mods by command, the others by class name."""
    counts = {}
    for msg in ofmsgs:
        if valve_of.is_flowmod(msg):
            kind = 'flow_mod_' + FLOW_MOD_COMMANDS.get(msg.command, str(msg.command))
        else:
            kind = type(msg).__name__
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _rules(ofmsgs):
    """The flow entries the ADD flow-mods of ``ofmsgs`` write, as comparable text."""
    rules = set()
    for msg in ofmsgs:
        if valve_of.is_flowmod(msg) and msg.command == 0:
            rules.add(json.dumps(msg.to_jsondict(), sort_keys=True, default=str))
    return rules


def tables(config_path):
    dps = dp_parser(config_path, LOGNAME)[2]
    return {dp.name: {name: table.table_id for name, table in dp.tables.items()} for dp in dps}


def policy(config_path, changed_path):
    dp, load_s = _parse(config_path)
    with tempfile.TemporaryDirectory() as tmp:
        valve = _valve(dp, os.path.join(tmp, 'faucet.log'))
        started = time.perf_counter()
        # sent as FAUCET sends them: on the features reply, then on the connect event
        cold = valve.prepare_send_flows(valve.switch_features(None)) + valve.prepare_send_flows(
            valve.datapath_connect(time.time(), set(dp.ports))
        )
        cold_s = time.perf_counter() - started
        new_dp, reload_load_s = _parse(changed_path)
        started = time.perf_counter()
        reload_msgs = valve.prepare_send_flows(valve.reload_config(time.time(), new_dp, [valve]))
        reload_s = time.perf_counter() - started
        # The full program of the changed policy, for the rules that really differ:
        # the cold start of the reloaded Valve.
        changed_program = valve.switch_features(None) + valve.datapath_connect(
            time.time(), set(valve.dp.ports)
        )
    old_rules, new_rules = _rules(cold), _rules(changed_program)
    return {
        'load_validate_ms': load_s * 1000,
        'cold_start_ms': cold_s * 1000,
        'cold_start_messages': _count(cold),
        'flow_entries': len(old_rules),
        'reload_load_validate_ms': reload_load_s * 1000,
        'reload_ms': reload_s * 1000,
        'reload_type': 'cold' if reload_msgs is None else 'warm',
        'reload_messages': _count(reload_msgs or []),
        'rules_differing': len(old_rules ^ new_rules),
    }


def main(argv):
    if len(argv) == 2 and argv[0] == 'tables':
        result = tables(argv[1])
    elif len(argv) == 3 and argv[0] == 'policy':
        result = policy(argv[1], argv[2])
    else:
        raise SystemExit(__doc__)
    print(json.dumps(result))


if __name__ == '__main__':
    main(sys.argv[1:])
