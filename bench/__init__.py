"""Benchmarks of OpenFlow 1.3 controllers.

``bench.ofemu`` emulates OpenFlow 1.3 switches in pure asyncio (handshake, packet-ins,
reply counting); ``bench.cbench`` is a cbench-like command line on top of it;
``bench/apps/`` holds Ryu apps that only exist to be measured.
"""
