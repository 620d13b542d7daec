"""Benchmark of the generative stage on this machine (CPU or GPU): joint training and decoding throughput of the
default model on ml-100k with content RQ-KMeans IDs, plus Recall@30 after the epochs run.

    python tools/bench_train_eval.py [--configs 8:random 8:grouped] [--queries 2000] [--users 943] [--exact 300] [--data-dir DIR] [--ids FILE.npz]

`--ids` reads Semantic IDs saved as an npz with an `ids` array (for machines without faiss or the MiniLM package);
by default they are built (and cached) like the experiment does. Figures are printed, nothing is written."""
import argparse, json, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np, torch
from semid_nb.core import get_config, get_device
from semid_nb.data import load_dataset, generate_queries, rec_examples
from semid_nb.semantic_ids import IDSet, vocab_of
from semid_nb.joint_model import build_model, item_token_ids, encode_examples, train_model, search_prompt, rec_prompt
from semid_nb.evaluation import IDTrie, rank_items, exact_rank_items, target_ranks, metrics_from_ranks

ap = argparse.ArgumentParser()
ap.add_argument("--queries", type=int, default=2000)
ap.add_argument("--users", type=int, default=943); ap.add_argument("--exact", type=int, default=300, help="prompts for the exact decoder")
ap.add_argument("--data-dir", default=None); ap.add_argument("--ids", default=None)
ap.add_argument("--configs", nargs="*", default=["1:random", "1:grouped"], help="EPOCHS:random|grouped, one model trained per config")
a = ap.parse_args()
cfg, dev = get_config("default"), get_device()
data = load_dataset("ml-100k", a.data_dir)
qs = generate_queries(data, cfg["n_train_queries"], cfg["n_test_queries"], 0)
if a.ids: codes = np.load(a.ids)["ids"]
else:
    from semid_nb.embeddings import item_embeddings
    from semid_nb.semantic_ids import semantic_ids
    codes = semantic_ids(item_embeddings(data, "content", cfg), "rq_kmeans", cfg)
ids = IDSet(codes, cfg["codebook_size"]); strings = ids.strings()
train_q = qs[qs.split == "train"]
rec_train = rec_examples(data, "train", cfg["max_history"], cfg["rec_targets_per_user"])
sources = [search_prompt(q) for q in train_q["query"]] + [rec_prompt([strings[i] for i in h]) for h in rec_train.history]
texts = list(train_q["query"]) + data.items.text.tolist() + ["search: recommend:"]  # the scratch tokenizer's training text
_, tok = build_model("t5-scratch", vocab_of({"s": ids}), texts, cfg, 0)
targets = item_token_ids(tok, ids)[np.concatenate([train_q.item.to_numpy(), rec_train.target.to_numpy()])]
ex = encode_examples(tok, sources, targets, cfg["max_source_len"])
out = {"device": torch.cuda.get_device_name() if dev.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)", "torch": torch.__version__}
test_q = qs[qs.split == "test"].sample(a.queries, random_state=0)
users = rec_examples(data, "test", cfg["max_history"]).sample(min(a.users, len(data.users)), random_state=0)
trie = IDTrie(item_token_ids(tok, ids))
tasks = (("search", [search_prompt(q) for q in test_q["query"]], test_q.item.to_numpy()),
         ("rec", [rec_prompt([strings[i] for i in hh]) for hh in users.history], users.target.to_numpy()))
recall = lambda ranked, target: round(metrics_from_ranks(target_ranks(ranked, target))["recall@30"], 3)
for conf in a.configs:  # e.g. 8:grouped, 10:random
    ep, how = conf.split(":"); ep = int(ep)
    net, _ = build_model("t5-scratch", vocab_of({"s": ids}), texts, cfg, 0)
    h = train_model(net, tok, ex, ep, cfg["lr"], cfg["batch_size"], cfg["weight_decay"], cfg["warmup_ratio"], 0, dev, progress=False,
                    group_by_length=how == "grouped")
    res = {"train examples/s": round(h["examples_per_s"]), "final loss": round(float(np.mean(h["losses"][-20:])), 3)}
    net.eval()
    with torch.no_grad():
        for task, prompts, target in tasks:
            ranked, qps = rank_items(net, tok, prompts, trie, cfg["num_beams"], cfg["num_groups"], cfg["diversity_penalty"], True,
                                     cfg["eval_batch_size"], cfg["max_source_len"], progress=False)
            res[f"{task} R@30 (beam)"], res[f"{task} beam prompts/s"] = recall(ranked, target), round(qps, 1)
            if a.exact:
                ranked, qps = exact_rank_items(net, tok, prompts[:a.exact], trie, 30, 8, cfg["max_source_len"], progress=False)
                res[f"{task} R@30 (exact, first {a.exact})"], res[f"{task} exact prompts/s"] = recall(ranked, target[:a.exact]), round(qps, 1)
    out[f"{ep} epochs, {how} batches"] = res
    print(json.dumps({conf: res}), flush=True)
print(json.dumps(out, indent=1))
