"""The policy check command: ``sdn-policy-check FILE`` and
``python -m controller.vswitch check FILE``.

Prints "OK: <n> dps, <n> vlans, <n> acls (<n> rules)" and exits 0 for a valid policy
(after a "warning: " line per thing it has that does nothing, as in FAUCET);
prints every error (file:line:column: key path: message) and exits 1 for an invalid one;
exits 2 on a usage error or a file it cannot read (not a regular file, or larger than
``--max-bytes``, as the app refuses it).
"""

import argparse
import sys
from typing import TextIO

from controller.config import ConfigError
from controller.config.yaml_source import DEFAULT_MAX_BYTES, read_bounded
from controller.vswitch.loader import load_policy_text

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def check(
    path: str,
    out: TextIO | None = None,
    err: TextIO | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> int:
    """Check the policy file at ``path``; the exit code."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        data = read_bounded(path, max_bytes)
    except ConfigError as error:
        print(error, file=err)
        return EXIT_USAGE
    try:
        policy = load_policy_text(data, filename=path)
    except ConfigError as error:
        for issue in error.errors:
            print(issue, file=out)
        print(
            '%s: %d error%s' % (path, len(error.errors), 's' * (len(error.errors) != 1)), file=out
        )
        return EXIT_INVALID
    for note in policy.notes:
        print('warning: %s' % note, file=out)
    print(
        'OK: %d dps, %d vlans, %d acls (%d rules)'
        % (len(policy.dps), len(policy.vlans), len(policy.acls), policy.rule_count),
        file=out,
    )
    return EXIT_OK


def _add_file_argument(parser):
    parser.add_argument('policy', help='the YAML policy file')
    parser.add_argument(
        '--max-bytes',
        type=int,
        default=DEFAULT_MAX_BYTES,
        help='refuse a larger file, as the app does with its '
        'max_policy_bytes (default %(default)d)',
    )


def main(argv: list[str] | None = None) -> int:
    """sdn-policy-check FILE"""
    parser = argparse.ArgumentParser(
        prog='sdn-policy-check', description='Check a VLAN/ACL policy file.'
    )
    _add_file_argument(parser)
    args = parser.parse_args(argv)
    return check(args.policy, max_bytes=args.max_bytes)


def module_main(argv: list[str] | None = None) -> int:
    """python -m controller.vswitch check FILE"""
    parser = argparse.ArgumentParser(
        prog='python -m controller.vswitch', description='VLAN/ACL policy files.'
    )
    commands = parser.add_subparsers(dest='command', metavar='COMMAND', required=True)
    _add_file_argument(
        commands.add_parser(
            'check', help='check a policy file', description='Check a VLAN/ACL policy file.'
        )
    )
    args = parser.parse_args(argv)
    return check(args.policy, max_bytes=args.max_bytes)
