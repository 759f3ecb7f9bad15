"""Over SSH the dashboard draws fewer frames and no animations, unless the user said otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from slc_tui.ui.ssh import SSH_FPS, tune_for_ssh

PROBE = "import slc_tui.ui.app, textual.constants as c; print(c.MAX_FPS, c.TEXTUAL_ANIMATIONS)"


def test_ssh_sets_fps_and_animations() -> None:
    env = {"SSH_CONNECTION": "10.0.0.2 50000 10.0.0.1 22"}
    assert tune_for_ssh(env)
    assert env["TEXTUAL_FPS"] == str(SSH_FPS) and env["TEXTUAL_ANIMATIONS"] == "none"
    assert SSH_FPS <= 30


def test_ssh_tty_alone_counts() -> None:
    env = {"SSH_TTY": "/dev/pts/3"}
    assert tune_for_ssh(env)
    assert env["TEXTUAL_FPS"] == str(SSH_FPS)


def test_the_users_settings_win() -> None:
    env = {"SSH_TTY": "/dev/pts/3", "TEXTUAL_FPS": "12", "TEXTUAL_ANIMATIONS": "basic"}
    tune_for_ssh(env)
    assert env["TEXTUAL_FPS"] == "12" and env["TEXTUAL_ANIMATIONS"] == "basic"


def test_nothing_changes_without_ssh() -> None:
    env = {"TERM": "xterm-256color"}
    assert not tune_for_ssh(env)
    assert env == {"TERM": "xterm-256color"}


def probe(**extra: str) -> list[str]:
    """What Textual uses after the dashboard's import, in a fresh interpreter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSH_", "TEXTUAL_"))}
    env.update(extra)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, ["60", "full"]),
        ({"SSH_CONNECTION": "10.0.0.2 50000 10.0.0.1 22"}, [str(SSH_FPS), "none"]),
        ({"SSH_TTY": "/dev/pts/3", "TEXTUAL_FPS": "12"}, ["12", "none"]),
    ],
    ids=["local", "ssh", "ssh-user-fps"],
)
def test_textual_sees_the_settings(extra: dict[str, str], expected: list[str]) -> None:
    assert probe(**extra) == expected
