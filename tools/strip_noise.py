"""Drop progress bars, warnings and other stderr from the notebooks' saved outputs (after `nbdev_clean`): readers see
results, not tqdm frames. Stdout, tables and figures stay. Also drops the empty `tags` lists papermill adds to every
cell it executes (`make execute-nbs`), which `nbdev_clean` keeps."""
import json, sys
from pathlib import Path

def strip(nb: dict) -> bool:
    "Remove stderr streams and blank stdout from every code cell's outputs, and empty tags; True if anything changed."
    changed = False
    for c in nb["cells"]:
        if c.get("metadata", {}).get("tags") == []: del c["metadata"]["tags"]; changed = True
        outs = c.get("outputs", [])
        keep = [o for o in outs if not (o.get("output_type") == "stream" and
                                        (o.get("name") == "stderr" or not "".join(o.get("text", "")).strip()))]
        if len(keep) != len(outs): c["outputs"], changed = keep, True
    return changed

if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    for p in sorted((root/"nbs").glob("*.ipynb")):
        nb = json.loads(p.read_text())
        if strip(nb):
            p.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
            print(f"{p.name}: stderr outputs or empty tags removed", file=sys.stderr)
