"""Run notebooks in place so that their committed outputs show each definition at work (`make execute-nbs`).

Cells flagged `#| slow` keep the outputs they have unless `--slow` is given (they train models or read a finished
grid); every other code cell is run in order, in the notebook's folder, as `nbdev_test` runs it, and its outputs are
saved. Run `make export` afterwards to clean the notebooks (stderr, progress bars and execution counts go)."""
import argparse, os, sys
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory

def flags(cell) -> set:
    "The `#| ` directives of a code cell's first lines."
    return {l[3:].split()[0] for l in cell.source.splitlines() if l.startswith("#| ") and len(l) > 3}

def execute(path: Path, slow: bool = False) -> None:
    "Run `path`'s cells (not `slow` ones unless asked), keeping the outputs of the cells not run; write it back."
    nb = read_nb(path)
    skip = lambda c: c.cell_type != "code" or ("slow" in flags(c) and not slow) or "eval:" in flags(c)
    keep = {i: c.get("outputs", []) for i, c in enumerate(nb.cells) if c.cell_type == "code" and skip(c)}
    os.environ["IN_TEST"] = "1"
    with working_directory(path.parent):
        CaptureShell(path).run_all(nb, exc_stop=True, preproc=skip)
    for i, outs in keep.items(): nb.cells[i]["outputs"] = outs
    write_nb(nb, path)

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("--slow", action="store_true", help="also run the cells flagged slow")
    a = ap.parse_args()
    for p in a.notebooks:
        print(f"executing {p}", file=sys.stderr); execute(p.resolve(), a.slow)
