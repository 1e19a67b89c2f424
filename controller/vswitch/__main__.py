"""python -m controller.vswitch check FILE (see controller/vswitch/cli.py)."""

import sys

from controller.vswitch.cli import module_main

sys.exit(module_main())
