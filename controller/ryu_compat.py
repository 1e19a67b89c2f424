"""The fixes Ryu 4.34 needs on today's Python: one to start at all, one for TLS.

Why: Ryu 4.34 (its last release) imports ``ALREADY_HANDLED`` from ``eventlet.wsgi`` in
``ryu/app/wsgi.py``, which ``ryu.cmd.manager`` imports before it loads any app. The
eventlet releases that still define that name (<= 0.30.2) do not run on Python 3.11;
the ones that run (we pin 0.33.3 in setup.cfg) dropped it. Nothing else is missing, so
defining that one sentinel before ``ryu/app/wsgi.py`` reads it is the whole fix.

TLS (``--ctl-privkey``/``--ctl-cert``/``--ca-certs``): Ryu 4.34's ``hub.StreamServer``
pops its SSL settings out of a shared dict when the first switch connects, so the
second switch's handshake runs without a certificate (and, on Python 3.12+, reaches the
removed ``ssl.wrap_socket``); only one switch ever connects over TLS. (Fixed in the
faucetsdn fork after 4.34, never released on PyPI.) The fix builds the server's TLS
context once, requires TLS 1.2 or newer, and refuses a client that fails the handshake
(no certificate, one from another CA, plain TCP) with one log line instead of a
traceback.

Listening ports: eventlet's ``listen``, which ``ryu.lib.hub`` uses for the OpenFlow
port and the REST (``--wsapi-port``) server, sets SO_REUSEPORT unless told otherwise. So
a second ryu-manager started by mistake on the same ports does not fail: it starts, and
the kernel shares new connections between the two (switches connect to one or the
other, REST calls answer at random). The fix makes Ryu's servers ask for the port alone:
the second controller stops at start-up (exit status 1) with "Address already in use"
(for the OpenFlow port, one log line: Ryu opens it in a green thread whose failure it
would only log, the process running on with no switch able to connect).

How it is applied: ``sdn-ryu-compat install`` (a console script of this package, run by
``scripts/setup.sh``) writes ``sdn_suite_ryu_compat.pth`` into the environment's
site-packages. Python runs that one line at start-up; it installs a light import hook
that adds the sentinel the moment ``eventlet.wsgi`` is first imported, in any process of
that environment (and completes ``ryu.lib.hub`` the same way). So ``ryu-manager
apps/l2_learning.py`` (and ``ryu-manager ryu.app.simple_switch_13``) start as users
expect, with no wrapper and no extra step, and processes that never touch eventlet pay
nothing.

``sdn-ryu-compat check`` imports ``ryu.cmd.manager`` and says whether
the fix is active; ``uninstall`` removes the ``.pth`` file.
"""

import importlib.abc
import importlib.util
import logging
import os
import sys
import sysconfig
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

PTH_NAME = 'sdn_suite_ryu_compat.pth'
# The .pth line loads this file by its path under a name of its own: importing it as
# ``controller.ryu_compat`` at start-up would bind the name ``controller`` to this
# checkout in every process of the environment, before any other checkout (a second
# worktree, a test run's PYTHONPATH) could provide it.
MODULE_NAME = 'sdn_suite_ryu_compat'
PTH_TEMPLATE = (
    'import importlib.util as _u, sys as _s; '
    '_p = _u.spec_from_file_location({name!r}, {path!r}); '
    '_m = _s.modules[{name!r}] = _u.module_from_spec(_p); '
    '_p.loader.exec_module(_m); _m.install_import_hook()\n'
)


def pth_line() -> str:
    return PTH_TEMPLATE.format(name=MODULE_NAME, path=os.path.abspath(__file__))


def add_missing_names(eventlet_wsgi: Any) -> None:
    """Define what Ryu 4.34 expects from eventlet.wsgi, if this eventlet lacks it."""
    if not hasattr(eventlet_wsgi, 'ALREADY_HANDLED'):
        # Older eventlet used a unique object as the "response already sent" marker.
        eventlet_wsgi.ALREADY_HANDLED = object()


def fix_tls_server(hub: Any) -> None:
    """Replace ryu.lib.hub.StreamServer by one whose TLS context serves every
    connection (see the module docstring)."""
    if getattr(hub.StreamServer, 'tls_fixed', False):
        return
    import ssl

    log = logging.getLogger('ryu_compat')
    plain_server: Any = hub.StreamServer  # Ryu's class, known only at run time

    class StreamServer(plain_server):
        tls_fixed = True

        def __init__(
            self,
            listen_info: Any,
            handle: Any = None,
            backlog: Any = None,
            spawn: str = 'default',
            **ssl_args: Any,
        ) -> None:
            try:
                super().__init__(listen_info, handle, backlog, spawn)
            except OSError as error:
                # Ryu builds the OpenFlow server in a green thread whose death it only
                # logs: the process would run on with no switch able to connect.
                log.error(
                    'cannot listen on %s: %s (another controller on this port?)',
                    listen_info,
                    error,
                )
                logging.shutdown()
                os._exit(1)
            if not ssl_args:
                return
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(ssl_args['certfile'], ssl_args['keyfile'])
            if ssl_args.get('ca_certs'):
                context.verify_mode = ssl.CERT_REQUIRED
                context.load_verify_locations(ssl_args['ca_certs'])

            def handshake_then_handle(sock: Any, addr: Any) -> None:
                try:
                    channel = context.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError) as error:
                    log.warning(
                        'TLS: refused the connection from %s:%s: %s', addr[0], addr[1], error
                    )
                    sock.close()
                    return
                handle(channel, addr)

            self.handle = handshake_then_handle

    hub.StreamServer = StreamServer


def fix_shared_ports(hub: Any) -> None:
    """Make the listening sockets of ryu.lib.hub's servers exclusive (no SO_REUSEPORT;
    see the module docstring). SO_REUSEADDR stays: a restarted controller binds its
    port again at once."""
    eventlet = hub.eventlet
    if getattr(eventlet.listen, 'exclusive', False):
        return
    shared_listen = eventlet.listen

    def exclusive_listen(addr: Any, *args: Any, reuse_port: bool = False, **kwargs: Any) -> Any:
        return shared_listen(addr, *args, reuse_port=reuse_port, **kwargs)

    exclusive_listen.exclusive = True  # type: ignore[attr-defined]
    eventlet.listen = hub.listen = exclusive_listen


def fix_hub(hub: Any) -> None:
    fix_tls_server(hub)
    fix_shared_ports(hub)


# module -> the fix applied right after it is first imported
_FIXES: dict[str, Callable[[Any], None]] = {
    'eventlet.wsgi': add_missing_names,
    'ryu.lib.hub': fix_hub,
}


class _PatchingLoader(importlib.abc.Loader):
    """Runs the real loader, then applies the module's fix to the fresh module."""

    def __init__(
        self, real_loader: importlib.abc.Loader, fix: Callable[[ModuleType], None]
    ) -> None:
        self._real_loader = real_loader
        self._fix = fix

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._real_loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._real_loader.exec_module(module)
        self._fix(module)


class _FixingFinder(importlib.abc.MetaPathFinder):
    """Meta-path finder that only answers for the modules in _FIXES, delegating the
    search to the other finders."""

    # Marks the finder across copies of this module (the .pth loads it by path, a test
    # may import controller.ryu_compat too): one must never delegate to another.
    sdn_suite_fixing_finder = True

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        fix = _FIXES.get(fullname)
        if fix is None:
            return None
        for finder in sys.meta_path:
            if getattr(finder, 'sdn_suite_fixing_finder', False) or not hasattr(
                finder, 'find_spec'
            ):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _PatchingLoader(spec.loader, fix)
                return spec
        return None


def install_import_hook() -> None:
    """Arrange for each module in _FIXES to be fixed whenever it gets imported (at
    once, for those already imported)."""
    for name, fix in _FIXES.items():
        if name in sys.modules:
            fix(sys.modules[name])
    if not any(getattr(f, 'sdn_suite_fixing_finder', False) for f in sys.meta_path):
        sys.meta_path.insert(0, _FixingFinder())


def pth_path() -> str:
    return os.path.join(sysconfig.get_paths()['purelib'], PTH_NAME)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv else 'check'
    if command == 'install':
        with open(pth_path(), 'w') as pth:
            pth.write(pth_line())
        print('ryu_compat: wrote %s' % pth_path())
    elif command == 'uninstall':
        if os.path.exists(pth_path()):
            os.remove(pth_path())
        print('ryu_compat: removed %s' % pth_path())
    elif command == 'check':
        import ryu.cmd.manager  # noqa: F401  (fails here if the fix is not active)

        print('ryu_compat: ryu.cmd.manager imports; ryu-manager will start')
    else:
        print('usage: sdn-ryu-compat [install|uninstall|check]', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
