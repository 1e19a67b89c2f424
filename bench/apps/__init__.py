"""Ryu apps that exist only to be measured by bench.cbench (not for real networks)."""
