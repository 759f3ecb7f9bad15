"""Why a run failed, in a few words, from its exit and the end of its ``output.log``."""

from __future__ import annotations

import re
import signal
from pathlib import Path

TAIL_LINES = 30
"""Lines of output the ledger keeps of a finished run."""
_TAIL_BYTES = 64 * 1024
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_RANK_RAISED = re.compile(r"slc-tui: (MPI rank \d+ raised .*)")
_HYDRA_SIGNAL = re.compile(r"KILLED BY SIGNAL: (\d+)")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(: .*)?$")


def read_tail(path: str | Path, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file, without ANSI codes ("" when there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - _TAIL_BYTES))
            data = f.read()
    except OSError:
        return ""
    text = _ANSI.sub("", data.decode("utf-8", errors="replace"))
    return "\n".join(text.splitlines()[-lines:])


def signal_name(sig: int) -> str:
    """``SIGKILL`` for 9, and so on."""
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def log_reason(tail: str) -> str:
    """What the log says went wrong: the raising MPI rank or the last exception ("" if none)."""
    for line in reversed(tail.splitlines()):
        match = _RANK_RAISED.search(line)
        if match:
            return match.group(1).strip()
    if "Traceback (most recent call last):" in tail:
        # The exception line is the first unindented line after the last traceback header.
        after = tail.rsplit("Traceback (most recent call last):", 1)[1].splitlines()
        for line in after:
            if line and not line.startswith((" ", "\t")) and _EXCEPTION_LINE.match(line):
                return line.strip()[:300]
    return ""


def failure_reason(tail: str, exit_code: int | None, sig: int | None) -> str:
    """A short reason: the raising MPI rank, the last exception line, or the exit or signal."""
    found = log_reason(tail)
    if found:
        return found
    lines = tail.splitlines()
    if sig:
        name = signal_name(sig)
        return f"killed by {name}" + (" (out of memory?)" if sig == signal.SIGKILL else "")
    for line in reversed(lines):
        match = _HYDRA_SIGNAL.search(line)
        if match:
            return f"an MPI rank was killed by {signal_name(int(match.group(1)))}"
    return f"exit code {exit_code}"


def explain_failure(reason: str, tail: str, code: int | None, sig: int | None) -> str:
    """A failed run's reason: the backend's (Slurm's TIMEOUT...) first, then what its log adds."""
    found = log_reason(tail) if reason else failure_reason(tail, code, sig)
    if found and found != reason:
        return f"{reason}: {found}" if reason else found
    return reason
