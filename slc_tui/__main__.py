"""``python -m slc_tui`` is the ``slc-tui`` command."""

from __future__ import annotations

import sys

from slc_tui.cli import main

sys.exit(main())
