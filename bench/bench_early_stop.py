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

from common import BENCH_DIR, Series, child_env, machine, slc_tui_command, table, timed

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
    """The best variant by ``compare``, the runs per state, and the seconds runs ran."""
    res = subprocess.run([*slc_tui_command(), "compare", str(grid), "--json"], env=child_env(),
                         capture_output=True, text=True, check=True)  # fmt: skip
    variants = json.loads(res.stdout)
    best = min(variants, key=lambda v: v["rank"] if v["rank"] is not None else 1e9)
    status = subprocess.run([*slc_tui_command(), "status", str(grid), "--json"],
                            env=child_env(), capture_output=True, text=True, check=True)  # fmt: skip
    doc = json.loads(status.stdout)
    ran = sum(float(r["ended"]) - float(r["started"]) for r in doc["runs"] if r["started"])
    started = sum(bool(r["started"]) for r in doc["runs"])
    return {"best": best["variant"], "best_mean": round(best["mean"], 2), "started": started,
            "pruned": doc["counts"].get("pruned", 0), "run_seconds": round(ran, 2)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--secs", type=float, default=0.1)
    args = ap.parse_args()
    series = {False: Series("without early stopping"), True: Series("median rule, grace 3")}
    found: dict[bool, list[dict[str, object]]] = {False: [], True: []}
    for rep in range(args.repeats):
        for early in (False, True) if rep % 2 == 0 else (True, False):
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
        got = found[early]
        bests = sorted({str(f["best"]) for f in got})
        rows.append([
            s.name, f"{s.median:.2f}", f"{s.lo:.2f}–{s.hi:.2f}",
            f"{statistics.median(float(f['run_seconds']) for f in got):.1f}",  # type: ignore[arg-type]
            f"{statistics.median(int(f['started']) for f in got):g}",  # type: ignore[call-overload]
            f"{statistics.median(int(f['pruned']) for f in got):g}",  # type: ignore[call-overload]
            f"{sum(f['best'] == 'es_q1-0' for f in got)}/{len(got)} ({', '.join(bests)})",
            f"{s.load:.1f}",
        ])  # fmt: skip
    ratio = series[True].median / series[False].median
    print(machine())
    print(table(["configuration", "median wall s", "min–max s", "run-seconds", "runs started",
                 "runs pruned", "best found (q1-0)", "load 1 min"], rows))  # fmt: skip
    print(f"with / without (median wall): {ratio:.2f}")
    doc = {"machine": machine(), "ratio": ratio, "found": {str(k): v for k, v in found.items()},
           "walls": {str(k): [x.wall for x in s.samples] for k, s in series.items()}}  # fmt: skip
    (BENCH_DIR / "results" / "early_stop.json").write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
