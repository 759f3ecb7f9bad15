"""One base for the errors slc-tui reports to its users, whatever face they use.

An error carries its message and, apart, the advice in two vocabularies: a shell user reads
flags and TOML keys (``raise --max-cpus``), a Python caller reads keyword names (``raise
max_cpus=``). ``str(error)`` is the Python wording; the command line asks for
:meth:`SlcError.for_cli`.
"""

from __future__ import annotations


class SlcError(Exception):
    """A problem for the user to fix: bad input, a sweep that cannot start or did not succeed."""

    def __init__(self, message: str, *, cli: str = "", python: str = "") -> None:
        self.message = message
        """What is wrong, in words common to every face."""
        self.cli_advice = cli
        """What to do, in command-line words (flags, grid-file keys)."""
        self.python_advice = python
        """What to do, in Python words (keyword arguments)."""
        super().__init__(message)

    def __str__(self) -> str:
        return self._with(self.python_advice)

    def for_cli(self) -> str:
        """The message with the command-line advice."""
        return self._with(self.cli_advice)

    def _with(self, advice: str) -> str:
        return f"{self.message}; {advice}" if advice else self.message


class InputError(SlcError):
    """Bad input: a grid file, a flag or an argument (exit status 2)."""


class SweepError(SlcError):
    """A sweep that cannot start as asked: already running, over budget... (exit status 2)."""
