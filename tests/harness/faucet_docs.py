"""FAUCET's own documentation configs, read at run time (nothing of FAUCET's is kept in
this repository), and a Mininet topology cabled as a policy says.

``stacking_tutorial()`` returns the YAML blocks of FAUCET 1.10.12's stacking tutorial
(docs/tutorials/stacking.rst) by their names. The tutorial is read from a FAUCET source
checkout, ``$FAUCET_SRC`` or /tmp/faucet-src (as bench/faucet_compat.py takes it), or
else from FAUCET's source distribution on PyPI, fetched once with pip into
~/.cache/sdn-suite.
"""

import os
import re
import subprocess
import sys
import tarfile

from mininet.topo import Topo

from topologies.common import NoTxOffloadHost
from topologies.numbering import host_ip, host_mac, host_name

FAUCET_VERSION = '1.10.12'
TUTORIAL = 'docs/tutorials/stacking.rst'
CACHE = os.path.join(os.path.expanduser('~'), '.cache', 'sdn-suite')
# '.. code-block:: yaml', its options (':name: x'), a blank line, the indented block
_BLOCK = re.compile(r'\.\. code-block:: yaml\n((?:[ \t]+:.*\n)*)\n((?:(?:[ \t]+.*)?\n)+)')


def _tutorial_text():
    for root in (os.environ.get('FAUCET_SRC'), '/tmp/faucet-src'):
        if root and os.path.exists(os.path.join(root, TUTORIAL)):
            with open(os.path.join(root, TUTORIAL)) as f:
                return f.read()
    sdist = os.path.join(CACHE, 'faucet-%s.tar.gz' % FAUCET_VERSION)
    if not os.path.exists(sdist):
        os.makedirs(CACHE, exist_ok=True)
        subprocess.run(
            [sys.executable, '-m', 'pip', 'download', '--quiet', '--no-deps', '--no-binary',
             ':all:', '--disable-pip-version-check', '--dest', CACHE,
             'faucet==%s' % FAUCET_VERSION],
            check=True, timeout=300,
        )  # fmt: skip
    with tarfile.open(sdist) as archive:
        member = archive.extractfile('faucet-%s/%s' % (FAUCET_VERSION, TUTORIAL))
        return member.read().decode()


def stacking_tutorial():
    """{block name: YAML text} of every YAML block of FAUCET's stacking tutorial."""
    blocks = {}
    for options, body in _BLOCK.findall(_tutorial_text()):
        name = re.search(r':name:\s*(\S+)', options)
        lines = body.rstrip('\n').split('\n')
        indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
        blocks[name.group(1) if name else 'unnamed-%d' % len(blocks)] = '\n'.join(
            line[indent:] for line in lines
        )
    return blocks


class PolicyTopo(Topo):
    """The switches of a vswitch Policy (s<dp_id>, dpid dp_id), a host on every access
    port (h1, h2, ... switch by switch, port by port: the suite's MACs and IPs) and a
    link for every stack link, on the ports the policy names."""

    def build(self, policy=None):
        switches = {}
        for dp in sorted(policy.dps.values(), key=lambda d: d.dp_id):
            switches[dp.name] = self.addSwitch('s%d' % dp.dp_id, dpid='%016x' % dp.dp_id)
        j = 0
        for dp in sorted(policy.dps.values(), key=lambda d: d.dp_id):
            for number, intf in sorted(dp.interfaces.items()):
                if intf.native_vlan is not None and intf.stack is None:
                    j += 1
                    host = self.addHost(
                        host_name(j), cls=NoTxOffloadHost, mac=host_mac(j), ip=host_ip(j)
                    )
                    self.addLink(host, switches[dp.name], port1=0, port2=number)
            for number, (peer, peer_port) in sorted(dp.stack_ports.items()):
                if (dp.name, number) < (peer, peer_port):  # each link once
                    self.addLink(switches[dp.name], switches[peer], port1=number, port2=peer_port)
