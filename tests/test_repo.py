"""Repository invariants: pinned dependencies agree, the papermill parameters tag survives, notebooks are clean."""
import configparser, json, re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def settings():
    c = configparser.ConfigParser(delimiters=["="]); c.read(ROOT/"settings.ini")
    return c["DEFAULT"]


def test_environment_yml_matches_settings():
    s = settings()
    pins = set((s["requirements"] + " " + s["dev_requirements"]).split())
    yml = {l.strip()[2:] for l in (ROOT/"environment.yml").read_text().splitlines() if re.match(r"\s+- [\w.-]+==", l)}
    assert yml == pins, (yml ^ pins)


def test_constraints_pin_every_requirement():
    cons = dict(l.split("==") for l in (ROOT/"constraints.txt").read_text().splitlines() if "==" in l and not l.startswith("#"))
    cons = {k.lower().replace("_", "-"): v for k, v in cons.items()}
    for req in settings()["requirements"].split() + settings()["dev_requirements"].split():
        name, ver = req.split("==")
        assert cons.get(name.lower()) == ver, req


def test_parameters_tag_kept():
    assert settings()["allowed_cell_metadata_keys"].strip() == "tags"
    nb = json.loads((ROOT/"nbs/06_experiment.ipynb").read_text())
    assert sum("parameters" in c.get("metadata", {}).get("tags", []) for c in nb["cells"]) == 1


def test_notebooks_are_numbered_stages_and_clean():
    names = sorted(p.stem for p in (ROOT/"nbs").glob("*.ipynb"))
    assert names == ["00_core", "01_data", "01a_datasets", "01b_queries", "01c_llm_queries", "02_embeddings", "02a_recbole_compat", "03_semantic_ids", "04_joint_model", "05_evaluation", "05a_decoding", "05b_metrics", "05c_baselines", "06_experiment", "06a_runner", "07_grid", "07a_tables", "08_report", "08a_significance", "09_scale", "10_inference", "10a_serve", "11_cli", "index"]
    for p in (ROOT/"nbs").glob("*.ipynb"):
        for c in json.loads(p.read_text())["cells"]:
            assert set(c.get("metadata", {})) <= {"tags"}, (p.name, c["metadata"])
            assert c.get("execution_count") is None, p.name
            noise = [o for o in c.get("outputs", []) if o.get("name") == "stderr"]  # progress bars and warnings
            assert not noise, (p.name, "run `make export` (tools/strip_noise.py) before committing", noise[:1])


def test_exported_lines_fit():
    # house style: no line over 120 characters in exported code (nbdev's own `__all__` block aside)
    long = []
    for p in (ROOT/"semid_nb").glob("*.py"):
        if p.name == "_modidx.py": continue
        in_all = False
        for i, line in enumerate(p.read_text().splitlines(), 1):
            in_all = line.startswith("__all__") or (in_all and line.startswith(" "))
            if len(line) > 120 and not in_all: long.append(f"{p.name}:{i} ({len(line)})")
    assert not long, long


def _package_modules():
    return {p.stem: p for p in (ROOT/"semid_nb").glob("*.py") if p.stem not in ("__init__", "_modidx")}


def _imports(path):
    "The package modules a module imports, at the top or inside functions."
    import ast
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module: out.add(node.module.split(".")[0])
            elif node.module and node.module.startswith("semid_nb."): out.add(node.module.split(".")[1])
            elif node.module == "semid_nb" or (node.level == 1 and not node.module):
                out |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("semid_nb.")}
    return out


def test_no_import_cycle():
    mods = _package_modules()
    graph = {m: _imports(p) & set(mods) - {m} for m, p in mods.items()}
    state = {}
    def visit(m, path):
        if state.get(m) == "done": return
        assert state.get(m) != "open", f"import cycle: {' -> '.join(path + [m])}"
        state[m] = "open"
        for n in sorted(graph[m]): visit(n, path + [m])
        state[m] = "done"
    for m in graph: visit(m, [])
    assert not any("cli" in deps for m, deps in graph.items()), "no library module imports the command line"


def test_each_stage_is_called_from_one_place():
    import ast
    calls = {n: [] for n in ("train_model", "evaluate", "run_baselines", "build_id_sets")}
    for m, p in _package_modules().items():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in calls: calls[name].append(f"{m}:{node.lineno}")
    assert all(len(v) == 1 for v in calls.values()), calls


def test_readme_is_a_short_guide_with_generated_results():
    from semid_nb.report import readme_results
    text = (ROOT/"README.md").read_text()
    lines = text.splitlines()
    assert len(lines) <= 200, len(lines)
    assert not [i for i, l in enumerate(lines, 1) if len(l) > 120], "README lines over 120 characters"
    assert "https://arxiv.org/abs/2508.10478" in text and "@inproceedings" in text
    marker = "<!-- results: generated from outputs/report/ by semid_nb.report.readme_results -->"
    section = text.split(marker, 1)[1].split("\n## ", 1)[0].strip()
    assert section == readme_results(ROOT/"outputs"/"report").strip(), "README results differ from outputs/report"


def test_notebooks_show_their_definitions():
    import sys; sys.path.insert(0, str(ROOT/"tools"))
    from notebook_stats import summary
    s = summary()
    assert s["share_shown"] >= 0.6, f"{s['shown']} of {s['definitions']} exported definitions shown at work"
    assert s["median_lines"] <= 10, f"median exported cell {s['median_lines']} lines"


def test_compare_runs_tells_identical_runs_from_other_draws(tmp_path, capsys):
    import json, shutil, sys; sys.path.insert(0, str(ROOT/"tools"))
    import numpy as np
    from scipy import stats
    from compare_runs import compare, main, row_of
    old = ROOT/"outputs"/"report"/"runs"
    assert row_of("a-b-s3-37eae46f") == row_of("a-b-s0-37eae46f") == "a-b-37eae46f" and row_of("a-b-s12") == "a-b"
    runs = [old/f"ml-100k-template-{r}-rq_kmeans-t5-scratch-default-s0-37eae46f" for r in ("rec", "search")]
    for p in runs: shutil.copytree(p, tmp_path/p.name)
    t = compare(tmp_path, old)
    assert len(t) == 2 and t[["same ids", "same ranks", "same metrics"]].all(axis=None), t
    # another draw of the Search row: its ranks and Recall@30 moved, by 0.05 on search
    moved = tmp_path/runs[1].name
    m = json.loads((moved/"metrics.json").read_text()); m["search"]["recall@30"] += 0.05
    (moved/"metrics.json").write_text(json.dumps(m))
    r = dict(np.load(moved/"ranks.npz")); k = next(iter(r)); r[k] = r[k] + 1; np.savez(moved/"ranks.npz", **r)
    row = compare(tmp_path, old).set_index("run").loc["search-rq_kmeans-s0-37eae46f"]
    assert row["same ids"] and not row["same ranks"] and not row["same metrics"]
    others = [json.loads((p/"metrics.json").read_text())["search"]["recall@30"]
              for p in old.glob(runs[1].name.replace("-s0-", "-s*-")) if p.name != runs[1].name]
    n = len(others); assert n >= 2 and row["other seeds"] == n
    expect = (m["search"]["recall@30"] - np.mean(others)) / (np.std(others, ddof=1) * (1 + 1 / n) ** 0.5)
    assert abs(row["search t"] - expect) < 0.01
    q = stats.t.ppf(0.975, n - 1)
    assert row["inside 95%"] == (abs(row["search t"]) <= q and abs(row["rec t"]) <= q)
    assert main([str(tmp_path), str(old)]) == 0
    assert "1 of 2 runs identical to OLD's bit for bit" in capsys.readouterr().out
    m["search"]["recall@30"] += 1.0; (moved/"metrics.json").write_text(json.dumps(m))  # far outside the seeds
    assert not compare(tmp_path, old).set_index("run").loc["search-rq_kmeans-s0-37eae46f", "inside 95%"]
    shutil.copytree(moved, tmp_path/moved.name.replace("-s0-", "-s9-"))  # a seed OLD has not
    assert main([str(tmp_path), str(old)]) == 1
    for p in list(tmp_path.iterdir()):
        if "-s9-" not in p.name: shutil.rmtree(p)
    assert main([str(tmp_path), str(old)]) == 1 and "none of the 1 runs" in capsys.readouterr().out
