"""Bench only: load after our apps to take the OpenFlow counters of /metrics out of the
process (controller/metrics/openflow.py's wrappers of Ryu removed), so that
bench/metrics_cost.py measures an app with metrics and without.

    ryu-manager apps/l2_learning.py bench/apps/metrics_off.py
"""

from ryu.base import app_manager

from controller.metrics import openflow

openflow.uninstall()


class MetricsOff(app_manager.RyuApp):
    """Nothing: the module's import is what counts (ryu-manager needs an app in it)."""
