"""Policy files read within bounds (controller/config/yaml_source.py's read_bounded, used
by both loaders): regular files only, a size limit checked before and while reading;
libyaml's composer gives what the Python reader gives; a load run off the event loop
(controller/config/offload.py) leaves green threads running; a file replaced in place
is seen as changed."""

import gc
import os
import threading
import time

import pytest
from ryu.lib import hub

from controller.arbiter.policy import load_arbiter_policy
from controller.config import ConfigError, offload, yaml_source
from controller.config.offload import off_loop
from controller.config.watch import FileWatch
from controller.config.yaml_source import YamlSource, read_bounded
from controller.vswitch import load_policy, load_policy_text
from tests.harness.controller import REPO
from tests.harness.large_policies import THREE_TENANTS, large_arbiter_policy, large_vswitch_policy

LOADERS = [
    pytest.param(load_policy, THREE_TENANTS, id='vswitch'),
    pytest.param(
        load_arbiter_policy,
        os.path.join(REPO, 'examples', 'arbiter', 'firewall_then_switch.yaml'),
        id='arbiter',
    ),
]


def refusal(load, path, *args):
    with pytest.raises(ConfigError) as caught:
        load(str(path), *args)
    [issue] = caught.value.errors
    assert issue.file == str(path)
    return issue.message


@pytest.mark.parametrize('load, good', LOADERS)
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path, load, good):
    fifo = tmp_path / 'policy.yaml'
    os.mkfifo(fifo)
    started = time.monotonic()
    assert refusal(load, fifo) == (
        'cannot read the file: it is a FIFO (named pipe), not a regular file'
    )
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize('load, good', LOADERS)
def test_a_link_to_dev_zero_is_refused_naming_the_device(tmp_path, load, good):
    link = tmp_path / 'policy.yaml'
    link.symlink_to('/dev/zero')
    assert refusal(load, link) == (
        'cannot read the file: it is a character device (a '
        'symbolic link to /dev/zero), not a regular file'
    )


def test_a_directory_and_a_missing_file_are_refused(tmp_path):
    assert refusal(load_policy, tmp_path) == (
        'cannot read the file: it is a directory, not a regular file'
    )
    assert refusal(load_policy, tmp_path / 'gone.yaml') == (
        'cannot read the file: No such file or directory'
    )


@pytest.mark.parametrize('load, good', LOADERS)
def test_a_file_over_the_limit_is_refused_with_its_size_and_the_limit(tmp_path, load, good):
    path = tmp_path / 'policy.yaml'
    path.write_bytes(open(good, 'rb').read())
    size = path.stat().st_size
    assert refusal(load, path, size - 1) == (
        'cannot read the file: it is %d bytes, over the limit of %d bytes' % (size, size - 1)
    )
    load(str(path), size)  # exactly the limit is allowed


def test_the_default_limit_is_4_mib(tmp_path):
    path = tmp_path / 'policy.yaml'
    path.write_bytes(b'#' * (4 * 1024 * 1024 + 1))
    assert refusal(load_policy, path).endswith('over the limit of 4194304 bytes')


def test_a_file_that_grows_while_read_is_cut_at_the_limit(tmp_path):
    # /proc files say they are empty and are not: they grow as far as the reader goes.
    link = tmp_path / 'policy.yaml'
    link.symlink_to('/proc/self/maps')
    assert refusal(read_bounded, link, 100).startswith(
        'cannot read the file: it grew past the limit of 100 bytes while it was read'
    )


def test_a_file_that_grows_after_its_size_was_looked_at(tmp_path, monkeypatch):
    path = tmp_path / 'policy.yaml'
    path.write_bytes(b'a: 1\n' * 100)
    real_stat = os.stat

    def small_then(path_, *args, **kwargs):  # the size seen before another writer appends
        info = real_stat(path_, *args, **kwargs)
        return os.stat_result(
            (
                info.st_mode,
                info.st_ino,
                info.st_dev,
                info.st_nlink,
                info.st_uid,
                info.st_gid,
                10,
                info.st_atime,
                info.st_mtime,
                info.st_ctime,
            )
        )

    monkeypatch.setattr(yaml_source.os, 'stat', small_then)
    assert 'grew past the limit of 100 bytes' in refusal(read_bounded, path, 100)


def test_the_contents_within_the_limit_are_read_whole(tmp_path):
    path = tmp_path / 'policy.yaml'
    path.write_bytes(b'x' * 3000000)
    assert read_bounded(str(path), 3000000) == b'x' * 3000000


def test_the_check_command_refuses_a_fifo_and_an_oversize_file(tmp_path, capsys):
    from controller.vswitch.cli import EXIT_USAGE, main

    fifo = tmp_path / 'fifo.yaml'
    os.mkfifo(fifo)
    assert main([str(fifo)]) == EXIT_USAGE
    assert 'FIFO' in capsys.readouterr().err
    assert main([THREE_TENANTS, '--max-bytes', '100']) == EXIT_USAGE
    assert 'over the limit of 100 bytes' in capsys.readouterr().err


# --- libyaml and the Python reader agree -------------------------------------------------


def _read(text, monkeypatch, libyaml):
    with monkeypatch.context() as patch:
        if not libyaml:
            patch.setattr(yaml_source, '_LibyamlLoader', None)
        source = YamlSource('p.yaml')
        return source.read(text), source


@pytest.mark.skipif(yaml_source._LibyamlLoader is None, reason='PyYAML without libyaml')
@pytest.mark.parametrize(
    'name', ['policies/three_tenants.yaml', 'arbiter/firewall_then_switch.yaml']
)
def test_libyaml_composes_what_the_python_reader_composes(monkeypatch, name):
    with open(os.path.join(REPO, 'examples', name)) as f:
        text = f.read() + 'quoted: "0x800"\nplain: 0x800\nanchored: &a [1, {b: *a}]\n'
    fast_ok, fast = _read(text, monkeypatch, libyaml=True)
    slow_ok, slow = _read(text, monkeypatch, libyaml=False)
    assert fast_ok and slow_ok
    assert fast.data == slow.data and fast.keys == slow.keys and fast.plain == slow.plain
    assert fast.issues == slow.issues
    place = {path: (mark.line, mark.column) for path, mark in slow.value_marks.items()}
    assert {path: (mark.line, mark.column) for path, mark in fast.value_marks.items()} == place


@pytest.mark.parametrize(
    'text',
    [
        'dps: {a: [1, 2}\n',  # libyaml words it otherwise
        'dps: {s: "\x07"}\n',  # a character libyaml refuses later
        '[' * 100000 + ']' * 100000,  # deeper than the recursion limit
    ],
)
def test_a_file_libyaml_refuses_is_reported_as_the_python_reader_words_it(monkeypatch, text):
    _, fast = _read(text, monkeypatch, libyaml=True)
    _, slow = _read(text, monkeypatch, libyaml=False)
    assert fast.issues and fast.issues == slow.issues


# --- off the event loop ------------------------------------------------------------------


def _largest_gap_while(load, *args):
    """The longest a green thread ticking every 10 ms waited while ``load(*args)`` ran,
    and the load's result."""
    gaps = []

    def ticker():
        last = time.monotonic()
        while True:
            hub.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    thread = hub.spawn(ticker)
    hub.sleep(0.05)
    gaps.clear()
    try:
        result = load(*args)
        hub.sleep(0.05)
    finally:
        hub.kill(thread)
    return max(gaps), len(gaps), result


@pytest.mark.parametrize(
    'build, load',
    [(large_vswitch_policy, load_policy), (large_arbiter_policy, load_arbiter_policy)],
    ids=['vswitch', 'arbiter'],
)
def test_a_large_policy_loads_while_green_threads_keep_running(
    tmp_path, build, load, record_property
):
    path = tmp_path / 'large.yaml'
    path.write_text(build(512 * 1024))
    started = time.monotonic()
    largest, ticks, policy = _largest_gap_while(off_loop, load, str(path))
    took = time.monotonic() - started
    record_property('load_seconds_512k', round(took, 2))
    record_property('largest_event_loop_gap_s', round(largest, 3))
    assert policy is not None
    assert largest < 0.5, 'the event loop waited %.2f s during a %.1f s load' % (largest, took)
    assert ticks > took / 0.01 / 4  # it ran all along, not only before and after


def test_a_load_that_fails_off_the_loop_raises_here_and_resumes_the_collector(tmp_path):
    assert gc.isenabled()
    with pytest.raises(ConfigError):
        off_loop(load_policy, str(tmp_path / 'gone.yaml'))
    assert gc.isenabled() and offload._running == 0


def test_the_collector_stays_paused_until_the_last_of_two_loads_ends():
    release = threading.Event()
    seen = []

    def first():
        release.wait(5)
        return 1

    def second():
        seen.append(gc.isenabled())
        return 2

    one = hub.spawn(off_loop, first)
    hub.sleep(0.05)
    assert not gc.isenabled()
    assert off_loop(second) == 2 and seen == [False]
    assert not gc.isenabled()  # the first load still runs
    release.set()
    assert one.wait() == 1 and gc.isenabled()


def test_the_python_reader_alone_still_loads_the_large_policy(tmp_path, monkeypatch):
    monkeypatch.setattr(yaml_source, '_LibyamlLoader', None)
    policy = load_policy_text(large_vswitch_policy(64 * 1024))
    assert policy.rule_count > 500


# --- the file watch ------------------------------------------------------------------------


def test_a_file_replaced_with_the_same_time_and_size_is_a_change(tmp_path):
    path = tmp_path / 'policy.yaml'
    path.write_text('a: 1\n')
    stamp = path.stat().st_mtime_ns
    watch = FileWatch(str(path))
    other = tmp_path / 'new.yaml'
    other.write_text('a: 2\n')
    os.utime(other, ns=(stamp, stamp))
    os.replace(other, path)
    assert watch.changed() and not watch.changed()
