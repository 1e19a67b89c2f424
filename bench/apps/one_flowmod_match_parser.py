"""The ceiling app with controller/match_parser.py installed, as our apps have it.

bench/apps/one_flowmod.py measures stock Ryu: its packet-in's match is parsed by Ryu's
``OFPMatch.parser``. Our apps replace that parser for the process (SuiteApp does it at
start-up), which takes most of the parsing out of a flow setup. Against this app, the
flow-setup figures compare what is left once both sides parse packet-ins the same way:
the app's own work per packet-in.

    ryu-manager bench/apps/one_flowmod_match_parser.py
"""

from bench.apps.one_flowmod import OneFlowMod
from controller import match_parser


class OneFlowModMatchParser(OneFlowMod):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        match_parser.install()
