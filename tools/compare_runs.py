"""Does a grid made here reproduce the committed one? Each finished run in NEW against the run of the same name in OLD.

    python tools/compare_runs.py outputs/runs outputs/report/runs    # after a plain `make run` in a fresh clone

For each run: whether its ID codes, per-prompt ranks and metrics are identical to OLD's (they are, bit for bit, on a
CPU of the kind that made OLD's run), and where its search and rec Recall@30 fall against OLD's other seeds of the
same row: t = (new - their mean) / (their sd * sqrt(1 + 1/n)), inside the 95% prediction interval of one more seed
when |t| is below Student's t quantile with n - 1 degrees of freedom. On another CPU, whose float32 kernels differ in
their last bits, a rerun is another draw and should mostly land inside. Exits 1 when no run in NEW was finished or
one has no counterpart in OLD."""
import argparse, json, re, sys
from pathlib import Path
import numpy as np, pandas as pd
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from semid_nb.runner import is_finished

METRICS = ("search", "rec")


def row_of(name:str) -> str:
    "A run's row: its folder name without the seed (the settings' hash, when there is one, stays)."
    return re.sub(r"-s\d+(-[0-9a-f]{8})?$", r"\1", name)


def arrays_equal(a:Path, b:Path) -> bool:
    "Two .npz files hold the same arrays under the same names."
    x, y = np.load(a, allow_pickle=True), np.load(b, allow_pickle=True)
    return set(x.files) == set(y.files) and all(np.array_equal(x[k], y[k]) for k in x.files)


def metrics(run:Path) -> dict:
    return json.loads((run/"metrics.json").read_text())


def recalls(m:dict) -> dict:
    "Search and rec Recall@30 of a run's metrics."
    return {k: m[k]["recall@30"] for k in METRICS}


def cpu(run:Path) -> str:
    return json.loads((run/"params.json").read_text()).get("machine", {}).get("cpu", "?")


def compare(new:Path, old:Path) -> pd.DataFrame:
    "One row per finished run in `new`: identical parts, and its Recall@30 against `old`'s other seeds of its row."
    from scipy import stats
    seeds = {}
    for r in old.iterdir():
        if is_finished(r): seeds.setdefault(row_of(r.name), {})[r.name] = recalls(metrics(r))
    out = []
    for run in sorted(r for r in new.iterdir() if is_finished(r)):
        twin, row = old/run.name, {"run": run.name.removeprefix("ml-100k-template-").replace("-t5-scratch-default", "")}
        if not is_finished(twin):
            out.append({**row, "in OLD": False}); continue
        same = {f: arrays_equal(run/f"{f}.npz", twin/f"{f}.npz") for f in ("ids", "ranks")}
        m = metrics(run)
        same["metrics"] = m == metrics(twin)
        row.update({"in OLD": True, **{f"same {k}": v for k, v in same.items()}})
        row.update({"CPU": cpu(run), "OLD's CPU": cpu(twin)})
        got, mine = recalls(m), seeds[row_of(run.name)]
        was, others = mine[run.name], pd.DataFrame([v for k, v in mine.items() if k != run.name])
        n = len(others)
        for k in METRICS:
            sd = others[k].std(ddof=1) if n > 1 else float("nan")
            t = (got[k] - others[k].mean()) / (sd * (1 + 1 / n) ** 0.5) if sd > 0 else float("nan")
            row.update({k: round(got[k], 4), f"{k} OLD": round(was[k], 4), f"{k} t": round(t, 2)})
        row["other seeds"] = n
        q = stats.t.ppf(0.975, n - 1) if n > 1 else float("nan")
        row["inside 95%"] = bool(n > 1 and all(abs(row[f"{k} t"]) <= q for k in METRICS))
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
    if found.empty: print(f"\nnone of the {len(t)} runs is in {a.old} (other settings, or other names)"); return 1
    ident = found[["same ids", "same ranks", "same metrics"]].all(axis=1)
    inside = int(found["inside 95%"][~ident].sum())
    print(f"\n{int(ident.sum())} of {len(found)} runs identical to OLD's bit for bit; of the {int((~ident).sum())} "
          f"others, {inside} inside the 95% prediction interval of OLD's other seeds of their row on search and rec"
          + (f"; {len(t) - len(found)} not in OLD" if len(found) < len(t) else ""))
    return 0 if len(found) == len(t) else 1


if __name__ == "__main__":
    sys.exit(main())
