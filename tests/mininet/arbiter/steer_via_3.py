"""Steers 10.0.0.100 out of port 3, every 0.1 s (tests/mininet/arbiter/steering.py)."""

from steering import SteeringApp


class SteerVia3(SteeringApp):
    PORT = 3
