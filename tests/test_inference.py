"""A trained model answers as its run was measured: for every test prompt of a smoke run, the target's rank in what
`SemanticIDModel` returns equals the rank in the run's ranks.npz; an export loads with no dataset, cache or outputs;
bad input stops with a message; the command line prints tables and JSON."""
import json
import numpy as np, pandas as pd, pytest
from semid_nb.core import SemidError
from semid_nb.runner import run_experiment
from semid_nb.experiment import load_inputs
from semid_nb.evaluation import eval_sets
from semid_nb.inference import SemanticIDModel, export_model, shipped_model
from semid_nb.cli import search_main, recommend_main, export_main

pytestmark = pytest.mark.xdist_group("inference")  # one smoke run for the file


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return run_experiment(out_dir=str(tmp_path_factory.mktemp("runs")), progress=False, preset="smoke")


def _rank(table, raw_target):
    ids = table.item_id.tolist()
    return ids.index(raw_target) + 1 if raw_target in ids else 0


def test_answers_are_what_the_run_measured(run):
    m, r = SemanticIDModel.load(run), np.load(run/"ranks.npz")
    inp = load_inputs(json.loads((run/"params.json").read_text())["params"], progress=False)
    test_q, rec_test = eval_sets(inp.data, inp.queries, inp.cfg, inp.shared_seed)
    raw, k = m.items.raw_id, m.settings["num_beams"]
    got = m.search_many(test_q["query"].tolist(), k=k)
    assert [_rank(t, raw[i]) for t, i in zip(got, test_q.item)] == r["search"].tolist()
    hist = [[raw[i] for i in inp.data.train[u] + [inp.data.valid[u]]] for u in rec_test.user]
    got = m.recommend_many(hist, k=k)  # the run's protocol: the history's items excluded inside the search
    assert [_rank(t, raw[i]) for t, i in zip(got, rec_test.target)] == r["rec"].tolist()
    assert all(not set(t.item_id) & set(h) for t, h in zip(got, hist))
    kept = m.recommend_many(hist, k=k, seen="keep")  # the other policy: items of the history may come back
    assert any(set(t.item_id) & set(h) for t, h in zip(kept, hist))
    exact = m.search(test_q["query"].iloc[0], k=20, decoder="exact")
    assert list(exact["rank"]) == list(range(1, 21)) and exact.score.is_monotonic_decreasing


def test_export_needs_no_dataset_or_cache(run, tmp_path, monkeypatch):
    want = SemanticIDModel.load(run).search("a funny comedy", k=5)
    dest = export_model(run, tmp_path/"export")
    monkeypatch.setenv("SEMID_OUTPUTS", str(tmp_path/"empty"))
    def boom(*a, **k): raise AssertionError("an export must not load the dataset")
    import semid_nb.data, semid_nb.experiment, semid_nb.inference
    for mod, name in ((semid_nb.data, "load_dataset"), (semid_nb.experiment, "load_inputs"),
                      (semid_nb.inference, "load_trained")):
        monkeypatch.setattr(mod, name, boom)
    m = SemanticIDModel.load(dest)
    pd.testing.assert_frame_equal(m.search("a funny comedy", k=5), want)
    assert not (tmp_path/"empty").exists()


def test_bad_input_says_what_to_do(run, tmp_path):
    m = SemanticIDModel.load(run)
    for call, msg in ((lambda: m.search("", 5), "empty"), (lambda: m.search("comedy", 500), "between 1 and"),
                      (lambda: m.search("comedy", 5, "greedy"), "Unknown decoder"),
                      (lambda: m.recommend(["No Such Film Title"], 5), "No item is titled"),
                      (lambda: m.recommend(["999999"], 5), "No item has id"),
                      (lambda: m.recommend([], 5), "empty"),
                      (lambda: SemanticIDModel.load(tmp_path), "neither a run folder"),
                      (lambda: export_model(tmp_path, tmp_path/"x"), "neither a run folder")):
        with pytest.raises(SemidError, match=msg): call()
    (tmp_path/"unfinished").mkdir(); (tmp_path/"unfinished"/"params.json").write_text("{}")
    with pytest.raises(SemidError, match="not a finished run"): SemanticIDModel.load(tmp_path/"unfinished")


def test_command_line(run, tmp_path, capsys):
    search_main([str(run), "a funny comedy", "-k", "3"])
    out = capsys.readouterr().out
    assert "semantic_id" in out and len(out.strip().splitlines()) == 4   # a header and three items
    first = SemanticIDModel.load(run).items.raw_id.iloc[0]
    recommend_main([str(run), "--history", first, "-k", "2", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert [r["rank"] for r in rows] == [1, 2] and first not in [r["item_id"] for r in rows]
    export_main([str(run), str(tmp_path/"exp")])
    assert "exported" in capsys.readouterr().out and (tmp_path/"exp"/"semid_export.json").exists()
    with pytest.raises(SystemExit, match="No item is titled"): recommend_main([str(run), "--titles", "Nope Nope"])


def test_the_shipped_model_answers_at_once(capsys):
    "After installation, with no training: the command line answers with the model under models/."

    path = str(shipped_model())
    search_main([path, "a funny animated movie", "-k", "5", "--json"])
    got = json.loads(capsys.readouterr().out)
    assert [r["rank"] for r in got] == [1, 2, 3, 4, 5] and all(r["title"] for r in got)
    recommend_main([path, "--titles", "Toy Story (1995)", "Aladdin (1992)", "-k", "3", "--json"])
    got = json.loads(capsys.readouterr().out)
    assert len(got) == 3 and not {"Toy Story", "Aladdin"} & {r["title"] for r in got}
