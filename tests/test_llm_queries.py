"""Search queries from a language model: against a real chat-completions server on loopback that misbehaves on purpose
(HTTP errors, timeouts, malformed and partial answers, answers naming the item), a kill in the middle that loses no
finished item, a local transformers causal LM, and queries='llm' through the experiment."""
import json, os, re, signal, subprocess, sys, textwrap, time
from pathlib import Path
import numpy as np, pandas as pd, pytest
from loopback import chat_server
from semid_nb.core import SemidError
from semid_nb.data import load_dataset
from semid_nb.llm_queries import ChatClient, LocalLM, generate_llm_queries, llm_prompt
from semid_nb.runner import run_experiment, is_finished

SMALL = dict(max_items=25, max_users=20)


def good(prompt, n=10, stem="a film about"):
    "A well-formed answer that does not name the item."
    return json.dumps({"queries": [f"{stem} topic {k}" for k in range(n)], "paraphrases": [f"{stem} subject {k}" for k in range(n)]})


def script(data, plan):
    "An answer function: item i's k-th request gets plan[i][k-1] (then good answers)."
    text = {llm_prompt(t): i for i, t in enumerate(data.items.text)}
    def answer(prompt, k):
        todo = plan.get(text[prompt], [])
        what = todo[k - 1] if k <= len(todo) else "good"
        title = data.items.title[text[prompt]]
        return {"good": good(prompt), "malformed": '{"queries": ["a", "b"', "partial": good(prompt, 4), "prose": "Here are some ideas!",
                "titled": json.dumps({"queries": [f"{title} again {k}" for k in range(10)], "paraphrases": [f"x {k}" for k in range(10)]})
                }.get(what, what)
    return answer


def test_misbehaving_server(tmp_path):
    data = load_dataset(**SMALL)
    plan = {0: [500, "good"], 1: ["timeout", "good"], 2: ["malformed"], 3: ["partial"], 4: ["prose", 503],
            5: ["titled"] * 10}                                         # item 5 never gets a usable answer
    srv = chat_server(script(data, plan))
    try:
        client = ChatClient(srv.url + "/v1", "fake-model", timeout=1)
        qs = generate_llm_queries(data, client, 10, tmp_path, concurrency=4, retries=3, backoff=0.05, progress=False)
    finally: srv.stop()
    assert qs.attrs["llm"]["failed"] == 1 and set(qs.item) == set(range(data.n_items)) - {5}
    assert (qs.groupby(["item", "split"]).size() == 10).all()
    titles = data.items.title.str.lower()
    assert not any(t in q.lower() for t, q in zip(titles[qs.item], qs["query"]))
    failures = json.loads((tmp_path/"failures.json").read_text())
    assert list(failures) == [str(data.items.raw_id[5])] and "usable" in failures[str(data.items.raw_id[5])]
    assert srv.seen[llm_prompt(data.items.text[0])] == 2 and srv.seen[llm_prompt(data.items.text[4])] == 3
    assert srv.seen[llm_prompt(data.items.text[6])] == 1                  # a good item is asked once


KILLABLE = """
import sys
from semid_nb.data import load_dataset
from semid_nb.llm_queries import ChatClient, generate_llm_queries
data = load_dataset(max_items=25, max_users=20)
generate_llm_queries(data, ChatClient(sys.argv[1], "fake", timeout=10), 10, sys.argv[2], concurrency=2, retries=0, progress=False)
"""


def test_kill_and_resume_loses_no_finished_item(tmp_path):
    data = load_dataset(**SMALL)
    srv = chat_server(lambda p, k: good(p), delay=0.4)
    cache = tmp_path/"cache"
    try:
        proc = subprocess.Popen([sys.executable, "-c", KILLABLE, srv.url + "/v1", str(cache)], start_new_session=True,
                                env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while len(list(cache.glob("*.json"))) < 6 and time.time() < deadline: time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL); proc.wait()
        done = {f.name: f.stat().st_mtime_ns for f in cache.glob("*.json")}
        assert 6 <= len(done) < data.n_items                          # killed in the middle
        asked_before = dict(srv.seen)
        qs = generate_llm_queries(data, ChatClient(srv.url + "/v1", "fake", timeout=10), 10, cache, retries=0, progress=False)
    finally: srv.stop()
    assert qs.item.nunique() == data.n_items and qs.attrs["llm"]["failed"] == 0
    assert all((cache/f).stat().st_mtime_ns == t for f, t in done.items())  # finished items were not redone...
    for f in done:
        raw = json.loads((cache/f).read_text())["raw_id"]
        p = llm_prompt(data.items.text[list(data.items.raw_id).index(raw)])
        assert srv.seen[p] == asked_before[p]                         # ...nor asked again
    assert all(len(json.loads(f.read_text())["queries"]) == 10 for f in cache.glob("*.json") if f.name != "failures.json")  # none half-written


def test_local_causal_lm(tmp_path):
    # a transformers causal LM from a folder (random weights: its answers are malformed, and reported as such)
    from transformers import GPT2Config, GPT2LMHeadModel
    from semid_nb.joint_model import train_tokenizer
    tok = train_tokenizer(["a film about toys and a heist", "queries paraphrases json"] * 20, 80)
    tok.save_pretrained(tmp_path/"lm")
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_layer=1, n_head=2, n_embd=16, n_positions=4096)).save_pretrained(tmp_path/"lm")
    lm = LocalLM(str(tmp_path/"lm"), max_new_tokens=8, batch_size=4, device="cpu")
    assert lm.model is None                                        # loaded on first use, not when every answer is cached
    assert len(lm(["hello", "a longer prompt here"])) == 2
    data = load_dataset(max_items=6, max_users=20)
    qs = generate_llm_queries(data, lm, 10, tmp_path/"cache", retries=1, backoff=0, progress=False)
    assert len(qs) == 0 and qs.attrs["llm"]["failed"] == data.n_items
    assert all("malformed" in v for v in json.loads((tmp_path/"cache/failures.json").read_text()).values())


def test_llm_queries_through_the_experiment(tmp_path):
    srv = chat_server(lambda p, k: good(p, 4, "something"))
    over = {"llm_url": srv.url + "/v1", "llm_model": "fake-model"}
    try:
        run = run_experiment(out_dir=str(tmp_path), queries="llm", preset="smoke", overrides=over, progress=False)
    finally: srv.stop()
    rep = json.loads((run/"report.json").read_text())
    assert is_finished(run) and rep["queries"]["source"] == "llm" and rep["queries"]["llm"]["failed"] == 0
    assert rep["queries"]["rows"] == 120 * 4 * 2                       # smoke: 4 queries and 4 paraphrases per item
    t = time.time()
    with pytest.raises(SemidError, match="needs a language model"):
        run_experiment(out_dir=str(tmp_path), queries="llm", preset="smoke", progress=False)
    assert time.time() - t < 10
