"""One evaluation protocol: every recommender, generative or not, excludes a user's train and validation items by
default, and none of them does under the other policy (`seen_items="keep"`).

The fixture asks each ranker for the items a user already has: one test row per (user, seen item), with that item as
the target. A ranker that never returns a seen item scores Recall@30 = 0 on it exactly; one that may return them
finds some. Every ranker is called through the code a run calls (`evaluate`, `run_baselines`)."""
import numpy as np, pandas as pd, pytest
from semid_nb.data import rec_examples, seen_items
from semid_nb.evaluation import evaluate
from semid_nb.baselines import run_baselines
from semid_nb.experiment import load_trained, run_stages, run_params

RECOMMENDERS = ["enmf", "sasrec", "dense_next_item", "popularity"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    p = run_params({"preset": "smoke", "out_dir": str(out), "overrides": {"threads": 1, "max_steps": 30}})
    (out/"r").mkdir()
    run_stages(p, out/"r", progress=False)
    return load_trained(out/"r")


def _seen_targets(data, max_history, users=40):
    "One test row per (user, item of the user's train and validation history), that item as the target."
    test = rec_examples(data, "test", max_history).head(users)
    seen = seen_items(data, test.user)
    return pd.DataFrame([(r.user, r.history, i) for r, s in zip(test.itertuples(), seen) for i in s],
                        columns=["user", "history", "target"])


@pytest.mark.parametrize("policy", ["exclude", "keep"])
def test_every_ranker_follows_the_seen_item_policy(trained, policy):
    inp, id_sets, model, tok = trained
    cfg = {**inp.cfg, "seen_items": policy, "exact_also": True, "baselines": RECOMMENDERS,
           "sasrec_epochs": 1, "sasrec_dim": 8}
    rec = _seen_targets(inp.data, cfg["max_history"])
    test_q = inp.queries[inp.queries.split == "test"].head(5)
    ev = evaluate(model, tok, inp.data, test_q, rec, id_sets, cfg, progress=False)
    base = run_baselines(inp.data, cfg, inp.queries, test_q, rec, "content", inp.shared_seed)
    found = {"diverse beam": ev["metrics"]["rec"]["recall@30"], "exact": ev["exact"]["metrics"]["rec"]["recall@30"],
             **{b: base[b]["rec"]["recall@30"] for b in RECOMMENDERS}}
    assert len(found) == 6
    if policy == "exclude": assert all(v == 0 for v in found.values()), found   # no seen item in any top 30
    else: assert all(v > 0 for v in found.values()), found                       # nobody excludes
    assert all(base[b]["protocol"]["seen_items"] == policy for b in RECOMMENDERS)


def test_short_lists_count_as_misses(trained):
    inp, id_sets, model, tok = trained
    rec = rec_examples(inp.data, "test", inp.cfg["max_history"])
    ev = evaluate(model, tok, inp.data, inp.queries[inp.queries.split == "test"].head(5), rec, id_sets,
                  {**inp.cfg, "exact_also": True}, progress=False)
    lengths = ev["exact"]["list_length"]["rec"]
    # the smoke catalogue (120 films) less a user's history can leave fewer than 30: those lists are short
    assert 0 < lengths["share_under_30"] < 1 and lengths["mean"] < 30
    assert ev["ranks"]["rec"].shape == (len(rec),)
