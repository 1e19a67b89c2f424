"""controller/ryu_compat.py as installed by scripts/setup.sh (the .pth file of this
environment): Ryu's manager imports, the TLS server is the fixed one, and the start-up
hook binds no ``controller`` package (another checkout must be able to provide it)."""

import os
import subprocess
import sys

from controller import ryu_compat

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
