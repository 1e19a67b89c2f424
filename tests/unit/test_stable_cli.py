"""The sdn-stable CLI's text, from the JSON the REST endpoints return."""

import time

import pytest

from controller.stable import cli as stable_cli

STATUS = {
    'epoch': 3,
    'version_vid': 3,
    'age_s': 12.5,
    'last_epoch_cut': 4,
    'pending_triggers': 2,
    'switches': 4,
    'hosts': 4,
}
RECORD = {
    'number': 4,
    'cut_at': 0.0,
    'state': 'rejected',
    'trigger_count': 1,
    'switches': 4,
    'links': 4,
    'hosts': 4,
    'compute_ms': 1.75,
    'check_ms': 0.5,
    'install_ms': 0.0,
    'changed': 12,
    'problems': ['loop towards switch 3 at 1 -> 2 -> 1'],
    'triggers': [],
}


def test_epoch_and_pending():
    text = stable_cli.format_epoch(STATUS)
    assert text.splitlines()[0] == 'epoch 3 (version VID 3), installed 12.5 s ago'
    assert 'pending triggers: 2' in text
    assert stable_cli.format_epoch(dict(STATUS, epoch=None)).startswith('no epoch installed yet')


def test_history_shows_timings_and_problems():
    lines = stable_cli.format_history([RECORD]).splitlines()
    assert lines[0].split()[:3] == ['epoch', 'cut', 'at']
    assert lines[1].split() == [
        '4',
        time.strftime('%H:%M:%S', time.localtime(0.0)),
        'rejected',
        '1',
        '4',
        '4',
        '4',
        '1.8',
        '0.5',
        '0.0',
        '12',
    ]
    assert lines[0].split()[-1] == 'changed'  # forward entries sent as overlays
    older = {k: v for k, v in RECORD.items() if k != 'changed'}  # a controller before it
    assert stable_cli.format_history([older]).splitlines()[1].split()[-1] == '-'
    assert lines[2].strip() == '! loop towards switch 3 at 1 -> 2 -> 1'


def test_history_shows_faulty_switches():
    failed = dict(
        RECORD,
        state='failed',
        problems=['internal rules not confirmed by every switch'],
        faults=[
            {
                'switch': '0000000000000002',
                'phase': 'internal rules',
                'reason': 'refused internal rules: type 1 code 5',
            }
        ],
    )
    after = dict(
        RECORD,
        number=5,
        state='installed',
        problems=[],
        excluded=[
            {
                'switch': '0000000000000002',
                'failures': 1,
                'benched': True,
                'reason': 'refused internal rules: type 1 code 5',
            }
        ],
    )
    lines = stable_cli.format_history([failed, after]).splitlines()
    assert [line.strip() for line in lines[2:4]] == [
        '! internal rules not confirmed by every switch',
        '! switch 0000000000000002 refused internal rules: type 1 code 5',
    ]
    assert lines[5].strip() == (
        '- switch 0000000000000002 left out as faulty (1 failures, '
        'last: refused internal rules: type 1 code 5)'
    )


def test_sft_lines():
    table = {
        'dpid': '0000000000000001',
        'epoch': 3,
        'entries': [
            {'host': '00:00:00:00:00:01', 'deliver_port': 1},
            {
                'host': '00:00:00:00:00:03',
                'port': 2,
                'next_hop': '0000000000000002',
                'backup_port': 3,
                'backup_next_hop': '0000000000000004',
            },
            {
                'host': '00:00:00:00:00:02',
                'port': 2,
                'next_hop': '0000000000000002',
                'backup_port': None,
                'backup_next_hop': None,
            },
        ],
    }
    text = stable_cli.format_sft(table)
    assert '00:00:00:00:00:01  deliver on port 1' in text
    assert (
        '00:00:00:00:00:03  port 2 to 0000000000000002, backup port 3 to 0000000000000004'
    ) in text
    assert '00:00:00:00:00:02  port 2 to 0000000000000002, no loop-free backup' in text


def test_unprotected_lines():
    body = {
        'epoch': 5,
        'entries': [
            {
                'destination': '0000000000000003',
                'switch': '0000000000000001',
                'hosts': ['00:00:00:00:00:03', '00:00:00:00:00:07'],
            }
        ],
    }
    lines = stable_cli.format_unprotected(body).splitlines()
    assert lines[0].startswith('epoch 5: 1 next hops without a loop-free backup')
    assert lines[2].split() == [
        '0000000000000001',
        '0000000000000003',
        '00:00:00:00:00:03',
        '00:00:00:00:00:07',
    ]
    assert stable_cli.format_unprotected({'epoch': 6, 'entries': []}) == (
        'epoch 6: every next hop has a loop-free backup'
    )


def test_unreachable_controller_is_a_clear_error():
    with pytest.raises(SystemExit) as error:
        stable_cli.main(['--url', 'http://127.0.0.1:9', 'epoch'])
    assert 'cannot reach http://127.0.0.1:9' in str(error.value)
