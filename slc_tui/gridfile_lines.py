"""Where a grid file went wrong: line numbers of keys, and ``GridFileError`` messages.

``tomllib`` gives no positions, so error messages about a key look its line up here. The scan
knows table headers (``[params]``; the n-th ``[[exclude]]`` is the table ``("exclude",
"n")``, from 0), key lines (``key =``, ``"a:b" =``, dotted ``a.b =``), and skips the inside of
multi-line arrays and strings. It errs on the side of silence: a key it
cannot read, or one it finds twice, has no line (a message without a line beats a wrong one).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from slc_tui.errors import InputError

KeyPath = tuple[str, ...]
"""A key's path from the top of the document: ``("params", "pop_size")``."""

_BARE = r"[A-Za-z0-9_-]+"
_BASIC = r'"(?:[^"\\\n]|\\.)*"'
_LITERAL = r"'[^'\n]*'"
_SIMPLE = rf"(?:{_BARE}|{_BASIC}|{_LITERAL})"
_DOTTED = rf"{_SIMPLE}(?:[ \t]*\.[ \t]*{_SIMPLE})*"
_PART = re.compile(_SIMPLE)
_HEADER = re.compile(rf"[ \t]*\[[ \t]*({_DOTTED})[ \t]*\][ \t]*(?:#.*)?$")
_ARRAY_HEADER = re.compile(rf"[ \t]*\[\[[ \t]*({_DOTTED})[ \t]*\]\]")
_KEY = re.compile(rf"[ \t]*({_DOTTED})[ \t]*=")
_STRING = {'"': re.compile(_BASIC), "'": re.compile(_LITERAL)}
_SYNTAX = re.compile(
    r"^(?P<msg>.*?) \((?:at line (?P<line>\d+), column (?P<col>\d+)|at end of document)\)$", re.S
)


def _parts(dotted: str) -> KeyPath | None:
    """The parts of a dotted key, unquoted; None when a quoted part cannot be decoded."""
    import json  # only needed for quoted keys, rare

    parts: list[str] = []
    for raw in _PART.findall(dotted):
        if raw.startswith("'"):
            parts.append(raw[1:-1])
        elif raw.startswith('"'):
            try:
                parts.append(json.loads(raw))  # TOML's basic-string escapes are JSON's, nearly
            except ValueError:
                return None
        else:
            parts.append(raw)
    return tuple(parts)


def _scan_rest(text: str, depth: int) -> tuple[int, str | None]:
    """Follow bracket depth over the rest of a line, skipping strings and comments.

    Returns the new depth and the delimiter of a multi-line string left open, if any.
    """
    i = 0
    while i < len(text):
        c = text[i]
        if c == "#":
            break
        if c in "\"'":
            triple = text[i : i + 3]
            if triple in ('"""', "'''"):
                end = text.find(triple, i + 3)
                if end < 0:
                    return depth, triple
                i = end + 3
                continue
            m = _STRING[c].match(text, i)
            if m is None:
                break
            i = m.end()
            continue
        if c in "[{":
            depth += 1
        elif c in "]}":
            depth = max(depth - 1, 0)
        i += 1
    return depth, None


class LineMap:
    """The line (1-based) of each table header and key line that the scan found once."""

    def __init__(self, text: str) -> None:
        """Scan ``text``, the source of a TOML document."""
        self.keys: dict[KeyPath, int] = {}
        """Key lines: ``("params", "seed") -> 7``."""
        self.headers: dict[KeyPath, int] = {}
        """Table headers: ``("params",) -> 5``."""
        seen_twice: set[KeyPath] = set()
        arrays: dict[KeyPath, int] = {}
        table: KeyPath | None = ()
        depth, open_string = 0, None

        def record(where: dict[KeyPath, int], path: KeyPath, lineno: int) -> None:
            if path in where or path in seen_twice:
                where.pop(path, None)
                seen_twice.add(path)
            else:
                where[path] = lineno

        for lineno, line in enumerate(text.split("\n"), 1):
            rest = line
            if open_string is not None:
                end = line.find(open_string)
                if end < 0:
                    continue
                rest, open_string = line[end + 3 :], None
            elif depth == 0:
                if m := _HEADER.match(line):
                    table = _parts(m.group(1))
                    if table is not None:
                        record(self.headers, table, lineno)
                    continue
                if m := _ARRAY_HEADER.match(line):
                    name = _parts(m.group(1))
                    if name is None:
                        table = None  # keys under an unreadable header get no line
                        continue
                    arrays[name] = arrays.get(name, -1) + 1
                    table = (*name, str(arrays[name]))
                    record(self.headers, table, lineno)
                    continue
                if m := _KEY.match(line):
                    key = _parts(m.group(1))
                    if table is not None and key is not None:
                        record(self.keys, table + key, lineno)
                    rest = line[m.end() :]
            depth, open_string = _scan_rest(rest, depth)

    def line(self, path: KeyPath) -> int | None:
        """The line of ``path``: its own key line or header, else the line of the key whose
        inline table holds it; None when unknown."""
        if path in self.keys:
            return self.keys[path]
        if path in self.headers:
            return self.headers[path]
        if len(path) > 1 and path[:-1] in self.keys:
            return self.keys[path[:-1]]
        return None

    def as_dict(self) -> dict[str, int]:
        """Every found line by dotted key (``"params.pop_size"``), leaving out ambiguous ones."""
        out: dict[str, int] = {}
        clashes: set[str] = set()
        for path, lineno in [*self.headers.items(), *self.keys.items()]:
            name = ".".join(path)
            if name in out:
                clashes.add(name)
            out[name] = lineno
        return {k: v for k, v in out.items() if k not in clashes}


def syntax_location(message: str, text: str) -> tuple[str, int | None, int | None]:
    """Split a ``TOMLDecodeError`` message into (reason, line, column).

    An error "at end of document" is placed on the file's last line, without a column.
    """
    m = _SYNTAX.match(message)
    if m is None:
        return message, None, None
    if m.group("line") is None:
        return f"{m.group('msg')} at the end of the file", text.rstrip("\n").count("\n") + 1, None
    return m.group("msg"), int(m.group("line")), int(m.group("col"))


class GridFileError(InputError, ValueError):
    """A grid file that cannot be used; ``str(error)`` is one sentence for the user."""

    def __init__(
        self,
        message: str,
        path: Path | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        """Keep the message and where it points."""
        super().__init__(message)
        self.path = path
        """The grid file, absolute."""
        self.key = key
        """The dotted key the message is about (``"params.pop_size"``), if any."""
        self.line = line
        """The line in the grid file, when known."""


class Problems:
    """Phrases the ``GridFileError``s of one grid file: ``file:line: [table] key: problem``."""

    def __init__(self, path: Path, shown: str, lines: LineMap | None = None) -> None:
        """Errors about ``path`` (shown to the user as ``shown``), with lines from ``lines``."""
        self.path = path
        self.shown = shown
        self.lines = lines

    def error(self, key: KeyPath, problem: str, where: str | None = None) -> GridFileError:
        """The error about ``key``, with its line when the scan found it."""
        return self.error_at(key, problem, self.lines.line(key) if self.lines else None, where)

    def error_at(
        self, key: KeyPath, problem: str, line: int | None, where: str | None = None
    ) -> GridFileError:
        """The error about ``key`` at ``line``; ``where`` overrides the ``[table] key`` part."""
        if where is None and key:
            where = f"[{key[0]}]" + (f" {'.'.join(key[1:])}" if len(key) > 1 else "")
        at = f"{self.shown}:{line}" if line else self.shown
        message = f"{at}: {where}: {problem}" if where else f"{at}: {problem}"
        return GridFileError(message, self.path, ".".join(key) or None, line)


def closest(word: str, choices: Sequence[str]) -> str | None:
    """The choice most like ``word`` (a likely typo), if any is close."""
    import difflib

    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def check_keys(
    p: Problems,
    table: KeyPath,
    items: dict[str, Any],
    allowed: tuple[str, ...],
    homes: dict[str, str],
) -> None:
    """Reject a key of ``items`` outside ``allowed``, suggesting the right table or a spelling.

    ``homes`` maps keys that belong to another table to that table's name.
    """
    for key, value in items.items():
        if key in allowed:
            continue
        near = closest(key, allowed)
        if key in homes:
            hint = f"; {key} belongs in [{homes[key]}]"
        elif near and table:
            hint = f" (did you mean {near}?)"
        elif near:
            hint = f" (did you mean [{near}]?)"
        else:
            hint = ""
        if table:
            problem = f"unknown key{hint}; the allowed keys are {', '.join(allowed)}"
            raise p.error((*table, key), problem)
        if isinstance(value, dict):
            tables = ", ".join(f"[{t}]" for t in allowed)
            raise p.error((key,), f"unknown table{hint}; the tables are {tables}")
        hint = hint if key in homes else "; parameters go under [params]"
        raise p.error((key,), f"a key outside any table{hint}", where=key)


def _tomllib() -> Any:
    """The TOML parser, imported only when a file is loaded (it costs about 28 ms)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python < 3.11
        import tomli as tomllib
    return tomllib


def read_text(path: Path, shown: str, kind: str = "grid file") -> str:
    """The text of a file the user gave (a grid file, an exp_cfg file), or GridFileError."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise GridFileError(f"{shown}: no such {kind}", path) from None
    except IsADirectoryError:
        raise GridFileError(f"{shown}: is a directory, not a {kind}", path) from None
    except OSError as exc:
        raise GridFileError(f"{shown}: cannot read the {kind}: {exc.strerror}", path) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = raw[: exc.start].count(b"\n") + 1
        raise GridFileError(f"{shown}:{bad}: not UTF-8 text", path, line=bad) from None


def read_toml(path: Path, shown: str) -> tuple[str, dict[str, Any]]:
    """The text and the parsed document of a grid file."""
    text = read_text(path, shown)
    tomllib = _tomllib()
    try:
        return text, tomllib.loads(text)  # type: ignore[no-any-return]
    except tomllib.TOMLDecodeError as exc:
        reason, line, col = syntax_location(str(exc), text)
        if reason.startswith("Cannot overwrite a value"):
            reason += " (a key is given twice)"
        at = f":{line}" if line else ""
        at += f":{col}" if line and col else ""
        raise GridFileError(f"{shown}{at}: TOML syntax error: {reason}", path, line=line) from None
