"""Checks of the repository's own scripts that need no hypervisor and no root:
shellcheck on every shell script and `vagrant validate` on the Vagrantfile. Both tools
are Debian packages that scripts/setup.sh installs; missing, they fail the test."""

import os
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def shell_scripts():
    """Tracked files that are shell scripts: *.sh, or a bash / sh shebang."""
    tracked = subprocess.run(
        ['git', 'ls-files'], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    found = []
    for path in tracked:
        full = os.path.join(REPO, path)
        if not os.path.isfile(full):
            continue
        with open(full, 'rb') as f:
            first = f.readline()
        if path.endswith('.sh') or (
            first.startswith(b'#!') and first.rstrip().endswith((b'bash', b'/sh'))
        ):
            found.append(path)
    return sorted(found)


def require(tool):
    if shutil.which(tool) is None:
        pytest.fail(
            '%s is not installed: run `sudo bash scripts/setup.sh` (it installs '
            'the Debian package)' % tool,
            pytrace=False,
        )


def test_there_are_shell_scripts_to_check():
    assert 'scripts/setup.sh' in shell_scripts() and '.ci/run' in shell_scripts()


def test_shellcheck_clean():
    require('shellcheck')
    result = subprocess.run(
        ['shellcheck', '--severity=style', *shell_scripts()],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_vagrantfile_validates(tmp_path):
    require('vagrant')
    env = dict(
        os.environ,
        VAGRANT_HOME=str(tmp_path / 'home'),
        VAGRANT_CHECKPOINT_DISABLE='1',
        VAGRANT_DOTFILE_PATH=str(tmp_path / 'dot'),
    )
    # No hypervisor here: --ignore-provider checks everything but the provider blocks.
    result = subprocess.run(
        ['vagrant', 'validate', '--ignore-provider'],
        cwd=os.path.join(REPO, 'vagrant'),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_architecture_doc_shows_the_example_app_as_it_is():
    """docs/architecture.md quotes examples/apps/ethertype_filter.py whole: they must
    not drift apart (tests/unit/test_app_startup.py runs the app)."""
    with open(os.path.join(REPO, 'examples', 'apps', 'ethertype_filter.py')) as f:
        app = f.read()
    with open(os.path.join(REPO, 'docs', 'architecture.md')) as f:
        assert '```python\n' + app + '```' in f.read()


def test_bench_modules_import_each_other_without_a_cycle():
    """bench/machine.py holds what the benchmarks and the report share, so no module
    needs a function-local import to dodge a cycle (function-local imports count)."""
    import ast

    import networkx as nx

    bench = os.path.join(REPO, 'bench')
    graph = nx.DiGraph()
    for name in os.listdir(bench):
        if not name.endswith('.py'):
            continue
        with open(os.path.join(bench, name)) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == 'bench':
                graph.add_edges_from((name[:-3], alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or '').startswith('bench.'):
                graph.add_edge(name[:-3], node.module.split('.')[1])
    assert graph.number_of_edges() > 5
    assert list(nx.simple_cycles(graph)) == []
