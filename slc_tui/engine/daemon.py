"""``python -m slc_tui.engine.daemon SPEC``: the background engine a dashboard talks to."""

from __future__ import annotations

import os
import sys
from typing import Any

from slc_tui.engine.core import EngineError
from slc_tui.entrypoint import token_alive
from slc_tui.options import RunOptions
from slc_tui.plan import GridPlan


def serve(plans: list[GridPlan], options: RunOptions, resume: Any, viewer: str) -> int:
    """Run the sweep; linger after the last run while the view that started it lives."""
    from slc_tui.engine.api import make_engine
    from slc_tui.headless import Printer

    engine = make_engine(
        plans, options, resume=resume, listeners=[Printer()], linger=lambda: token_alive(viewer)
    )
    try:
        return engine.run()
    except EngineError as exc:
        print(f"slc-tui: {exc}", file=sys.stderr)
        return 2


def main(argv: list[str]) -> int:
    """Read the spec :func:`slc_tui.engine.api.launch_background` wrote, remove it, serve."""
    from slc_tui.payload import read_payload
    from slc_tui.thunks import resolve

    payload = read_payload(argv[0])
    os.unlink(argv[0])
    assert isinstance(payload.thunk, str)
    return int(resolve(payload.thunk)(**payload.kwargs))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
