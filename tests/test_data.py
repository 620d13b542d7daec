"""Data stage on the other raw layout (GroupLens u.data/u.item) and split invariants on ml-100k."""
import numpy as np, pandas as pd
from semid_nb.data import load_dataset, rec_examples, generate_queries, add_train_ratings, read_movielens, query_ambiguity


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


def test_queries_never_leak_test_ratings():
    # an item's reception comes from train ratings only: changing a held-out rating cannot change the queries
    d = load_dataset(max_items=100, max_users=80)
    _, inter = read_movielens()
    a = generate_queries(add_train_ratings(d, inter), 3, 3, seed=1)
    u, i = next(iter(d.test.items()))
    raw_u, raw_i = u, d.items.raw_id[i]
    inter2 = inter.copy(); inter2.loc[(inter2.user == raw_u) & (inter2.item == raw_i), "rating"] = 1
    b = generate_queries(add_train_ratings(d, inter2), 3, 3, seed=1)
    assert a["query"].tolist() == b["query"].tolist()
    amb = query_ambiguity(d, a)
    assert 0 < amb["oracle_recall@30"] <= 1
