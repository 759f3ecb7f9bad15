"""``python -m slc_tui.daemon SPEC``: the background engine a dashboard talks to.

It claims the ledgers, answers on the ready pipe (what the start says, or ``{"error": ...}``:
a refused start answers before it touches any ledger), then runs
the sweep and lingers after the last run while the view that started it lives.
"""

from __future__ import annotations

import json
import os
import sys

from slc_tui.errors import SlcError
from slc_tui.procid import token_alive
from slc_tui.states import Resume
from slc_tui.sweep.prepare import Sweep


def _answer(fd: int, message: dict[str, object]) -> None:
    try:
        os.write(fd, json.dumps(message).encode())
    finally:
        os.close(fd)


def serve(sweep: Sweep, resume: Resume, viewer: str, ready_fd: int) -> int:
    """Claim, answer the starter, run the sweep; the exit status of the sweep (2: refused)."""
    from slc_tui.headless import Printer

    engine = sweep.engine(resume, [Printer()], linger=lambda: token_alive(viewer))
    try:
        engine.prepare()
    except SlcError as exc:
        _answer(ready_fd, {"error": exc.message, "cli": exc.cli_advice,
                           "python": exc.python_advice})  # fmt: skip
        print(f"slc-tui: {exc.for_cli()}", file=sys.stderr)
        return 2
    _answer(ready_fd, {"rerun_succeeded": engine.rerun_succeeded, "notices": engine.notices})
    return engine.run()


def main(argv: list[str]) -> int:
    """Read the spec :func:`slc_tui.sweep.lifecycle.start_background` wrote, remove it, serve."""
    from slc_tui.payload import read_payload
    from slc_tui.thunks import resolve

    payload = read_payload(argv[0])
    os.unlink(argv[0])
    assert isinstance(payload.thunk, str)
    return int(resolve(payload.thunk)(**payload.kwargs))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
