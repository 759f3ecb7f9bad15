"""Why a run failed, in a few words, from its exit and the end of its ``output.log``.

The entrypoint ends a failed run's log with one line of its own (``slc-tui: raised TYPE: MESSAGE
(at FILE:LINE in FUNCTION)``, or ``slc-tui: MPI rank N raised ...`` from a rank of an MPI job),
looked for in the last :data:`_TAIL_BYTES` of the log, however long the traceback above it or
the output after it; without one (a run killed, a log from elsewhere) the reason is the last
exception line of a traceback in the tail, or the exit or signal.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

TAIL_LINES = 30
"""Lines of output the ledger keeps of a finished run."""
_TAIL_BYTES = 64 * 1024
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_RAISED = re.compile(r"slc-tui: (MPI rank \d+ )?raised (.+)")
_HYDRA_SIGNAL = re.compile(r"KILLED BY SIGNAL: (\d+)")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(: .*)?$")
_LINE_MAX = 500
"""Characters of a reason read from a log, at most."""


def read_tail(path: str | Path, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file, without ANSI codes ("" when there is none)."""
    return last_lines(read_end(path), lines)


def last_lines(text: str, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of ``text``."""
    return "\n".join(text.splitlines()[-lines:])


def read_end(path: str | Path) -> str:
    """The end of a log file (its last 64 KiB), without ANSI codes ("" when there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - _TAIL_BYTES))
            data = f.read()
    except OSError:
        return ""
    return _ANSI.sub("", data.decode("utf-8", errors="replace"))


def signal_name(sig: int) -> str:
    """``SIGKILL`` for 9, and so on."""
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def log_reason(end: str) -> str:
    """What the log says went wrong ("" if nothing): the entrypoint's line (anywhere in
    ``end``), else the last exception line of a traceback in its last :data:`TAIL_LINES`."""
    for line in reversed(end.splitlines()):
        match = _RAISED.search(line)
        if match:
            rank, raised = match.group(1), match.group(2).strip()[:_LINE_MAX]
            return f"{rank}raised {raised}" if rank else raised
    tail = last_lines(end)
    if "Traceback (most recent call last):" in tail:
        # The exception line is the first unindented line after the last traceback header.
        after = tail.rsplit("Traceback (most recent call last):", 1)[1].splitlines()
        for line in after:
            if line and not line.startswith((" ", "\t")) and _EXCEPTION_LINE.match(line):
                return line.strip()[:_LINE_MAX]
    return ""


def failure_reason(end: str, exit_code: int | None, sig: int | None) -> str:
    """A short reason from the end of a log: the entrypoint's line, the last exception line,
    or the exit or signal."""
    found = log_reason(end)
    if found:
        return found
    lines = last_lines(end).splitlines()
    if sig:
        name = signal_name(sig)
        return f"killed by {name}" + (" (out of memory?)" if sig == signal.SIGKILL else "")
    for line in reversed(lines):
        match = _HYDRA_SIGNAL.search(line)
        if match:
            return f"an MPI rank was killed by {signal_name(int(match.group(1)))}"
    return f"exit code {exit_code}"


def explain_failure(reason: str, end: str, code: int | None, sig: int | None) -> str:
    """A failed run's reason: the backend's (Slurm's TIMEOUT...) first, then what the end of
    its log (:func:`read_end`) adds."""
    found = log_reason(end) if reason else failure_reason(end, code, sig)
    if found and found != reason:
        return f"{reason}: {found}" if reason else found
    return reason
