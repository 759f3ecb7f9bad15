"""Lighter drawing over SSH: fewer frames a second and no animations.

Textual reads ``TEXTUAL_FPS`` and ``TEXTUAL_ANIMATIONS`` once, when ``textual.constants`` is
first imported, so :func:`tune_for_ssh` must run before that: ``slc_tui.ui`` calls it when
it is imported, ahead of every module of the dashboard (and so of Textual).
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

SSH_FPS = 30
"""Frames a second over SSH (Textual draws up to 60 by default)."""


def over_ssh(environ: MutableMapping[str, str]) -> bool:
    """Whether the environment says this process runs in an SSH session."""
    return bool(environ.get("SSH_CONNECTION") or environ.get("SSH_TTY"))


def tune_for_ssh(environ: MutableMapping[str, str] | None = None) -> bool:
    """Over SSH, set ``TEXTUAL_FPS`` and ``TEXTUAL_ANIMATIONS`` unless the user set them.

    Args:
        environ: the environment to read and change (default ``os.environ``).

    Returns:
        True when the session is an SSH one (whatever was already set).
    """
    env = os.environ if environ is None else environ
    if not over_ssh(env):
        return False
    env.setdefault("TEXTUAL_FPS", str(SSH_FPS))
    env.setdefault("TEXTUAL_ANIMATIONS", "none")
    return True
