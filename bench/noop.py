"""A thunk that imports nothing and does nothing: its run costs only slc-tui's launch."""


def nothing(**_: object) -> None:
    """Return at once."""
