"""Latency of a trained model's answers on this machine: one query's and one history's p50/p95 for both decoders,
beside the batched throughput of the same decoders (what `semid-serve` and `semid-search` cost per request).

    python benchmarks/latency.py outputs/runs/<a finished run or an export> [--repeats 50] [--batch 256]
"""
import argparse, json, time
import numpy as np
from semid_nb.inference import SemanticIDModel

QUERIES = ["a funny animated kids movie from the 90s", "award-winning gritty crime thriller",
           "a scary horror flick from the 80s", "romantic comedy set in new york", "epic war drama"]

def timed(fn, repeats:int) -> np.ndarray:
    "Seconds of each of `repeats` calls (after one warm-up)."
    fn(); out = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); out.append(time.perf_counter() - t)
    return np.array(out)

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model"); ap.add_argument("--repeats", type=int, default=50); ap.add_argument("--batch", type=int, default=256)
    a = ap.parse_args(argv)
    m = SemanticIDModel.load(a.model)
    hist = m.items.raw_id.iloc[[49, 99, 180]].tolist()  # three films by id
    rows = []
    for decoder in ("diverse_beam", "exact"):
        k = min(30, m.settings["num_beams"]) if decoder == "diverse_beam" else 30
        for task, one, many in (("search", lambda: m.search(QUERIES[0], k, decoder),
                                 lambda: m.search_many((QUERIES * a.batch)[:a.batch], k, decoder)),
                                ("recommend", lambda: m.recommend(hist, k, decoder),
                                 lambda: m.recommend_many([hist] * a.batch, k, decoder))):
            s = timed(one, a.repeats)
            t = time.perf_counter(); many(); batched = a.batch / (time.perf_counter() - t)
            rows.append({"decoder": decoder, "task": task, "p50 ms": round(1000 * np.percentile(s, 50), 1),
                         "p95 ms": round(1000 * np.percentile(s, 95), 1), f"batched prompts/s ({a.batch})": round(batched, 1)})
    for r in rows: print(json.dumps(r))

if __name__ == "__main__": main()
