"""A real etcd for a test: its own data directory and free loopback ports, killed at
teardown; and a TCP proxy in front of it that a test can cut, to partition one client
from etcd while the others still reach it.

etcd runs with a 10 ms heartbeat and a 100 ms election timeout, so that leases as short
as one second are granted (etcd's shortest lease is 1.5 election timeouts).
"""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.harness.controller import free_port, spawn_logged

ETCD = '/usr/bin/etcd'


def etcd_missing() -> str | None:
    """Why etcd cannot run here, or None."""
    if not os.access(ETCD, os.X_OK):
        return (
            '%s not found: these tests need a real etcd (Debian package etcd-server; '
            '`sudo bash scripts/setup.sh` installs it)' % ETCD
        )
    return None


class EtcdServer:
    """One etcd member on 127.0.0.1 with a data directory of its own."""

    def __init__(self, data_dir: str | None = None) -> None:
        self.data_dir = data_dir or tempfile.mkdtemp(prefix='etcd-test-')
        self.client_port = free_port()
        self.peer_port = free_port()
        self.process: subprocess.Popen | None = None
        self.log_path = os.path.join(self.data_dir, 'etcd.log')

    @property
    def endpoint(self) -> str:
        return '127.0.0.1:%d' % self.client_port

    def start(self, timeout: float = 20.0) -> 'EtcdServer':
        missing = etcd_missing()
        if missing:
            raise RuntimeError(missing)
        peer = 'http://127.0.0.1:%d' % self.peer_port
        client = 'http://127.0.0.1:%d' % self.client_port
        self.process = spawn_logged(
            [
                ETCD,
                '--name',
                'test',
                '--data-dir',
                os.path.join(self.data_dir, 'member'),
                '--listen-client-urls',
                client,
                '--advertise-client-urls',
                client,
                '--listen-peer-urls',
                peer,
                '--initial-advertise-peer-urls',
                peer,
                '--initial-cluster',
                'test=' + peer,
                '--heartbeat-interval',
                '10',
                '--election-timeout',
                '100',
                '--logger',
                'zap',
                '--log-level',
                'warn',
            ],
            self.log_path,
            mode='a',
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    'etcd exited with %s:\n%s' % (self.process.returncode, self.log_tail())
                )
            if self.healthy():
                return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError('etcd not healthy within %.0fs:\n%s' % (timeout, self.log_tail()))

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen('http://%s/health' % self.endpoint, timeout=1) as reply:
                return b'true' in reply.read()
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL our own etcd (never by name); the data directory stays."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self) -> 'EtcdServer':
        """Kill, then start again on the same ports and data: keys and leases survive."""
        self.kill()
        return self.start()

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path) as f:
                return ''.join(f.readlines()[-lines:])
        except OSError:
            return ''


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target`` (host:port) until ``cut()``: then every
    connection is closed and new ones are refused, until ``heal()``."""

    def __init__(self, target: str) -> None:
        host, port = target.rsplit(':', 1)
        self.target = (host, int(port))
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return '127.0.0.1:%d' % self.port

    def start(self) -> 'TcpProxy':
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(('127.0.0.1', self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    heal = start

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, []
        for s in ([listener] if listener else []) + sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@contextlib.contextmanager
def running_etcd() -> Iterator[EtcdServer]:
    """A started etcd, removed afterwards; a test fails (never skips) without etcd."""
    missing = etcd_missing()
    if missing:
        pytest.fail(missing, pytrace=False)
    server = EtcdServer().start()
    try:
        yield server
    finally:
        server.remove()
