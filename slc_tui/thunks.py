"""Resolve a thunk reference (``module:function`` or ``path/file.py:function``) to a callable.

Kept free of heavy imports: the run entrypoint uses it in every child process.
"""

from __future__ import annotations

import os
import sys

from slc_tui.errors import InputError

TYPE_CHECKING = False  # typing costs ~9 ms at a run's start-up
if TYPE_CHECKING:
    from typing import Any, Callable


class no_bytecode:
    """Import without writing ``__pycache__`` (loading or checking a grid creates nothing).

    A class rather than ``contextlib.contextmanager``: this module is on every run's start-up
    path, and contextlib is not otherwise imported there.
    """

    def __enter__(self) -> None:
        self._before = sys.dont_write_bytecode
        sys.dont_write_bytecode = True

    def __exit__(self, *exc: object) -> None:
        sys.dont_write_bytecode = self._before


class ThunkError(InputError, ValueError):
    """A thunk reference that cannot be resolved; the message says why."""


def is_file_ref(module_part: str) -> bool:
    """Return True when the module part of a reference names a Python file."""
    return module_part.endswith(".py") or os.sep in module_part or "/" in module_part


def _file_import() -> tuple[Any, Any]:
    """``importlib.util``'s ``spec_from_file_location`` and ``module_from_spec``, from the
    import system's own modules (loaded already): ``importlib.util`` costs a run ~3 ms more
    (``contextlib``, ``functools``, ``collections``) and gives these very functions."""
    try:  # CPython's import system itself (importlib's package costs ~0.5 ms: warnings)
        from _frozen_importlib import module_from_spec
        from _frozen_importlib_external import spec_from_file_location
    except ImportError:  # another Python
        from importlib.util import module_from_spec, spec_from_file_location
    return spec_from_file_location, module_from_spec


def resolve(ref: str, base_dir: str | None = None) -> Callable[..., Any]:
    """Import and return the callable named by ``ref``.

    Args:
        ref: ``"package.module:function"`` or ``"path/to/file.py:function"``.
        base_dir: directory that a relative file path is taken from (default: the cwd).

    Raises:
        ThunkError: the reference is malformed, cannot be imported, or is not callable.
    """
    module_part, sep, attr = ref.rpartition(":")
    if not sep or not module_part or not attr:
        raise ThunkError(f"thunk {ref!r} must look like 'module:function' or 'file.py:function'")
    try:
        if is_file_ref(module_part):
            path = os.path.join(base_dir or os.getcwd(), os.path.expanduser(module_part))
            if not os.path.isfile(path):
                raise ThunkError(f"thunk file {path} does not exist")
            spec_from_file, module_from_spec = _file_import()
            mod_name = "_slc_thunk_" + os.path.splitext(os.path.basename(path))[0]
            spec = spec_from_file(mod_name, path)
            if spec is None or spec.loader is None:
                raise ThunkError(f"thunk file {path} cannot be imported")
            module = module_from_spec(spec)
            sys.modules[mod_name] = module
            folder = os.path.dirname(os.path.abspath(path))
            if folder not in sys.path:
                sys.path.insert(0, folder)
            spec.loader.exec_module(module)
        else:
            __import__(module_part)  # importlib.import_module, without importlib's package
            module = sys.modules[module_part]
    except ThunkError:
        raise
    except Exception as exc:  # an import error of the user's module, reported as one sentence
        raise ThunkError(f"thunk {ref!r} cannot be imported: {type(exc).__name__}: {exc}") from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ThunkError(f"thunk {ref!r}: {module_part} has no attribute {part!r}") from None
    if not callable(obj):
        raise ThunkError(f"thunk {ref!r} is not callable (it is a {type(obj).__name__})")
    return obj  # type: ignore[no-any-return]
