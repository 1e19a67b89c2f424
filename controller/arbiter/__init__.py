"""The app-conflict arbiter (issue 6): every rule any app sends goes through it, is
attributed to the app, compared with the other apps' installed rules and, where they
conflict, resolved by the operator's policy.

The pure core has no Ryu events and no network: ``match`` (OpenFlow 1.3 matches as
packet sets), ``rules`` (rules and how two of them relate) and ``index`` (the installed
rules of every switch table, searchable by overlap).
"""
