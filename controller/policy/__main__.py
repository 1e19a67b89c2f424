"""python -m controller.policy check FILE (see controller/policy/cli.py)."""

import sys

from controller.policy.cli import module_main

sys.exit(module_main())
