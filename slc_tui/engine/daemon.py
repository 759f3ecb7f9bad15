"""``python -m slc_tui.engine.daemon SPEC``: the background engine a dashboard talks to."""

from __future__ import annotations

import sys

from slc_tui.engine.api import load_spec, make_engine
from slc_tui.engine.core import EngineError
from slc_tui.headless import Printer


def main(argv: list[str]) -> int:
    """Run the sweep in SPEC; linger after the last run while the view that started it lives."""
    from slc_tui.entrypoint import token_alive

    plans, options, resume, viewer = load_spec(argv[0])
    engine = make_engine(
        plans, options, resume=resume, listeners=[Printer()], linger=lambda: token_alive(viewer)
    )
    try:
        return engine.run()
    except EngineError as exc:
        print(f"slc-tui: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
