"""controller/ryu_compat.py as installed by scripts/setup.sh (the .pth file of this
environment): Ryu's manager imports, the TLS server is the fixed one, the start-up
hook binds no ``controller`` package (another checkout must be able to provide it), and
a port another controller holds stops a second one."""

import os
import subprocess
import sys

import pytest

from controller import ryu_compat
from tests.harness.controller import REPO, RyuController, listening

PROBE = '''
import sys
bound_at_start = 'controller' in sys.modules
import ryu.cmd.manager, ryu.lib.hub, eventlet.wsgi
print(bound_at_start, ryu.lib.hub.StreamServer.tls_fixed,
      eventlet.wsgi.ALREADY_HANDLED is not None,
      sum(getattr(f, 'sdn_suite_fixing_finder', False) for f in sys.meta_path))
'''


def test_the_installed_hook_fixes_ryu_and_binds_no_controller_package(tmp_path):
    assert os.path.exists(ryu_compat.pth_path()), 'run scripts/setup.sh: no .pth file'
    with open(ryu_compat.pth_path()) as f:
        assert f.read() == ryu_compat.pth_line()
    result = subprocess.run(
        [sys.executable, '-W', 'ignore', '-c', PROBE],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == ['False', 'True', 'True', '1'], result


def test_the_hook_installs_once_however_often_it_runs():
    ryu_compat.install_import_hook()
    ryu_compat.install_import_hook()
    assert sum(getattr(f, 'sdn_suite_fixing_finder', False) for f in sys.meta_path) == 1


@pytest.mark.parametrize('taken', ['ofp_port', 'wsapi_port'])
def test_a_second_controller_on_a_taken_port_stops_instead_of_sharing_it(tmp_path, taken):
    """Without the fix eventlet listens with SO_REUSEPORT: a second ryu-manager on the
    same OpenFlow port ran on and the kernel shared the switches between the two (on the
    same REST port, the requests). Now it exits at start-up, saying why; the first runs on."""
    with RyuController(['apps/l2_learning.py'], str(tmp_path / 'first.log')) as first:
        second = RyuController(['apps/l2_learning.py'], str(tmp_path / 'second.log'))
        setattr(second, taken, getattr(first, taken))
        result = subprocess.run(
            second.command,
            cwd=REPO,
            env=second.environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1, result
        assert 'Address already in use' in result.stderr, result.stderr[-2000:]
        assert first.process.poll() is None, first.log_tail()
        assert listening(first.ofp_port)
