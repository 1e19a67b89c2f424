"""The stable-routing pipeline's FlowSpecs (controller/stable/pipeline.py): versions,
failover groups, forward rules of a fat-tree, admission and flood rules, and that every
rule is a valid OpenFlow 1.3 message."""

import random

import networkx as nx
import pytest
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from bench.stable import fat_tree, snapshot_of_graph, watts_strogatz
from controller.flowspec import diff, to_flow_mod
from controller.stable import pipeline as pipe
from controller.stable.sft import Snapshot, StableForwardingTable, check_sft, compute_sft
from controller.topology import SwitchGraph, spanning_tree_ports
from tests.harness.stable_fakes import entry_diff
from topologies.numbering import host_mac


class FakeDatapath:
    ofproto = ofp
    ofproto_parser = parser


@pytest.fixture(scope='module')
def fat4():
    s = fat_tree(4)
    return s, compute_sft(s), spanning_tree_ports(s.graph())


def kind(rule):
    return pipe.COOKIES.kind_of(rule.cookie)


def only(rules, cookie_kind):
    return {r for r in rules if kind(r) == cookie_kind}


# --- versions and groups ----------------------------------------------------------


def test_version_wraps_within_the_usable_vids():
    assert [pipe.version_of(e) for e in (1, 2, 4094, 4095, 4096, 8188, 8189)] == [
        1,
        2,
        4094,
        1,
        2,
        4094,
        1,
    ]
    versions = [pipe.version_of(e) for e in range(1, 20000)]
    assert min(versions) == 1 and max(versions) == 4094  # never 0 nor 4095 (reserved)
    assert all(a != b for a, b in zip(versions, versions[1:], strict=False))


def test_failover_group_ids_name_the_port_pair():
    assert pipe.failover_group_id(3, 4) == 0x30004
    ids = {pipe.failover_group_id(p, b) for p in range(1, 40) for b in range(1, 40)}
    assert len(ids) == 39 * 39
    assert pipe.failover_group_id(0xFFFF, 0xFFFF) == 0xFFFFFFFF  # still a valid group id
    for primary, backup in ((0, 1), (1, 0), (0x10000, 1), (1, 0x10000), (-1, 2)):
        with pytest.raises(ValueError):
            pipe.failover_group_id(primary, backup)


# --- fixed rules ------------------------------------------------------------------


def test_base_rules():
    rules = pipe.base_rules()
    assert len(rules) == 5 and all(pipe.COOKIES.owns(r.cookie) for r in rules)
    # Frames from links whose version no version_rule admits are dropped.
    [stale] = [r for r in rules if r.table == pipe.INGRESS_TABLE and r.priority == 25]
    assert stale.match == (('metadata', pipe.FROM_LINK),) and stale.instructions == ()
    assert pipe.version_rule(3).priority > stale.priority
    lldp = only(rules, pipe.LLDP).pop()
    assert lldp.table == pipe.ADMISSION_TABLE and lldp.priority == 65535
    assert lldp.instructions == (('apply', (('controller', 65535),)),)
    [miss] = [r for r in rules if r.table == pipe.ADMISSION_TABLE and r.priority == 0]
    assert miss.match == () and miss.instructions[-1] == ('goto', pipe.INGRESS_TABLE)


def test_links_admit_a_version_through_its_version_rule():
    """A tagged frame from a link goes to the ingress table marked FROM_LINK; there the
    version rule of an admitted epoch sends it on to the forward table, and nothing
    else does (the base rule at priority 25 drops it)."""
    rule = pipe.version_rule(4095)
    assert (rule.table, rule.priority) == (pipe.INGRESS_TABLE, 30)
    assert rule.match_dict() == {'metadata': pipe.FROM_LINK, 'vlan_vid': 0x1000 | 1}
    assert rule.instructions == (('goto', pipe.FORWARD_TABLE),)
    assert kind(rule) == pipe.VERSION and rule.cookie & 0xFFFFFFFFFF == 4095
    assert pipe.link_admission(2).instructions == (
        ('meta', pipe.FROM_LINK),
        ('goto', pipe.INGRESS_TABLE),
    )
    assert pipe.FROM_LINK[0] & pipe.FROM_HOST[1] == 0  # never taken for a host's frame


def test_ingress_rule_stamps_the_epoch_version():
    rule = pipe.ingress_rule(4095)
    assert (rule.table, rule.priority, rule.match) == (pipe.INGRESS_TABLE, 10, ())
    assert rule.instructions == (
        ('apply', (('push_vlan', 0x88A8), ('set_field', 'vlan_vid', 0x1000 | 1))),
        ('meta', (1, 1)),
        ('goto', pipe.FORWARD_TABLE),
    )
    assert kind(rule) == pipe.INGRESS and rule.cookie & 0xFFFFFFFFFF == 4095
    # The next epoch's rule replaces it in place: same key, one ADD, no DELETE.
    change = diff({pipe.ingress_rule(7)}, {pipe.ingress_rule(8)})
    assert change.add == (pipe.ingress_rule(8),) and change.delete == ()


# --- forward rules ----------------------------------------------------------------


def test_route_rules_of_a_fat_tree_edge_switch(fat4):
    _, sft, _ = fat4
    rules, groups = pipe.route_rules(sft, 13, 7)
    assert len(rules) == 16  # one per host
    group = pipe.failover_group_id(3, 4)
    assert groups == {group: (3, 4)}  # up to s5, else up to s6
    by_mac = {r.match_dict()['eth_dst']: r for r in rules}
    for r in rules:  # stable rules: any version, the epoch that wrote them in the cookie
        assert (r.table, r.priority) == (pipe.FORWARD_TABLE, 100)
        assert r.match_dict()['vlan_vid'] == (0x1000, 0x1000)
        assert kind(r) == pipe.ROUTE and r.cookie & 0xFFFFFFFFFF == 7
    overlays, overlay_groups = pipe.route_rules(sft, 13, 7, overlay=True)
    assert overlay_groups == groups
    assert {r.match_dict()['eth_dst']: r.instructions for r in overlays} == {
        mac: r.instructions for mac, r in by_mac.items()
    }
    for r in overlays:  # overlays: version 7 only, above the stable rules
        assert (r.table, r.priority) == (pipe.FORWARD_TABLE, 200)
        assert r.match_dict()['vlan_vid'] == 0x1000 | 7
        assert kind(r) == pipe.NEXT and r.cookie & 0xFFFFFFFFFF == 7
    assert by_mac[host_mac(1)].instructions == (('apply', (('pop_vlan',), ('output', 1))),)
    assert by_mac[host_mac(2)].instructions == (('apply', (('pop_vlan',), ('output', 2))),)
    for j in range(3, 17):
        assert by_mac[host_mac(j)].instructions == (('apply', (('group', group),)),)


def test_route_rules_of_aggregation_and_core_switches(fat4):
    _, sft, _ = fat4
    rules, groups = pipe.route_rules(sft, 5, 1)
    actions = {r.match_dict()['eth_dst']: r.instructions[0][1] for r in rules}
    # Down to its own pod's edge switches: one link only; up: s1, else s2.
    assert actions[host_mac(1)] == (('output', 1),)
    assert actions[host_mac(3)] == (('output', 2),)
    assert all(actions[host_mac(j)] == (('group', 0x30004),) for j in range(5, 17))
    assert groups == {0x30004: (3, 4)}
    rules, groups = pipe.route_rules(sft, 1, 1)
    assert groups == {}  # a core switch has one link per pod
    actions = {r.match_dict()['eth_dst']: r.instructions[0][1] for r in rules}
    assert actions == {host_mac(j): (('output', (j - 1) // 4 + 1),) for j in range(1, 17)}


def test_epochs_forward_rules_never_collide(fat4):
    """Two epochs' overlays and the stable rules can be installed at once (per-packet
    consistency): no two share a key, and a stable rule written by another epoch has
    the same key (an ADD replaces it in place)."""
    _, sft, _ = fat4
    old, _ = pipe.route_rules(sft, 13, 41, overlay=True)
    new, _ = pipe.route_rules(sft, 13, 42, overlay=True)
    stable, _ = pipe.route_rules(sft, 13, 41)
    keys = [{r.key for r in rules} for rules in (old, new, stable)]
    assert not keys[0] & keys[1] and not (keys[0] | keys[1]) & keys[2]
    assert {r.key for r in pipe.route_rules(sft, 13, 42)[0]} == keys[2]
    assert {pipe.stable_rule_of(r.match_dict()['eth_dst']).key for r in stable} == keys[2]


def test_route_rules_of_an_unreachable_switch():
    s = Snapshot.make(
        [1, 2, 3],
        [(1, 2, 2, 2)],
        {host_mac(1): (1, 1), host_mac(3): (3, 1)},
        {1: [1, 2], 2: [2], 3: [1]},
    )
    sft = compute_sft(s)
    rules, groups = pipe.route_rules(sft, 3, 1)
    assert [r.match_dict()['eth_dst'] for r in rules] == [host_mac(3)] and groups == {}
    rules, _ = pipe.route_rules(sft, 2, 1)
    assert [r.match_dict()['eth_dst'] for r in rules] == [host_mac(1)]


# --- admission and flood rules ----------------------------------------------------


def test_port_rules_of_a_fat_tree(fat4):
    s, _, tree = fat4
    link_ports = {}
    for dpid, p in s.neighbour_at():
        link_ports.setdefault(dpid, set()).add(p)
    for dpid in sorted(s.switches):
        rules = pipe.port_rules(s, dpid, tree)
        assert rules == pipe.port_rules(s, dpid)  # the tree is the default
        link = only(rules, pipe.LINK)
        assert {
            (r.match_dict()['in_port'], r.match_dict()['vlan_vid'], r.instructions) for r in link
        } == {
            (p, vid, instructions)
            for p in link_ports[dpid]
            for vid, instructions in (
                (pipe.TAGGED, (('meta', pipe.FROM_LINK), ('goto', pipe.INGRESS_TABLE))),
                (pipe.UNTAGGED, (('goto', pipe.FLOOD_TABLE),)),
            )
        }
        hosts = {(mac, p) for mac, (d, p) in s.hosts if d == dpid}
        assert {
            (r.match_dict()['eth_src'], r.match_dict()['in_port']) for r in only(rules, pipe.HOST)
        } == hosts
        host_ports = {1, 2} if dpid >= 13 else set()
        flooding = tree[dpid] | host_ports
        flood = only(rules, pipe.FLOOD)
        assert {r.match_dict()['in_port']: sorted(r.output_ports()) for r in flood} == {
            p: sorted(flooding - {p}) for p in flooding
        }
        assert all(r.table == pipe.FLOOD_TABLE for r in flood)
        assert len(rules) == len(link) + len(hosts) + len(flood)


def test_floods_follow_one_spanning_tree(fat4):
    s, _, tree = fat4
    flood_ports = {
        dpid: {r.match_dict()['in_port'] for r in only(pipe.port_rules(s, dpid, tree), pipe.FLOOD)}
        for dpid in s.switches
    }
    used = nx.Graph()
    used.add_nodes_from(s.switches)
    for a, pa, b, pb in s.links:
        if pa in flood_ports[a]:
            assert pb in flood_ports[b]  # a tree link floods both ways
            used.add_edge(a, b)
    assert nx.is_tree(used)  # spanning, loop-free
    # Host ports flood too, on edge switches only.
    for dpid in s.switches:
        assert flood_ports[dpid] - tree[dpid] == ({1, 2} if dpid >= 13 else set())


def test_host_rules_only_for_hosts_on_host_ports():
    # s1: port 1 a host, port 2 a link, port 3 live with no known host, port 4 not live.
    hosts = {host_mac(1): (1, 1), host_mac(2): (1, 2), host_mac(3): (1, 4), host_mac(4): (2, 1)}
    s = Snapshot.make([1, 2], [(1, 2, 2, 2)], hosts, {1: [1, 2, 3], 2: [1, 2]})
    rules = pipe.port_rules(s, 1)
    assert {r.match_dict()['eth_src'] for r in only(rules, pipe.HOST)} == {host_mac(1)}
    # A host port floods even before any host is known on it; the dead port does not.
    flood = {r.match_dict()['in_port']: r.output_ports() for r in only(rules, pipe.FLOOD)}
    assert flood == {1: [2, 3], 2: [1, 3], 3: [1, 2]}


def test_a_switch_alone_floods_between_its_host_ports():
    s = Snapshot.make([7], [], {host_mac(1): (7, 1)}, {7: [1, 2]})
    rules = pipe.port_rules(s, 7)
    assert not only(rules, pipe.LINK)
    assert {r.match_dict()['in_port']: r.output_ports() for r in only(rules, pipe.FLOOD)} == {
        1: [2],
        2: [1],
    }


def _flooded_ports(snapshot, dpid):
    rules = only(pipe.port_rules(snapshot, dpid), pipe.FLOOD)
    return {r.match_dict()['in_port'] for r in rules} | {p for r in rules for p in r.output_ports()}


def _dropped_ports(snapshot, dpid):
    """Ports whose every frame the admission table drops (a LINK rule without
    instructions)."""
    return {
        r.match_dict()['in_port']
        for r in only(pipe.port_rules(snapshot, dpid), pipe.LINK)
        if r.instructions == () and set(r.match_dict()) == {'in_port'}
    }


def test_a_new_link_is_admitted_in_phase_1():
    """s1-s2 is the only link; then s1-s3 and s2-s3 come (s3 new, s1:3 was an unused
    link). Phase 1 admits tagged frames on exactly the ports that start carrying routed
    traffic, and lifts the drop rule of the port that had one; the rest waits for
    phase 2's diff, which then has no link admission left to add."""
    hosts = {host_mac(1): (1, 1), host_mac(2): (2, 1), host_mac(3): (3, 1)}
    before = Snapshot.make([1, 2], [(1, 2, 2, 2)], hosts, {1: [1, 2, 3], 2: [1, 2, 3]})
    after = Snapshot.make(
        [1, 2, 3],
        [(1, 2, 2, 2), (1, 3, 3, 2), (2, 3, 3, 3)],
        hosts,
        {1: [1, 2, 3], 2: [1, 2, 3], 3: [1, 2, 3]},
    )
    installed = pipe.port_rules(before, 1) | {pipe.unused_link(3)}
    desired = pipe.port_rules(after, 1)
    admit, unblock = pipe.admitted_ahead(installed, desired)
    assert admit == [pipe.link_admission(3)]
    assert unblock == [pipe.unused_link(3)]
    # What phase 2 still changes on s1 after phase 1: no tagged admission.
    after_phase_1 = (installed - set(unblock)) | set(admit)
    assert pipe.link_admission(3) not in diff(after_phase_1, desired).add
    assert pipe.unused_link(3) not in diff(after_phase_1, desired).delete
    # A switch of unknown contents (new connection): every link of its table, ahead.
    admit, unblock = pipe.admitted_ahead(None, pipe.port_rules(after, 3))
    assert admit == [pipe.link_admission(2), pipe.link_admission(3)]
    assert unblock == [pipe.unused_link(2), pipe.unused_link(3)]
    # Nothing new: phase 1 leaves the admission table alone.
    assert pipe.admitted_ahead(desired, desired) == ([], [])


def test_a_link_no_longer_routed_is_admitted_until_phase_3():
    """s1-s2 runs over two parallel links; the new epoch routes over the lower port pair
    (1:2 - 2:2) only, so 1:5 becomes an unused link. Until phase 3 it keeps admitting
    tagged frames and gets no drop rule; the rest of the table is the new one."""
    hosts = {host_mac(1): (1, 1), host_mac(2): (2, 1)}
    ports = {1: [1, 2, 5], 2: [1, 2, 5]}
    graph = SwitchGraph()
    graph.add_link(1, 5, 2, 5)
    graph.add_link(2, 5, 1, 5)
    before = Snapshot.from_switch_graph(graph, hosts, ports)
    graph.add_link(1, 2, 2, 2)
    graph.add_link(2, 2, 1, 2)
    after = Snapshot.from_switch_graph(graph, hosts, ports)
    assert before.links == {(1, 5, 2, 5)} and after.links == {(1, 2, 2, 2)}
    installed, desired = pipe.port_rules(before, 1), pipe.port_rules(after, 1)
    assert pipe.unused_link(5) in desired and pipe.link_admission(5) not in desired
    draining = pipe.while_draining(installed, desired)
    assert draining == (desired - {pipe.unused_link(5)}) | {pipe.link_admission(5)}
    assert pipe.while_draining(None, desired) == desired
    assert pipe.while_draining(desired, desired) == desired


def test_a_second_parallel_link_carries_nothing():
    """Routing uses one link per switch pair; the other one must not be taken for a
    host port, or a broadcast would go s1:6 -> s2:6, s2:5 -> s1:5, s1:6 -> ... for ever."""
    graph = SwitchGraph()
    for p in (6, 5):
        graph.add_link(1, p, 2, p)
        graph.add_link(2, p, 1, p)
    s = Snapshot.from_switch_graph(graph, {host_mac(1): (1, 1)}, {1: [1, 5, 6], 2: [5, 6]})
    assert s.links == {(1, 5, 2, 5)}
    for dpid in (1, 2):
        assert s.host_ports(dpid) == ({1} if dpid == 1 else set())
        assert s.unused_link_ports(dpid) == {6}
        assert 6 not in _flooded_ports(s, dpid)
        assert _dropped_ports(s, dpid) == {6}
        assert 5 in _flooded_ports(s, dpid)  # the tree link still floods
    # A host claimed on the unused link is no host.
    bad = Snapshot.from_switch_graph(graph, {host_mac(1): (1, 6)}, {1: [5, 6], 2: [5, 6]})
    assert [v.kind for v in check_sft(compute_sft(bad), bad)] == ['bad-host']


def test_a_one_way_link_carries_nothing_until_both_directions_are_seen():
    graph = SwitchGraph()
    graph.add_link(1, 5, 2, 5)
    graph.add_link(2, 5, 1, 5)
    graph.add_link(1, 6, 2, 6)  # the other direction not seen yet
    s = Snapshot.from_switch_graph(graph, {}, {1: [5, 6], 2: [5, 6]})
    for dpid in (1, 2):
        assert 6 not in _flooded_ports(s, dpid) and _dropped_ports(s, dpid) == {6}
    graph.add_link(2, 6, 1, 6)  # now both: still one link per pair used
    s = Snapshot.from_switch_graph(graph, {}, {1: [5, 6], 2: [5, 6]})
    assert s.links == {(1, 5, 2, 5)} and _dropped_ports(s, 1) == {6}


def test_a_port_looped_back_to_its_own_switch_carries_nothing():
    graph = SwitchGraph()
    graph.add_link(1, 3, 1, 4)
    graph.add_link(1, 4, 1, 3)
    s = Snapshot.from_switch_graph(graph, {host_mac(1): (1, 1)}, {1: [1, 3, 4]})
    assert s.links == frozenset() and s.host_ports(1) == {1}
    assert _flooded_ports(s, 1) == {1} and _dropped_ports(s, 1) == {3, 4}


# --- every rule is a valid OpenFlow 1.3 message ------------------------------------


def test_every_rule_serializes_and_parses_back(fat4):
    s, sft, tree = fat4
    dp = FakeDatapath()
    for dpid in (1, 5, 13):
        route, _ = pipe.route_rules(sft, dpid, 4094)
        rules = (
            pipe.base_rules() | {pipe.ingress_rule(4094)} | route | pipe.port_rules(s, dpid, tree)
        )
        for spec in rules:
            mod = to_flow_mod(dp, spec)
            mod.set_xid(1)
            mod.serialize()
            back = parser.OFPFlowMod.parser(
                dp, mod.version, mod.msg_type, mod.msg_len, mod.xid, mod.buf
            )
            assert (back.table_id, back.priority, back.cookie) == (
                spec.table,
                spec.priority,
                spec.cookie,
            )
            for field, value in spec.match:
                assert back.match[field] == value, (spec, field)


# --- what changed between two epochs ----------------------------------------------


def _random_change(snapshot, rng):
    """``snapshot`` with a few links gone and hosts moved, added or gone."""
    links = sorted(snapshot.links)
    kept = [link for link in links if rng.random() > 0.05]
    hosts = snapshot.host_map()
    macs = sorted(hosts)
    places = [place for _, place in snapshot.hosts]
    for mac in rng.sample(macs, 3):
        hosts[mac] = rng.choice(places)  # moved (maybe to its own place)
    for mac in rng.sample(macs, 2):
        hosts.pop(mac, None)  # gone
    hosts['02:aa:00:00:00:%02x' % rng.randrange(256)] = rng.choice(places)  # new
    return Snapshot.make(snapshot.switches, kept, hosts, dict(snapshot.ports))


def test_entry_changes_are_every_entry_that_differs():
    """entry_changes, which looks only inside the destinations whose routes differ and
    at hosts that moved, came or went, gives what comparing every switch's whole entry
    list gives (tests/harness/stable_fakes.py's entry_diff), on random changes of
    random graphs and fat-trees; identical tables give nothing."""
    rng = random.Random(7)
    bases = [fat_tree(4), snapshot_of_graph(watts_strogatz(40), hosts_per_switch=2)]
    for base in bases:
        before = compute_sft(base)
        assert pipe.entry_changes(before, compute_sft(base)).changed == {}
        for _ in range(5):
            after_snapshot = _random_change(base, rng)
            after = compute_sft(after_snapshot)
            changes = pipe.entry_changes(before, after)
            assert before.grid.comparable(after.grid)
            by_route = pipe.entry_changes(StableForwardingTable(before.hosts, before.routes), after)
            assert by_route == changes
            for dpid in base.switches:
                changed, removed = entry_diff(before, after, dpid)
                assert changes.changed.get(dpid, {}) == changed, dpid
                assert changes.removed.get(dpid, {}) == removed, dpid
            assert changes.count() == sum(
                len(entry_diff(before, after, d)[0]) for d in base.switches
            )


def test_entry_changes_across_a_switch_that_left_compare_route_by_route():
    """A switch gone (its links with it) numbers the switches differently: the tables'
    RouteGrids are not comparable and the routes are compared one by one, with the
    same result as comparing every switch's entries."""
    base = snapshot_of_graph(watts_strogatz(40), hosts_per_switch=2)
    gone = max(base.switches)
    after_snapshot = Snapshot.make(
        base.switches - {gone},
        [link for link in base.links if gone not in (link[0], link[2])],
        {mac: place for mac, place in base.hosts if place[0] != gone},
        {dpid: ports for dpid, ports in base.ports if dpid != gone},
    )
    before, after = compute_sft(base), compute_sft(after_snapshot)
    assert not after.grid.comparable(before.grid)
    changes = pipe.entry_changes(before, after)
    assert changes.count() or changes.removed
    for dpid in base.switches:
        changed, removed = entry_diff(before, after, dpid)
        assert changes.changed.get(dpid, {}) == changed, dpid
        assert changes.removed.get(dpid, {}) == removed, dpid


def test_a_one_link_change_changes_few_entries():
    """fat-tree k=8 (80 switches, 128 hosts: 10,240 entries) after one aggregation-core
    link goes: the entries that change, which an incremental epoch sends, are a few
    percent of them."""
    before = fat_tree(8)
    gone = [link for link in before.links if (link[0], link[2]) == (1, 17)]
    after = Snapshot.make(
        before.switches, set(before.links) - set(gone), before.host_map(), dict(before.ports)
    )
    changes = pipe.entry_changes(compute_sft(before), compute_sft(after))
    total = sum(len(pipe.switch_entries(compute_sft(after), d)) for d in after.switches)
    assert total == 80 * 128
    assert 0 < changes.count() < total // 20 and not changes.removed


def test_a_link_admission_is_recognised_field_by_field(fat4):
    """is_link_admission, which admitted_ahead and while_draining ask of every rule,
    says exactly what comparing with link_admission of the rule's port says."""
    s, sft, tree = fat4
    rules = set(pipe.base_rules()) | {pipe.ingress_rule(3), pipe.unused_link(4)}
    for dpid in (1, 5, 13):
        rules |= pipe.port_rules(s, dpid, tree) | pipe.route_rules(sft, dpid, 3)[0]
    found = {r for r in rules if pipe.is_link_admission(r)}
    assert found == {r for r in rules if r == pipe.link_admission(r.match_dict().get('in_port'))}
    assert found and pipe.is_link_admission(pipe.link_admission(0xFFFF))


def test_a_partition_removes_the_entries_towards_the_far_side():
    """s1 - s2 - s3 loses s2-s3: s1 and s2 have no route to s3's host any more (its
    entries there are removed, not changed), s3 none to theirs; an SFT compared with
    itself has no change."""
    hosts = {host_mac(1): (1, 1), host_mac(2): (2, 1), host_mac(3): (3, 1)}
    ports = {1: [1, 2, 3], 2: [1, 2, 3], 3: [1, 2, 3]}
    line = compute_sft(Snapshot.make([1, 2, 3], [(1, 2, 2, 2), (2, 3, 3, 2)], hosts, ports))
    split = compute_sft(Snapshot.make([1, 2, 3], [(1, 2, 2, 2)], hosts, ports))
    changes = pipe.entry_changes(line, split)
    assert changes.changed == {}
    assert {d: sorted(macs) for d, macs in changes.removed.items()} == {
        1: [host_mac(3)],
        2: [host_mac(3)],
        3: [host_mac(1), host_mac(2)],
    }
    for dpid in (1, 2, 3):
        assert changes.removed[dpid] == entry_diff(line, split, dpid)[1]
    assert pipe.entry_changes(line, line).count() == 0
    assert pipe.route_changes(line.routes[3], line.routes[3]) == []
