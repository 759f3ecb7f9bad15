"""Bundled training functions (numpy only) for the example grids in ``grids/``.

- :func:`slc_tui.examples.cem.train`: the cross-entropy method, MPI-aware (the default grid).
- :func:`slc_tui.examples.faulty.train`: the same, failing on purpose in a chosen rank.
"""
