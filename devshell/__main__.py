"""`python -m devshell`."""

from __future__ import annotations

import sys

from devshell.cli import main

sys.exit(main())
