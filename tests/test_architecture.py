"""The architecture contract (pyproject's [tool.importlinter]) holds, and it catches a breach."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip


def _copy(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "slc_tui", tree / "slc_tui", ignore=skip)
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_layers_hold_on_the_package_as_it_is(tmp_path: Path) -> None:
    res = _lint(_copy(tmp_path))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "broken" in res.stdout and "0 broken" in res.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # an upward import inside a function: the core reaching the sweep layer
        ("plan.py", "def _probe():\n    from slc_tui.sweep.fmt import fmt_num\n", "Layers"),
        # the engine reaching a face
        ("engine/slots.py", "def _probe():\n    import slc_tui.headless\n", "Layers"),
        # a headless face importing Textual
        ("status.py", "def _probe():\n    import textual.app\n", "Only the dashboard"),
    ],
)
def test_an_upward_import_breaks_the_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    tree = _copy(tmp_path)
    target = tree / "slc_tui" / module
    target.write_text(target.read_text() + "\n\n" + line)
    res = _lint(tree)
    assert res.returncode != 0
    broken = res.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken
