"""Ryu's ``ryu.app.rest_firewall`` driven through its REST API, for the arbiter's tests
and the demo."""

import json

from tests.harness.network import wait_until


class FirewallError(AssertionError):
    """rest_firewall did not join the switch, or refused a rule."""


def allow_icmp(ctl, net, pairs, dpid=1):
    """Wait for rest_firewall to join switch ``dpid``, enable it (it then blocks
    everything but ARP) and allow ICMP for each (source, destination) host name pair."""
    switch = '%016x' % dpid
    if not wait_until(lambda: ctl.log_lines('Join as firewall'), 20):
        raise FirewallError('rest_firewall never joined the switch:\n' + ctl.log_tail())
    ctl.rest('/firewall/module/enable/%s' % switch, 'PUT')
    for src, dst in pairs:
        reply = ctl.rest(
            '/firewall/rules/%s' % switch,
            'POST',
            {
                'nw_src': net.get(src).IP() + '/32',
                'nw_dst': net.get(dst).IP() + '/32',
                'nw_proto': 'ICMP',
            },
        )
        if 'success' not in json.dumps(reply):
            raise FirewallError('rule %s -> %s refused: %s' % (src, dst, reply))
