"""bench/reload_traffic.py without Mininet or FAUCET: every version of the policy loads
with our loader and each edit changes what it says it changes, the flow-table diff, the
FLOW_MOD count of a snoop log, FAUCET's restart line, and the RESULTS.md section with
FAUCET's reasons for a cold start."""

import yaml

from bench import reload_traffic as rt
from controller.vswitch import load_policy


def test_every_policy_version_loads_and_each_edit_changes_its_vlans(tmp_path):
    versions = [rt.policy_text()] + [text for _change, text, _vlans in rt.EDITS]
    for i, text in enumerate(versions):
        path = tmp_path / ('v%d.yaml' % i)
        path.write_text(text)
        load_policy(str(path))  # raises on refusal
    docs = [yaml.safe_load(text) for text in versions]
    for before, after, (change, _text, vlans) in zip(docs, docs[1:], rt.EDITS, strict=False):
        assert before != after, change
        ports_before = before['dps']['s1']['interfaces']
        ports_after = after['dps']['s1']['interfaces']
        touched = {
            name
            for name in rt.VLANS
            if before['vlans'][name] != after['vlans'][name]
            or any(
                ports_before[p] != ports_after[p]
                and name in (ports_before[p]['native_vlan'], ports_after[p]['native_vlan'])
                for p in ports_before
            )
            or (
                before.get('acls') != after.get('acls')
                and any(p.get('acl_in') and p['native_vlan'] == name for p in ports_after.values())
            )
        }
        assert touched == vlans, change


def test_flow_diff_counts_added_deleted_and_modified():
    before = {(0, 10, 'in_port=1'): (1, 'goto_table:1', 0, 0), (0, 5, '*'): (1, 'drop', 0, 0)}
    after = {
        (0, 10, 'in_port=1'): (1, 'goto_table:2', 0, 0),  # other actions: modified
        (1, 5, 'dl_vlan=100'): (1, 'output:2', 0, 0),
    }
    assert rt.flow_diff(before, after) == {
        'added': 1,
        'deleted': 1,
        'modified': 1,
        'entries_before': 2,
        'entries_after': 2,
    }
    assert rt.flow_diff(before, before)['modified'] == 0


SNOOP = """\
OFPT_ECHO_REQUEST (OF1.3) (xid=0x50e5e9bf): 0 bytes of payload
OFPT_FLOW_MOD (OF1.3) (xid=0xbe774ed6): DEL table:255 priority=0 actions=drop
OFPT_FLOW_MOD (OF1.3) (xid=0xbe774ed8): ADD table:6 priority=8240,dl_dst=01:00:0c:cc:cc:cc
OFPT_FLOW_MOD (OF1.3) (xid=0xbe774ed9): ADD table:6 priority=8240 actions=drop
OFPT_FLOW_MOD (OF1.3) (xid=0x2): DEL_STRICT table:1 priority=10,in_port=1 actions=drop
"""


def test_snoop_counts_flow_mods_by_command(tmp_path):
    path = tmp_path / 'snoop.txt'
    path.write_text(SNOOP)
    assert rt.Snoop('s1', str(path)).flow_mods() == {
        'DEL': 1,
        'ADD': 2,
        'DEL_STRICT': 1,
        'total': 4,
    }


def test_faucet_restart_line():
    line = 'Dec 07 12:44:00 faucet.valve INFO     DPID 1 (0x1) s1 cold starting'
    assert rt.RESTART_LINE.search(line).group(1) == 'cold'
    assert rt.RESTART_LINE.search('... s1 warm starting').group(1) == 'warm'
    assert not rt.RESTART_LINE.search('configuration is unchanged, not reloading')


def test_section_has_a_row_per_edit_and_controller():
    row = {
        'restart': 'cold',
        'lost_affected': 10,
        'lost_unaffected': 18,
        'flows': {'added': 48, 'deleted': 45, 'modified': 2, 'entries_after': 52},
        'flow_mods': {'ADD': 52, 'DEL': 2, 'total': 54},
        'streams': [{'longest_outage_ms': 10.0}, {'longest_outage_ms': 9.0}],
        'controller_log': [
            'no port changes',
            'table IDs changed, old {0} new {0, 1}',
            'cold starting',
        ],
    }
    ours = dict(row, restart=None, lost_affected=0, lost_unaffected=0)
    data = {
        'machine': {
            'date': 'today',
            'commit': 'abc',
            'cores': 2,
            'cpu': 'x',
            'memory_gib': 1.0,
            'python': '3.11',
            'kernel': 'k',
        },
        'seconds': 1,
        'faucet_versions': {'faucet': '1.10.12', 'os_ken': '3.1.0'},
        'rate_pps': 1000,
        'stream_s': 8.0,
        'reload_at_s': 2.0,
        'notes': 'shared machine',
        'edits': [{'change': 'one'}],
        'runs': {'faucet': [row], 'vswitch_policy': [ours]},
    }
    lines, targets = rt.section(data)
    assert targets == []
    assert '| one | faucet | cold | 10 | 18 | 10 | 48 | 45 | 2 | 52 | 54 |' in lines
    assert '| one | vswitch_policy | n/a | 0 | 0 | 10 | 48 | 45 | 2 | 52 | 54 |' in lines
    assert '- one: table IDs changed, old {0} new {0, 1}' in lines
