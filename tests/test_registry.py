"""Extending the pipeline from outside the package: a quantizer and an embedding space registered here, in test
code, run end to end through the experiment notebook (papermill, smoke preset) with no other change; the grid and
the report pick up a registered row; bad registrations are refused."""
import json
import numpy as np, pytest
from semid_nb.core import SemidError, get_config, ADDED_SETTINGS
from semid_nb.embeddings import SPACES
from semid_nb.semantic_ids import QUANTIZERS
from semid_nb.runner import run_experiment, is_finished
from semid_nb.grid import grid_runs
from semid_nb.tables import tables, row_label


@QUANTIZERS.register("sign_projection", label="sign projection", settings=("n_levels", "codebook_size"))
def sign_projection_codes(emb, n_levels, codebook_size, seed):
    "Each level's code: the signs of log2(codebook_size) random projections of the embedding, read as bits."
    bits = int(np.log2(codebook_size))
    w = np.random.default_rng(seed).normal(size=(n_levels, emb.shape[1], bits))
    return np.stack([((emb @ w[l]) > 0) @ (1 << np.arange(bits)) for l in range(n_levels)], 1).astype(np.int64)


@SPACES.register("genre_year", label="Genre and year", settings={"weight": "genre_year_weight"}, new_settings={"genre_year_weight": 2.0},
                 dense="content")
def genre_year_space(data, weight):
    "One-hot genres and a scaled release year: a metadata space with no learned part."
    genres = sorted({g for gs in data.items.genres for g in gs})
    onehot = np.array([[g in gs for g in genres] for gs in data.items.genres], np.float32)
    year = data.items.year.astype("float").fillna(data.items.year.astype("float").mean()).to_numpy(np.float32)
    return np.column_stack([weight * onehot, (year - year.mean()) / (year.std() + 1e-6)])


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory): return tmp_path_factory.mktemp("plugin_runs")


def test_outside_quantizer_runs_end_to_end(runs_dir):
    run = run_experiment(out_dir=str(runs_dir), quantizer="sign_projection", preset="smoke", progress=False)
    assert is_finished(run) and "-content-sign_projection-" in run.name
    p, rep = json.loads((run/"params.json").read_text()), json.loads((run/"report.json").read_text())
    assert any(s.endswith("test_registry.py") for s in p["params"]["plugins"])     # the kernel imported this file
    st = rep["id_stats"]["shared"]
    assert st["items"] == 120 and st["codebook_usage"][0] > 2                      # real codes, not a constant
    m = json.loads((run/"metrics.json").read_text())
    assert 0 <= m["search"]["recall@30"] <= 1 and m["rec"]["n"] == 30


def test_outside_space_runs_end_to_end(runs_dir):
    run = run_experiment(out_dir=str(runs_dir), embedding="genre_year", preset="smoke", progress=False)
    rep = json.loads((run/"report.json").read_text())
    assert is_finished(run) and rep["baselines"]["dense_next_item"]["label"] == "dense next-item (genre_year)"
    assert rep["baselines"]["dense_bi_encoder"]["label"] == "dense bi-encoder (content)"
    # its own setting is a preset setting: an override reaches it and makes another run (another cache key)
    run2 = run_experiment(out_dir=str(runs_dir), embedding="genre_year", preset="smoke", progress=False, overrides={"genre_year_weight": 0.5})
    assert run2 != run and json.loads((run2/"params.json").read_text())["settings"]["genre_year_weight"] == 0.5


def test_registered_rows_reach_the_grid_and_tables():
    QUANTIZERS.register("sign_projection_t3", label="sign projection", settings=("n_levels", "codebook_size"), tables=(3,))(sign_projection_codes)
    try:
        assert ("multitask", "sign_projection_t3") in tables()["table3"]["rows"]
        assert row_label(("multitask", "sign_projection_t3")) == "Multi-task, sign projection"
        assert sum(p["quantizer"] == "sign_projection_t3" for p in grid_runs("default")) == 1
    finally: QUANTIZERS.unregister("sign_projection_t3")
    assert ("multitask", "sign_projection_t3") not in tables()["table3"]["rows"]


def test_bad_registrations_are_refused():
    with pytest.raises(SemidError, match="unknown setting"):
        QUANTIZERS.register("typo", settings=("codebok_size",))(lambda emb, codebok_size: emb)
    with pytest.raises(SemidError, match="neither inputs"):
        QUANTIZERS.register("missing_input")(lambda emb, seed, k: emb)
    with pytest.raises(SemidError, match="already registered"):
        QUANTIZERS.register("rq_vae")(lambda emb, seed: emb)
    with pytest.raises(SemidError, match="already exists"):
        SPACES.register("clash", new_settings={"epochs": 3})(lambda data: data)
    assert "typo" not in QUANTIZERS and "clash" not in SPACES and ADDED_SETTINGS.get("epochs") is None
    with pytest.raises(SemidError, match="Unknown quantizer 'nope'"):
        run_experiment(quantizer="nope", preset="smoke")
