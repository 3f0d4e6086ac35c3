# Two commands do everything on a fresh clone (Python 3.11 and pip are all that is needed):
#   make repro   regenerate every figure and metric (dvc repro, laptop scale)
#   make test    run the test suite (unit tests, notebook smoke runs, nbval)
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

.PHONY: setup repro test lab fashion-mnist

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

test: setup
	$(BIN)/python -m pytest -q tests notebooks --nbval-lax --ignore=notebooks/executed

lab: setup
	$(BIN)/jupyter lab notebooks/

# optional: Fashion-MNIST for notebook 06 at `paper` scale (Debian/Ubuntu, root); elsewhere put the four idx
# .gz files in a folder and export MEMLIB_FASHION_MNIST=/that/folder
fashion-mnist:
	apt-get install -y dataset-fashion-mnist
