"""What a Mininet test needs from the machine, checked up front with a clear message."""

import os
import shutil
import subprocess

# Held while a network is up: Mininet networks on one machine share switch names, so the
# test suite, the demo and the benchmarks build theirs one at a time.
MININET_LOCK = '/tmp/sdn-suite-mininet.lock'


def missing_for_mininet():
    """A list of what is missing to build a Mininet network here (empty if nothing)."""
    missing = []
    if os.geteuid() != 0:
        missing.append(
            'root: Mininet creates network namespaces and OVS bridges '
            '(run `sudo bash scripts/setup.sh test`)'
        )
    for tool in ('ovs-vsctl', 'ovs-ofctl', 'mn', 'iperf3', 'tcpdump', 'ethtool'):
        if shutil.which(tool) is None:
            missing.append(
                '%s: install the Debian packages with `sudo bash scripts/setup.sh`' % tool
            )
    if shutil.which('ovs-vsctl'):
        probe = subprocess.run(['ovs-vsctl', '--timeout=5', 'show'], capture_output=True, text=True)
        if probe.returncode != 0:
            missing.append(
                'a running Open vSwitch (ovs-vsctl show failed: %s); start it '
                'with `sudo bash scripts/setup.sh` or '
                '/usr/share/openvswitch/scripts/ovs-ctl start' % probe.stderr.strip()
            )
    try:
        import mininet.net  # noqa: F401
    except ImportError as error:
        missing.append(
            'the mininet Python package (%s): the venv must be built with '
            '--system-site-packages from /usr/bin/python3' % error
        )
    return missing
