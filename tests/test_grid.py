"""The grid: killed in the middle and restarted, it loses no finished run and leaves no run looking finished
that is not; the report builds the tables, figure and decoder comparison from the runs."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pandas as pd, pytest
from semid_nb.core import SemidError
from semid_nb.grid import GRIDS, run_grid, grid_runs
from semid_nb.experiment import run_name
from semid_nb.runner import is_finished
from semid_nb.report import write_report, load_runs, collect



@pytest.fixture(scope="module")
def out(tmp_path_factory): return tmp_path_factory.mktemp("grid")


def _folders(out, seeds):
    return [out/run_name(p) for p in grid_runs("smoke", seeds=seeds, out_dir=str(out))]


def test_killed_grid_resumes_then_reports(out):
    cmd = [sys.executable, "-c", "import sys; from semid_nb.cli import grid_main; grid_main(sys.argv[1:])",
           "--grid", "smoke", "--seeds", "0", "--out-dir", str(out), "--no-report"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    first, second = _folders(out, [0])[:2]
    deadline = time.time() + 600
    while not (is_finished(first) and second.exists()) and time.time() < deadline and proc.poll() is None: time.sleep(0.5)
    assert is_finished(first) and second.exists(), "the grid did not get to its second run"
    time.sleep(2)                                      # the second run is under way
    os.killpg(proc.pid, signal.SIGKILL); proc.wait()   # kill the grid and its papermill kernels
    done_before = (first/"DONE.json").stat().st_mtime_ns
    assert not is_finished(second)                     # the interrupted run does not look finished
    manifest = json.loads((out/"grid-smoke.json").read_text())
    assert manifest["runs"][first.name] == "finished" and manifest["runs"][second.name] != "finished"
    df = run_grid("smoke", seeds=[0], out_dir=str(out), progress=False)
    assert (df.state == "finished").all() and all(is_finished(f) for f in _folders(out, [0]))
    assert (first/"DONE.json").stat().st_mtime_ns == done_before  # the finished run was not redone
    # one test, not two that build on each other: `--dist loadgroup` did not keep them on one worker (pytest 9.2)
    done = {f: (f/"DONE.json").stat().st_mtime_ns for f in _folders(out, [0])}
    run_grid("smoke", seeds=[0], out_dir=str(out), progress=False)
    assert {f: (f/"DONE.json").stat().st_mtime_ns for f in done} == done  # everything finished: nothing is rerun
    df = run_grid("smoke", out_dir=str(out), progress=False, keep=out/"kept")  # seeds 0 and 1: only seed 1 runs
    assert len(df) == 6 and (df.state == "finished").all()
    assert sorted(p.name for p in (out/"kept").iterdir()) == sorted(f.name for f in _folders(out, [1]))  # as they ran
    assert all(is_finished(p) and not (p/"checkpoint").exists() for p in (out/"kept").iterdir())
    res = collect(df.folder)
    assert len(res) == 6 and set(res.seed) == {0, 1}
    rep = write_report(df.folder.tolist(), out/"report")
    for f in ("table1.md", "table2.md", "table3.md", "table2.csv", "figure1.png", "runs.csv", "decoders.csv", "enmf_lr.csv", "README.md"):
        assert (rep/f).exists(), f
    assert "Holm's correction" in (rep/"README.md").read_text()  # the family test, whatever the seeds
    per_run = pd.read_csv(rep/"runs.csv")
    sep = per_run[per_run.embedding == "separate"].iloc[0]
    assert sep["largest collision"].startswith("search: ") and ", rec: " in sep["largest collision"]
    assert (pd.read_csv(rep/"enmf_lr.csv")["validation R@30"].between(0, 1)).all()
    t2 = (rep/"table2.md").read_text()
    assert "(a) Content" in t2 and "(b) Separate" in t2 and "± " in t2 and "*popularity*" in t2 and "*BM25*" in t2 and "*ENMF*" in t2
    assert per_run[["search exact", "rec exact"]].stack().between(0, 1).all()  # the exact decoder beside every row
    num = pd.read_csv(rep/"table2.csv", index_col=0)
    runs = load_runs(df.folder)
    assert num.loc["Content", "search mean"] == pytest.approx(runs[runs.embedding == "content"].search.mean())
    dec = pd.read_csv(rep/"decoders.csv")
    assert set(dec.decoder) == {"diverse beam search", "exact"} and (dec["recall@30"].between(0, 1)).all()
    stamp = (rep/"decoders.json").stat().st_mtime_ns
    write_report(df.folder.tolist(), out/"report")       # nothing changed: the decoder comparison is reused
    assert (rep/"decoders.json").stat().st_mtime_ns == stamp and pd.read_csv(rep/"decoders.csv").equals(dec)
    assert "Runs made at commit" in (rep/"README.md").read_text()
    # the report keeps its runs' results (not their models); a grid can take them instead of training again
    assert sorted(p.name for p in (rep/"runs").iterdir()) == sorted(Path(f).name for f in df.folder)
    # several folders, searched in order: seed 1 from the kept runs, seed 0 (only there) from the report's
    again = run_grid("smoke", out_dir=str(out/"reused"), reuse=[out/"kept", rep/"runs"], progress=False)
    assert (again.state == "finished").all() and not any((Path(f)/"checkpoint").exists() for f in again.folder)
    pd.testing.assert_frame_equal(collect(again.folder).drop(columns="folder"), res.drop(columns="folder"))
    rep2 = write_report(again.folder.tolist(), out/"reused_report")  # no models: no decoder comparison, same tables
    assert (rep2/"table2.md").read_text() == t2 and not (rep2/"decoders.csv").exists()


def test_bad_grid_input(out):
    with pytest.raises(SemidError, match="Choose one of"): run_grid("everything", out_dir=str(out))
    with pytest.raises(SemidError, match="1 <= i <= n"): run_grid("smoke", shard_spec="3/2", out_dir=str(out))
    with pytest.raises(SemidError, match="No finished runs"): load_runs([out/"nothing"])
    with pytest.raises(SemidError, match="no such folder"): run_grid("smoke", out_dir=str(out), reuse=out/"nowhere")


def test_sweep_grid_reports_its_validation_sweep(out, monkeypatch):
    # the `sweep` grid's mechanism on the smoke preset: two learning rates, two epochs each, one row
    monkeypatch.setitem(GRIDS, "tiny_sweep", dict(rows=[("content", "rq_kmeans")], seeds=[0], preset="smoke",
                                                  sweep={"lr": [5e-4, 4e-3], "epochs": [2]}))
    # two workers: the shared models (content, ENMF) in spawned processes, then both runs side by side
    df = run_grid("tiny_sweep", out_dir=str(out/"sweep"), progress=False, workers=2)
    assert (df.state == "finished").all() and len(df) == 2
    rep = write_report(df.folder.tolist(), out/"sweep_report")
    sw = pd.read_csv(rep/"sweep.csv")
    assert list(sw.lr) == [5e-4, 4e-3] and sw["best epoch"].isin([1, 2]).all() and sw.chosen.sum() == 1
    assert sw["valid mean"].between(0, 1).all() and "Validation sweep" in (text := (rep/"README.md").read_text())
    assert "0.0005" in text  # a learning rate is written in full, not rounded to 0.001
    assert not (rep/"table2.md").exists()  # settings are not seeds: no tables averaging over them


def test_spread_grid_separates_initialisation_order_and_ids(out, monkeypatch):
    # the `spread` grid's mechanism on the smoke preset: seeds 0 and 1, with the ID set and the order fixed, then the
    # ID set and the initialisation, then the T5's two (the quantizer taking the run's seed, as every run does)
    monkeypatch.setitem(GRIDS, "tiny_spread", dict(rows=[("content", "rq_kmeans")], seeds=[0, 1], preset="smoke",
                                                   variants=[{"id_seed": 0, "order_seed": 0},
                                                             {"id_seed": 0, "init_seed": 0},
                                                             {"init_seed": 0, "order_seed": 0}]))
    df = run_grid("tiny_spread", out_dir=str(out/"spread"), progress=False)
    # seed 0 is one model in every way (nothing it fixes differs from the plain run): trained once, then seed 1 thrice
    assert (df.state == "finished").all() and len(df) == 4
    settings = [json.loads((Path(f)/"params.json").read_text())["settings"] for f in df.folder]
    assert [(s["init_seed"], s["order_seed"], s["id_seed"]) for s in settings] == [
        (None, None, None), (None, 0, 0), (0, None, 0), (0, 0, None)]
    ids = [json.loads((Path(f)/"report.json").read_text())["id_stats"] for f in df.folder]
    assert ids[3] != ids[0] and ids[1] == ids[0]  # the quantizer's seed changed only the last run's ID set
    rep = write_report(df.folder.tolist(), out/"spread_report")
    sp = pd.read_csv(rep/"spread.csv")
    assert list(sp["seeds vary"]) == ["initialisation", "training order", "ID set"] and (sp.seeds == 2).all()
    assert not (rep/"table2.md").exists() and not (rep/"sweep.csv").exists()
