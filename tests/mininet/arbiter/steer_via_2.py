"""Steers 10.0.0.100 out of port 2, every 0.1 s (tests/mininet/arbiter/steering.py)."""

from steering import SteeringApp


class SteerVia2(SteeringApp):
    PORT = 2
