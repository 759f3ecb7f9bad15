"""slc-tui: run experiment grids in parallel, with a dashboard, a headless mode and resume."""

from __future__ import annotations

__version__ = "0.1.0"
