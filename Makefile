# On a fresh clone (Python 3.11 and pip are all that is needed):
#   make repro       bring the results up to date: dvc repro reruns only stages whose code or params changed
#                    (on a fresh clone: none; only the cached corpus data/text is rebuilt, in seconds)
#   make repro-all   regenerate every CPU stage from an empty run store at the laptop scale (~105 min of
#                    training, one stage after another, with progress); FRESH=1 moves a non-empty run store aside
#   make paper-point the GPU stage (needs CUDA), then records it in dvc.lock
#   make test        run the test suite (unit tests, notebook smoke runs, nbval)
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# tool caches stay in the project, not in $HOME
export MPLCONFIGDIR := $(CURDIR)/.cache/matplotlib
export IPYTHONDIR := $(CURDIR)/.cache/ipython
export JUPYTER_CONFIG_DIR := $(CURDIR)/.cache/jupyter/config
export JUPYTER_DATA_DIR := $(CURDIR)/.cache/jupyter/data
export JUPYTER_RUNTIME_DIR := $(CURDIR)/.cache/jupyter/runtime
export TORCHINDUCTOR_CACHE_DIR := $(CURDIR)/.cache/inductor
export DVC_SITE_CACHE_DIR := $(CURDIR)/.cache/dvc
export PYTHONUNBUFFERED := 1
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup repro repro-all paper-point test lab browser-check fashion-mnist

$(BIN)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	mkdir -p .cache/ipython .cache/matplotlib
	$(BIN)/python -m ipykernel install --prefix $(VENV) --name python3 --display-name "memlib (Python 3)" >/dev/null
	touch $@

setup: $(BIN)/.installed

repro: setup
	$(BIN)/dvc repro

repro-all: setup
	$(BIN)/python -m memlib.pipeline repro-all $(if $(FRESH),--fresh)

paper-point: setup
	$(BIN)/python -m memlib.capacity paper-point laptop
	$(BIN)/dvc commit -f capacity_paper_point

test: setup
	$(BIN)/python -m pytest -q tests notebooks --nbval-lax --ignore=notebooks/executed

# JupyterLab on 127.0.0.1, no browser opened (headless and remote machines: open the printed URL, or tunnel the
# port); as root it adds --allow-root. More options: make lab LAB_ARGS="--port 8899"
LAB_ARGS ?=
lab: setup
	$(BIN)/jupyter lab --no-browser --ServerApp.ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root) \
		$(LAB_ARGS) notebooks/

# A real-browser check (run before each release of results; ~20 s, not in CI, which has no browser): JupyterLab on
# 127.0.0.1, an executed notebook in headless Chromium, its figures decoded and a typed cell run.
# make browser-check NB=notebooks/executed/03_text_generalization.ipynb
NB ?= notebooks/executed/01_capacity.ipynb
browser-check: setup
	test -x /usr/bin/chromedriver || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)
	$(BIN)/python -m pip install -q $$(grep '^selenium==' requirements-dev.txt)
	$(BIN)/python scripts/browser_check.py $(NB)

# optional: Fashion-MNIST for notebook 06 at `paper` scale (Debian/Ubuntu, root); elsewhere put the four idx
# .gz files in a folder and export MEMLIB_FASHION_MNIST=/that/folder
fashion-mnist:
	apt-get install -y dataset-fashion-mnist
