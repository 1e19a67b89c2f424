"""The check command: python -m controller.vswitch check FILE (and sdn-policy-check FILE):
exit 0 and a summary for a valid policy, 1 and every error for an invalid one, 2 for a
usage error or an unreadable file."""

import os
import subprocess
import sys

from controller.vswitch import cli

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(REPO, 'examples', 'policies', 'three_tenants.yaml')


def run(*args):
    return subprocess.run(
        [sys.executable, '-m', 'controller.vswitch', *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_valid_policy_exits_0_with_a_summary():
    result = run('check', EXAMPLE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == 'OK: 3 dps, 3 vlans, 1 acls (3 rules)\n'
    assert result.stderr == ''


def test_invalid_policy_exits_1_with_every_error(tmp_path):
    policy = tmp_path / 'policy.yaml'
    with open(EXAMPLE) as f:
        text = f.read()
    policy.write_text(
        text.replace('vid: 300', 'vid: 4095').replace(
            '{name: h2, native_vlan: green}', '{name: h2, native_vlan: gren}'
        )
    )
    result = run('check', str(policy))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 3, result.stdout
    assert (
        lines[0].startswith('%s:' % policy) and 'vlans.blue.vid: 4095 is out of range' in lines[0]
    )
    assert (
        "dps.s1.interfaces.2.native_vlan: unknown VLAN 'gren'; defined VLANs: red, "
        "green, blue" in lines[1]
    )
    assert lines[2] == '%s: 2 errors' % policy


def test_unreadable_file_exits_2(tmp_path):
    result = run('check', str(tmp_path / 'missing.yaml'))
    assert result.returncode == 2
    assert 'cannot read' in result.stderr and 'No such file' in result.stderr
    result = run('check', str(tmp_path))  # a directory
    assert result.returncode == 2 and 'cannot read' in result.stderr


def test_usage_errors_exit_2():
    for args in ((), ('check',), ('lint', EXAMPLE), ('check', EXAMPLE, EXAMPLE)):
        result = run(*args)
        assert result.returncode == 2, args
        assert 'usage:' in result.stderr


def test_help_exits_0():
    result = run('check', '--help')
    assert result.returncode == 0 and 'policy' in result.stdout


def test_console_script_entry_point(capsys, tmp_path):
    """sdn-policy-check is cli.main (setup.cfg); it takes the file without 'check'."""
    assert cli.main([EXAMPLE]) == 0
    assert capsys.readouterr().out == 'OK: 3 dps, 3 vlans, 1 acls (3 rules)\n'
    broken = tmp_path / 'broken.yaml'
    broken.write_text('dps: [\n')
    assert cli.main([str(broken)]) == 1
    out = capsys.readouterr().out
    assert out.startswith('%s:2:1: YAML syntax error' % broken) and '1 error\n' in out
