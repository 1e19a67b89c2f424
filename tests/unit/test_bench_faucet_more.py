"""FAUCET in the data-plane and hostile-switch benchmarks, without FAUCET or root: the
faucet.yaml of a Mininet topology and of the emulated hostile switches, the packet-ins
shaped for FAUCET's pipeline, the witness's hosts, and the report's rows and notes
(data plane, hostile switches, metrics cost). FAUCET's own check_faucet_config judges
every generated config when the bench starts FAUCET (bench/faucet.py)."""

import asyncio

import pytest
import yaml
from ryu.ofproto import ofproto_v1_3 as ofp

from bench import faucet, flood_memory, ofemu, report
from tests.unit.test_ofemu import decode

VERSIONS = {'faucet': '1.10.12', 'os_ken': '3.1.0', 'python': '3.11.2'}
FAUCET_SHAPE = {'cookie': faucet.COOKIE, 'reason': ofemu.OFPR_ACTION, 'table_id': 1}


# --- configuration -------------------------------------------------------------------------


@pytest.mark.mininet  # the topology is Mininet's (its Python package only)
def test_topology_ports_of_linear_3():
    from topologies.linear import LinearTopo

    # linear: hosts on port 1, next switch on port 2, previous on port 3
    assert faucet.topology_ports(LinearTopo(n=3)) == {1: [1, 2], 2: [1, 2, 3], 3: [1, 3]}


def test_switches_yaml_names_each_switch_and_only_its_ports():
    conf = yaml.safe_load(faucet.switches_yaml({1: [1, 2], 0xBAD: [1, 3]}))
    assert {name: dp['dp_id'] for name, dp in conf['dps'].items()} == {'sw1': 1, 'sw2989': 0xBAD}
    assert list(conf['dps']['sw2989']['interfaces']) == [1, 3]
    for dp in conf['dps'].values():
        assert dp['hardware'] == 'Open vSwitch' and dp['ignore_learn_ins'] == 0
        assert all(i == {'native_vlan': 'bench', 'max_hosts': 0} for i in dp['interfaces'].values())
    # the emulator's config is the same text for switches 1..n, ports 1..n_ports
    assert faucet.faucet_yaml(2, 3) == faucet.switches_yaml({1: [1, 2, 3], 2: [1, 2, 3]})


def test_flood_memory_config_names_the_three_switches_and_every_port():
    switches = flood_memory.faucet_switches()
    assert switches == {
        flood_memory.WITNESS_DPID: range(1, 5),
        flood_memory.HOSTILE_DPID: range(1, flood_memory.BIG_PORTS + 1),
        flood_memory.CUTTER_DPID: range(1, 5),
    }
    conf = yaml.safe_load(faucet.switches_yaml(switches))
    assert len(conf['dps']['sw2989']['interfaces']) == 5000
    text = flood_memory.faucet_config_text(switches)
    assert 'dp_ids 0x1 (ports 1-4), 0xbad (ports 1-5000), 0xbae (ports 1-4)' in text


def test_flood_memory_controllers(tmp_path):
    ctl = flood_memory.controller(flood_memory.FAUCET, str(tmp_path))
    assert isinstance(ctl, faucet.FaucetController) and ctl.log_level == 'WARNING'
    with open(ctl.faucet_config) as f:
        assert yaml.safe_load(f)['dps']['sw2989']['dp_id'] == flood_memory.HOSTILE_DPID
    ours = flood_memory.controller('l2_learning', str(tmp_path))
    assert not isinstance(ours, faucet.FaucetController)
    assert ours.apps == ['apps/l2_learning.py'] and ours.extra_args == flood_memory.WARNING


# --- packet-ins shaped for FAUCET ----------------------------------------------------------


def test_mac_flood_with_faucet_shape_is_tagged_from_its_eth_src_table():
    builder = ofemu.PacketInBuilder(**FAUCET_SHAPE, vlan_vid=faucet.VID)
    msgs = [decode(m) for m in flood_memory.mac_flood(0xBAD, 3, 2, builder)]
    assert [(m.reason, m.table_id, m.cookie) for m in msgs] == [
        (ofp.OFPR_ACTION, 1, faucet.COOKIE)
    ] * 3
    assert [m.match['in_port'] for m in msgs] == [1, 2, 1]
    assert all(bytes(m.data)[12:14] == b'\x81\x00' for m in msgs)
    assert len({bytes(m.data)[6:12] for m in msgs}) == 3  # three new sources
    plain = decode(next(flood_memory.mac_flood(0xBAD, 1, 2)))
    assert (plain.reason, plain.cookie) == (ofp.OFPR_NO_MATCH, 0)


def test_malformed_packet_ins_carry_the_pipeline_fields():
    kinds = flood_memory.malformed_packet_ins(faucet.COOKIE, reason=ofemu.OFPR_ACTION, table_id=1)
    msg = decode(kinds['short frame'])
    assert (msg.reason, msg.table_id, msg.cookie) == (ofp.OFPR_ACTION, 1, faucet.COOKIE)
    assert len(bytes(msg.data)) == 9


def test_witness_hosts_cycle_or_are_new_each_time():
    def sources(witness, n):
        return [witness._frame(i)[1] for i in range(n)]

    ours = flood_memory.Witness(6653)
    faucets = flood_memory.Witness(6653, packet_in=FAUCET_SHAPE, new_hosts=True)
    assert len(set(sources(ours, 8))) == 8 and ours._frame(8) != ours._frame(0)
    assert len(set(sources(faucets, 500))) == 500
    assert faucets.switch.reason == ofemu.OFPR_ACTION and faucets.switch.cookie == faucet.COOKIE
    assert ours.switch.cookie_mode == ofemu.FROM_TABLE_MISS


# --- the report ----------------------------------------------------------------------------


def _dataplane_round(mbps, entries=None):
    row = {'mbps': mbps, 'rtt_ms': {'avg_ms': 0.1}}
    return dict(row, flow_entries=entries) if entries else row


@pytest.fixture
def no_machine(monkeypatch):
    monkeypatch.setattr(report, 'machine_line', lambda data: 'machine')


def test_dataplane_report_has_faucet_and_each_ratio_to_standalone(no_machine):
    setups = {
        'l2_learning': [_dataplane_round(900), _dataplane_round(1100)],
        'FAUCET': [_dataplane_round(800, {'s1': 20, 's2': 24, 's3': 20})],
        'OVS standalone (NORMAL)': [_dataplane_round(1000)],
    }
    out, targets = report._dataplane({'results': {'versions': VERSIONS, 'setups': setups}})
    rows = [line for line in out if line.startswith('| ') and '---' not in line][1:]
    assert rows == [
        '| l2_learning | 2 | 900, 1100 | 1000 | 1.00x | 0.100, 0.100 |',
        '| FAUCET | 1 | 800 | 800 | 0.80x | 0.100 |',
        '| OVS standalone (NORMAL) | 1 | 1000 | 1000 | 1.00x | 0.100 |',
    ]
    assert 'faucet 1.10.12 on os-ken 3.1.0' in out[-1] and 's1 20, s2 24, s3 20' in out[-1]
    assert targets == [('data-plane throughput ratio to OVS standalone >= 0.95', 1.0, 0.95)]


def test_dataplane_report_of_a_run_from_before_faucet(no_machine):
    old = {
        'l2_learning': [_dataplane_round(950)],
        'OVS standalone (NORMAL)': [_dataplane_round(1000)],
    }
    out, targets = report._dataplane({'results': old})
    assert 'FAUCET: not in this run' in out[-1] and targets[0][1] == 0.95
    assert 'dataplane' not in report.FAUCET_ABSENT


def _phase(name, rss, **extra):
    return dict(
        phase=name, rss_kib=rss, witness_slowest_ms=5.0, witness_unanswered=0, alive=True, **extra
    )


def _faucet_entry(phases, ports=flood_memory.BIG_PORTS):
    """A FAUCET entry of flood_memory.json: its run against a big switch of ``ports``."""
    return {
        'controller': flood_memory.FAUCET,
        'versions': VERSIONS,
        'config': flood_memory.faucet_config_text(flood_memory.faucet_switches(ports)),
        'phases': phases,
    }


def test_flood_memory_report_counts_faucet_errors_and_says_its_config():
    faucet_entry = _faucet_entry(
        [
            _phase('idle', 100000),
            _phase('MAC flood', 300000, peak_rss_kib=310000, tracebacks=1, error_lines=4),
        ]
    )
    ours = {
        'controller': 'l2_learning',
        'phases': [_phase('idle', 50000), _phase('MAC flood', 60000, tracebacks=0, error_lines=0)],
    }
    out, targets = flood_memory.report({'results': [ours, faucet_entry]}, 'machine')
    assert '| faucet | MAC flood | 300000 | 3.00 | 310000 | 5.0 | 0 | yes | 1 | 4 |' in out
    assert '| l2_learning | MAC flood | 60000 | 1.20 | - | 5.0 | 0 | yes | 0 | - |' in out
    assert '0xbad (ports 1-5000)' in out[-1] and 'new host each time' in out[-1]
    assert [t[0] for t in targets][0].startswith('RSS under hostile switches')
    out, _ = flood_memory.report({'results': [ours]}, 'machine')
    assert 'FAUCET: not in this run' in out[-1]


def test_metrics_cost_section_says_what_faucets_metrics_cost(monkeypatch):
    monkeypatch.setattr(report.metrics_cost, 'section', lambda data: (['## Metrics cost'], []))
    out, _ = report._metrics_cost({'hot_path': {'added_vs_handler': 0.0944}})
    assert 'always on' in out[-1] and '43%' in out[-1] and '9.4%' in out[-1]


def test_flood_memory_report_says_each_handshake_of_the_big_switch():
    def entry(name, detail):
        return {
            'controller': name,
            'phases': [_phase('idle', 1), _phase('big switch', 2, detail=detail)],
        }

    results = [
        entry('l2_learning', {'ports': 5000, 'handshake_s': 0.4}),
        entry(flood_memory.FAUCET, {'ports': 5000, 'handshake_failed': 'no ECHO_REPLY'}),
    ]
    results[1].update(versions=VERSIONS, config='dp_ids ...')
    out, _ = flood_memory.report({'results': results}, 'machine')
    said = next(line for line in out if line.startswith('Handshake of the big switch'))
    assert 'l2_learning 0.4 s' in said
    assert 'faucet: **not done**, the later phases not run (no ECHO_REPLY)' in said


def test_flood_memory_report_says_why_faucet_ran_again_with_a_smaller_switch():
    big = _faucet_entry(
        [
            _phase('idle', 1),
            _phase('big switch', 2, detail={'ports': 5000, 'handshake_failed': 'no reply'}),
        ]
    )
    assert flood_memory.handshake_failed(big['phases'])
    small = _faucet_entry(
        [_phase('idle', 1), _phase('big switch', 2, detail={'handshake_s': 0.5})],
        ports=flood_memory.SMALL_PORTS,
    )
    small['controller'] = 'faucet (hostile switch of 64 ports)'
    assert not flood_memory.handshake_failed(small['phases'])
    out, _ = flood_memory.report({'results': [big, small]}, 'machine')
    assert 'did not take the 5000-port switch in time' in out[-1]
    assert '0xbad (ports 1-64)' in out[-1] and 'faucet (hostile switch of 64 ports)' in out[-1]
    assert any(
        line.startswith('| faucet (hostile switch of 64 ports) | big switch |') for line in out
    )


def test_flood_memory_report_lists_what_ended_and_a_controller_that_exited():
    lost = {'packet_ins': 10, 'connection_lost': 'connection closed by the controller'}
    entry = {
        'controller': 'faucet (hostile switch of 64 ports)',
        'versions': VERSIONS,
        'config': 'dp_ids ...',
        'phases': [
            _phase('idle', 1),
            _phase('port flaps', 2, detail=lost),
            _phase('MAC flood', 2, detail={'reconnected': True}, witness_connection_lost='gone'),
            dict(
                _phase('malformed packet-ins', None, detail={'cutter_not_connected': 'reset'}),
                alive=False,
                last_exception="KeyError: 'in_port'",
            ),
        ],
    }
    out, _ = flood_memory.report({'results': [entry]}, 'machine')
    said = next(line for line in out if line.startswith('What ended during the phases'))
    assert 'port flaps: the controller dropped the hostile switch (connection closed' in said
    assert 'MAC flood: the hostile switch reconnected first' in said
    assert "MAC flood: the witness's connection ended (gone)" in said
    assert (
        'malformed packet-ins: the switch with the cut-short message could not connect (reset)'
        in said
    )
    assert "malformed packet-ins: **the controller exited** (KeyError: 'in_port')" in said
    row = next(
        line for line in out if line.startswith('| faucet (hostile switch of 64 ports) | malformed')
    )
    assert row.startswith('| faucet (hostile switch of 64 ports) | malformed packet-ins | - | - |')
    assert '| **no** |' in row


def test_send_all_ends_when_the_controller_drops_the_switch():
    async def scenario():
        switch = flood_memory.HostileSwitch(5, n_ports=4)
        switch._loop = asyncio.get_running_loop()
        echo = switch._echoes[1] = switch._loop.create_future()
        switch._fail(ofemu.BenchError(5, 'main', 'connection closed by the controller'))
        assert isinstance(echo.exception(), ofemu.BenchError)  # no reply will come
        with pytest.raises(ofemu.BenchError):
            await flood_memory.send_all(switch, [b'x'] * 600)

    asyncio.run(scenario())
