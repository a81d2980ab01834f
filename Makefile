# `make demo` and `make test` do all set-up themselves on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
MODELS := .cache/models

.PHONY: install demo test test-fast fuzz bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[torch,test,hf,keras,plot]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	@$(PY) -m models build toy > /dev/null
	$(VENV)/bin/graphshape analyze $(MODELS)/toy.onnx --verify

test: install
	$(PY) -m pytest -q -p no:cacheprovider --durations=20 tests

test-fast: install
	$(PY) -m pytest -q -p no:cacheprovider -m "not large and not fuzz" tests

fuzz: install
	GRAPHSHAPE_FUZZ_GRAPHS=2000 $(PY) -m pytest -q -p no:cacheprovider -m fuzz tests

bench: install
	$(PY) -m pip install -q -r bench/requirements.txt
	$(PY) bench/run.py

lint: install
	$(PY) -m pip install -q -e '.[lint]'
	$(PY) -m ruff check graphshape models tests bench tools
	$(PY) -m mypy

clean:
	rm -rf $(VENV) .cache
