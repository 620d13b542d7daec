"""Data stage on the other raw layout (GroupLens u.data/u.item) and split invariants on ml-100k."""
import numpy as np, pandas as pd
from semid_nb.data import load_dataset, rec_examples
from semid_nb.datasets import read_movielens
from semid_nb.queries import generate_queries, query_ambiguity


def test_grouplens_layout(tmp_path):
    flags = lambda *on: [1 if g in on else 0 for g in range(19)]
    items = [[1, "Toy Story (1995)", "01-Jan-1995", "", "url", *flags(3, 4, 5)],
             [2, "GoldenEye (1995)", "01-Jan-1995", "", "url", *flags(1, 2, 16)],
             [3, "Heat (1995)", "15-Dec-1995", "", "url", *flags(1, 6, 16)]]
    pd.DataFrame(items).to_csv(tmp_path/"u.item", sep="|", header=False, index=False, encoding="latin-1")
    inter = [(1, 1, 4, 1), (1, 2, 3, 2), (1, 3, 5, 3), (2, 3, 4, 1), (2, 1, 4, 2), (2, 2, 2, 3)]
    pd.DataFrame(inter).to_csv(tmp_path/"u.data", sep="\t", header=False, index=False)
    d = load_dataset("ml-100k", data_dir=tmp_path)
    assert d.items.title.tolist() == ["Toy Story", "GoldenEye", "Heat"]
    assert d.items.genres[0] == ["Animation", "Children's", "Comedy"] and d.items.year[2] == 1995
    assert d.test == {"1": 2, "2": 1} and d.valid == {"1": 1, "2": 0} and d.train == {"1": [0], "2": [2]}


def test_ml100k_split_is_chronological():
    d = load_dataset()
    items, inter = read_movielens()
    raw2item = pd.Series(d.items.index, index=d.items.raw_id)
    last = inter.assign(item=inter.item.map(raw2item)).sort_values("timestamp", kind="stable").groupby("user").timestamp.max()
    ts = inter.assign(item=inter.item.map(raw2item)).set_index(["user", "item"]).timestamp
    for u in list(d.test)[:50]:
        assert ts[(u, d.test[u])] == last[u]                       # test item is the latest
        assert ts[(u, d.valid[u])] <= ts[(u, d.test[u])]
        assert all(ts[(u, i)] <= ts[(u, d.valid[u])] for i in d.train[u])
    ex = rec_examples(d, "test", max_history=5)
    u = ex.user[0]
    assert ex.history[0] == (d.train[u] + [d.valid[u]])[-5:]


def test_mean_rating_uses_train_interactions_only():
    # reception in the queries comes from mean_rating: it must ignore each user's held-out last two interactions
    d = load_dataset(max_items=200, max_users=100)
    _, inter = read_movielens()
    raw2item = pd.Series(d.items.index, index=d.items.raw_id)
    inter = inter[inter.user.isin(set(d.test)) & inter.item.isin(set(d.items.raw_id))].assign(item=lambda x: x.item.map(raw2item))
    kept = []
    # the split's order: time, then item id (the tie rule), never the file's order
    for u, g in inter.assign(o=range(len(inter))).sort_values(["timestamp", "item"], kind="stable").groupby("user"):
        kept.append(g.iloc[:-2])
    expected = pd.concat(kept).groupby("item").rating.mean().reindex(d.items.index)
    assert np.allclose(d.items.mean_rating, expected, equal_nan=True)
    amb = query_ambiguity(d, generate_queries(d, 3, 3, seed=1))
    assert 0 < amb["attribute_match_recall@30"] <= 1
