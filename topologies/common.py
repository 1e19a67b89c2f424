"""What the topology scripts share: deterministic naming, the network builder, a printable
summary and the command line.

Naming (the same in every topology, so tests and people can name things):

- switch ``si`` (i from 1, numbered in the order the topology adds them) has dpid i;
- host ``hj`` (j from 1, numbered in the order they are attached) has MAC
  ``00:00:00:00:HH:LL`` and IP ``10.0.HH.LL/16``, where HH and LL are the high and low
  byte of j (h1: 00:00:00:00:00:01, 10.0.0.1; h300: 00:00:00:00:01:2c, 10.0.1.44);
- a host's interface is its port 0 (``hj-eth0``); it sits on a switch port that each
  topology documents, always ports 1..m of that switch before any switch-to-switch port.

Switches are Open vSwitch bridges with the userspace datapath (no kernel module needed)
speaking only OpenFlow 1.3 in secure fail mode (no forwarding without the controller).
Hosts switch TX checksum offload off on their interfaces: on the userspace datapath the
checksums of TCP packets are never filled in otherwise, and TCP fails while ping works.
"""

import argparse
import json
import os
import socket
import sys
import time
from functools import partial

from mininet.cli import CLI
from mininet.link import Link, TCLink
from mininet.log import LEVELS, info, setLogLevel, warn
from mininet.net import Mininet
from mininet.node import Host, OVSSwitch, RemoteController
from mininet.topo import Topo

from topologies.numbering import host_ip, host_mac, host_name, switch_dpid, switch_name


class PlainRemoteController(RemoteController):
    """Mininet's RemoteController, checking that the controller listens with a plain
    TCP connect. Mininet's own check pipes the controller's first bytes (its OpenFlow
    HELLO) from telnet into a UTF-8 decoder, which fails with UnicodeDecodeError
    whenever the HELLO's random xid is not valid UTF-8."""

    def checkListening(self):
        try:
            with socket.create_connection((self.ip, self.port), timeout=2):
                pass
        except OSError:
            warn('Unable to contact the remote controller at %s:%d\n' % (self.ip, self.port))


class SilentPortsOVSSwitch(OVSSwitch):
    """An OVS switch whose ports do not speak for themselves.

    A switch port is a kernel interface in the root namespace; left alone, the kernel
    sends IPv6 router solicitations and MLD reports out of it, with the port's own random
    MAC. Those frames enter the neighbouring switch as if a host were there, so a
    learning controller learns phantom hosts. Switching IPv6 off on the switch's ports
    keeps the data plane to what the hosts send. It is done as each port is added,
    before it is up: switches start one after another (80 bridges take seconds), and
    a port of a switch not yet started would otherwise speak meanwhile into a
    neighbour that already has its controller, which then takes the port for a host's
    and refuses the LLDP that later proves a link there."""

    def addIntf(self, intf, port=None, **kwargs):
        super().addIntf(intf, port=port, **kwargs)
        if intf.name != 'lo':
            self.cmd('sysctl -qw net.ipv6.conf.%s.disable_ipv6=1' % intf.name)


OVS13_USERSPACE = partial(
    SilentPortsOVSSwitch, datapath='user', protocols='OpenFlow13', failMode='secure'
)

# For `mn --custom`: each script exports this, so `--switch ovs13u` picks our switch.
switches = {'ovs13u': OVS13_USERSPACE}

# Link options only TCLink understands; a plain Link is lighter and needs no tc.
TC_LINK_OPTIONS = ('bw', 'delay', 'jitter', 'loss', 'max_queue_size')

CONNECT_TIMEOUT = 30.0
PING_TIMEOUT = 2
IPERF_SECONDS = 5
IPERF_PORT = 5201


class NoTxOffloadHost(Host):
    """A host whose interfaces have TX checksum offload off (TCP needs that on the OVS
    userspace datapath). Doing it at configuration time means it also holds for networks
    that `mn --custom` builds, not only for build_network()."""

    def config(self, **params):
        settings = super().config(**params)
        for intf in self.intfList():
            _out, err, code = self.pexec('ethtool', '-K', intf.name, 'tx', 'off')
            if code:
                warn(
                    '*** %s: could not switch TX checksum offload off (%s); TCP may '
                    'fail on the userspace datapath\n' % (intf.name, err.strip())
                )
        return settings


class NumberedTopo(Topo):
    """Base class of the suite's topologies: adds switches and hosts with the names,
    dpids, MACs, IPs and port numbers described in this module, and answers the
    questions tests ask (which switch port a host is on, which ports a link joins)
    from the Topo's own link information."""

    def __init__(self, *args, **params):
        # Topo.__init__ calls build(), which numbers switches and hosts from these.
        self._switch_count = 0
        self._host_count = 0
        super().__init__(*args, **params)

    def add_switch(self):
        """Add the next switch s<i> (dpid i); returns its name."""
        self._switch_count += 1
        i = self._switch_count
        return self.addSwitch(switch_name(i), dpid=switch_dpid(i))

    def add_hosts(self, switch, count):
        """Attach the next ``count`` hosts to ports 1..count of ``switch``."""
        for port in range(1, count + 1):
            self._host_count += 1
            j = self._host_count
            host = self.addHost(host_name(j), cls=NoTxOffloadHost, mac=host_mac(j), ip=host_ip(j))
            self.addLink(host, switch, port1=0, port2=port)

    def host_port(self, host):
        """(switch name, port number) that ``host`` is attached to."""
        for node1, node2, link_info in self.links(withInfo=True):
            if node1 == host:
                return node2, link_info['port2']
            if node2 == host:
                return node1, link_info['port1']
        raise KeyError('no host named %r' % host)

    def switch_links(self):
        """[((switch, port), (switch, port))] for every switch-to-switch link, in the
        order of Topo.links(sort=True)."""
        return [
            ((node1, link_info['port1']), (node2, link_info['port2']))
            for node1, node2, link_info in self.links(sort=True, withInfo=True)
            if self.isSwitch(node1) and self.isSwitch(node2)
        ]


def _asks_for_tc(topo):
    return any(
        option in link_info
        for _n1, _n2, link_info in topo.links(withInfo=True)
        for option in TC_LINK_OPTIONS
    )


def build_network(
    topo,
    controller_ip='127.0.0.1',
    controller_port=6653,
    start=True,
    controller_protocol='tcp',
    **mininet_kwargs,
):
    """A Mininet network of ``topo`` with OpenFlow 1.3 userspace OVS switches connecting
    to a remote controller at controller_ip:controller_port; started unless start=False.
    ``controller_protocol='ssl'``: over TLS, with the certificates Open vSwitch was given
    by ``ovs-vsctl set-ssl`` (docs/tls.md).

    mininet_kwargs go to Mininet() and override the defaults chosen here. If building or
    starting fails, whatever was created is removed before the error propagates."""
    options = dict(
        switch=OVS13_USERSPACE,
        host=NoTxOffloadHost,
        link=TCLink if _asks_for_tc(topo) else Link,
        controller=None,
        autoSetMacs=False,
        build=False,
    )
    options.update(mininet_kwargs)
    net = Mininet(topo=topo, **options)
    net.addController(
        'c0',
        controller=PlainRemoteController,
        ip=controller_ip,
        port=controller_port,
        protocol=controller_protocol,
    )
    try:
        net.build()
        if start:
            net.start()
    except BaseException:
        net.stop()
        raise
    return net


def _endpoint(intf):
    return '%s:%d' % (intf.node.name, intf.node.ports[intf])


def describe(net):
    """A printable summary: controllers, switches with dpids, hosts with MAC, IP and the
    switch port they are on, switch-to-switch links, and counts."""
    switch_names = {switch.name for switch in net.switches}
    switch_links = [
        link
        for link in net.links
        if link.intf1.node.name in switch_names and link.intf2.node.name in switch_names
    ]
    lines = [
        '%d switches, %d hosts, %d switch links, %d host links'
        % (len(net.switches), len(net.hosts), len(switch_links), len(net.links) - len(switch_links))
    ]
    lines += ['controller %s at %s:%d' % (c.name, c.ip, c.port) for c in net.controllers]
    lines.append('switches:')
    lines += ['  %-5s dpid %s' % (switch.name, switch.dpid) for switch in net.switches]
    lines.append('hosts:')
    for host in net.hosts:
        intf = host.defaultIntf()
        peer = intf.link.intf2 if intf.link.intf1 is intf else intf.link.intf1
        lines.append(
            '  %-5s %s  %-16s on %s'
            % (host.name, intf.MAC(), '%s/%s' % (intf.IP(), intf.prefixLen), _endpoint(peer))
        )
    lines.append('switch links:')
    lines += [
        '  %s <-> %s' % (_endpoint(link.intf1), _endpoint(link.intf2)) for link in switch_links
    ]
    return '\n'.join(lines)


def _wait_for_controller(net, timeout, settle):
    """None once every switch is connected (and settle seconds passed), else what is
    wrong."""
    if not net.waitConnected(timeout):
        unconnected = [switch.name for switch in net.switches if not switch.connected()]
        controllers = ', '.join('%s:%d' % (c.ip, c.port) for c in net.controllers)
        return 'switches %s did not connect to the controller at %s within %.0f s' % (
            ' '.join(unconnected),
            controllers,
            timeout,
        )
    info('*** Letting the controller settle for %g s\n' % settle)
    time.sleep(settle)
    return None


def _pingall(net):
    loss = net.pingAll(timeout=PING_TIMEOUT)
    print('pingall: %g%% loss' % loss)
    return 'pingall lost %g%% of the pings' % loss if loss else None


def _iperf(net):
    """iperf3 TCP throughput from the first host to the last."""
    client, server = net.hosts[0], net.hosts[-1]
    # -1: the server exits after one test; terminated below if the test never came.
    server_process = server.popen(['iperf3', '-s', '-1', '-p', str(IPERF_PORT)])
    try:
        deadline = time.monotonic() + 5
        while 'LISTEN' not in server.cmd('ss -Hltn sport = :%d' % IPERF_PORT):
            if time.monotonic() > deadline:
                return 'iperf3 server on %s did not start listening' % server
            time.sleep(0.1)
        output = client.cmd(
            'iperf3 -J --connect-timeout 5000 -t %d -p %d -c %s'
            % (IPERF_SECONDS, IPERF_PORT, server.IP())
        )
    finally:
        if server_process.poll() is None:
            server_process.terminate()
        server_process.wait()
    try:
        result = json.loads(output)
    except ValueError:
        return 'iperf3 %s -> %s gave no result: %s' % (client, server, output.strip())
    if 'error' in result:
        return 'iperf3 %s -> %s failed: %s' % (client, server, result['error'])
    mbits = result['end']['sum_received']['bits_per_second'] / 1e6
    print('iperf3 TCP %s -> %s: %.1f Mbit/s' % (client, server, mbits))
    return None


TESTS = {'pingall': _pingall, 'iperf': _iperf}


def _add_run_options(parser):
    """The options every script has; returns their dests (the others are the topology's)."""
    group = parser.add_argument_group('run')
    actions = [
        group.add_argument(
            '--controller-ip',
            default='127.0.0.1',
            help='remote OpenFlow controller address (default %(default)s)',
        ),
        group.add_argument(
            '--controller-port',
            type=int,
            default=6653,
            help='remote OpenFlow controller port (default %(default)s)',
        ),
        group.add_argument(
            '--controller-protocol',
            choices=['tcp', 'ssl'],
            default='tcp',
            help='ssl: the OpenFlow channel over TLS, with the certificates '
            'given to Open vSwitch by `ovs-vsctl set-ssl` '
            '(docs/tls.md; default %(default)s)',
        ),
        group.add_argument(
            '--test',
            choices=['none', *TESTS],
            default='none',
            help='none: open the Mininet CLI; pingall: every host pings '
            'every other; iperf: iperf3 TCP from the first host to the '
            'last. Tests wait for the controller connection, then '
            '--settle seconds, and exit non-zero on failure '
            '(default %(default)s)',
        ),
        group.add_argument(
            '--settle',
            type=float,
            default=5.0,
            metavar='SECONDS',
            help='seconds between the controller connection and a test, '
            'e.g. for link discovery (default %(default)s)',
        ),
        group.add_argument(
            '--connect-timeout',
            type=float,
            default=CONNECT_TIMEOUT,
            metavar='SECONDS',
            help='how long a test waits for every switch to connect to '
            'the controller (default %(default)s)',
        ),
        group.add_argument(
            '--log-level',
            choices=sorted(LEVELS),
            default='info',
            help='Mininet log level (default %(default)s)',
        ),
    ]
    return {action.dest for action in actions}


def main(topo_class, description, add_topo_args):
    """The command line of a topology script: build topo_class from the options that
    add_topo_args(parser) defines (their dests are its build() parameters), print the
    network, then open the CLI or run a test; the network is always stopped."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_topo_args(parser.add_argument_group('topology'))
    run_options = _add_run_options(parser)
    args = parser.parse_args()
    topo_params = {name: value for name, value in vars(args).items() if name not in run_options}
    try:
        topo = topo_class(**topo_params)
    except ValueError as error:
        parser.error(str(error))
    # After parsing, so that --help and bad parameters need no root.
    if os.geteuid() != 0:
        sys.exit(
            '%s must run as root: Mininet creates network namespaces, interfaces '
            'and Open vSwitch bridges. Try: sudo python3 %s' % (parser.prog, ' '.join(sys.argv))
        )

    setLogLevel(args.log_level)
    net = build_network(
        topo, args.controller_ip, args.controller_port, controller_protocol=args.controller_protocol
    )
    try:
        print(describe(net))
        if args.test == 'none':
            CLI(net)
            problem = None
        else:
            problem = _wait_for_controller(net, args.connect_timeout, args.settle) or TESTS[
                args.test
            ](net)
    finally:
        net.stop()
    if problem:
        sys.exit('FAILED: ' + problem)
