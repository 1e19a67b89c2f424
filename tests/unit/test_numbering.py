"""topologies/numbering.py: the names, dpids and addresses every topology uses (no
Mininet needed)."""

import pytest

from topologies import numbering


def test_names_and_dpids():
    assert numbering.switch_name(12) == 's12'
    assert numbering.host_name(3) == 'h3'
    # Mininet reads the digits of a name as hex when no dpid is given: s10 would be 16.
    assert numbering.switch_dpid(10) == '000000000000000a'


def test_address_scheme_beyond_255_and_its_limits():
    assert numbering.host_mac(1) == '00:00:00:00:00:01'
    assert numbering.host_mac(300) == '00:00:00:00:01:2c'
    assert numbering.host_ip(300) == '10.0.1.44/16'
    assert numbering.host_ip(256) == '10.0.1.0/16'  # a host address inside 10.0.0.0/16
    assert numbering.host_ip(numbering.MAX_HOSTS) == '10.0.255.254/16'
    assert numbering.host_mac(numbering.MAX_HOSTS) == '00:00:00:00:ff:fe'
    for bad in (0, numbering.MAX_HOSTS + 1):
        with pytest.raises(ValueError, match='out of range'):
            numbering.host_ip(bad)
        with pytest.raises(ValueError, match='out of range'):
            numbering.host_mac(bad)
