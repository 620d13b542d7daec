"""The experiment notebook end to end through papermill (smoke preset): files, resumption, crashes, bad input."""
import json, os, time
from pathlib import Path
import numpy as np, pandas as pd, pytest
from semid_nb.core import SemidError
from semid_nb.runner import run_experiment, is_finished, summary_table
from semid_nb.cli import run_main as main

pytestmark = pytest.mark.xdist_group("experiment")  # its tests build on the one before: one process

SMOKE = dict(preset="smoke")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return out, run_experiment(out_dir=str(out), progress=False, **SMOKE)


def test_run_writes_every_file(smoke_run):
    _, run = smoke_run
    assert is_finished(run)
    for f in ("params.json", "metrics.json", "report.json", "ranks.npz", "experiment.ipynb", "loss.png", "checkpoint/config.json"):
        assert (run/f).exists(), f
    m = json.loads((run/"metrics.json").read_text())
    assert set(m) == {"search", "rec", "rec_head", "rec_torso"}
    for task in ("search", "rec"):
        assert set(m[task]) >= {"recall@30", "recall@10", "ndcg@10"} and 0 <= m[task]["recall@30"] <= 1
    p = json.loads((run/"params.json").read_text())
    assert p["seed"] == 0 and p["params"]["preset"] == "smoke" and p["settings"]["codebook_size"] == 8
    assert p["versions"]["torch"] and "git_commit" in p
    r = np.load(run/"ranks.npz")
    assert len(r["search"]) == m["search"]["n"] and len(r["rec"]) == m["rec"]["n"]
    # the metrics can be recomputed from the saved ranks
    assert np.isclose(((r["search"] > 0) & (r["search"] <= 30)).mean(), m["search"]["recall@30"])
    # parameters reached the notebook: papermill kept the `parameters` tag and injected after it
    nb = json.loads((run/"experiment.ipynb").read_text())
    tags = [c["metadata"].get("tags", []) for c in nb["cells"]]
    assert tags.index(["injected-parameters"]) == tags.index(["parameters"]) + 1


def test_finished_run_is_skipped(smoke_run):
    out, run = smoke_run
    before = (run/"DONE.json").stat().st_mtime_ns
    t = time.time(); again = run_experiment(out_dir=str(out), progress=False, **SMOKE)
    assert again == run and (run/"DONE.json").stat().st_mtime_ns == before and time.time() - t < 10


def test_crashed_run_is_redone(smoke_run):
    out, run = smoke_run
    (run/"DONE.json").unlink()                       # as if killed after metrics.json but before the end
    (run/"metrics.json").write_text('{"search": {"recall@30": 0.999}}')
    assert not is_finished(run)
    run_experiment(out_dir=str(out), progress=False, **SMOKE)
    assert is_finished(run) and json.loads((run/"metrics.json").read_text())["search"]["recall@30"] != 0.999


def test_summary_table(smoke_run):
    df = summary_table(smoke_run[1])
    assert list(df.index) == ["semantic IDs", "dense bi-encoder (content)", "BM25", "ENMF", "dense next-item (content)", "popularity", "random"]
    assert 0 <= df.loc["dense bi-encoder (content)", ("search", "recall@30")] <= 1
    assert df.loc["random", ("search", "recall@30")] == pytest.approx(min(1, 30 / 120))


@pytest.mark.parametrize("bad, msg", [
    (dict(embedding="bert"), "Unknown embedding"), (dict(quantizer="pq"), "Unknown quantizer"),
    (dict(dataset="ml-77m"), "Unknown dataset"), (dict(model="google/flan-t5-base"), "hf download"),
    (dict(queries="missing.csv"), "is neither one of template"), (dict(preset="huge"), "Unknown preset"),
    (dict(overrides={"epoch": 1}), "Unknown setting")])
def test_bad_input_fails_fast(tmp_path, bad, msg):
    t = time.time()
    with pytest.raises(SemidError, match=msg): run_experiment(out_dir=str(tmp_path), **{**SMOKE, **bad})
    assert time.time() - t < 10 and not any(tmp_path.iterdir())


def test_cli_reports_errors(capsys):
    with pytest.raises(SystemExit) as e: main(["--embedding", "bert"])
    assert "Unknown embedding 'bert'" in str(e.value)


def test_cli_set_repeats(tmp_path):
    # `--set` given twice keeps both (the Makefile's GRID_ARGS and a user's ARGS): the first one's bad key is seen
    with pytest.raises(SystemExit) as e:
        main(["--preset", "smoke", "--out-dir", str(tmp_path), "--set", "epoch=1", "--set", "epochs=1"])
    assert "Unknown setting" in str(e.value) and "epoch" in str(e.value)


def test_user_query_file(tmp_path):
    # a user's own queries replace the generated ones; bad files are refused with a message
    from semid_nb.data import load_dataset
    data = load_dataset(max_items=120, max_users=60)
    raw = data.items.raw_id
    q = pd.DataFrame({"item_id": np.repeat(raw, 3), "query": [f"{g} film {k}" for g in data.items.genres.str.join(" ") for k in range(3)],
                      "split": ["train", "train", "test"] * len(raw)})
    q.to_csv(tmp_path/"q.csv", index=False)
    run = run_experiment(out_dir=str(tmp_path/"runs"), queries=str(tmp_path/"q.csv"), progress=False, **SMOKE)
    assert is_finished(run) and "q" in run.name
    assert json.loads((run/"metrics.json").read_text())["search"]["n"] == min(len(raw), 40)
    q.drop(columns="split").to_csv(tmp_path/"bad.csv", index=False)
    with pytest.raises(Exception, match="lacks column"):
        run_experiment(out_dir=str(tmp_path/"runs"), queries=str(tmp_path/"bad.csv"), progress=False, **SMOKE)
    assert not any(is_finished(p) for p in (tmp_path/"runs").iterdir() if "bad" in p.name)


def test_terminal_shows_stages_and_training(tmp_path):
    # what a user sees while `semid-run` works: each stage, and training's step, epoch and loss (not papermill's cell counter)
    import subprocess, sys
    cmd = [sys.executable, "-c", "import sys; from semid_nb.cli import run_main; run_main(sys.argv[1:])", "--preset", "smoke",
           "--out-dir", str(tmp_path), "--set", "epochs=2"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    for stage in ("data", "embeddings", "semantic IDs", "training", "evaluation", "baselines"):
        assert f"content/rq_kmeans s0: {stage}" in res.stderr, stage
    assert "epoch=2/2" in res.stderr and "loss=" in res.stderr
    assert "Executing" not in res.stderr and "without encryption" not in res.stderr  # no papermill cell counter, no kernel noise
    assert "semantic IDs" in res.stdout and "results:" in res.stdout
