"""Several stable_routing controllers agreeing through etcd (docs/ha.md).

- config.py: the ``[replicas]`` section (off without endpoints);
- store.py: the etcd calls, over etcd3gw;
- mastership.py: the lease, the epoch leader and the master of each switch, whose
  election revision is the OpenFlow generation_id;
- agreement.py: the replicated trigger log and the epoch records committed before
  install;
- coordinator.py: one replica's round of work, for the app's loop;
- ryu_app.py: the Ryu mixin (role requests, role replies and errors).
"""
