"""FAUCET's include and include-optional (issue 15): a tree of files read as one policy,
paths relative to the including file, every error at its own file and line, loops and
double includes refused naming the including file, and the reload watch on every file."""

import os

import pytest

from controller.config import ConfigError
from controller.vswitch import load_policy
from controller.vswitch.include import FilesWatch

DP = 'dps: {s1: {dp_id: 1, interfaces: {1: {native_vlan: 100}}}}\n'


def write(root, name, text):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def errors(path):
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    return [(os.path.basename(e.file), e.line, e.path, e.message) for e in caught.value.errors]


@pytest.fixture
def tree(tmp_path):
    """faucet.yaml -> conf/vlans.yaml -> conf/acls.yaml (relative to conf/), and an
    optional conf/local.yaml that is not there."""
    root = write(
        tmp_path,
        'faucet.yaml',
        'include: [conf/vlans.yaml]\n'
        'include-optional: [conf/local.yaml]\n'
        'dps:\n'
        '  s1:\n'
        '    dp_id: 1\n'
        '    interfaces: {1: {native_vlan: office, acls_in: [web]}}\n',
    )
    write(tmp_path, 'conf/vlans.yaml', 'include: [acls.yaml]\nvlans:\n  office: {vid: 100}\n')
    write(tmp_path, 'conf/acls.yaml', 'acls:\n  web:\n    - rule: {actions: {allow: 1}}\n')
    return tmp_path, root


def test_a_tree_of_includes_is_one_policy(tree):
    tmp_path, root = tree
    policy = load_policy(root)
    assert policy.dps['s1'].interfaces[1].native_vlan.vid == 100
    assert list(policy.acls) == ['web']
    assert policy.files == (
        root,
        str(tmp_path / 'conf/vlans.yaml'),
        str(tmp_path / 'conf/acls.yaml'),
        str(tmp_path / 'conf/local.yaml'),  # optional, not there: watched all the same
    )


def test_errors_are_reported_in_the_file_that_has_them(tree):
    tmp_path, root = tree
    write(tmp_path, 'conf/vlans.yaml', 'include: [acls.yaml]\nvlans:\n  office: {vid: 5000}\n')
    write(tmp_path, 'conf/acls.yaml', 'acls:\n  web:\n    - rule: {tcp_dst: 80, actions: {}}\n')
    found = errors(root)
    assert sorted((f, line, path) for f, line, path, _ in found) == [
        ('acls.yaml', 3, 'acls.web.0.rule.actions'),
        ('acls.yaml', 3, 'acls.web.0.rule.tcp_dst'),
        ('vlans.yaml', 3, 'vlans.office.vid'),
    ]


def test_an_include_loop_names_the_including_file_and_line(tmp_path):
    root = write(
        tmp_path,
        'a.yaml',
        'include: [b.yaml]\ndps: {s1: {dp_id: 1, interfaces: {1: {native_vlan: 100}}}}\n',
    )
    b = write(tmp_path, 'b.yaml', 'vlans: {v: {vid: 100}}\ninclude: [a.yaml]\n')
    assert errors(root) == [
        (
            'b.yaml',
            2,
            'include.0',
            'include loop: %s includes %s includes %s' % (root, b, str(tmp_path / 'a.yaml')),
        )
    ]


def test_a_file_included_twice_is_refused_as_faucet_does(tmp_path):
    root = write(
        tmp_path,
        'faucet.yaml',
        'include: [b.yaml, c.yaml]\ndps: {s1: {dp_id: 1, interfaces: {1: {native_vlan: 100}}}}\n',
    )
    write(tmp_path, 'b.yaml', 'include: [d.yaml]\n')
    write(tmp_path, 'c.yaml', 'acls: {}\ninclude: [d.yaml]\n')
    write(tmp_path, 'd.yaml', 'vlans: {v: {vid: 100}}\n')
    [(name, line, path, message)] = errors(root)
    assert (name, line, path) == ('c.yaml', 2, 'include.0')
    assert message == '%s is already included (by %s:1)' % (
        tmp_path / 'd.yaml',
        tmp_path / 'b.yaml',
    )


def test_a_missing_required_include_is_an_error_an_optional_one_is_not(tmp_path):
    root = write(
        tmp_path,
        'faucet.yaml',
        'include-optional: [nothing.yaml]\n'
        'include:\n  - absent.yaml\n'
        'dps: {s1: {dp_id: 1, interfaces: {1: {native_vlan: 100}}}}\n',
    )
    [(name, line, path, message)] = errors(root)
    assert (name, line, path) == ('faucet.yaml', 3, 'include.0')
    assert message.startswith(
        'the included file %s: cannot read the file' % (tmp_path / 'absent.yaml')
    )


def test_an_entry_defined_in_two_files_names_both(tree):
    tmp_path, root = tree
    write(tmp_path, 'conf/local.yaml', 'vlans:\n  guest: {vid: 200}\n  office: {vid: 101}\n')
    [(name, line, path, message)] = errors(root)
    assert (name, line, path) == ('local.yaml', 3, 'vlans.office')
    assert message == (
        'vlans.office is already defined in %s:3; FAUCET would silently keep only the last one'
        % (tmp_path / 'conf/vlans.yaml')
    )


def test_bad_include_values(tmp_path):
    root = write(
        tmp_path,
        'faucet.yaml',
        'include: conf.yaml\ninclude-optional: [3]\n' + DP,
    )
    assert [(line, path, message) for _, line, path, message in errors(root)] == [
        (1, 'include', "expected a list of file names; got the string 'conf.yaml'"),
        (2, 'include-optional.0', 'expected a file name'),
    ]


def test_the_watch_sees_a_change_to_any_included_file(tree):
    tmp_path, root = tree
    policy = load_policy(root)
    watch = FilesWatch((root,))
    watch.follow(policy.files)
    assert not watch.changed()
    write(tmp_path, 'conf/acls.yaml', 'acls:\n  web:\n    - rule: {actions: {allow: 0}}\n')
    assert watch.changed() and not watch.changed()
    write(tmp_path, 'conf/local.yaml', 'vlans: {guest: {vid: 200}}\n')  # the optional appears
    assert watch.changed()
    watch.follow((root,))  # a policy without includes: only its file
    write(tmp_path, 'conf/acls.yaml', 'acls: {}\n')
    assert not watch.changed()
