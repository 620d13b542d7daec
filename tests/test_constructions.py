"""Every Semantic ID construction and quantizer: end to end through the experiment notebook (smoke), the ID
schemes' tokens, and checks that each learned component learned something."""
import json
import numpy as np, pandas as pd, pytest
from semid_nb.core import get_config
from semid_nb.data import load_dataset, generate_queries
from semid_nb.embeddings import SPACES, item_embeddings, enmf, finetune_bi_encoder, load_sentence_model, cooccurrence_pairs
from semid_nb.semantic_ids import QUANTIZERS, SCHEMES, build_id_sets, id_set_stats, quantize, add_collision_level, id_stats, prefix_share_codes
from semid_nb.experiment import run_experiment, is_finished
from semid_nb.grid import grid_rows

CONSTRUCTIONS = grid_rows("default")  # every row of the paper's tables, from the registries
BUILT_IN_QUANTIZERS = [q for q in QUANTIZERS if QUANTIZERS[q].source is None]


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


@pytest.fixture(scope="module")
def full():
    cfg = get_config("default")
    data = load_dataset()
    return cfg, data, item_embeddings(data, "content", cfg)


def test_enmf_beats_popularity_on_validation_users(full):
    cfg, data, _ = full
    f = enmf(data, **{**SPACES["rec"].kwargs(cfg), "lrs": [0.01]})  # the default preset's choice by validation (30 epochs)
    users = data.users
    valid = np.array([data.valid[u] for u in users])
    # rank with ENMF factors, excluding only train items (the validation item is the target)
    s = (f["user"] * f["h"]) @ f["item"].T
    for r, u in enumerate(users): s[r, data.train[u]] = -np.inf
    enmf_hit = (np.argsort(-s, 1)[:, :30] == valid[:, None]).any(1).mean()
    pop = np.argsort(-data.item_pop)
    pop_hit = np.mean([v in [i for i in pop if i not in set(data.train[u])][:30] for u, v in zip(users, valid)])
    assert f["item"].shape == (data.n_items, cfg["rec_dim"]) and enmf_hit > pop_hit + 0.03, (enmf_hit, pop_hit)
    assert float(f["valid_recall"][0]) == pytest.approx(enmf_hit, abs=0.02)  # RecBole's validation figure is the same measurement


def test_multitask_loss_goes_down(full):
    cfg, data, _ = full
    qs = generate_queries(data, seed=0)
    tr = qs[(qs.split == "train") & (qs.item < 200)]
    model = load_sentence_model(cfg["embedding_model"])
    a, b = cooccurrence_pairs(data, 1, len(tr), seed=0).T
    texts = data.items.text
    h = finetune_bi_encoder(model, tr["query"].tolist(), texts[tr.item].tolist(), tr.item.to_numpy(), 1, 32, 2e-5, 0, progress=False,
                            pairs2=(texts[a].tolist(), texts[b].tolist(), a))
    assert np.mean(h["losses"][-10:]) < h["losses"][0] - 0.5


@pytest.mark.parametrize("quantizer", BUILT_IN_QUANTIZERS)
def test_quantizers_do_not_collapse(full, quantizer):
    cfg, data, emb = full
    st = id_stats(add_collision_level(quantize(emb, quantizer, cfg, seed=0)), cfg["codebook_size"])
    assert st["unique_before_collisions"] > 0.45 * data.n_items, st          # a collapsed codebook would give few IDs
    assert min(st["codebook_usage"]) > 0.5 * cfg["codebook_size"], st


def test_prefix_share_learns_both_task_codebooks(full):
    cfg, data, emb = full
    other = np.random.default_rng(0).normal(size=(data.n_items, 32)).astype(np.float32)
    c = prefix_share_codes(emb, other, cfg["n_levels"], cfg["codebook_size"], 0, cfg["quantizer_epochs"], cfg["quantizer_lr"],
                           cfg["quantizer_batch_size"], cfg["latent_dim"])
    for t in ("search", "rec"):
        ids = add_collision_level(np.column_stack([c["shared"], c[t]]))
        st = id_stats(ids, cfg["codebook_size"])
        assert st["unique_before_collisions"] > 0.45 * data.n_items and min(st["codebook_usage"]) > 64, (t, st)
