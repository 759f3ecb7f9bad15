"""The Textual dashboard (imported only when a dashboard opens: Textual is slow to import)."""

from __future__ import annotations

from slc_tui.ui.ssh import tune_for_ssh

# Before any dashboard module imports Textual, which reads these settings once, at import.
tune_for_ssh()
