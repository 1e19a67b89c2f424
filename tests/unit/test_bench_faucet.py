"""bench/faucet.py and FAUCET's side of the emulator, without FAUCET installed: the
generated faucet.yaml, the packet-in fields and the tagged packet-ins, how FAUCET's
two flow-mods answer a packet-in, the venv stamp and interpreter choice, the process's
command and environment, and the parsing of faucet_inside.py's policy figures."""

import asyncio
import json
import os
import sys

import pytest
import yaml
from ryu.lib.packet import ethernet, packet, vlan
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from bench import faucet, ofemu, report
from bench import run as bench_run
from tests.unit.test_ofemu import DP, HOST, SRC, UDP_FRAME, FakeController, decode, run

# faucet_inside.py's policy output for the 10-port policy (FAUCET 1.10.12)
INSIDE_POLICY = {
    'load_validate_ms': 65.19,
    'cold_start_ms': 44.70,
    'cold_start_messages': {
        'OFPSetConfig': 1,
        'OFPSetAsync': 2,
        'OFPDescStatsRequest': 1,
        'flow_mod_delete': 2,
        'flow_mod_add': 101,
    },
    'flow_entries': 101,
    'reload_load_validate_ms': 35.11,
    'reload_ms': 16.10,
    'reload_type': 'warm',
    'reload_messages': {'flow_mod_delete': 16, 'flow_mod_add': 16},
    'rules_differing': 22,
}


# --- configuration -------------------------------------------------------------------------


def test_faucet_yaml_describes_the_emulated_switches():
    conf = yaml.safe_load(faucet.faucet_yaml(3))
    assert conf['vlans'] == {'bench': {'vid': faucet.VID, 'max_hosts': 0}}
    assert [dp['dp_id'] for dp in conf['dps'].values()] == [1, 2, 3]
    for dp in conf['dps'].values():
        assert dp['hardware'] == 'Open vSwitch' and dp['cookie'] == faucet.COOKIE
        assert dp['ignore_learn_ins'] == 0
        assert dp['interfaces'] == {
            port: {'native_vlan': 'bench', 'max_hosts': 0} for port in (1, 2, 3, 4)
        }


def test_faucet_yaml_port_count_and_vlan():
    conf = yaml.safe_load(faucet.faucet_yaml(1, n_ports=2, vid=7, cookie=9))
    assert conf['vlans']['bench']['vid'] == 7
    assert list(conf['dps']['sw1']['interfaces']) == [1, 2]
    assert conf['dps']['sw1']['cookie'] == 9


def test_packet_in_fields_from_faucet_tables():
    tables = {
        'sw1': {'vlan': 0, 'eth_src': 1, 'eth_dst': 2, 'flood': 3},
        'sw2': {'vlan': 0, 'eth_src': 1, 'eth_dst': 2, 'flood': 3},
    }
    assert faucet.packet_in_fields(tables) == {
        'cookie': faucet.COOKIE,
        'reason': ofemu.OFPR_ACTION,
        'table_id': 1,
        'vlan_vid': faucet.VID,
    }
    tables['sw2']['eth_src'] = 2
    with pytest.raises(faucet.FaucetError):
        faucet.packet_in_fields(tables)


# --- packet-ins as FAUCET's eth_src table sends them -----------------------------------------


def test_tagged_packet_in_decodes_with_ryu():
    msg = decode(
        ofemu.packet_in(
            3,
            2,
            UDP_FRAME,
            cookie=faucet.COOKIE,
            reason=ofemu.OFPR_ACTION,
            table_id=1,
            vlan_vid=100,
        )
    )
    assert (msg.reason, msg.table_id, msg.cookie) == (ofp.OFPR_ACTION, 1, faucet.COOKIE)
    assert msg.match['in_port'] == 2 and msg.total_len == len(UDP_FRAME) + 4
    pkt = packet.Packet(bytes(msg.data))
    eth, tag = pkt.get_protocol(ethernet.ethernet), pkt.get_protocol(vlan.vlan)
    assert (eth.dst, eth.src) == (ofemu.mac_text(HOST), ofemu.mac_text(SRC))
    assert eth.ethertype == 0x8100 and tag.vid == 100 and tag.ethertype == 0x0800
    assert bytes(msg.data)[16:] == UDP_FRAME[12:]


def _faucet_answer(conn, pin, eth_dst_first):
    """FAUCET's answer to a new source: an eth_dst rule towards it and an eth_src rule
    from it (both in the VLAN), in either order; no packet-out."""
    src = ofemu.mac_text(bytes(pin.data[6:12]))
    vid = ofp.OFPVID_PRESENT | faucet.VID
    goto = [parser.OFPInstructionGotoTable(2)]
    out = [
        parser.OFPInstructionActions(
            ofp.OFPIT_APPLY_ACTIONS,
            [parser.OFPActionPopVlan(), parser.OFPActionOutput(pin.match['in_port'])],
        )
    ]
    rules = [
        parser.OFPFlowMod(
            DP,
            table_id=2,
            priority=8192,
            instructions=out,
            match=parser.OFPMatch(vlan_vid=vid, eth_dst=src),
        ),
        parser.OFPFlowMod(
            DP,
            table_id=1,
            priority=8191,
            instructions=goto,
            match=parser.OFPMatch(in_port=pin.match['in_port'], vlan_vid=vid, eth_src=src),
        ),
    ]
    for rule in rules if eth_dst_first else reversed(rules):
        conn.send(rule)


@pytest.mark.parametrize('eth_dst_first', [True, False], ids=['eth_dst-first', 'eth_src-first'])
def test_faucet_two_flow_mods_answer_each_packet_in_once(eth_dst_first):
    async def scenario():
        async with FakeController() as ctl:
            fields = faucet.packet_in_fields({'sw': {'eth_src': 1}})
            sw = ofemu.EmulatedSwitch(11, 4, '127.0.0.1', ctl.port, ready_grace=0.01, **fields)
            starting = asyncio.ensure_future(sw.start(timeout=5))
            conn = await ctl.connection()
            await conn.handshake()
            await starting
            hosts = ofemu.make_hosts(11, 3, 4)
            probes = ofemu.probe_stream(11, hosts, 4)
            stream = list(ofemu.learning_stream(hosts)) + [next(probes) for _ in range(20)]
            done = sw.start_traffic(stream, window=4)
            for _ in range(len(stream)):
                pin = await conn.recv()
                assert pin.cookie == faucet.COOKIE and pin.reason == ofp.OFPR_ACTION
                assert pin.table_id == 1 and bytes(pin.data[12:14]) == b'\x81\x00'
                _faucet_answer(conn, pin, eth_dst_first)
            await asyncio.wait_for(done, 5)
            assert sw.packet_ins_sent == sw.answered == sw.extra == len(stream)
            assert sw.unmatched == sw.timeouts == 0
            sw.close()

    run(scenario())


# --- the venv --------------------------------------------------------------------------------


def _stamped_venv(tmp_path, requirement=faucet.REQUIREMENT):
    venv = tmp_path / 'venv'
    (venv / 'bin').mkdir(parents=True)
    (venv / 'bin' / 'faucet').write_text('')
    versions = {'faucet': '1.10.12', 'os_ken': '3.1.0', 'python': '3.11.2'}
    (venv / faucet.STAMP).write_text(
        json.dumps({'requirement': requirement, 'python': '/usr/bin/python3', 'versions': versions})
    )
    return str(venv), versions


def test_a_stamped_venv_is_reused(tmp_path, monkeypatch):
    venv, versions = _stamped_venv(tmp_path)
    monkeypatch.setattr(faucet.subprocess, 'run', lambda *a, **k: pytest.fail('built'))
    assert faucet.ensure_venv(venv) == versions
    assert faucet.read_stamp(venv)['requirement'] == faucet.REQUIREMENT


def test_a_failed_build_says_why(tmp_path, monkeypatch):
    venv, _ = _stamped_venv(tmp_path, requirement='faucet==1.0')  # another release

    class Failed:
        returncode = 1

    def failing(cmd, stdout=None, **kwargs):
        stdout.write('ERROR: No matching distribution found for faucet==1.10.12\n')
        stdout.flush()
        return Failed()

    monkeypatch.setattr(faucet, 'faucet_python', lambda: sys.executable)
    monkeypatch.setattr(faucet.subprocess, 'run', failing)
    with pytest.raises(faucet.FaucetError) as info:
        faucet.ensure_venv(venv)
    assert 'No matching distribution' in str(info.value)
    assert '-m venv' in str(info.value) and venv + '.build.log' in str(info.value)
    assert faucet.read_stamp(venv) is None  # the old venv is gone, not reused


def test_faucet_python_takes_a_supported_interpreter(monkeypatch):
    versions = {'/old/python3': (3, 9), '/new/python3': (3, 13), '/ok/python3': (3, 12)}
    monkeypatch.setattr(faucet, '_python_version', versions.get)
    monkeypatch.setattr(faucet.shutil, 'which', lambda name: None)
    monkeypatch.setattr(faucet.glob, 'glob', lambda pattern: ['/ok/python3', '/new/python3'])
    monkeypatch.setenv('SDN_BENCH_FAUCET_PYTHON', '/old/python3')
    assert faucet.faucet_python() == '/ok/python3'
    monkeypatch.setattr(faucet.glob, 'glob', lambda pattern: ['/new/python3'])
    with pytest.raises(faucet.FaucetError) as info:
        faucet.faucet_python()
    assert '/old/python3 (3.9)' in str(info.value) and '/new/python3 (3.13)' in str(info.value)


# --- the process -----------------------------------------------------------------------------


def test_controller_command_and_environment(tmp_path):
    ctl = faucet.controller('faucet (WARNING log)', str(tmp_path), 2)
    assert os.path.basename(ctl.command[0]) == 'faucet'
    assert '--ryu-ofp-tcp-listen-port=%d' % ctl.ofp_port in ctl.command
    assert '--ryu-ofp-listen-host=127.0.0.1' in ctl.command
    env = ctl.environment()
    assert env['FAUCET_CONFIG'] == ctl.faucet_config and env['FAUCET_LOG_LEVEL'] == 'WARNING'
    assert (env['FAUCET_LOG'], env['FAUCET_EXCEPTION_LOG']) == ('STDOUT', 'STDERR')
    assert env['FAUCET_PROMETHEUS_ADDR'] == '127.0.0.1'
    assert int(env['FAUCET_PROMETHEUS_PORT']) not in (ctl.ofp_port, 9302)
    assert env['PATH'].split(os.pathsep)[0] == os.path.join(ctl.venv, 'bin')
    assert 'PYTHONPATH' not in env  # FAUCET imports nothing of ours
    with open(ctl.faucet_config) as f:
        assert len(yaml.safe_load(f)['dps']) == 2


# --- policy figures --------------------------------------------------------------------------


def test_policy_result_from_faucet_inside_output():
    assert faucet.policy_result(INSIDE_POLICY) == {
        'load_validate_ms': 65.2,
        'compile_ms': 44.7,
        'flow_entries': 101,
        'cold_start_flow_mods': 103,
        'reload_type': 'warm',
        'reload_ms': 51.2,
        'reload_flow_mods': 32,
        'reload_flow_mod_deletes': 16,
        'rules_differing': 22,
    }


def test_a_refused_policy_is_reported_not_raised(tmp_path, monkeypatch):
    def refuse(path, venv):
        raise faucet.FaucetError('check_faucet_config refused %s:\nbad VLAN v9' % path)

    monkeypatch.setattr(faucet, 'check_config', refuse)
    assert faucet.policy('a: 1\n', 'a: 2\n', str(tmp_path)) == {'refused': 'bad VLAN v9'}
    assert (tmp_path / 'changed.yaml').read_text() == 'a: 2\n'


def test_a_policy_faucet_does_not_get_through_in_time_is_reported(tmp_path, monkeypatch):
    def slow(path, venv):
        raise faucet.subprocess.TimeoutExpired(['check_faucet_config', path], 1800)

    monkeypatch.setattr(faucet, 'check_config', slow)
    assert faucet.policy('a: 1\n', 'a: 2\n', str(tmp_path)) == {
        'gave_up': 'no result within 1800 s'
    }


# --- the report ------------------------------------------------------------------------------


def _policy_row(**faucet_figures):
    row = {
        'ports': 10,
        'vlans': 10,
        'acl_rules': 10,
        'load_validate_ms': 11.2,
        'compile_ms': 0.4,
        'flow_entries': 53,
        'one_port_change_diff': 4,
        'full_reprogram': 53,
        'one_port_change_ms': 12.0,
    }
    if faucet_figures:
        row['faucet'] = faucet_figures
    return row


def test_report_sets_faucet_beside_ours_on_the_same_policies():
    versions = {'faucet': '1.10.12', 'os_ken': '3.1.0', 'python': '3.11.2'}
    rows = [
        _policy_row(**faucet.policy_result(INSIDE_POLICY), versions=versions),
        _policy_row(refused='bad VLAN'),
        _policy_row(gave_up='no result within 9 s'),
        {k: v for k, v in _policy_row().items() if k != 'one_port_change_ms'},
    ]
    table = [line for line in report._faucet_policy(rows) if line.startswith('| 10 |')]
    assert table[0] == (
        '| 10 | 10 | 10 | 11 | 65 | 0 | 45 | 53 | 101 | 12 | 51 (warm) | 4 | 32 (16) | 22 |'
    )
    assert '| refused by FAUCET: bad VLAN | ' in table[1] and table[1].count('n/a') == 5
    assert 'FAUCET gave no result within 9 s' in table[2]
    assert 'not measured' in table[3]  # a result file from before
    assert 'faucet 1.10.12 on os-ken 3.1.0, Python 3.11.2' in report._faucet_policy(rows)[-1]


def test_report_notes_whether_faucet_was_in_the_run():
    ours = {'controller': 'l2_learning (INFO log)'}
    assert 'not in this run' in report._faucet_flowsetup_note([ours])[-1]
    theirs = {
        'controller': 'faucet (WARNING log)',
        'versions': {'faucet': '1.10.12', 'os_ken': '3.1.0', 'python': '3.11.2'},
    }
    note = report._faucet_flowsetup_note([ours, theirs])[-1]
    assert 'faucet 1.10.12 on os-ken 3.1.0' in note and 'extra' in note
    assert 'not in this run' in report._faucet_memory_note([ours])[-1]
    assert set(report.FAUCET_ABSENT) <= set(bench_run.BENCHMARKS)
