"""Early stopping on a synthetic sweep where half the variants are poor: time to finish with
and without ``[early_stop]``, and whether the best variant is still found.

Eight variants of three seeds (``work.py:curve``: a sleep per epoch, a return that rises
towards ``100 * quality``), good and poor ones in turn in plan order, budget 2. The two
configurations run in turn, ``--repeats`` times each, each in a fresh data directory.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

from common import BENCH_DIR, PYTHON, Series, child_env, machine, slc_tui_command, table, timed

QUALITIES = [1.0, 0.2, 0.9, 0.15, 0.8, 0.1, 0.7, 0.05]
"""Good and poor variants in turn; the best is quality 1.0."""
RULE = '[early_stop]\nrule = "median"\nmetric = "AverageEpRet"\ngrace = 3\nmin_variants = 3\n'


def grid_text(data_dir: Path, epochs: int, secs: float, early: bool) -> str:
    qualities = ", ".join(str(q) for q in QUALITIES)
    return (
        f'[grid]\nname = "es"\nthunk = "{BENCH_DIR / "work.py"}:curve"\ndata_dir = "{data_dir}"\n'
        f"\n{RULE if early else ''}\n[params]\nquality = {{ values = [{qualities}], "
        f'shorthand = "q" }}\nseed = [0, 1, 2]\nepochs = {epochs}\nsecs = {secs}\n'
    )


def outcome(grid: Path) -> dict[str, object]:
    """The best variant by ``compare`` and how many runs and epochs ran."""
    res = subprocess.run([*slc_tui_command(), "compare", str(grid), "--json"], env=child_env(),
                         capture_output=True, text=True, check=True)  # fmt: skip
    variants = json.loads(res.stdout)
    best = min(variants, key=lambda v: v["rank"] if v["rank"] is not None else 1e9)
    status = subprocess.run([*slc_tui_command(), "status", str(grid), "--json"],
                            env=child_env(), capture_output=True, text=True, check=True)  # fmt: skip
    counts = json.loads(status.stdout)["counts"]
    epochs = sum(max(v["epoch"] or 0, 0) + 1 for v in variants if v["epoch"] is not None)
    return {"best": best["variant"], "best_mean": best["mean"], "counts": counts,
            "epochs_of_variants": epochs}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--secs", type=float, default=0.1)
    args = ap.parse_args()
    series = {False: Series("without early stopping"), True: Series("median rule, grace 3")}
    found: dict[bool, list[dict[str, object]]] = {False: [], True: []}
    for rep in range(args.repeats):
        for early in ((False, True) if rep % 2 == 0 else (True, False)):
            with tempfile.TemporaryDirectory() as tmp:
                grid = Path(tmp) / "es.toml"
                grid.write_text(grid_text(Path(tmp) / "data", args.epochs, args.secs, early))
                sample = timed([*slc_tui_command(), str(grid), "--no-ui", "--max-cpus", "2"])
                series[early].samples.append(sample)
                found[early].append(outcome(grid))
                print(f"repeat {rep} early={early}: {sample.wall:.2f} s {found[early][-1]}",
                      flush=True)  # fmt: skip
    rows = []
    for early, s in series.items():
        bests = {str(f["best"]) for f in found[early]}
        pruned = statistics.median(int(f["counts"].get("pruned", 0)) for f in found[early])  # type: ignore[attr-defined]
        rows.append([s.name, f"{s.median:.2f}", f"{s.lo:.2f}–{s.hi:.2f}", f"{s.cpu:.2f}",
                     f"{pruned:g}", ", ".join(sorted(bests))])  # fmt: skip
    ratio = series[True].median / series[False].median
    print(machine())
    print(f"python {PYTHON}")
    print(table(["configuration", "median wall s", "min–max s", "child CPU s", "runs pruned",
                 "best variant found"], rows))  # fmt: skip
    print(f"with / without (medians): {ratio:.2f}")
    out = BENCH_DIR / "results" / "early_stop.json"
    out.write_text(json.dumps({"machine": machine(), "ratio": ratio, "found": {str(k): v for k, v in found.items()},
                               "walls": {str(k): [x.wall for x in s.samples] for k, s in series.items()}}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
