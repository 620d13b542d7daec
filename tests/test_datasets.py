"""Datasets beyond ml-100k: MovieLens-1M offline, GroupLens releases downloaded from a real HTTP server on loopback
(resumed, checked against their MD5), broken MovieLens folders, and a catalogue of one's own, each through the
experiment notebook where it matters; bad data is refused before papermill starts."""
import hashlib, io, json, shutil, time, zipfile
from pathlib import Path
import numpy as np, pandas as pd, pytest
from loopback import file_server
from semid_nb.core import SemidError, outputs_dir
from semid_nb.data import load_dataset
from semid_nb.datasets import release_dir, dataset_dir
from semid_nb.queries import make_queries, query_ambiguity
from semid_nb.runner import run_experiment, is_finished


def release_zip(name="ml-latest-small", n_movies=40, n_users=30) -> bytes:
    "A small GroupLens-style CSV release, zipped, with tags and a tag genome."
    rng = np.random.default_rng(0)
    genres = ["Action", "Comedy", "Drama", "Horror", "Sci-Fi", "Romance"]
    movies = "movieId,title,genres\n" + "".join(
        f"{m},Film {m} ({1980 + m % 30}),{'|'.join(rng.choice(genres, 2, replace=False))}\n" for m in range(1, n_movies + 1))
    ratings = "userId,movieId,rating,timestamp\n" + "".join(
        f"{u},{m},{rng.integers(1, 6)},{u * 1000 + k}\n" for u in range(1, n_users + 1)
        for k, m in enumerate(rng.choice(np.arange(1, n_movies + 1), 8, replace=False)))
    tags = "userId,movieId,tag,timestamp\n" + "".join(f"1,{m},{t},1\n" for m in range(1, n_movies + 1) for t in ("quirky", "dark"))
    gtags = "tagId,tag\n1,time travel\n2,heist\n"
    scores = "movieId,tagId,relevance\n" + "".join(f"{m},{t},{0.9 if (m + t) % 2 else 0.1}\n" for m in range(1, n_movies + 1) for t in (1, 2))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{name}/README.txt", rng.bytes(400_000))  # big enough for a transfer cut half-way to leave a partial file
        for f, text in {"movies.csv": movies, "ratings.csv": ratings, "tags.csv": tags, "genome-tags.csv": gtags,
                        "genome-scores.csv": scores}.items(): z.writestr(f"{name}/{f}", text)
    return buf.getvalue()


def test_download_resumes_and_checks_md5():
    body = release_zip()
    md5 = f"MD5 (ml-latest-small.zip) = {hashlib.md5(body).hexdigest()}\n".encode()
    srv = file_server({"/ml/ml-latest-small.zip": body, "/ml/ml-latest-small.zip.md5": md5}, drop_first={"/ml/ml-latest-small.zip"})
    try:
        data = load_dataset("ml-latest-small", movielens_url=srv.url + "/ml", progress=False)
        gets = [r for p, r in srv.log if p == "/ml/ml-latest-small.zip"]
        assert len(gets) == 2 and gets[0] is None and gets[1].startswith("bytes=") and gets[1] != "bytes=0-"  # resumed, not restarted
        assert (outputs_dir()/"assets/datasets/ml-latest-small.zip").read_bytes() == body
        assert data.n_items == 40 and len(data.test) == 30
        assert "Tags: dark, quirky" in data.items.text[0] and "Themes: " in data.items.text[0]  # tags and genome in the text
        qs = make_queries(data, "template", {"n_train_queries": 10, "n_test_queries": 10, "catalog_query_fields": None})
        assert qs["query"].str.contains("quirky|dark|time travel|heist").any()  # the generator uses them too
        assert query_ambiguity(data, qs)["attribute_match_recall@30"] > 0
    finally: srv.stop()


def test_bad_md5_and_offline_are_refused(tmp_path):
    srv = file_server({"/ml/ml-latest.zip": release_zip("ml-latest"), "/ml/ml-latest.zip.md5": b"0" * 32})
    try:
        with pytest.raises(SemidError, match="does not match its published MD5"):
            load_dataset("ml-latest", movielens_url=srv.url + "/ml", progress=False)
        assert not (outputs_dir()/"assets/datasets/ml-latest.zip").exists()     # the bad file is not kept
    finally: srv.stop()
    t = time.time()
    with pytest.raises(SemidError, match="Without internet.*data_dir=path/to/ml-20m.zip"):
        load_dataset("ml-20m", movielens_url="http://127.0.0.1:9/none", progress=False)  # nothing listens on port 9
    assert time.time() - t < 60


def test_local_zip_needs_no_network(tmp_path):
    (tmp_path/"ml-25m.zip").write_bytes(release_zip("ml-25m"))
    data = load_dataset("ml-25m", tmp_path/"ml-25m.zip", movielens_url="http://127.0.0.1:9/none")
    assert data.n_items == 40 and release_dir("ml-25m", tmp_path/"ml-25m.zip").is_dir()


def test_ml1m_offline():
    data = load_dataset("ml-1m")
    assert (data.n_items, len(data.test)) == (3706, 6040) and data.head.sum() == 38
    assert data.items.raw_id[0].endswith(")") and "Genres: " in data.items.text[0]
    every = load_dataset("ml-1m", keep_all_items=True)
    assert every.n_items == 3883 and every.item_pop.sum() == data.item_pop.sum()    # unrated films kept for search


def test_ml1m_through_the_experiment(tmp_path):
    run = run_experiment(out_dir=str(tmp_path), dataset="ml-1m", preset="smoke", progress=False)
    rep = json.loads((run/"report.json").read_text())
    assert is_finished(run) and run.name.startswith("ml-1m-") and rep["data"]["users"] == 60


def test_movielens_folder_with_missing_titles(tmp_path):
    # the case that once died inside the notebook: a MovieLens-format folder where some movies have no title
    src = dataset_dir("ml-100k")
    shutil.copy(src/"ml-100k.inter", tmp_path/"ml-100k.inter")
    item = pd.read_csv(src/"ml-100k.item", sep="\t", dtype=str, keep_default_na=False)
    item.loc[:4, "movie_title:token_seq" if "movie_title:token_seq" in item else item.columns[1]] = ""
    item.loc[:1, item.columns[2]] = ""                       # two of them without a year either
    item.to_csv(tmp_path/"ml-100k.item", sep="\t", index=False)
    run = run_experiment(out_dir=str(tmp_path/"runs"), data_dir=str(tmp_path), preset="smoke", progress=False)
    rep = json.loads((run/"report.json").read_text())
    assert is_finished(run) and rep["data"]["items_without_title"] == 5


def catalog_folder(folder:Path, n_items=150, n_users=70) -> Path:
    "A synthetic catalogue that is not about films: shoes with a brand, a category and a colour."
    rng = np.random.default_rng(1)
    brands, cats, colours = ["Acme", "Zed", "Nordic", "Peak"], ["trail running", "hiking", "road running", "climbing"], ["red", "blue", "black"]
    items = pd.DataFrame({"item_id": [f"sku-{i}" for i in range(n_items)], "name": [f"model {i}" for i in range(n_items)],
                          "brand": rng.choice(brands, n_items), "category": rng.choice(cats, n_items),
                          "colour": rng.choice(colours, n_items), "description": ["a light shoe for every day, every trail and every season"] * n_items})
    inter = pd.DataFrame([(f"user{u}", f"sku-{i}", u * 100 + k, float(rng.integers(1, 6)))
                          for u in range(n_users) for k, i in enumerate(rng.choice(n_items, 12, replace=False))],
                         columns=["user_id", "item_id", "timestamp", "rating"])
    folder.mkdir(parents=True, exist_ok=True)
    items.to_csv(folder/"items.csv", index=False); inter.to_parquet(folder/"interactions.parquet")
    return folder


def test_catalogue_end_to_end(tmp_path):
    folder = catalog_folder(tmp_path/"shop")
    over = {"catalog_text_fields": ["name", "brand", "category", "colour", "description"]}
    run = run_experiment(out_dir=str(tmp_path/"runs"), dataset="catalog", data_dir=str(folder), preset="smoke", progress=False,
                         overrides=over)
    rep = json.loads((run/"report.json").read_text())
    assert is_finished(run) and rep["data"]["items"] == 120 and rep["queries"]["source"] == "template"
    data = load_dataset("catalog", folder, **over)
    qs = make_queries(data, "template", {"n_train_queries": 4, "n_test_queries": 4, "catalog_query_fields": None})
    assert not qs["query"].str.contains("movie|film").any() and qs["query"].str.contains("acme|zed|nordic|peak").any()
    assert not qs["query"].str.contains("every day").any()            # the long description is not a query field


@pytest.mark.parametrize("change, msg", [
    (lambda f: (f/"items.csv").unlink(), "No items.csv or items.parquet"),
    (lambda f: pd.read_csv(f/"items.csv").pipe(lambda d: pd.concat([d, d.head(2)])).to_csv(f/"items.csv", index=False),
     "Duplicate item ids"),
    (lambda f: pd.read_parquet(f/"interactions.parquet").assign(item_id="nope").to_parquet(f/"interactions.parquet"),
     "not in the items file"),
    (lambda f: pd.read_parquet(f/"interactions.parquet").drop(columns="timestamp").to_parquet(f/"interactions.parquet"),
     "lacks column"),
    (lambda f: pd.read_parquet(f/"interactions.parquet").assign(user_id=lambda d: [f"once{i}" for i in range(len(d))])
     .to_parquet(f/"interactions.parquet"), "has the 3 interactions the split needs")])
def test_bad_catalogue_is_refused_before_the_run(tmp_path, change, msg):
    folder = catalog_folder(tmp_path/"shop"); change(folder)
    t = time.time()
    with pytest.raises(SemidError, match=msg):
        run_experiment(out_dir=str(tmp_path/"runs"), dataset="catalog", data_dir=str(folder), preset="smoke", progress=False)
    assert time.time() - t < 30 and not (tmp_path/"runs").exists()      # no papermill, no run folder
