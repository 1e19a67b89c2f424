"""The numbering every topology shares, without Mininet: names, dpids and addresses.

Switch ``si`` (i from 1) has dpid i; host ``hj`` (j from 1) has MAC
``00:00:00:00:HH:LL`` and IP ``10.0.HH.LL/16``, where HH and LL are the high and low
byte of j (h1: 00:00:00:00:00:01, 10.0.0.1; h300: 00:00:00:00:01:2c, 10.0.1.44).

Kept apart from topologies/common.py so that code which only needs to name things (unit
tests, benchmarks, the stable-routing harness) imports no Mininet.
"""

# 10.0.255.255 is the broadcast address of 10.0.0.0/16: the last host is 10.0.255.254.
MAX_HOSTS = 0xFFFE


def switch_name(i: int) -> str:
    return 's%d' % i


def switch_dpid(i: int) -> str:
    """The dpid string Mininet wants; given explicitly because Mininet would otherwise
    read the digits of the name as hex (s10 would get dpid 16)."""
    return '%016x' % i


def host_name(j: int) -> str:
    return 'h%d' % j


def _check_host_number(j: int) -> None:
    if not 1 <= j <= MAX_HOSTS:
        raise ValueError(
            'host number %d is out of range: the 10.0.0.0/16 addressing has '
            'room for hosts 1..%d' % (j, MAX_HOSTS)
        )


def host_mac(j: int) -> str:
    _check_host_number(j)
    return '00:00:00:00:%02x:%02x' % (j >> 8, j & 0xFF)


def host_ip(j: int) -> str:
    """IP address with prefix length, as addHost() takes it."""
    _check_host_number(j)
    return '10.0.%d.%d/16' % (j >> 8, j & 0xFF)
