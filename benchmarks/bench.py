"""Throughput of the generative stage beside the libraries a user would otherwise use, as ratios measured in one run:

- training: our loop against Hugging Face's `Seq2SeqTrainer` on the same examples, for the default `t5-scratch` shape and
  the T5-base shape (d_model 768, 12+12 layers, source 64 tokens, target 4), examples/s and peak memory;
- decoding: our trie-constrained diverse beam search (60 beams, 30 groups) against transformers' `generate` with plain
  beam search (60 beams) constrained by `prefix_allowed_tokens_fn`, same model, prompts/s; the share of decode time the
  constraint costs; the exact decoder (trie walk) against teacher forcing every item;
- several runs per card (`--parts per-card`, CUDA): 1, 2 and 4 processes training the default shape on one card at
  once (what `semid-grid --devices cuda:0 cuda:0 ...` does), their epochs started at one moment: the card's examples/s
  (every example over the span from that moment to the last process's end);
- catalogue size: the trie's build time and memory at 1.7k, 62k (the paper's) and 1M items;
- ENMF (opt-in, `--parts enmf`): the recommendation space's training through RecBole with RecBole's own `forward`
  against ours, seconds per epoch and peak memory (MovieLens-1M by default, whose long histories make the difference).

    python benchmarks/bench.py [--quick] [--out outputs/bench]

CPU always (on this 2-core machine in about 5 minutes); CUDA when present (bf16 autocast, and torch.compile for our
loop). Prints a table per part and writes `bench-<device>.json`. Timings on shared machines vary 2-4x between runs:
read the ratios, which are measured side by side."""
import argparse, contextlib, io, json, sys, tempfile, time, warnings
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np, pandas as pd, torch
from semid_nb.core import get_device, outputs_dir
from semid_nb.semantic_ids import build_id_sets, vocab_of
from semid_nb.joint_model import build_model, tokenizer_texts, joint_examples, train_model, train_settings, pad_batch, search_prompts
from semid_nb.decoding import IDTrie, rank_items, exact_rank_items, trie_scores, exhaustive_scores
from semid_nb.evaluation import eval_sets
from semid_nb.joint_model import encode_examples, item_token_ids
from semid_nb.experiment import load_inputs, peak_rss_mb


def device_name(dev) -> str:
    return torch.cuda.get_device_name() if dev.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"


def sync(dev):
    if dev.type == "cuda": torch.cuda.synchronize()


def reset_peak(dev):
    peak_rss_mb(reset=True)
    if dev.type == "cuda": torch.cuda.reset_peak_memory_stats()


def peak(dev) -> float:
    "Peak memory since the last reset: GPU memory allocated on CUDA, resident memory on the CPU (MiB)."
    return torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else peak_rss_mb()


def t5_base_like(tok):
    "A randomly initialised model of flan-t5-base's shape with our tokenizer (no pretrained weights offline)."
    from transformers import T5Config, T5ForConditionalGeneration
    c = T5Config(vocab_size=len(tok), d_model=768, d_ff=2048, num_layers=12, num_decoder_layers=12, num_heads=12, d_kv=64,
                 feed_forward_proj="gated-gelu", decoder_start_token_id=tok.pad_token_id, pad_token_id=tok.pad_token_id,
                 eos_token_id=tok.eos_token_id, tie_word_embeddings=False)
    return T5ForConditionalGeneration(c)


def fixed_length(ex, n, length=64):
    "The first `n` examples with every prompt padded (or cut) to exactly `length` tokens, as the T5-base shape asks."
    src = [(s + [0] * length)[:length] for s in ex["source"][:n]]
    return {"source": src, "target": ex["target"][:n]}


def ours(model, tok, ex, bs, dev, compile_=False, start_at=None) -> dict:
    "Our loop on `ex`, one epoch after a warm-up step (from `start_at`, a wall time, if given): examples/s and memory."
    warm = {k: v[:bs] for k, v in ex.items() if k in ("source", "target")}
    kw = dict(lr=2e-3, batch_size=bs, weight_decay=0.01, warmup_ratio=0.05, progress=False, device=dev, group_by_length=True,
              compile=compile_)
    train_model(model, tok, warm, epochs=1, **kw)
    sync(dev); reset_peak(dev)
    if start_at: time.sleep(max(0.0, start_at - time.time()))
    began = time.time()
    h = train_model(model, tok, ex, epochs=1, **kw)
    sync(dev)
    ended = time.time()
    return {"examples/s": round(h["examples_per_s"], 1), "peak MiB": round(peak(dev)), "began": began, "ended": ended}


def hf_trainer(model, tok, ex, bs, dev) -> dict:
    "Hugging Face's Seq2SeqTrainer on the same examples and settings: examples/s and peak memory."
    from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments
    rows = [{"input_ids": s, "attention_mask": [1] * len(s), "labels": t} for s, t in zip(ex["source"], ex["target"])]
    with tempfile.TemporaryDirectory() as d, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        args = Seq2SeqTrainingArguments(output_dir=d, per_device_train_batch_size=bs, num_train_epochs=1, learning_rate=2e-3,
                                        weight_decay=0.01, warmup_steps=0.05, max_grad_norm=1.0, lr_scheduler_type="linear",
                                        bf16=dev.type == "cuda", report_to=[], save_strategy="no", logging_strategy="no",
                                        train_sampling_strategy="group_by_length", dataloader_num_workers=0, disable_tqdm=True,
                                        use_cpu=dev.type != "cuda")
        coll = DataCollatorForSeq2Seq(tok, model=None, padding=True, label_pad_token_id=-100)
        quiet = lambda: contextlib.redirect_stdout(io.StringIO())  # the Trainer prints its metrics
        with quiet(): Seq2SeqTrainer(model=model, args=args, train_dataset=rows[:bs], data_collator=coll).train()  # warm-up
        sync(dev); reset_peak(dev)
        t = time.time()
        with quiet(): Seq2SeqTrainer(model=model, args=args, train_dataset=rows, data_collator=coll).train()
        sync(dev)
        return {"examples/s": round(len(rows) / (time.time() - t), 1), "peak MiB": round(peak(dev))}


def training(inp, ids, tok, ex, dev, quick, which=("default", "base"), start_at=None, ours_only=False) -> list:
    "Training rows: default shape and T5-base shape (`which`), ours (eager, and compiled on CUDA) against HF."
    rows, cfg = [], inp.cfg
    n_small = 2048 if dev.type == "cpu" else 16384
    n_base = (16 if quick else 32) if dev.type == "cpu" else 8192
    shapes = [("t5-scratch default", lambda: build_model("t5-scratch", vocab_of(ids), tokenizer_texts(inp.data, inp.queries), cfg, 0)[0],
               {k: ex[k][:n_small] for k in ("source", "target")}, cfg["batch_size"])]
    # the T5-base shape: batch 8 on a CPU; on a GPU batch 512, the batch of the anchors' compiled figure
    shapes.append(("T5-base shape, source 64", lambda: t5_base_like(tok), fixed_length(ex, n_base), 8 if dev.type == "cpu" else 512))
    for (name, make, exs, bs), key in zip(shapes, ("default", "base")):
        if key not in which: continue
        row = {"model": name, "batch": bs, "examples": len(exs["source"])}
        torch.manual_seed(0); r = ours(make(), tok, exs, bs, dev, start_at=start_at)
        row.update({"ours ex/s": r["examples/s"], "ours peak MiB": r["peak MiB"]})
        if ours_only:  # per_card's children: when the measured epoch began and ended
            rows.append({**row, "began": r["began"], "ended": r["ended"]}); print(json.dumps(row), flush=True); continue
        if dev.type == "cuda" and "T5-base" in name:  # compiling takes a minute: only where it matters
            torch.manual_seed(0); r = ours(make(), tok, exs, bs, dev, compile_=True)
            row.update({"ours+compile ex/s": r["examples/s"]})
        torch.manual_seed(0); r = hf_trainer(make(), tok, exs, bs, dev)
        row.update({"HF ex/s": r["examples/s"], "HF peak MiB": r["peak MiB"], "ours / HF": round(row["ours ex/s"] / r["examples/s"], 2)})
        rows.append(row); print(json.dumps(row), flush=True)
    return rows


def per_card(dev, counts=(1, 2, 4), settle=60, timeout=300) -> list:
    "Several processes training the default shape on one card, their epochs started together: the card's examples/s."
    import subprocess
    rows = []
    for k in counts:
        start = time.time() + settle  # every process has loaded its inputs and warmed up by then
        with tempfile.TemporaryDirectory() as d:
            cmd = lambda i: [sys.executable, __file__, "--parts", "training", "--shapes", "default", "--ours-only",
                             "--start-at", str(start), "--out", f"{d}/{i}"]
            logs = [open(f"{d}/{i}.log", "w") for i in range(k)]
            procs = [subprocess.Popen(cmd(i), stdout=logs[i], stderr=subprocess.STDOUT) for i in range(k)]
            codes = []
            for i, p in enumerate(procs):
                try: codes.append(p.wait(timeout=max(1, start + timeout - time.time())))
                except subprocess.TimeoutExpired: p.kill(); codes.append("timed out")
                logs[i].close()
                if codes[-1] != 0:
                    print(f"process {i} of {k}: {codes[-1]}\n" + Path(f"{d}/{i}.log").read_text()[-2000:])
            got = [json.loads(Path(f"{d}/{i}/bench-{dev.type}.json").read_text())["training"][0]
                   for i in range(k) if codes[i] == 0]
        row = {"processes": k, "failed": k - len(got), "ex/s each": [g["ours ex/s"] for g in got]}
        if got:  # the card's rate: every example over the span from the common start to the last end
            row["start lag s"] = round(max(g["began"] for g in got) - start, 2)  # over 1 s: not started together
            row["card ex/s"] = round(sum(g["examples"] for g in got) / (max(g["ended"] for g in got) - start))
        rows.append(row); print(json.dumps(row), flush=True)
    one = next((r.get("card ex/s") for r in rows if r["processes"] == 1 and not r["failed"]), None)
    for r in rows: r["vs one"] = round(r["card ex/s"] / one, 2) if one and "card ex/s" in r else None
    return rows


def hf_constrained(model, tok, trie, prompts, beams, max_len, dev, batch=8) -> float:
    "Prompts/s of transformers' generate: plain beam search constrained to the trie by prefix_allowed_tokens_fn."
    children = {}
    for row in trie.item_tokens.tolist():
        for d in range(len(row)): children.setdefault(tuple(row[:d]), set()).add(row[d])
    children = {k: sorted(v) for k, v in children.items()}
    eos = [tok.eos_token_id]
    allowed = lambda b, ids: children.get(tuple(ids[1:].tolist()), eos)  # drop the decoder start token
    src = encode_examples(tok, prompts, None, max_len)["source"]
    t = time.time()
    for i in range(0, len(src), batch):
        ids, am = pad_batch(src[i:i + batch], tok.pad_token_id, dev)
        with torch.no_grad():
            model.generate(input_ids=ids, attention_mask=am, num_beams=beams, num_return_sequences=beams, do_sample=False,
                           max_new_tokens=trie.L + 1, prefix_allowed_tokens_fn=allowed, early_stopping=True)
    sync(dev)
    return len(src) / (time.time() - t)


def decoding(model, tok, inp, ids, dev, quick) -> list:
    "Decoding rows: ours (constrained and not), transformers' constrained beam search, exact trie walk, teacher forcing."
    cfg = inp.cfg
    test_q, _ = eval_sets(inp.data, inp.queries, {**cfg, "max_eval_queries": 2000}, 0)
    prompts = search_prompts(test_q["query"])
    trie = IDTrie(item_token_ids(tok, ids["search"]))
    model.to(dev).eval()
    n_ours = (256 if quick else 1000) if dev.type == "cpu" else 2000
    kw = dict(num_beams=cfg["num_beams"], num_groups=cfg["num_groups"], diversity_penalty=cfg["diversity_penalty"],
              max_source_len=cfg["max_source_len"], progress=False)
    bs = cfg["eval_batch_size" if dev.type == "cpu" else "eval_batch_size_gpu"]
    rank_items(model, tok, prompts[:bs], trie, batch_size=bs, **kw)  # warm-up
    _, beam = rank_items(model, tok, prompts[:n_ours], trie, batch_size=bs, constrained=True, **kw)
    _, free = rank_items(model, tok, prompts[:n_ours], trie, batch_size=bs, constrained=False, **kw)
    n_hf = (16 if quick else 32) if dev.type == "cpu" else 256
    hf = max(hf_constrained(model, tok, trie, prompts[:n_hf], cfg["num_beams"], cfg["max_source_len"], dev, batch=b)
             for b in ((8, 32) if dev.type == "cpu" else (64, 256)))          # the better of two batch sizes
    _, best_first = exact_rank_items(model, tok, prompts[:n_ours], trie, 30, bs, cfg["max_source_len"], progress=False)
    src = encode_examples(tok, prompts, None, cfg["max_source_len"])["source"]
    def all_scores(fn, n, b):
        t = time.time()
        for i in range(0, n, b):
            x, am = pad_batch(src[i:i + b], tok.pad_token_id, dev)
            with torch.no_grad(): fn(model, x, am, trie, batch_size=b)
        sync(dev)
        return n / (time.time() - t)
    n_ex = (32 if quick else 64) if dev.type == "cpu" else 512
    trie_ps = all_scores(trie_scores, n_ex, 8 if dev.type == "cpu" else 64)
    tf_ps = all_scores(exhaustive_scores, max(8, n_ex // 4), 8)
    rows = [{"decoder": "ours: diverse beam search, trie-constrained", "beams": kw["num_beams"], "prompts/s": round(beam, 1)},
            {"decoder": "ours: the same, unconstrained", "beams": kw["num_beams"], "prompts/s": round(free, 1)},
            {"decoder": "transformers generate: beam search + prefix_allowed_tokens_fn", "beams": kw["num_beams"], "prompts/s": round(hf, 2)},
            {"decoder": "ours: exact top 30, best-first over the trie", "beams": None, "prompts/s": round(best_first, 1)},
            {"decoder": "ours: exact, every item's score (trie walk)", "beams": None, "prompts/s": round(trie_ps, 1)},
            {"decoder": "exact, teacher forcing every item", "beams": None, "prompts/s": round(tf_ps, 2)}]
    summary = {"ours / transformers (constrained beam search)": round(beam / hf, 1),
               "constraint share of decode time": round(max(0.0, 1 - beam / free), 3),
               "exact (best-first) / diverse beam search": round(best_first / beam, 2),
               "exact best-first / teacher forcing": round(best_first / tf_ps, 1)}
    for r in rows: print(json.dumps(r), flush=True)
    print(json.dumps(summary), flush=True)
    return rows, summary


def trie_sizes() -> list:
    "Trie build time and memory at catalogue sizes (synthetic IDs: 2 random codes of 256 and the collision level)."
    from semid_nb.semantic_ids import add_collision_level
    rows = []
    for n in (1_682, 62_138, 1_000_000):
        codes = add_collision_level(np.random.default_rng(0).integers(0, 256, (n, 2)))
        tokens = torch.as_tensor(codes + np.array([0, 256, 512]))          # any distinct token ids per level
        reset_peak(torch.device("cpu")); base = peak_rss_mb()
        t = time.time(); trie = IDTrie(tokens); secs = time.time() - t
        nbytes = sum(v.numel() * v.element_size() for v in vars(trie).values() if torch.is_tensor(v))
        rows.append({"items": n, "nodes": sum(trie.level_sizes), "build s": round(secs, 2), "trie MiB": round(nbytes / 2**20, 1),
                     "peak RSS increase MiB": round(peak_rss_mb() - base), "largest collision group": int(codes[:, 2].max()) + 1})
        print(json.dumps(rows[-1]), flush=True)
        del trie
    return rows


def enmf_forward(dataset: str, epochs: int) -> list:
    "ENMF's training through RecBole with RecBole's own `forward` and with ours (`recbole_compat`): s/epoch, peak RSS."
    from semid_nb import recbole_compat
    from semid_nb.data import load_dataset
    from semid_nb.embeddings import _enmf_one
    data, patched, rows = load_dataset(dataset), recbole_compat._enmf_forward, []
    longest = max(len(h) for h in data.train.values())
    try:
        for name, forward in (("RecBole's ENMF.forward", recbole_compat.unpatched_enmf().forward), ("ours", patched)):
            recbole_compat._enmf_forward = forward                   # what `patch_recbole` installs on each fit
            reset_peak(torch.device("cpu")); t = time.time()
            f = _enmf_one(data, epochs, 512, 256, 0.01, 0)
            rows.append({"dataset": dataset, "forward": name, "epochs": epochs, "longest history": longest,
                         "s/epoch (setup incl.)": round((time.time() - t) / epochs, 1), "peak RSS MiB": round(peak_rss_mb()),
                         "validation Recall@30": round(float(f["valid_recall@30"]), 4)})
            print(json.dumps(rows[-1]), flush=True)
    finally:
        recbole_compat._enmf_forward = patched
    col = "s/epoch (setup incl.)"
    rows.append({"dataset": dataset, "forward": "ratio", col: round(rows[0][col] / rows[1][col], 1),
                 "peak RSS MiB": round(rows[0]["peak RSS MiB"] / rows[1]["peak RSS MiB"], 2)})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer examples and prompts (CI smoke)")
    ap.add_argument("--out", default=None, help="folder of the JSON (default outputs/bench)")
    ap.add_argument("--parts", nargs="*", default=["trie", "training", "decoding"],
                    choices=["trie", "training", "decoding", "enmf", "per-card"], help="what to measure, in this order")
    ap.add_argument("--shapes", nargs="*", default=["default", "base"], choices=["default", "base"],
                    help="the training part's model shapes")
    ap.add_argument("--per-card", type=int, nargs="+", default=[1, 2, 4], help="per-card: the numbers of processes")
    ap.add_argument("--ours-only", action="store_true", help="training: our loop only, not Hugging Face's")
    ap.add_argument("--start-at", type=float, default=None, help="training: begin the measured epoch at this wall time")
    ap.add_argument("--enmf-dataset", default="ml-1m", help="dataset of the ENMF part (its longest history matters)")
    ap.add_argument("--enmf-epochs", type=int, default=2, help="ENMF epochs per variant")
    a = ap.parse_args()
    dev = get_device()
    t0 = time.time()
    inp = load_inputs({})
    ids = build_id_sets(inp.data, "content", "rq_kmeans", inp.cfg, inp.queries, inp.shared_seed)
    model, tok = build_model("t5-scratch", vocab_of(ids), tokenizer_texts(inp.data, inp.queries), inp.cfg, 0)
    ex = joint_examples(tok, inp.data, inp.queries, ids, inp.cfg)
    out = {"device": device_name(dev), "torch": torch.__version__}
    print(f"device: {out['device']}, torch {torch.__version__}", flush=True)
    for part in a.parts:  # in the order given (the default measures the trie first, before training leaves memory resident)
        if part == "trie": out["trie"] = trie_sizes()
        if part == "enmf": out["enmf"] = enmf_forward(a.enmf_dataset, a.enmf_epochs)
        if part == "training":
            out["training"] = training(inp, ids, tok, ex, dev, a.quick, a.shapes, a.start_at, a.ours_only)
        if part == "per-card": out["per-card"] = per_card(dev, a.per_card)
        if part == "decoding":
            train_model(model, tok, ex, **{**train_settings(inp.cfg), "epochs": 2}, progress=False, device=dev)  # trained
            out["decoding"], out["decoding summary"] = decoding(model, tok, inp, ids, dev, a.quick)
    out["seconds"] = round(time.time() - t0)
    pd.set_option("display.width", 220, "display.max_columns", 20)
    for part in ("training", "decoding", "trie", "enmf", "per-card"):
        if part in out: print(f"\n{part}\n" + pd.DataFrame(out[part]).to_string(index=False))
    if "decoding summary" in out: print("\n" + "\n".join(f"{k}: {v}" for k, v in out["decoding summary"].items()))
    folder = Path(a.out) if a.out else outputs_dir()/"bench"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder/f"bench-{'cuda' if dev.type == 'cuda' else 'cpu'}.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"\n{out['seconds']} s; written {path}")


if __name__ == "__main__":
    main()
