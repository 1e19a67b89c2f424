"""controller/arbiter/policy.py: the arbiter's YAML policy, loaded into values, every
mistake reported at its file:line:col."""

import pytest

from controller.arbiter.match import TernaryMatch
from controller.arbiter.policy import (
    RIGHTS,
    UNKNOWN_APP,
    load_arbiter_policy,
    load_arbiter_policy_text,
)
from controller.config import ConfigError

FULL = """\
order: [rest_firewall, simple_switch_13]
pipeline:
  - [rest_firewall]
  - [simple_switch_13]
apps:
  rest_firewall: {security: true}
  steer:
    flowspace:
      - {eth_type: 0x800, ipv4_dst: 10.0.0.0/24}
    may: [output]
    max_rules: 2
    flow_mod_rate: 5
overrides:
  - {match: {eth_type: 0x800, ipv4_dst: 10.0.0.9}, winner: steer, dpid: 1}
damping: {half_life: 10}
topology:
  links: [[1, 2, 2, 1]]
  hosts: {h1: {dpid: 1, port: 1, ip: 10.0.0.1}, h2: {dpid: 2, port: 2, ip: 10.0.0.2}}
invariants:
  isolation: [[h1, h2]]
"""


def errors(text):
    with pytest.raises(ConfigError) as caught:
        load_arbiter_policy_text(text, 'p.yaml')
    return [str(e) for e in caught.value.errors]


def test_a_full_policy_loads_into_values():
    policy = load_arbiter_policy_text(FULL, 'p.yaml')
    assert policy.order == ('rest_firewall', 'simple_switch_13')
    assert (
        policy.rank('rest_firewall')
        < policy.rank('simple_switch_13')
        < policy.rank('anyone')
        < policy.rank(UNKNOWN_APP)
    )
    steer = policy.app('steer')
    assert steer.may == {'output'} and steer.max_rules == 2
    assert steer.flow_mod_rate == 5.0 and steer.flow_mod_burst == 5
    ((fields, region),) = steer.flowspace
    assert region == TernaryMatch.of(eth_type=0x800, ipv4_dst=('10.0.0.0', '255.255.255.0'))
    assert policy.app('rest_firewall').security
    assert policy.app('unlisted').may == set(RIGHTS)
    (override,) = policy.overrides
    assert override.winner == 'steer' and override.dpid == 1
    assert policy.damping.half_life == 10 and policy.damping.suppress == 2000
    assert policy.links == ((1, 2, 2, 1),)
    assert policy.invariants.isolation == (('h1', 'h2'),)
    assert policy.cite('order') == 'order (p.yaml:1)'
    assert policy.cite('apps.steer.max_rules') == 'apps.steer.max_rules (p.yaml:11)'


def test_pipeline_stages_give_each_app_its_tables():
    policy = load_arbiter_policy_text(FULL)
    assert policy.stage_of('rest_firewall') == (0, 0, 1)  # NORMAL -> table 1
    assert policy.stage_of('simple_switch_13') == (1, 1, None)
    assert policy.stage_of('other') == (None, 0, None)  # untouched
    wide = load_arbiter_policy_text('pipeline: [[a, b], [c]]\napps: {b: {tables: 3}}\n')
    assert wide.stage_of('a') == (0, 0, 3) and wide.stage_of('c') == (1, 3, None)


def test_an_empty_file_is_the_default_policy():
    policy = load_arbiter_policy_text('# nothing yet\n', 'p.yaml')
    assert policy.order == () and policy.rank('a') == policy.rank('b')


def test_every_mistake_is_reported_at_its_place():
    found = errors("""\
order: [a, a]
pipeline: [[x], [x, y]]
apps:
  a: {securty: true, max_rules: -1, may: [fly]}
  b:
    flowspace:
      - {tcp_dst: 80}
      - {ipv4_dst: 10.0.0.1/24}
overrides:
  - {match: {eth_type: 0x800}, winner: nobody}
damping: {reuse: 3000}
invariants:
  isolation: [[h1, h9]]
unknown: maybe
""")
    expected = [
        "p.yaml:1:12: order.1: app 'a' is listed twice",
        "p.yaml:2:18: pipeline.1.0: app 'x' is in stage 0 already",
        "p.yaml:4:7: apps.a.securty: unknown key 'securty'",
        'p.yaml:4:33: apps.a.max_rules: -1 is out of range',
        "p.yaml:4:43: apps.a.may.0: expected one of drop, output, modify, controller",
        'p.yaml:7:19: apps.b.flowspace.0.tcp_dst: tcp_dst matches IP traffic but does '
        'not say IPv4 or IPv6',
        'p.yaml:8:20: apps.b.flowspace.1.ipv4_dst: 10.0.0.1/24 has host bits set',
        "p.yaml:10:40: overrides.0.winner: unknown app 'nobody'",
        'p.yaml:11:18: damping.reuse: reuse (3000) must be below suppress (2000)',
        "p.yaml:13:16: invariants.isolation.0.0: unknown host 'h1'",
        "p.yaml:13:20: invariants.isolation.0.1: unknown host 'h9'",
        "p.yaml:14:10: unknown: expected 'lowest' or 'refuse'",
    ]
    assert len(found) == len(expected), found
    for message, start in zip(found, expected, strict=True):
        assert message.startswith(start), (message, start)


def test_yaml_syntax_and_types_are_errors_with_places():
    assert errors('order: [a\n') == [
        "p.yaml:2:1: YAML syntax error: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence at line 1)"
    ]
    assert errors('order: a\nexplain: 1\n') == [
        'p.yaml:1:8: order: expected a list of app names, the winner first; got the string \'a\'',
        "p.yaml:2:1: explain: unknown key 'explain'; expected one of order, pipeline, "
        'apps, overrides, damping, topology, invariants, unknown, voting',
    ]
    assert errors('apps: {a: {max_rules: 1.0}}\n') == [
        'p.yaml:1:23: apps.a.max_rules: expected the most rules per switch, an integer '
        '>= 0; got the number 1.0'
    ]


def test_an_unreadable_file_is_a_policy_error(tmp_path):
    with pytest.raises(ConfigError, match='cannot read the file'):
        load_arbiter_policy(str(tmp_path / 'missing.yaml'))
    (tmp_path / 'ok.yaml').write_text('order: [a]\n')
    assert load_arbiter_policy(str(tmp_path / 'ok.yaml')).order == ('a',)


def test_the_policies_of_the_tests_and_docs_load():
    import glob
    import os

    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = glob.glob(os.path.join(tests, 'mininet', 'arbiter', '*.yaml')) + glob.glob(
        os.path.join(os.path.dirname(tests), 'examples', 'arbiter', '*.yaml')
    )
    assert len(paths) >= 3
    for path in paths:
        load_arbiter_policy(path)


def test_a_relative_policy_path_is_found_beside_the_config_file(tmp_path, monkeypatch):
    from controller.arbiter.policy import policy_path

    (tmp_path / 'conf').mkdir()
    (tmp_path / 'conf' / 'p.yaml').write_text('order: [a]\n')
    config = str(tmp_path / 'conf' / 'arbiter.conf')
    monkeypatch.chdir(tmp_path)
    assert policy_path('p.yaml', [config]) == str(tmp_path / 'conf' / 'p.yaml')
    assert policy_path('conf/p.yaml', [config]) == 'conf/p.yaml'  # from the cwd first
    assert policy_path('missing.yaml', [config]) == 'missing.yaml'  # the loader says so
    assert policy_path(None, [config]) is None


def test_a_value_yaml_could_not_read_gets_one_message():
    """The loader shared with the VLAN policy (controller/config/yaml_source.py): where
    reading the YAML failed, the schema's view of the leftover null is not added."""
    found = errors('order: !!binary abc\napps: {x: {tables: !!int abc}}\n')
    assert found == [
        "p.yaml:1:8: order: YAML: failed to decode base64 data: Incorrect padding",
        "p.yaml:2:20: apps.x.tables: YAML: 'abc' is not a valid !!int",
    ]
