"""Write README.md from nbs/index.ipynb: markdown cells as they are, code cells (unless `#| hide`) as Python blocks
followed by their text output, and the results marker replaced by the results section generated from
outputs/report/ (`semid_nb.report.readme_results`). nbdev 2's own `nbdev_readme` needs Quarto, which is not
installable offline."""
import json, sys
from pathlib import Path

MARKER = "<!-- results: generated from outputs/report/ by semid_nb.report.readme_results -->"

def cell_source(c): return "".join(c["source"]) if isinstance(c["source"], list) else c["source"]

def render(nb_path: Path, report: Path) -> str:
    from semid_nb.report import readme_results
    out = []
    for c in json.loads(nb_path.read_text())["cells"]:
        src = cell_source(c).strip()
        if c["cell_type"] == "markdown":
            out.append(src.replace(MARKER, MARKER + "\n\n" + readme_results(report).rstrip()))
        elif c["cell_type"] == "code" and not any(l.strip().replace(" ", "") in ("#|hide", "#|default_exp")
                                                  for l in src.splitlines()[:3]):
            body = "\n".join(l for l in src.splitlines() if not l.startswith("#|"))
            if body.strip(): out.append(f"```python\n{body}\n```")
            for o in c.get("outputs", []):
                text = o.get("text") or o.get("data", {}).get("text/markdown") or o.get("data", {}).get("text/plain")
                if text: out.append("```\n" + ("".join(text) if isinstance(text, list) else text).rstrip() + "\n```")
    head = "<!-- generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file -->\n\n"
    return head + "\n\n".join(out) + "\n"

if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    (root/"README.md").write_text(render(root/"nbs"/"index.ipynb", root/"outputs"/"report"))
    print("README.md written", file=sys.stderr)
