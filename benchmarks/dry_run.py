"""A dry run at the paper's scale on this CPU, to find what breaks or grows too fast before anyone pays for a GPU: a
synthetic catalogue of the paper's shape (62,138 items, 1.24M interactions, 20 queries per item) through every stage
of one experiment (the notebook, through papermill, as `semid-run` runs it) at reduced epochs and evaluation samples,
with each stage's time and peak memory.

    python benchmarks/dry_run.py [--items 62138] [--interactions 1240000] [--users 20000] [--steps 300]

The catalogue is not films (a shop of products with a name, category, brand, colour and a description), so it also
exercises `dataset="catalog"`. Prints the stage table and writes `dry_run.json` beside the run."""
import argparse, json, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np, pandas as pd
from semid_nb.core import outputs_dir, atomic_write
from semid_nb.experiment import load_inputs, peak_rss_mb
from semid_nb.runner import run_experiment


def synthetic_catalogue(folder:Path, n_items:int, n_inter:int, n_users:int, seed:int=0) -> Path:
    "Items with short fields and a description, and users whose interactions follow a Zipf-like popularity, in time order."
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(3000)])
    cats, brands = [f"category {i}" for i in range(60)], [f"brand {i}" for i in range(400)]
    colours = ["red", "blue", "green", "black", "white", "grey", "yellow", "orange", "purple", "brown", "pink", "navy"]
    items = pd.DataFrame({"item_id": [f"p{i}" for i in range(n_items)], "name": [f"product {i}" for i in range(n_items)],
                          "category": rng.choice(cats, n_items), "brand": rng.choice(brands, n_items),
                          "colour": rng.choice(colours, n_items),
                          "description": [" ".join(rng.choice(words, rng.integers(12, 24))) for _ in range(n_items)]})
    per_user = np.maximum(3, rng.geometric(n_users / n_inter, n_users))
    per_user = np.round(per_user * n_inter / per_user.sum()).astype(int).clip(3)
    pop = 1 / np.arange(1, n_items + 1) ** 0.8; pop /= pop.sum()
    users = np.repeat([f"u{u}" for u in range(n_users)], per_user)
    inter = pd.DataFrame({"user_id": users, "item_id": np.array(items.item_id)[rng.choice(n_items, len(users), p=pop)],
                          "timestamp": np.arange(len(users)), "rating": rng.integers(1, 6, len(users)).astype(float)})
    folder.mkdir(parents=True, exist_ok=True)
    items.to_parquet(folder/"items.parquet"); inter.to_parquet(folder/"interactions.parquet")
    return folder


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=62_138); ap.add_argument("--interactions", type=int, default=1_240_000)
    ap.add_argument("--users", type=int, default=20_000); ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--baselines", nargs="*", default=None,
                    help="baselines to run (default: every registered one but the opt-in SASRec, one epoch of which "
                         "over the 1.2M training prefixes took over 15 min here)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    out = Path(a.out) if a.out else outputs_dir()/"dry_run"
    t = time.time()
    folder = synthetic_catalogue(out/f"catalogue-{a.items}-{a.interactions}", a.items, a.interactions, a.users)
    made = time.time() - t
    over = {"catalog_text_fields": ["name", "category", "brand", "colour", "description"], "epochs": 1, "max_steps": a.steps,
            "max_eval_queries": 500, "max_eval_users": 500, "rec_epochs": 3, "rec_lrs": [0.01], "search_epochs": 1,
            "keep_all_items": True, "baselines": a.baselines}
    params = dict(dataset="catalog", data_dir=str(folder), preset="default", overrides=over, out_dir=str(out/"runs"))
    t = time.time(); peak_rss_mb(reset=True)
    inp = load_inputs(params)  # what the parent does before the kernel starts: the data's checks and the queries
    parent = {"seconds": time.time() - t, "rss": peak_rss_mb()}
    print(f"{inp.data}; {len(inp.queries):,} queries; parent checks and queries {parent['seconds']:.0f} s, {parent['rss']:.0f} MB")
    run = run_experiment(**params)
    rep = json.loads((run/"report.json").read_text())
    rows = [{"stage": "synthetic catalogue", "seconds": round(made), "peak RSS MB": None},
            {"stage": "parent: load, check, queries", "seconds": round(parent["seconds"]), "peak RSS MB": round(parent["rss"])}]
    rows += [{"stage": k, "seconds": round(v), "peak RSS MB": rep["peak_mb"].get(k, {}).get("rss")} for k, v in rep["seconds"].items()]
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    print(json.dumps({k: rep[k] for k in ("data", "training", "decoding_queries_per_s", "id_stats")}, indent=1, default=str)[:3000])
    atomic_write(out/"dry_run.json", json.dumps({"args": vars(a), "stages": rows, "report": rep}, indent=1, default=str))


if __name__ == "__main__":
    main()
