"""The OpenFlow channel over TLS, without root: the real ``ryu-manager`` with certificates
from scripts/make_certs.sh, and emulated switches (bench/ofemu.py) connecting with or
without the right certificate.

What it pins down: every switch with a certificate of our CA completes the handshake
and is programmed (Ryu 4.34 alone lets only the first one through; the fix is in
controller/ryu_compat.py), and a client without one, with one from another CA, or
without TLS at all is refused with one log line, no traceback, while the others are
still served. tests/mininet/test_tls_channel.py does the same with Open vSwitch.
"""

import asyncio
import os
import ssl
import subprocess

import pytest

from bench import ofemu
from tests.harness.controller import REPO, RyuController

MAKE_CERTS = os.path.join(REPO, 'scripts', 'make_certs.sh')


def make_certs(directory):
    subprocess.run(['bash', MAKE_CERTS, str(directory)], check=True, capture_output=True)
    return str(directory)


def client_context(ca_dir, cert_dir):
    """A switch's TLS settings: trust ``ca_dir``'s CA; present ``cert_dir``'s switch
    certificate (none if cert_dir is None)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # a controller is known by its CA, not a name
    context.load_verify_locations(os.path.join(ca_dir, 'ca-cert.pem'))
    if cert_dir:
        context.load_cert_chain(
            os.path.join(cert_dir, 'switch-cert.pem'), os.path.join(cert_dir, 'switch-key.pem')
        )
    return context


async def _connect(port, dpid, tls):
    switch = ofemu.EmulatedSwitch(dpid, n_ports=4, port=port, tls=tls, cookie=ofemu.FROM_TABLE_MISS)
    try:
        await switch.start(timeout=10.0)
        return switch.flow_mods
    except ofemu.BenchError as error:
        return error
    finally:
        switch.close()


def connect(port, dpid, tls):
    """The flow-mods a switch got once ready, or the BenchError of a refused one."""
    return asyncio.run(_connect(port, dpid, tls))


@pytest.fixture(scope='module')
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp('certs'))


@pytest.fixture(scope='module')
def other_ca(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp('other-ca'))


def test_certificates_chain_to_their_ca(certs, other_ca):
    for name in ('controller', 'switch'):
        ok = subprocess.run(
            [
                'openssl',
                'verify',
                '-CAfile',
                certs + '/ca-cert.pem',
                '%s/%s-cert.pem' % (certs, name),
            ],
            capture_output=True,
        )
        assert ok.returncode == 0, ok
        foreign = subprocess.run(
            [
                'openssl',
                'verify',
                '-CAfile',
                other_ca + '/ca-cert.pem',
                '%s/%s-cert.pem' % (certs, name),
            ],
            capture_output=True,
        )
        assert foreign.returncode != 0
    assert oct(os.stat(certs).st_mode & 0o777) == '0o700'
    assert oct(os.stat(certs + '/switch-key.pem').st_mode & 0o777) == '0o600'


def test_every_switch_with_our_certificate_is_served_and_others_refused(certs, other_ca, tmp_path):
    good = client_context(certs, certs)
    with RyuController(['apps/l2_learning.py'], str(tmp_path / 'ryu.log'), tls_dir=certs) as ryu:
        # Ryu 4.34 as released serves only the first of these over TLS.
        served = [connect(ryu.ofp_port, dpid, good) for dpid in (1, 2, 3)]
        no_certificate = connect(ryu.ofp_port, 4, client_context(certs, None))
        foreign_certificate = connect(ryu.ofp_port, 5, client_context(certs, other_ca))
        plain_tcp = connect(ryu.ofp_port, 6, None)
        after_the_refusals = connect(ryu.ofp_port, 7, good)
        assert ryu.alive()
        log = ryu.log_text()
    for flow_mods in served + [after_the_refusals]:
        assert isinstance(flow_mods, int) and flow_mods >= 2, (flow_mods, log)
    for refused in (no_certificate, foreign_certificate, plain_tcp):
        assert isinstance(refused, ofemu.BenchError), (refused, log)
    assert log.count('TLS: refused the connection') == 3, log
    assert 'Traceback' not in log, log


def test_a_switch_refuses_a_controller_of_another_ca(certs, other_ca, tmp_path):
    """The switch checks the controller too: one that trusts only another CA does not
    even begin the OpenFlow handshake."""
    with RyuController(['apps/l2_learning.py'], str(tmp_path / 'ryu.log'), tls_dir=certs) as ryu:
        outcome = connect(ryu.ofp_port, 1, client_context(other_ca, certs))
    assert isinstance(outcome, ofemu.BenchError) and outcome.phase == 'connect', outcome
