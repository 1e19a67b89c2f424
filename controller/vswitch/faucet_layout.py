"""FAUCET's switch options that choose its own table layout or sizes: what hosts see
does not depend on them, so they are accepted, kept (a reload compares them, the REST
view shows them) and named once in the switch's connect log line.

- ``egress_pipeline``: FAUCET adds an egress table after eth_dst, from which learned
  frames are output by metadata; frames reach the same ports. (A VLAN's ``acls_out``
  needs no switch option here: egress.py adds its tables where it is used.)
- ``use_classification``: FAUCET splits the classification of frames (to its FIB,
  VIP or L2 tables) out of eth_src into a table of its own; the same frames reach the
  same places.
- ``group_table``: FAUCET floods through one OpenFlow ALL group per VLAN instead of an
  output list in the flood rule; each frame goes out of the same ports. (As in
  FAUCET it cannot be combined with ``combinatorial_port_flood``.)
- ``table_sizes``: the sizes FAUCET asks of tables on switches whose tables are
  configured by FAUCET (TFM); Open vSwitch sizes its tables itself.
"""

from typing import Any

from controller.config.frozen import FrozenDict

LAYOUT_OPTIONS = ('egress_pipeline', 'use_classification', 'group_table', 'table_sizes')
# FAUCET 1.10.12's table names that table_sizes takes (faucet/dp.py)
FAUCET_TABLES = (
    'port_acl',
    'vlan',
    'vlan_acl',
    'classification',
    'eth_src',
    'ipv4_fib',
    'ipv6_fib',
    'vip',
    'eth_dst_hairpin',
    'eth_dst',
    'flood',
)


def layout_options(conf: dict[str, Any]) -> FrozenDict:
    """The layout options a switch's settings ``conf`` give, as written (false and
    empty ones left out: they are FAUCET's defaults)."""
    found: dict[str, Any] = {}
    for name in LAYOUT_OPTIONS:
        value = conf.get(name)
        if isinstance(value, dict) and value:
            found[name] = FrozenDict(sorted(value.items()))
        elif value is True:
            found[name] = True
    return FrozenDict(found)


def layout_note(layout: FrozenDict) -> str:
    """For the connect log line: the layout options taken and why nothing changes."""
    if not layout:
        return ''
    return " (FAUCET's table layout options %s: the Open vSwitch pipeline delivers the same)" % (
        ', '.join(sorted(layout))
    )
