"""Run the real ``ryu-manager`` as a subprocess for a test, a demo or a benchmark."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    """A TCP port nobody listens on right now (the kernel picks it)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def listening(port):
    """Whether something listens on TCP ``port`` on this machine, read from /proc/net:
    connecting to an OpenFlow port instead would start a handshake with the controller."""
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == '0A' and int(fields[1].rsplit(':', 1)[1], 16) == port:
                        return True
        except OSError:
            continue
    return False


def ryu_manager_path():
    """The ryu-manager of the environment running us (the project's .venv)."""
    here = os.path.join(os.path.dirname(sys.executable), 'ryu-manager')
    found = here if os.path.exists(here) else shutil.which('ryu-manager')
    if not found:
        raise RuntimeError(
            'ryu-manager not found beside %s nor on PATH: run '
            '`sudo bash scripts/setup.sh` to build .venv' % sys.executable
        )
    return found


def spawn_logged(command, log_path, mode='w', **popen):
    """Start ``command`` in a session of its own (so that it is ended by its pid
    alone), stdout and stderr to ``log_path``, no stdin."""
    with open(log_path, mode) as log:
        return subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            **popen,
        )


def write_config(path, sections):
    """Write an oslo.config file from {section: {option: value}}."""
    with open(path, 'w') as f:
        for section, options in sections.items():
            f.write('[%s]\n' % section)
            for key, value in options.items():
                f.write('%s = %s\n' % (key, value))
            f.write('\n')
    return path


class RyuController:
    """One ``ryu-manager`` process listening for OpenFlow on a port of its own.

    ``apps`` are what one would type after ``ryu-manager``: file paths relative to the
    repository (``apps/l2_learning.py``) or module names (``ryu.app.simple_switch_13``).
    """

    name = 'ryu-manager'  # in error messages

    def __init__(self, apps, log_path, config=None, extra_args=(), ofp_port=None, tls_dir=None):
        """``extra_args`` go to ryu-manager before the apps (``--default-log-level 30``).
        ``tls_dir``: a directory made by scripts/make_certs.sh; the OpenFlow channel is
        then TLS only, with switch certificates checked against its CA."""
        self.apps = list(apps)
        self.tls_dir = tls_dir
        self.log_path = log_path
        self.config_path = None
        if config:
            self.config_path = write_config(log_path + '.conf', config)
        self.ofp_port = ofp_port or free_port()
        self.wsapi_port = free_port()
        self.extra_args = list(extra_args)
        self.process = None

    @property
    def command(self):
        cmd = [
            ryu_manager_path(),
            '--ofp-listen-host',
            '127.0.0.1',
            '--ofp-tcp-listen-port',
            str(self.ofp_port),
            '--wsapi-host',
            '127.0.0.1',
            '--wsapi-port',
            str(self.wsapi_port),
        ]
        if self.tls_dir:
            # With a key and certificate Ryu listens for TLS only, on the SSL port.
            cmd += [
                '--ofp-ssl-listen-port',
                str(self.ofp_port),
                '--ctl-privkey',
                os.path.join(self.tls_dir, 'controller-key.pem'),
                '--ctl-cert',
                os.path.join(self.tls_dir, 'controller-cert.pem'),
                '--ca-certs',
                os.path.join(self.tls_dir, 'ca-cert.pem'),
            ]
        if self.config_path:
            cmd += ['--config-file', self.config_path]
        return cmd + self.extra_args + self.apps

    def environment(self):
        """The process's environment variables."""
        # The apps import controller/ from this checkout, not from wherever the
        # environment's editable install points (a second worktree, a CI clone).
        return dict(
            os.environ,
            PYTHONPATH=os.pathsep.join(
                [REPO] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]
            ),
        )

    def start(self, timeout=20.0):
        self.process = spawn_logged(self.command, self.log_path, cwd=REPO, env=self.environment())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    '%s exited with %s before listening:\n%s'
                    % (self.name, self.process.returncode, self.log_tail())
                )
            if listening(self.ofp_port):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            '%s did not listen on port %d within %.0fs:\n%s'
            % (self.name, self.ofp_port, timeout, self.log_tail())
        )

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        """End our own process only (never by name: other controllers may be running)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def rest(self, path, method='GET', body=None):
        """The JSON answer of the controller's REST API (Ryu's WSGI server) to
        ``method path`` with ``body`` (JSON) if given; None for an empty answer."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            'http://127.0.0.1:%d%s' % (self.wsapi_port, path), data=data, method=method
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            text = reply.read().decode()
        return json.loads(text) if text else None

    def log_text(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ''

    def log_tail(self, lines=60):
        return '\n'.join(self.log_text().splitlines()[-lines:])

    def log_lines(self, needle):
        return [line for line in self.log_text().splitlines() if needle in line]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
