"""The arbiter's rule index: every query equals a scan of all rules with the match
algebra (generated rule sets, on the small header space of test_arbiter_match and on
OpenFlow fields), OpenFlow 1.3 DELETE / DELETE_STRICT selection, replacement of a rule
with the same identity, and a timing record.

The timing record (``test_timing_record``) builds a table of realistic shape, 10,000
rules: a learning switch's in_port+eth_src and eth_dst rules and table-miss, an LLDP
rule of a monitoring app, and 100 ACL rules (IPv4 prefixes, TCP ports; most per port,
some global), then times ``conflicts()`` of new learning rules. It prints and never
asserts; ``python -m tests.unit.test_arbiter_index [rules ...]`` prints the same for
other sizes (100000, say).
"""

import random
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ryu.ofproto import ofproto_v1_3 as ofp

from controller.arbiter.index import RuleIndex
from controller.arbiter.match import TernaryMatch
from controller.arbiter.rules import Relation, Rule, classify
from tests.unit.test_arbiter_match import tiny_matches

M = TernaryMatch.of
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OUT1 = (('apply', (('output', 1),)),)
OUT2 = (('apply', (('output', 2),)),)
TO_CONTROLLER = (('apply', (('controller', 0xFFFF),)),)
GROUP3 = (('write', (('group', 3),)),)
ACTIONS = [(), OUT1, OUT2, TO_CONTROLLER, GROUP3]


@st.composite
def of_matches(draw):
    """Matches of the shapes apps write, on few values so that they overlap; sometimes
    without their prerequisites."""
    fields = {}
    for name, values in (
        ('in_port', st.integers(1, 3)),
        ('eth_src', st.sampled_from([1, 2, (0, 1 << 40)])),
        ('eth_type', st.sampled_from([0x800, 0x806, 0x86DD])),
        ('vlan_vid', st.sampled_from([0, 0x1001, (0x1000, 0x1000)])),
        ('ipv4_dst', st.sampled_from(['10.0.0.0/8', '10.1.0.0/16', '10.1.2.3', '10.2.0.0/16'])),
        ('ip_proto', st.sampled_from([6, 17])),
        ('tcp_dst', st.sampled_from([22, 80, (0, 0xFF00)])),
    ):
        if draw(st.integers(0, 2)) == 0:
            fields[name] = draw(values)
    return M(**fields)


@st.composite
def rule_sets(draw, matches):
    return draw(
        st.lists(
            st.builds(
                Rule,
                app=st.sampled_from('abc'),
                dpid=st.integers(1, 2),
                table_id=st.integers(0, 1),
                priority=st.integers(1, 3),
                match=matches,
                actions=st.sampled_from(ACTIONS),
                cookie=st.integers(0, 3),
            ),
            max_size=25,
        )
    )


def installed(rules):
    """What a switch holds after ADDs of ``rules`` in order: the last rule of each
    identity; and the index built from the same ADDs."""
    model, index = {}, RuleIndex()
    for rule in rules:
        assert index.add(rule) == model.get(rule.key)
        model[rule.key] = rule
    return list(model.values()), index


def keys(rules):
    return sorted(
        (rule.dpid, rule.table_id, rule.priority, repr(rule.match), rule.app) for rule in rules
    )


def check_queries(rules, queries):
    """Queries equal a scan, on the rules as added, with half of them removed (the
    index's lookup tables are built by then), and with those added again."""
    model, index = installed(rules)
    check_state(model, index, queries)
    for gone in model[::2]:
        assert index.remove(gone) == gone
    check_state(model[1::2], index, queries)
    for back in model[::2]:
        index.add(back)
    check_state(model, index, queries)


def check_state(model, index, queries):
    assert index.count() == len(model)
    for app in 'abc':
        for dpid in (None, 1, 2):
            expected = [r for r in model if r.app == app and dpid in (None, r.dpid)]
            assert keys(index.rules_of(app, dpid)) == keys(expected)
            assert index.count(app, dpid) == len(expected)
    for query in queries:
        overlapping = index.overlapping(query.dpid, query.table_id, query.match)
        assert keys(overlapping) == keys(
            r
            for r in model
            if (r.dpid, r.table_id) == (query.dpid, query.table_id)
            and r.match.intersects(query.match)
        )
        assert [r.priority for r in overlapping] == sorted(
            (r.priority for r in overlapping), reverse=True
        )
        assert keys(
            index.overlapping(query.dpid, query.table_id, query.match, app=query.app)
        ) == keys(r for r in overlapping if r.app == query.app)
        found = index.conflicts(query)
        expected = [(r, classify(query, r)) for r in model if r.app != query.app]
        assert sorted((keys([r]), relation.name) for r, relation in found) == sorted(
            (keys([r]), relation.name) for r, relation in expected if relation
        )
        assert index.get(query.dpid, query.table_id, query.priority, query.match) == next(
            (r for r in model if r.key == query.key), None
        )


@SETTINGS
@given(rule_sets(tiny_matches()), rule_sets(tiny_matches()))
def test_queries_equal_a_scan_on_the_small_space(rules, queries):
    check_queries(rules, queries)


@SETTINGS
@given(rule_sets(of_matches()), rule_sets(of_matches()))
def test_queries_equal_a_scan_on_openflow_fields(rules, queries):
    check_queries(rules, queries)


@st.composite
def deletes(draw, matches):
    return dict(
        dpid=draw(st.integers(1, 2)),
        table_id=draw(st.sampled_from([0, 1, ofp.OFPTT_ALL])),
        match=draw(matches),
        strict=draw(st.booleans()),
        priority=draw(st.integers(1, 3)),
        cookie=draw(st.integers(0, 3)),
        cookie_mask=draw(st.sampled_from([0, 1, 3])),
        out_port=draw(st.sampled_from([ofp.OFPP_ANY, 1, ofp.OFPP_CONTROLLER])),
        out_group=draw(st.sampled_from([ofp.OFPG_ANY, 3])),
        app=draw(st.sampled_from([None, 'a', 'b'])),
    )


def selected_by(delete, rule):
    """Whether an OpenFlow 1.3 DELETE(_STRICT) selects ``rule`` (spec 6.4)."""
    if rule.dpid != delete['dpid'] or delete['table_id'] not in (rule.table_id, ofp.OFPTT_ALL):
        return False
    if delete['strict']:
        chosen = (rule.priority, rule.match) == (delete['priority'], delete['match'])
    else:
        chosen = delete['match'].covers(rule.match)
    return (
        chosen
        and delete['app'] in (None, rule.app)
        and (rule.cookie & delete['cookie_mask']) == (delete['cookie'] & delete['cookie_mask'])
        and delete['out_port']
        in (ofp.OFPP_ANY,)
        + rule.output_ports
        + ((ofp.OFPP_CONTROLLER,) if rule.outputs_to_controller else ())
        and delete['out_group'] in (ofp.OFPG_ANY,) + rule.groups
    )


@SETTINGS
@given(
    rule_sets(st.one_of(tiny_matches(), tiny_matches().map(lambda m: TernaryMatch()))),
    st.lists(deletes(tiny_matches()), max_size=4),
)
def test_delete_matching_selects_as_openflow_does(rules, commands):
    model, index = installed(rules)
    for delete in commands:
        removed = index.delete_matching(**delete)
        expected = [rule for rule in model if selected_by(delete, rule)]
        assert keys(removed) == keys(expected)
        model = [rule for rule in model if rule not in expected]
        assert keys(index.rules_of('a') + index.rules_of('b') + index.rules_of('c')) == keys(model)


# --- hand cases --------------------------------------------------------------------------


def rule(match, actions=OUT1, priority=10, app='a', table_id=0, dpid=1, cookie=0):
    return Rule(
        app=app,
        dpid=dpid,
        table_id=table_id,
        priority=priority,
        match=match,
        actions=actions,
        cookie=cookie,
    )


def test_an_add_with_the_same_identity_replaces():
    index = RuleIndex()
    first = rule(M(in_port=1))
    assert index.add(first) is None
    # Same identity: the written prerequisite makes no difference.
    second = rule(M(eth_type=0x800, ipv4_dst='10.0.0.1'), app='b')
    index.add(second)
    third = rule(M(ipv4_dst='10.0.0.1'), OUT2, app='c')
    assert index.add(third) is second
    assert index.add(rule(M(in_port=1), OUT2, app='b')) is first
    assert (index.count(), index.count('a'), index.count('b'), index.count('c')) == (2, 0, 1, 1)
    assert index.get(1, 0, 10, M(in_port=1)).app == 'b'
    assert index.get(1, 0, 11, M(in_port=1)) is None
    assert index.remove(rule(M(in_port=1), app='z')).app == 'b'
    assert index.remove(rule(M(in_port=1))) is None
    assert index.count() == 1


def test_conflicts_are_with_other_apps_only():
    index = RuleIndex()
    index.add(rule(M(), TO_CONTROLLER, priority=0, app='l2'))
    index.add(rule(M(eth_type=0x800, ipv4_dst='10.0.0.0/8'), (), priority=100, app='acl'))
    index.add(rule(M(eth_type=0x806), OUT1, priority=100, app='acl'))
    proposal = rule(M(eth_type=0x800, ipv4_dst='10.1.0.0/16'), OUT2, priority=50, app='l2')
    assert [(r.priority, relation) for r, relation in index.conflicts(proposal)] == [
        (100, Relation.SHADOWED)
    ]
    assert len(index.overlapping(1, 0, proposal.match)) == 2
    assert index.conflicts(rule(M(), app='l2', table_id=3)) == []


def test_remove_switch_forgets_every_table():
    index = RuleIndex()
    for table_id in range(3):
        index.add(rule(M(in_port=table_id + 1), table_id=table_id))
    index.add(rule(M(in_port=1), dpid=2))
    assert len(index.remove_switch(1)) == 3
    assert index.count() == index.count(dpid=2) == 1 and index.count(dpid=1) == 0
    assert index.overlapping(1, 0, M()) == []


def test_delete_hand_cases():
    index = RuleIndex()
    web = rule(M(eth_type=0x800, ip_proto=6, tcp_dst=80), OUT1, cookie=0x0001_0005)
    ssh = rule(M(eth_type=0x800, ip_proto=6, tcp_dst=22), TO_CONTROLLER, cookie=0x0002_0005)
    any_ip = rule(M(eth_type=0x800), OUT2, priority=5, cookie=0x0001_0007)
    for r in (web, ssh, any_ip):
        index.add(r)
    tcp = M(eth_type=0x800, ip_proto=6)
    # Strict needs the exact match and priority: the more general rule is not touched.
    assert index.delete_matching(1, 0, tcp, strict=True, priority=10) == []
    assert index.delete_matching(1, 0, tcp, strict=False, out_port=ofp.OFPP_CONTROLLER) == [ssh]
    index.add(ssh)
    # Cookie bits outside the mask do not count.
    assert index.delete_matching(
        1, ofp.OFPTT_ALL, M(), cookie=0x0001_0000, cookie_mask=0xFFFF_0000
    ) == [web, any_ip]
    assert index.delete_matching(1, 0, ssh.match, strict=True, priority=10, app='b') == []
    assert index.delete_matching(1, 0, M(tcp_dst=22), app='a') == [ssh]
    with pytest.raises(ValueError, match='priority'):
        index.delete_matching(1, 0, M(), strict=True)


# --- timing record -----------------------------------------------------------------------


def realistic_table(size, global_acls=10, seed=1):
    """A RuleIndex of ``size`` rules in table 0 of switch 1 (module docstring)."""
    rnd = random.Random(seed)
    index = RuleIndex()
    learned = (size - 102) // 2
    for i in range(learned):
        mac, port = 0x0E0000000000 + i, 1 + i % 48
        index.add(rule(M(in_port=port, eth_src=mac), (('goto', 1),), 100, 'l2'))
        index.add(rule(M(eth_dst=mac), (('apply', (('output', port),)),), 90, 'l2'))
    index.add(rule(M(), TO_CONTROLLER, 0, 'l2'))
    index.add(rule(M(eth_type=0x88CC), TO_CONTROLLER, 0xFFFF, 'lldp'))
    for i in range(100):
        fields = dict(eth_type=0x800)
        if i >= global_acls:
            fields['in_port'] = 1 + i % 48
        length = rnd.choice([8, 16, 24, 32])
        fields[rnd.choice(['ipv4_src', 'ipv4_dst'])] = (
            rnd.getrandbits(32) >> (32 - length) << (32 - length),
            ((1 << length) - 1) << (32 - length),
        )
        if rnd.random() < 0.5:
            fields.update(ip_proto=6, tcp_dst=rnd.choice([22, 80, 443]))
        index.add(rule(M(**fields), () if i % 2 else OUT1, 1000 + i, 'acl'))
    return index


def time_conflicts(index, queries=2000, seed=2):
    """(p50 ms, p99 ms, mean conflicts found) of conflicts() of new learning rules."""
    rnd = random.Random(seed)
    proposals = [
        rule(M(in_port=rnd.randint(1, 48), eth_src=0x0F0000000000 + i), (('goto', 1),), 100, 'l2')
        for i in range(queries)
    ]
    times, found = [], 0
    for proposal in proposals:
        start = time.perf_counter()
        found += len(index.conflicts(proposal))
        times.append(time.perf_counter() - start)
    times.sort()
    return (times[len(times) // 2] * 1e3, times[len(times) * 99 // 100] * 1e3, found / queries)


def timing_lines(sizes):
    for size in sizes:
        for global_acls in (10, 100):
            start = time.perf_counter()
            index = realistic_table(size, global_acls)
            built = time.perf_counter() - start
            p50, p99, found = time_conflicts(index)
            yield (
                'conflicts() of a learning rule, %d rules, %d global ACL rules: p50 '
                '%.3f ms, p99 %.3f ms, %.1f conflicts each (built in %.1f s)'
                % (size, global_acls, p50, p99, found, built)
            )


if __name__ == '__main__':
    for text in timing_lines([int(arg) for arg in sys.argv[1:]] or [10_000, 100_000]):
        print(text)
