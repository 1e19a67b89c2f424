"""Mininet topologies of the suite: linear, tree, ring and fat-tree.

Each module is both a script (``sudo python3 topologies/ring.py --help``) and a file for
``sudo mn --custom``; what they share (deterministic naming, the network builder, the
command line) is in :mod:`topologies.common`.
"""
