"""Beyond one process: 2 CPU processes (torchrun, Accelerate over gloo) give the metrics of one process, with every test
prompt decoded exactly once; a grid runs one run per device at a time; a grid runs as tasks on a local Ray instance."""
import json, os, subprocess, sys
from pathlib import Path
import numpy as np, pytest
from semid_nb.runner import is_finished
from semid_nb.grid import run_grid

SEMID_RUN = str(Path(sys.executable).parent/"semid-run")


def launch(n:int, out:Path):
    "The smoke experiment in-process, under torchrun with `n` CPU processes (Accelerate over gloo); its run folder."
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(n), SEMID_RUN, "--inline", "--preset", "smoke",
           "--device", "cpu", "--out-dir", str(out), "--set", "threads=1"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr[-3000:]
    return next(p.parent for p in out.glob("*/DONE.json"))


def test_two_processes_give_the_metrics_of_one(tmp_path):
    one, two = launch(1, tmp_path/"one"), launch(2, tmp_path/"two")
    done = json.loads((two/"DONE.json").read_text())
    assert done["processes"] == 2 and json.loads((one/"DONE.json").read_text())["processes"] == 1
    m1, m2 = (json.loads((r/"metrics.json").read_text()) for r in (one, two))
    assert {t: m1[t]["recall@30"] for t in m1} == {t: m2[t]["recall@30"] for t in m2}, (m1, m2)
    r1, r2 = np.load(one/"ranks.npz"), np.load(two/"ranks.npz")
    assert len(r2["search"]) == 40 and len(r2["rec"]) == 30       # every test prompt once (the gather checks it too)
    l1, l2 = (json.loads((r/"report.json").read_text())["final_loss"] for r in (one, two))
    assert abs(l1 - l2) < 5e-3 * abs(l1), (l1, l2)                 # the same training, up to float summation order
    assert all((two/f"{f}.png").exists() for f in ("loss", "validation", "recall"))  # the figures of a notebook run


def test_grid_one_run_per_device(tmp_path):
    df = run_grid("smoke", seeds=[0], devices=["cpu", "cpu"], out_dir=str(tmp_path), progress=False)
    assert (df.state == "finished").all()
    assert {json.loads((Path(f)/"params.json").read_text())["params"]["device"] for f in df.folder} == {"cpu"}


def test_grid_on_local_ray(tmp_path):
    pytest.importorskip("ray")
    import ray
    try:
        df = run_grid("smoke", seeds=[1], ray="local", out_dir=str(tmp_path), progress=False)
    finally: ray.shutdown()
    assert (df.state == "finished").all() and all(is_finished(f) for f in df.folder)
    manifest = json.loads((tmp_path/"grid-smoke.json").read_text())
    assert set(manifest["runs"].values()) == {"finished"} and not manifest["errors"]
