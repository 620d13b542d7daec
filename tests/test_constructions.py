"""Every Semantic ID construction and quantizer end to end through the experiment notebook (smoke), and the ID
schemes' tokens. That each learned component learned something is in `test_learned.py`."""
import json
import pytest
from semid_nb.core import get_config
from semid_nb.data import load_dataset
from semid_nb.queries import generate_queries
from semid_nb.embeddings import SPACES
from semid_nb.semantic_ids import SCHEMES, build_id_sets, id_set_stats, construction_spaces
from semid_nb.runner import run_experiment, is_finished
from semid_nb.grid import grid_rows


def fine_tuned(name):
    "The fine-tuned bi-encoders (search, multitask) a construction's run computes, fused spaces followed to their parts."
    todo, seen = list(construction_spaces(name)), set()
    while todo:
        s = todo.pop(); seen.add(s); todo += [n for n in SPACES[s].needs if n not in seen]
    return "+".join(sorted(s for s in seen if SPACES[s].meta.get("tuned")))


# every row of the paper's tables, from the registries. The rows that fine-tune the same bi-encoder run in one pytest
# worker, which computes it once and reads it from its cache after (each worker has its own outputs folder)
CONSTRUCTIONS = [pytest.param(e, q, marks=pytest.mark.xdist_group(f"fine-tunes {t}")) if (t := fine_tuned(e))
                 else (e, q) for e, q in grid_rows("default")]


@pytest.fixture(scope="module")
def smoke():
    cfg = get_config("smoke")
    data = load_dataset("ml-100k", None, cfg)
    return cfg, data, generate_queries(data, cfg["n_train_queries"], cfg["n_test_queries"], 0)


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory): return tmp_path_factory.mktemp("runs")


@pytest.mark.parametrize("embedding, quantizer", CONSTRUCTIONS)
def test_construction_runs_end_to_end(runs_dir, embedding, quantizer):
    run = run_experiment(out_dir=str(runs_dir), embedding=embedding, quantizer=quantizer, preset="smoke", progress=False)
    assert is_finished(run) and f"-{embedding}-{quantizer}-" in run.name
    m, rep = json.loads((run/"metrics.json").read_text()), json.loads((run/"report.json").read_text())
    assert all(0 <= m[t]["recall@30"] <= 1 for t in ("search", "rec"))
    stats = rep["id_stats"]
    sets = ["search", "rec"] if embedding in SCHEMES else ["shared"]
    assert set(stats) == {*sets, "tokens_added_total"}
    for s in sets: assert {"unique_before_collisions", "codebook_usage", "perplexity", "largest_collision_group", "tokens_added"} <= set(stats[s])
    if embedding == "separate": assert stats["tokens_added_total"] == stats["search"]["tokens_added"] + stats["rec"]["tokens_added"]
    if embedding == "prefix_share":  # the shared level's tokens are counted once
        assert stats["tokens_added_total"] == stats["search"]["tokens_added"] + stats["rec"]["tokens_added"] - 8
    assert 0 <= rep["baselines"]["enmf"]["rec"]["recall@30"] <= 1 and "dense_bi_encoder" in rep["baselines"]
    assert ("dense_next_item" in rep["baselines"]) == (embedding in SPACES)
    val = rep["validation"]  # scored after its one epoch, on held-out queries and each user's second-to-last item
    assert [r["epoch"] for r in val["curve"]] == [1] and val["prompts"] == {"search": 20, "rec": 20}
    assert all(0 <= val["curve"][0][t] <= 1 for t in ("search", "rec")) and (run/"validation.png").exists()


def test_scheme_tokens(smoke):
    cfg, data, qs = smoke
    sep = build_id_sets(data, "separate", "rq_kmeans", cfg, qs)
    assert all(s.startswith("<s0_") for s in sep["search"].strings()) and all(s.startswith("<r0_") for s in sep["rec"].strings())
    ps = build_id_sets(data, "prefix_share", "rq_kmeans", cfg, qs)
    s, r = ps["search"].tokens(), ps["rec"].tokens()
    assert all(a[0] == b[0] and a[0].startswith("<l0_") and a[1].startswith("<s1_") and b[1].startswith("<r1_") for a, b in zip(s, r))
    shared = build_id_sets(data, "fused_svd", "rq_kmeans", cfg, qs)
    assert shared["search"] is shared["rec"] and set(id_set_stats(shared)) == {"shared", "tokens_added_total"}
    for ids in (*sep.values(), *ps.values()): assert len(set(ids.strings())) == data.n_items  # unique after collisions
