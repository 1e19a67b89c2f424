"""controller/config: what the VLAN policy and the arbiter's policy share, on its own:
the error format, the strict integer of the schemas, the words for values, the file
watch and FrozenDict. (The YAML source is tested through both loaders:
test_vswitch_errors.py, test_arbiter_policy.py.)"""

import os

import pytest

from controller.config import ConfigError, ConfigIssue
from controller.config.frozen import FrozenDict
from controller.config.schema import describe, parse_int, strict_validator
from controller.config.watch import FileWatch


def test_issues_print_as_file_line_column_path_message_sorted_by_line():
    error = ConfigError(
        [
            ConfigIssue('p.yaml', 3, 5, 'dps.s1', 'late'),
            ConfigIssue('p.yaml', 1, None, '', 'early'),
            ConfigIssue('p.yaml', None, None, '', 'cannot read'),
        ]
    )
    assert [str(issue) for issue in error.errors] == [
        'p.yaml: cannot read',
        'p.yaml:1: early',
        'p.yaml:3:5: dps.s1: late',
    ]
    assert str(error) == 'p.yaml: cannot read\np.yaml:1: early\np.yaml:3:5: dps.s1: late'
    assert isinstance(error, ValueError)


def test_an_integer_is_an_int_not_a_float_or_a_boolean():
    validator = strict_validator({'type': 'integer'})
    assert validator.is_valid(1)
    assert not validator.is_valid(1.0) and not validator.is_valid(True)


@pytest.mark.parametrize('value, number', [(7, 7), ('0x1F', 31), (' 12 ', 12)])
def test_parse_int(value, number):
    assert parse_int(value) == number


@pytest.mark.parametrize('value', [True, 1.0, '1e3', '-1', None])
def test_parse_int_refuses(value):
    with pytest.raises(ValueError):
        parse_int(value)


@pytest.mark.parametrize(
    'value, words',
    [
        (None, 'nothing (null)'),
        (False, 'the boolean false'),
        (3, 'the integer 3'),
        (1.5, 'the number 1.5'),
        ('x', "the string 'x'"),
        ([], 'a list'),
        ({}, 'a mapping'),
        (b'x', 'a bytes'),
    ],
)
def test_describe(value, words):
    assert describe(value) == words


def test_file_watch_sees_a_change_once_and_a_file_that_vanishes_or_comes_back(tmp_path):
    path = tmp_path / 'policy.yaml'
    path.write_text('a: 1\n')
    watch = FileWatch(str(path))
    assert not watch.changed()
    stamp = os.stat(path).st_mtime_ns + 10**9
    os.utime(path, ns=(stamp, stamp))
    assert watch.changed() and not watch.changed()
    path.unlink()
    assert watch.changed() and not watch.changed()
    path.write_text('a: 2\n')
    assert watch.changed()


def test_frozen_dict_is_a_hashable_mapping_equal_to_a_dict():
    frozen = FrozenDict([(2, 'b'), (1, 'a')])
    assert list(frozen) == [2, 1] and len(frozen) == 2 and frozen[1] == 'a'
    assert frozen == {1: 'a', 2: 'b'} and frozen != {1: 'a'}
    assert frozen.__eq__(3) is NotImplemented
    assert hash(frozen) == hash(FrozenDict({1: 'a', 2: 'b'}))
    assert repr(frozen) == "FrozenDict({2: 'b', 1: 'a'})"
    with pytest.raises(TypeError):
        frozen[3] = 'c'
