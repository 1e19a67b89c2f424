"""Checks of the code itself: every public function of controller/ and apps/ is typed,
mypy finds nothing in them, and ruff (lint and format, configured in pyproject.toml)
finds nothing in the tree. The tools come with the ``lint`` extra that scripts/setup.sh
installs; missing, they fail the test.

``python -m tests.unit.test_code_checks [FILE ...]`` lists the public functions that
lack annotations (in the given files, or in all of controller/ and apps/).
"""

import ast
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TYPED_PACKAGES = ('controller', 'apps', 'examples/apps')


def typed_sources():
    """The Python files whose public functions must be typed."""
    found = []
    for package in TYPED_PACKAGES:
        for folder, _, files in os.walk(os.path.join(REPO, package)):
            found += [os.path.join(folder, f) for f in files if f.endswith('.py')]
    return sorted(found)


def _is_public(name):
    return not name.startswith('_') or name == '__init__'


def untyped_functions(path):
    """``file:line: name`` of each public function or method of ``path`` that lacks a
    parameter annotation (self and cls aside) or, except for __init__, a return one."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    problems = []

    def visit(node, owner, public):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, child.name + '.', public and _is_public(child.name))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if public and _is_public(child.name):
                    missing = _missing_annotations(child, is_method=bool(owner))
                    if missing:
                        problems.append(
                            '%s:%d: %s%s lacks annotations for %s'
                            % (
                                os.path.relpath(path, REPO),
                                child.lineno,
                                owner,
                                child.name,
                                ', '.join(missing),
                            )
                        )

    visit(tree, '', True)
    return problems


def _missing_annotations(func, is_method):
    args = func.args
    params = args.posonlyargs + args.args + args.kwonlyargs
    if is_method and params and params[0].arg in ('self', 'cls'):
        params = params[1:]
    params += [a for a in (args.vararg, args.kwarg) if a is not None]
    missing = [p.arg for p in params if p.annotation is None]
    if func.returns is None and func.name != '__init__':
        missing.append('return')
    return missing


def _tool(name):
    here = os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(here):
        pytest.fail(
            '%s is not installed in this environment: run `sudo bash '
            'scripts/setup.sh` (it installs the lint extra)' % name,
            pytrace=False,
        )
    return here


def test_every_public_function_is_typed():
    problems = [p for path in typed_sources() for p in untyped_functions(path)]
    assert not problems, '\n'.join(problems)


def test_mypy_clean():
    result = subprocess.run([_tool('mypy')], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_lint_clean():
    result = subprocess.run(
        [_tool('ruff'), 'check', '--no-cache', '.'], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_clean():
    result = subprocess.run(
        [_tool('ruff'), 'format', '--no-cache', '--check', '.'],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


if __name__ == '__main__':
    paths = [os.path.abspath(p) for p in sys.argv[1:]] or typed_sources()
    found = [p for path in paths for p in untyped_functions(path)]
    print('\n'.join(found) or 'every public function is typed')
    sys.exit(1 if found else 0)
