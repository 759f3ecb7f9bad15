"""Settings of the ``run_utils`` API (the counterpart of SLC's and SpinningUp's ``user_config``).

Change a setting by assigning to it before use, for example
``slc_tui.user_config.DEFAULT_SHORTHAND = False``; ``run_utils`` reads these values each time it
needs them, not when it is imported.

``DEFAULT_DATA_DIR`` is computed when it is read: ``$SLC_TUI_DATA_DIR`` if set, otherwise
``./data`` under the current working directory (both made absolute). Assigning a value to it
replaces that computation; ``del user_config.DEFAULT_DATA_DIR`` brings it back. (In tests,
patch it with ``monkeypatch.setitem(vars(user_config), ...)``: ``setattr`` would restore the
value computed at patch time as a fixed one.)
"""

from __future__ import annotations

import os
import sys
from typing import Any

DATA_DIR_ENV = "SLC_TUI_DATA_DIR"
"""Environment variable that names the default data directory."""

FORCE_DATESTAMP = False
"""Whether every output directory gets a date and time stamp, as if ``datestamp=True``."""

DEFAULT_SHORTHAND = True
"""Whether ``ExperimentGrid.add`` makes a default shorthand for a key given none."""


def _computed_data_dir() -> str:
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return os.path.abspath(os.path.expanduser(configured))
    return os.path.join(os.getcwd(), "data")


def __getattr__(name: str) -> Any:
    """Compute ``DEFAULT_DATA_DIR`` at the time it is read (PEP 562)."""
    if name == "DEFAULT_DATA_DIR":
        return _computed_data_dir()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def default_data_dir() -> str:
    """The data directory used when none is given: ``DEFAULT_DATA_DIR`` as it reads now."""
    return str(getattr(sys.modules[__name__], "DEFAULT_DATA_DIR"))  # noqa: B009
