"""Does a grid made here reproduce the committed one? Each finished run in NEW against the run of the same name in OLD.

    python tools/compare_runs.py outputs/runs outputs/report/runs    # after a plain `make run` in a fresh clone

For each run: whether its ID codes, per-prompt ranks and metrics are identical to OLD's (they are, bit for bit, on a
CPU of the kind that made OLD), and where its search and rec Recall@30 fall among OLD's seeds of the same row (in
standard deviations from their mean): on another CPU, whose float32 kernels differ in their last bits, a rerun is
another draw and should land among them. Exits 1 when a run in NEW has no counterpart in OLD or none was finished."""
import argparse, json, re, sys
from pathlib import Path
import numpy as np, pandas as pd

METRICS = ("search", "rec")


def row_of(name:str) -> str:
    "A run's row: its folder name without the seed and the settings' hash."
    return re.sub(r"-s\d+-[0-9a-f]+$", "", name)


def arrays_equal(a:Path, b:Path) -> bool:
    "Two .npz files hold the same arrays under the same names."
    x, y = np.load(a, allow_pickle=True), np.load(b, allow_pickle=True)
    return set(x.files) == set(y.files) and all(np.array_equal(x[k], y[k]) for k in x.files)


def recalls(run:Path) -> dict:
    m = json.loads((run/"metrics.json").read_text())
    return {k: m[k]["recall@30"] for k in METRICS}


def cpu(run:Path) -> str:
    return json.loads((run/"params.json").read_text()).get("machine", {}).get("cpu", "?")


def compare(new:Path, old:Path) -> pd.DataFrame:
    "One row per finished run in `new`: identical parts, and its Recall@30 against `old`'s seeds of that row."
    seeds = {}
    for r in old.iterdir():
        if (r/"DONE.json").exists(): seeds.setdefault(row_of(r.name), []).append(recalls(r))
    out = []
    for run in sorted(r for r in new.iterdir() if (r/"DONE.json").exists()):
        twin, row = old/run.name, {"run": run.name.removeprefix("ml-100k-template-").split("-t5-")[0]}
        if not (twin/"DONE.json").exists():
            out.append({**row, "in OLD": False}); continue
        same = {f: arrays_equal(run/f"{f}.npz", twin/f"{f}.npz") for f in ("ids", "ranks")}
        same["metrics"] = json.loads((run/"metrics.json").read_text()) == json.loads((twin/"metrics.json").read_text())
        row.update({"in OLD": True, **{f"same {k}": v for k, v in same.items()}})
        row.update({"CPU": cpu(run), "OLD's CPU": cpu(twin)})
        got, ref = recalls(run), pd.DataFrame(seeds[row_of(run.name)])
        for k in METRICS:
            sd = ref[k].std(ddof=1) if len(ref) > 1 else float("nan")
            row.update({k: round(got[k], 4), f"{k} OLD": round(recalls(twin)[k], 4),
                        f"{k} z": round((got[k] - ref[k].mean()) / sd, 2) if sd > 0 else float("nan")})
        row["OLD seeds"] = len(ref)
        out.append(row)
    return pd.DataFrame(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("new", type=Path, help="a folder of run folders (a grid's outputs/runs)")
    ap.add_argument("old", type=Path, help="the runs to reproduce (outputs/report/runs)")
    a = ap.parse_args(argv)
    t = compare(a.new, a.old)
    if t.empty: print(f"no finished run in {a.new}"); return 1
    pd.set_option("display.width", 250, "display.max_columns", 30)
    print(t.to_string(index=False))
    found = t[t["in OLD"]]
    ident = found[["same ids", "same ranks", "same metrics"]].all(axis=1)
    z = found[[f"{k} z" for k in METRICS]].abs().max(axis=1)
    print(f"\n{int(ident.sum())} of {len(t)} runs identical to OLD's bit for bit; of the {int((~ident).sum())} others, "
          f"{int((z[~ident] <= 2).sum())} within 2 standard deviations of OLD's seeds of their row on search and rec"
          + (f"; {len(t) - len(found)} not in OLD" if len(found) < len(t) else ""))
    return 0 if len(found) == len(t) else 1


if __name__ == "__main__":
    sys.exit(main())
