"""The two steps of the GPU check that are not the tests or the benchmark (see tools/device_check.sh).

    SEMID_OUTPUTS=.carry python tools/device_check.py prepare   # here: the content embeddings and IDs the GPU run needs
    python tools/device_check.py run --out DIR                  # there: one ml-1m run of the default preset, in-process

`run` runs the experiment's stages with `run_inline` (the GPU machine has no Jupyter kernel for papermill); the
baselines that need RecBole or the MiniLM weights (ENMF, the dense yardsticks) are not run there: they do not depend on
the generative model, and the CPU run of the same configuration has them."""
import argparse, json, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RUN = dict(dataset="ml-1m", embedding="content", quantizer="rq_kmeans", preset="default",
           overrides={"baselines": ["bm25", "popularity", "random"]})


def prepare():
    "Compute (here) the cached content embeddings and RQ-KMeans IDs of ml-100k and ml-1m, default preset."
    from semid_nb.experiment import load_inputs
    from semid_nb.semantic_ids import build_id_sets
    for ds in ("ml-100k", "ml-1m"):
        inp = load_inputs({"dataset": ds})
        build_id_sets(inp.data, "content", "rq_kmeans", inp.cfg, inp.queries, inp.shared_seed)
        print(ds, inp.data)
    # the template queries (12 MB) are made again there in about 20 s: carried, they would take the device tool's
    # carry (64 MiB with the wheels) over its limit
    import shutil; from semid_nb.core import outputs_dir
    shutil.rmtree(outputs_dir()/"cache"/"queries", ignore_errors=True)


def run(out:Path, quick:bool=False):
    "One ml-1m run in this process; prints its metrics and each stage's seconds and peak memory."
    import torch
    from semid_nb.scale import run_inline
    t = time.time()
    small = {"epochs": 1, "max_steps": 20, "max_eval_queries": 100, "max_eval_users": 100} if quick else {}
    folder = run_inline({**RUN, "overrides": {**RUN["overrides"], **small}, "out_dir": str(out/"runs")}, force=True)
    rep, m = json.loads((folder/"report.json").read_text()), json.loads((folder/"metrics.json").read_text())
    res = {"device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu", "seconds": round(time.time() - t),
           "recall@30": {k: round(v["recall@30"], 4) for k, v in m.items()},
           "baselines": {b["label"]: {k: round(v["recall@30"], 4) for k, v in b.items() if isinstance(v, dict) and "recall@30" in v}
                         for b in rep["baselines"].values()},
           "stages": {k: {"s": round(v, 1), **rep["peak_mb"].get(k, {})} for k, v in rep["seconds"].items()},
           "training": rep["training"], "decoding prompts/s": rep["decoding_queries_per_s"]}
    (out/"ml1m.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=["prepare", "run"]); ap.add_argument("--out", default="outputs/device")
    ap.add_argument("--quick", action="store_true", help="a few steps and prompts (to try the script on a CPU)")
    a = ap.parse_args()
    prepare() if a.step == "prepare" else run(Path(a.out), a.quick)
