"""Benchmark of the generative stage on this machine (CPU or GPU): joint training and decoding throughput of the
default model on ml-100k with content RQ-KMeans IDs, plus Recall@30 after the epochs run.

    python tools/bench_train_eval.py [--configs 8:random 8:grouped] [--queries 2000] [--users 943] [--exact 300]

The inputs are the experiment's own (`load_inputs`, `build_id_sets`, `joint_examples`, `eval_sets`), so the figures
are those of a default run. Figures are printed, nothing is written."""
import argparse, json, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np, torch
from semid_nb.core import get_device
from semid_nb.semantic_ids import build_id_sets, vocab_of
from semid_nb.joint_model import build_model, tokenizer_texts, joint_examples, train_model, train_settings
from semid_nb.evaluation import eval_sets, evaluate
from semid_nb.experiment import load_inputs

ap = argparse.ArgumentParser()
ap.add_argument("--queries", type=int, default=2000, help="test queries decoded")
ap.add_argument("--users", type=int, default=943, help="test users decoded")
ap.add_argument("--exact", type=int, default=300, help="prompts for the exact decoder (0: skip)")
ap.add_argument("--data-dir", default=None)
ap.add_argument("--configs", nargs="*", default=["1:random", "1:grouped"], help="EPOCHS:random|grouped, one model trained per config")
a = ap.parse_args()
inp = load_inputs({"data_dir": a.data_dir})
cfg, dev = inp.cfg, get_device()
ids = build_id_sets(inp.data, "content", "rq_kmeans", cfg, inp.queries, inp.shared_seed)
texts = tokenizer_texts(inp.data, inp.queries)
_, tok = build_model("t5-scratch", vocab_of(ids), texts, cfg, 0)
ex = joint_examples(tok, inp.data, inp.queries, ids, cfg)
test_q, rec_test = eval_sets(inp.data, inp.queries, {**cfg, "max_eval_queries": a.queries, "max_eval_users": a.users}, 0)
small_q, small_r = eval_sets(inp.data, inp.queries, {**cfg, "max_eval_queries": a.exact, "max_eval_users": a.exact}, 0)
out = {"device": torch.cuda.get_device_name() if dev.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)", "torch": torch.__version__}
for conf in a.configs:  # e.g. 8:grouped, 10:random
    ep, how = conf.split(":")
    net, _ = build_model("t5-scratch", vocab_of(ids), texts, cfg, 0)
    h = train_model(net, tok, ex, **{**train_settings(cfg), "epochs": int(ep), "group_by_length": how == "grouped"}, seed=0, device=dev,
                    progress=False)
    res = {"train examples/s": round(h["examples_per_s"]), "final loss": round(float(np.mean(h["losses"][-20:])), 3)}
    with torch.no_grad():
        ev = evaluate(net, tok, inp.data, test_q, rec_test, ids, cfg, progress=False)
        for t in ("search", "rec"):
            res[f"{t} R@30 (beam)"], res[f"{t} beam prompts/s"] = round(ev["metrics"][t]["recall@30"], 3), round(ev["queries_per_s"][t], 1)
        if a.exact:
            ev = evaluate(net, tok, inp.data, small_q, small_r, ids, {**cfg, "decoder": "exact"}, progress=False)
            for t in ("search", "rec"):
                res[f"{t} R@30 (exact, {ev['metrics'][t]['n']})"] = round(ev["metrics"][t]["recall@30"], 3)
                res[f"{t} exact prompts/s"] = round(ev["queries_per_s"][t], 1)
    out[f"{ep} epochs, {how} batches"] = res
    print(json.dumps({conf: res}), flush=True)
print(json.dumps(out, indent=1))
