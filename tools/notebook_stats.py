"""How much the notebooks show: for every exported definition (a public top-level function or class of a `#| export` cell),
whether a later cell before the next exported cell uses it and has a saved output; and the exported cells' lengths.
`python tools/notebook_stats.py` prints it per notebook; `tests/test_repo.py` holds the thresholds."""
import ast, json, re, statistics, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def cells(nb_path: Path) -> list:
    return [c for c in json.loads(nb_path.read_text())["cells"] if c["cell_type"] == "code"]

def source(c) -> str: return "".join(c["source"])

def exported(c) -> bool: return any(l.strip().startswith("#| export") for l in source(c).splitlines()[:3])

def definitions(c) -> list:
    body = "\n".join(l for l in source(c).splitlines() if not l.startswith("#|"))
    try: tree = ast.parse(body)
    except SyntaxError: return []
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")]

def stats(nb_path: Path) -> dict:
    cs, shown, defs, lengths = cells(nb_path), [], [], []
    for i, c in enumerate(cs):
        if not exported(c): continue
        lines = [l for l in source(c).splitlines() if l.strip() and not l.startswith("#|")]
        if definitions(c): lengths.append(len(lines))
        after = []
        for d in cs[i + 1:]:
            if exported(d): break
            after.append(d)
        for name in definitions(c):
            defs.append(name)
            used = [d for d in after if re.search(rf"\b{re.escape(name)}\b", source(d))]
            if any(d.get("outputs") for d in used): shown.append(name)
    return {"definitions": defs, "shown": shown, "lengths": lengths}

def summary(nbs=None) -> dict:
    nbs = nbs or sorted(p for p in (ROOT/"nbs").glob("*.ipynb") if p.stem != "index")
    per = {p.stem: stats(p) for p in nbs}
    defs = sum(len(s["definitions"]) for s in per.values()); shown = sum(len(s["shown"]) for s in per.values())
    lengths = [l for s in per.values() for l in s["lengths"]]
    return {"per": per, "definitions": defs, "shown": shown, "share_shown": shown / max(defs, 1),
            "median_lines": statistics.median(lengths) if lengths else 0}

if __name__ == "__main__":
    s = summary()
    for name, v in s["per"].items():
        med = statistics.median(v["lengths"]) if v["lengths"] else 0
        print(f"{name:20s} {len(v['shown']):3d}/{len(v['definitions']):3d} shown, median exported cell {med:g} lines")
    print(f"all: {s['shown']}/{s['definitions']} shown ({s['share_shown']:.0%}), median exported cell "
          f"{s['median_lines']:g} lines", file=sys.stderr)
