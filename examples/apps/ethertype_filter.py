"""Drop one EtherType at the edge of every switch: the smallest app on the suite's base.

ryu-manager examples/apps/ethertype_filter.py [--config-file f.conf]
# f.conf:  [ethertype_filter]
#          ethertype = 0x86dd
"""

from dataclasses import dataclass
from typing import Any

from ryu import cfg

from controller.app_base import SuiteApp, register_options
from controller.cookies import CookieSpace
from controller.flowspec import FlowSpec, to_flow_mod

register_options(
    'ethertype_filter',
    [cfg.IntOpt('ethertype', default=0x86DD, help='EtherType to drop (IPv6 by default)')],
)
COOKIES = CookieSpace('ethertype_filter')
DROP = 1  # the one rule kind of this app


def drop_rule(ethertype: int) -> FlowSpec:
    """Pure logic: the rule, as a value (no instructions: drop)."""
    return FlowSpec.make(0, 60000, {'eth_type': ethertype}, [], COOKIES.cookie(DROP))


@dataclass
class Switch:
    dp: Any


class EthertypeFilter(SuiteApp):
    CONFIG_GROUP = 'ethertype_filter'

    def new_switch(self, dp: Any) -> Switch:
        return Switch(dp)

    def switch_connected(self, sw: Switch) -> None:
        sw.dp.send_msg(to_flow_mod(sw.dp, drop_rule(self.conf.ethertype)))
        self.logger.info('switch %016x: EtherType 0x%04x dropped', sw.dp.id, self.conf.ethertype)
