"""The one fix that lets Ryu 4.34 start on Python 3.10+.

Why: Ryu 4.34 (its last release) imports ``ALREADY_HANDLED`` from ``eventlet.wsgi`` in
``ryu/app/wsgi.py``, which ``ryu.cmd.manager`` imports before it loads any app. The
eventlet releases that still define that name (<= 0.30.2) do not run on Python 3.11;
the ones that run (we pin 0.33.3 in setup.cfg) dropped it. Nothing else is missing, so
defining that one sentinel before ``ryu/app/wsgi.py`` reads it is the whole fix.

How it is applied: ``sdn-ryu-compat install`` (a console script of this package, run by
``scripts/setup.sh``) writes ``sdn_suite_ryu_compat.pth`` into the environment's
site-packages. Python runs that one line at start-up; it installs a light import hook
that adds the sentinel the moment ``eventlet.wsgi`` is first imported, in any process of
that environment. So ``ryu-manager apps/l2_learning.py`` (and ``ryu-manager
ryu.app.simple_switch_13``) start as users expect, with no wrapper and no extra step,
and processes that never touch eventlet pay nothing.

``sdn-ryu-compat check`` imports ``ryu.cmd.manager`` and says whether
the fix is active; ``uninstall`` removes the ``.pth`` file.
"""

import importlib.abc
import importlib.util
import os
import sys
import sysconfig
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

PTH_NAME = 'sdn_suite_ryu_compat.pth'
PTH_LINE = 'import controller.ryu_compat as _c; _c.install_import_hook()\n'
_TARGET = 'eventlet.wsgi'


def add_missing_names(eventlet_wsgi: Any) -> None:
    """Define what Ryu 4.34 expects from eventlet.wsgi, if this eventlet lacks it."""
    if not hasattr(eventlet_wsgi, 'ALREADY_HANDLED'):
        # Older eventlet used a unique object as the "response already sent" marker.
        eventlet_wsgi.ALREADY_HANDLED = object()


class _PatchingLoader(importlib.abc.Loader):
    """Runs the real loader, then adds the missing names to the fresh module."""

    def __init__(self, real_loader: importlib.abc.Loader) -> None:
        self._real_loader = real_loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._real_loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._real_loader.exec_module(module)
        add_missing_names(module)


class _EventletWsgiFinder(importlib.abc.MetaPathFinder):
    """Meta-path finder that only answers for eventlet.wsgi, delegating the search."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname != _TARGET:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _PatchingLoader(spec.loader)
                return spec
        return None


def install_import_hook() -> None:
    """Arrange for eventlet.wsgi to be completed whenever it gets imported."""
    if _TARGET in sys.modules:
        add_missing_names(sys.modules[_TARGET])
        return
    if not any(isinstance(f, _EventletWsgiFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _EventletWsgiFinder())


def pth_path() -> str:
    return os.path.join(sysconfig.get_paths()['purelib'], PTH_NAME)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv else 'check'
    if command == 'install':
        with open(pth_path(), 'w') as pth:
            pth.write(PTH_LINE)
        print('ryu_compat: wrote %s' % pth_path())
    elif command == 'uninstall':
        if os.path.exists(pth_path()):
            os.remove(pth_path())
        print('ryu_compat: removed %s' % pth_path())
    elif command == 'check':
        import ryu.cmd.manager  # noqa: F401  (fails here if the fix is not active)
        print('ryu_compat: ryu.cmd.manager imports; ryu-manager will start')
    else:
        print('usage: sdn-ryu-compat [install|uninstall|check]',
              file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
