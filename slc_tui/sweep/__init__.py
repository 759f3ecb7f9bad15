"""The application layer: one lifecycle of a sweep and one read model for every view.

:mod:`~slc_tui.sweep.prepare` loads, plans and validates once; :mod:`~slc_tui.sweep.lifecycle`
runs a prepared sweep in the foreground or starts it in the background and returns a handle;
:mod:`~slc_tui.sweep.state` is what every view reads; :mod:`~slc_tui.sweep.fmt` how they word it.
"""
