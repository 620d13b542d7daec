import pytest
"""The significance test's calibration: null tables drawn like the committed grid (its prompts, per-item hit rates
and seed spread) find a significant comparison of the paper's findings in at most 6.5% of tables at alpha 0.05, and
planted differences are found as often as the report's minimal detectable difference says."""
from pathlib import Path
import numpy as np
from semid_nb.report import load_runs, family, task_hits
from semid_nb.significance import grid_shape, null_error_rate, detection_rate, minimal_detectable_difference
from semid_nb.tables import FINDINGS

RUNS = Path(__file__).resolve().parents[1]/"outputs"/"report"/"runs"


def _shapes():
    runs = load_runs(sorted(RUNS.iterdir()))
    comps = [c for f in FINDINGS for c in f.comparisons]
    rows = list(dict.fromkeys(r for a, b, _ in comps for r in (a, b)))
    shapes = {k: grid_shape(*task_hits(runs, rows, k)) for k in ("search", "rec")}
    return runs, comps, rows, shapes


def test_null_tables_keep_the_family_error_rate():
    _, comps, rows, shapes = _shapes()
    if not all(s.seeds >= 2 for s in shapes.values()):  # seed 0 alone (issue 28 adds seeds): no seed spread to draw
        pytest.skip("the committed report has one seed per row; the calibration needs its seed spread")
    assert all(s.seed_sd > 0 for s in shapes.values())
    rate = null_error_rate(shapes, rows, comps, n_tables=1000, seed=1)
    assert rate <= 0.065, rate


def test_planted_differences_are_found_at_the_detectable_size():
    runs, comps, _, shapes = _shapes()
    m = len(family(runs))
    for k, s in shapes.items():
        mdd = minimal_detectable_difference(s, m, n_trials=100, seed=2)
        if mdd == float("inf"):  # too few seeds for this task's spread: not even a planted 0.5 is found most times
            assert detection_rate(s, 0.5, m, n_trials=100, seed=3) < 0.8, k
            continue
        assert 0 < mdd <= 1, (k, mdd)
        assert detection_rate(s, mdd, m, n_trials=100, seed=3) >= 0.7           # found most of the time at it
        assert detection_rate(s, mdd / 3, m, n_trials=100, seed=4) <= 0.5       # rarely at a third of it
