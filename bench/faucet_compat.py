"""How many of FAUCET's own configs our policy checker loads unchanged, with FAUCET's
``check_faucet_config`` as the oracle (issue 15).

    python -m bench.faucet_compat /tmp/faucet-src        # a FAUCET source checkout
    # (SDN_BENCH_FAUCET_VENV=/path/to/venv for a FAUCET venv other than bench/.faucet-venv)

The configs are read from the checkout at run time, none is kept in this repo:

- the YAML strings of FAUCET's unit tests (tests/unit/**/*.py, clib/*.py): every string
  expression the tests build (constants, ``+``, ``%``, ``.format()``, f-strings over
  the module and class constants they use) that is a YAML mapping with ``dps``;
- the ``code-block:: yaml`` blocks of its docs (docs/**/*.rst) with ``dps``;
- the YAML files of etc/faucet/ and docs/ with ``dps`` (read where they are, so their
  includes resolve).

Each config is written to its own file, checked by FAUCET's ``check_config`` (in the
FAUCET venv, one process for all) and by ``load_policy`` (what ``sdn-policy-check``
runs). The figure is the share of the configs FAUCET accepts that we accept; a config
FAUCET refuses and we accept is counted apart (it must be none). Our refusals are
grouped by reason. Written to bench/results/faucet_compat.json, and a table printed.
"""

import argparse
import ast
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from collections import Counter
from dataclasses import dataclass
from typing import Any

import yaml

from bench import faucet

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULT = os.path.join(REPO, 'bench', 'results', 'faucet_compat.json')

# Run inside FAUCET's venv: FAUCET's own check_config on each path read from stdin, one
# JSON line per path (its first error, as FAUCET reports only that).
_ORACLE = r'''
import io, json, logging, sys
from faucet.check_faucet_config import check_config
for path in sys.stdin.read().split('\n'):
    if not path:
        continue
    out = io.StringIO()
    try:
        ok = check_config([path], logging.CRITICAL, out)
        error = '' if ok else out.getvalue().strip()
    except Exception as exc:  # FAUCET crashing on a config is a refusal too
        ok, error = False, '%s: %s' % (type(exc).__name__, exc)
    print(json.dumps({'path': path, 'accepted': bool(ok), 'error': error[:500]}), flush=True)
'''


@dataclass(frozen=True)
class Sample:
    """One FAUCET config: where it comes from (file:line in the checkout) and its text,
    or the path of a YAML file checked in place."""

    origin: str
    text: str
    path: str | None = None


# --- extraction ------------------------------------------------------------------------


class _Unknown(Exception):
    """An expression that is not a string built from known constants."""


def _evaluate(node: ast.AST, env: dict[str, Any]) -> Any:
    """The value of a string expression of the tests, or _Unknown."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float)):
        return node.value
    if isinstance(node, ast.Name) and node.id in env:
        return env[node.id]
    if isinstance(node, ast.Attribute) and node.attr in env:  # self.CONFIG, cls.X
        return env[node.attr]
    if isinstance(node, ast.Tuple):
        return tuple(_evaluate(item, env) for item in node.elts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        left, right = _evaluate(node.left, env), _evaluate(node.right, env)
        try:
            return left + right if isinstance(node.op, ast.Add) else left % right
        except (TypeError, ValueError, KeyError) as error:
            raise _Unknown() from error
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                parts.append(str(_evaluate(value.value, env)))
            else:
                parts.append(str(_evaluate(value, env)))
        return ''.join(parts)
    if isinstance(node, ast.Call):
        return _evaluate_call(node, env)
    raise _Unknown()


def _evaluate_call(node: ast.Call, env: dict[str, Any]) -> Any:
    func = node.func
    args = [_evaluate(arg, env) for arg in node.args]
    kwargs = {kw.arg: _evaluate(kw.value, env) for kw in node.keywords if kw.arg}
    if len(kwargs) != len(node.keywords):
        raise _Unknown()
    if isinstance(func, ast.Attribute) and func.attr in ('format', 'strip', 'lstrip', 'rstrip'):
        target = _evaluate(func.value, env)
        if not isinstance(target, str):
            raise _Unknown()
        try:
            return getattr(target, func.attr)(*args, **kwargs)
        except (IndexError, KeyError, ValueError) as error:
            raise _Unknown() from error
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, 'id', None)
    if name == 'dedent' and len(args) == 1 and isinstance(args[0], str):
        return textwrap.dedent(args[0])
    raise _Unknown()


def _bind(env: dict[str, Any], target: ast.AST, value: Any) -> None:
    if isinstance(target, ast.Name):
        env[target.id] = value
    elif isinstance(target, ast.Attribute):
        env[target.attr] = value


def _assign(statement: ast.stmt, env: dict[str, Any]) -> None:
    """Bind the targets of an assignment whose value evaluates over ``env``."""
    if not isinstance(statement, ast.Assign):
        return
    try:
        value = _evaluate(statement.value, env)
    except _Unknown:
        return
    for target in statement.targets:
        _bind(env, target, value)


def _constants(tree: ast.Module) -> dict[str, Any]:
    """The module's and its classes' names bound to strings (or numbers) that evaluate."""
    env: dict[str, Any] = {}
    bodies = [tree.body] + [n.body for n in tree.body if isinstance(n, ast.ClassDef)]
    for body in bodies:
        for statement in body:
            _assign(statement, env)
    return env


def python_strings(source: str, env: dict[str, Any]) -> list[tuple[int, str]]:
    """(line, value) of every outermost string expression of ``source`` that evaluates
    over ``env`` (the shared constants) and the assignments before it in its scope."""
    found: list[tuple[int, str]] = []

    def visit_body(body: list[ast.stmt], scope: dict[str, Any]) -> None:
        for statement in body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit_body(statement.body, dict(scope))
                continue
            found.extend(_outermost_strings(statement, scope))
            _assign(statement, scope)
            for field in ('body', 'orelse', 'finalbody'):
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    visit_body(inner, scope)
            for handler in getattr(statement, 'handlers', ()):
                visit_body(handler.body, scope)

    visit_body(ast.parse(source).body, dict(env))
    return found


def _outermost_strings(statement: ast.stmt, scope: dict[str, Any]) -> list[tuple[int, str]]:
    """The strings of ``statement``'s own expressions (not those of nested blocks)."""
    found = []
    stack = [
        value
        for field, value in ast.iter_fields(statement)
        if field not in ('body', 'orelse', 'finalbody', 'handlers')
    ]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, ast.AST):
            continue
        if isinstance(item, (ast.Name, ast.Attribute)):
            continue  # a reference: its value was found where it was built
        if isinstance(item, ast.expr):
            try:
                value = _evaluate(item, scope)
            except (_Unknown, RecursionError):
                value = None
            if isinstance(value, str):
                found.append((item.lineno, value))
                continue
        stack.extend(value for _, value in ast.iter_fields(item))
    return found


_YAML_BLOCK = re.compile(r'^(\s*)\.\. (?:code-block|code|sourcecode):: *yaml\s*$')


def rst_yaml_blocks(text: str) -> list[tuple[int, str]]:
    """(line, text) of the ``code-block:: yaml`` blocks of an RST document."""
    lines = text.expandtabs(8).split('\n')
    blocks = []
    index = 0
    while index < len(lines):
        start = _YAML_BLOCK.match(lines[index])
        index += 1
        if not start:
            continue
        indent = len(start.group(1))
        body: list[str] = []
        first = None  # the line (from 1) of the block's first line of YAML
        while index < len(lines):
            line = lines[index]
            if line.strip() and len(line) - len(line.lstrip()) <= indent:
                break
            if line.strip().startswith(':') and first is None:
                index += 1  # an option of the directive (:caption:, :name:)
                continue
            if line.strip() and first is None:
                first = index + 1
            body.append(line)
            index += 1
        if first is None:
            continue
        blocks.append((first, textwrap.dedent('\n'.join(body)).strip('\n') + '\n'))
    return blocks


def is_config(text: str) -> bool:
    """A FAUCET config: YAML whose top is a mapping with ``dps``."""
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError):  # ValueError: a date like 2019-13-01
        return False
    return isinstance(data, dict) and 'dps' in data


def extract(checkout: str) -> list[Sample]:
    """Every distinct FAUCET config of the checkout's tests, docs and example files."""
    python_files = sorted(
        glob.glob(os.path.join(checkout, 'tests', 'unit', '**', '*.py'), recursive=True)
        + glob.glob(os.path.join(checkout, 'clib', '*.py'))
    )
    trees = {}
    env: dict[str, Any] = {}
    for path in python_files:
        with open(path, encoding='utf-8') as f:
            trees[path] = f.read()
        try:
            for name, value in _constants(ast.parse(trees[path])).items():
                env.setdefault(name, value)
        except SyntaxError:
            continue
    candidates: list[Sample] = []
    for path, source in trees.items():
        try:
            strings = python_strings(source, env)
        except SyntaxError:
            continue
        candidates += [Sample(_where(checkout, path, line), text) for line, text in strings]
    for path in sorted(glob.glob(os.path.join(checkout, 'docs', '**', '*.rst'), recursive=True)):
        with open(path, encoding='utf-8') as f:
            for line, text in rst_yaml_blocks(f.read()):
                candidates.append(Sample(_where(checkout, path, line), text))
    for pattern in ('etc/faucet/*.yaml', 'docs/**/*.yaml'):
        for path in sorted(glob.glob(os.path.join(checkout, pattern), recursive=True)):
            with open(path, encoding='utf-8') as f:
                candidates.append(Sample(_where(checkout, path, 1), f.read(), path=path))
    samples, seen = [], set()
    for sample in candidates:
        key = sample.text.strip()
        if key in seen or not is_config(sample.text):
            continue
        seen.add(key)
        samples.append(sample)
    return samples


def _where(checkout: str, path: str, line: int) -> str:
    return '%s:%d' % (os.path.relpath(path, checkout), line)


# --- checking --------------------------------------------------------------------------


def write_samples(samples: list[Sample], workdir: str) -> list[str]:
    """The path each sample is checked at: its own file in the checkout, or a file of
    ``workdir`` named by its content's hash."""
    paths = []
    for sample in samples:
        if sample.path is not None:
            paths.append(sample.path)
            continue
        name = hashlib.sha256(sample.text.encode()).hexdigest()[:16]
        path = os.path.join(workdir, name, 'faucet.yaml')
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            f.write(sample.text)
        paths.append(path)
    return paths


def faucet_verdicts(paths: list[str], venv: str) -> dict[str, tuple[bool, str]]:
    """{path: (accepted, FAUCET's error)} by FAUCET's check_config."""
    python = os.path.join(venv, 'bin', 'python')
    result = subprocess.run(
        [python, '-c', _ORACLE],
        input='\n'.join(paths),
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    verdicts = {}
    for line in result.stdout.splitlines():
        if line.startswith('{'):
            answer = json.loads(line)
            verdicts[answer['path']] = (answer['accepted'], answer['error'])
    return verdicts


def our_verdict(path: str) -> tuple[bool, list[str]]:
    """(accepted, the messages of every error) by load_policy, as sdn-policy-check."""
    from controller.config import ConfigError
    from controller.vswitch import load_policy

    try:
        load_policy(path)
    except ConfigError as error:
        return False, [issue.message for issue in error.errors]
    return True, []


_UNSUPPORTED = re.compile(r"FAUCET option '([^']+)' is not supported")


def reason(message: str) -> str:
    """The kind of one of our error messages, with its particulars taken out."""
    unsupported = _UNSUPPORTED.search(message)
    if unsupported:
        return 'unsupported option: %s' % unsupported.group(1)
    text = message.split(';')[0]
    text = re.sub(r"'[^']*'", "'…'", text)
    text = re.sub(r'\b(0x[0-9a-fA-F]+|\d+)\b', 'N', text)
    return text[:100]


def summarise(samples: list[Sample], faucet_says: list[tuple[bool, str]], we_say: list) -> dict:
    """The figures, per-config verdicts and refusal reasons (each counted once per
    config that has it)."""
    accepted_by_faucet = [i for i, (ok, _) in enumerate(faucet_says) if ok]
    both = [i for i in accepted_by_faucet if we_say[i][0]]
    wrongly_accepted = [i for i, (ok, _) in enumerate(faucet_says) if not ok and we_say[i][0]]
    reasons: Counter = Counter()
    for i in accepted_by_faucet:
        if not we_say[i][0]:
            reasons.update({reason(message) for message in we_say[i][1]})
    share = len(both) / len(accepted_by_faucet) if accepted_by_faucet else 0.0
    return {
        'configs': len(samples),
        'faucet_accepts': len(accepted_by_faucet),
        'we_accept_of_those': len(both),
        'acceptance': round(share, 4),
        'faucet_refuses_we_accept': [samples[i].origin for i in wrongly_accepted],
        'refusal_reasons': dict(reasons.most_common()),
        'samples': [
            {
                'origin': sample.origin,
                'faucet': faucet_says[i][0],
                'faucet_error': faucet_says[i][1][:200],
                'ours': we_say[i][0],
                'our_errors': we_say[i][1][:3],
                'our_reasons': sorted({reason(message) for message in we_say[i][1]}),
            }
            for i, sample in enumerate(samples)
        ],
    }


def table(summary: dict) -> str:
    lines = [
        'configs found: %d; FAUCET accepts %d; of those we accept %d (%.1f%%); '
        'FAUCET refuses and we accept: %d'
        % (
            summary['configs'],
            summary['faucet_accepts'],
            summary['we_accept_of_those'],
            100 * summary['acceptance'],
            len(summary['faucet_refuses_we_accept']),
        ),
        '',
        '%6s  %s' % ('configs', 'our refusal reason (of configs FAUCET accepts)'),
    ]
    lines += ['%6d  %s' % (n, why) for why, n in summary['refusal_reasons'].items()]
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkout', help='a FAUCET source checkout (1.10.12)')
    parser.add_argument('--venv', default=faucet.VENV, help='the FAUCET venv (the oracle)')
    parser.add_argument('--out', default=RESULT, help='where the JSON goes')
    args = parser.parse_args(argv)
    if not os.path.exists(os.path.join(args.venv, 'bin', 'check_faucet_config')):
        parser.error('no FAUCET in %s: run python -m bench.faucet first, or --venv' % args.venv)
    samples = extract(args.checkout)
    with tempfile.TemporaryDirectory(prefix='faucet-compat-') as workdir:
        paths = write_samples(samples, workdir)
        verdicts = faucet_verdicts(paths, args.venv)
        faucet_says = [
            (ok, error.replace(workdir, '<tmp>'))
            for ok, error in (
                verdicts.get(path, (False, 'no answer from FAUCET')) for path in paths
            )
        ]
        we_say = [our_verdict(path) for path in paths]
    summary = summarise(samples, faucet_says, we_say)
    summary['oracle'] = faucet.REQUIREMENT + ' check_faucet_config'
    with open(args.out, 'w', encoding='utf-8') as f:
        json.dump(summary, f, indent=1)
        f.write('\n')
    print(table(summary))
    return 0


if __name__ == '__main__':
    sys.exit(main())
