"""Each learned component learned something, on the default preset's data: ENMF beats popularity, the multi-task
bi-encoder's loss goes down, no quantizer collapses, Prefix-share learns both tasks' codebooks."""
import numpy as np, pytest
from semid_nb.core import get_config
from semid_nb.data import load_dataset
from semid_nb.queries import generate_queries
from semid_nb.embeddings import SPACES, item_embeddings, enmf, finetune_bi_encoder, load_sentence_model, cooccurrence_pairs
from semid_nb.semantic_ids import QUANTIZERS, quantize, add_collision_level, id_stats, prefix_share_codes

BUILT_IN_QUANTIZERS = [q for q in QUANTIZERS if QUANTIZERS[q].source is None]
# a quarter of the default preset's 200 quantizer epochs: collapse shows early, and at 40 epochs RQ-VAE already uses
# 189 of 256 second-level codes and Prefix-share at least 180 (4x less time; 03's slow cell shows the full 200)
EPOCHS = 50


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
    tr = qs[(qs.split == "train") & (qs.item < 60)]  # 20 steps of 32
    model = load_sentence_model(cfg["embedding_model"])
    a, b = cooccurrence_pairs(data, 1, len(tr), seed=0).T
    texts = data.items.text
    h = finetune_bi_encoder(model, tr["query"].tolist(), texts[tr.item].tolist(), tr.item.to_numpy(), 1, 32, 2e-5, 0, progress=False,
                            pairs2=(texts[a].tolist(), texts[b].tolist(), a))
    assert np.mean(h["losses"][-10:]) < h["losses"][0] - 0.5


@pytest.mark.parametrize("quantizer", BUILT_IN_QUANTIZERS)
def test_quantizers_do_not_collapse(full, quantizer):
    cfg, data, emb = full
    st = id_stats(add_collision_level(quantize(emb, quantizer, {**cfg, "quantizer_epochs": EPOCHS}, seed=0)),
                  cfg["codebook_size"])
    assert st["unique_before_collisions"] > 0.45 * data.n_items, st          # a collapsed codebook would give few IDs
    assert min(st["codebook_usage"]) > 0.5 * cfg["codebook_size"], st


def test_prefix_share_learns_both_task_codebooks(full):
    cfg, data, emb = full
    other = np.random.default_rng(0).normal(size=(data.n_items, 32)).astype(np.float32)
    c = prefix_share_codes(emb, other, cfg["n_levels"], cfg["codebook_size"], 0, EPOCHS, cfg["quantizer_lr"],
                           cfg["quantizer_batch_size"], cfg["latent_dim"])
    for t in ("search", "rec"):
        ids = add_collision_level(np.column_stack([c["shared"], c[t]]))
        st = id_stats(ids, cfg["codebook_size"])
        assert st["unique_before_collisions"] > 0.45 * data.n_items and min(st["codebook_usage"]) > 64, (t, st)
