"""What only apps/stable_routing.py uses: the pure core of consensus-stable forwarding.

- ``epochs``: the update log of topology triggers, when an epoch is cut, epoch records;
- ``sft``: snapshots, the stable forwarding table and its check;
- ``pipeline``: the OpenFlow tables as FlowSpecs (version tag, admission, floods);
- ``update``: the three-phase consistent update and what each switch holds;
- ``rest``: the REST endpoints; ``cli``: ``sdn-stable``, their client.

controller/bundles.py (atomic confirmed bundles) stays in controller/: any app may use it.
"""
