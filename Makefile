# `make demo` and `make test` do all set-up themselves on a fresh machine: the demo installs
# what the demo needs (graphshape and torch, to build the toy), the tests everything else.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_STAMP := $(VENV)/.demo-stamp
STAMP := $(VENV)/.installed-stamp
MODELS := .cache/models

.PHONY: install install-demo browser demo test test-fast fuzz bench bench-audit lint clean

$(DEMO_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[torch]'
	touch $(DEMO_STAMP)

$(STAMP): $(DEMO_STAMP) pyproject.toml
	$(PY) -m pip install -q -e '.[torch,test,hf,keras,plot,fleet]'
	touch $(STAMP)

install-demo: $(DEMO_STAMP)

install: $(STAMP)

# The browser tests (tests/test_html_report.py) drive the system's Chromium through
# Playwright; Playwright never downloads a browser here. Installed with apt where this
# machine allows it, else the tests say why they are skipped.
browser:
	@if [ -x "$${GRAPHSHAPE_CHROMIUM:-/usr/bin/chromium}" ]; then :; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "make: no chromium and no apt-get: the browser tests will be skipped"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium chromium-driver >/dev/null) \
	  || echo "make: apt-get could not install chromium: the browser tests will be skipped"; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	  (sudo -n apt-get update -qq && sudo -n env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq chromium chromium-driver >/dev/null) \
	  || echo "make: apt-get could not install chromium: the browser tests will be skipped"; \
	else \
	  echo "make: chromium is missing and installing it needs root (apt-get install chromium chromium-driver): the browser tests will be skipped"; \
	fi

demo: install-demo
	@$(PY) -m models build toy > /dev/null
	$(VENV)/bin/graphshape analyze $(MODELS)/toy.onnx --verify

test: install browser
	$(PY) -m pytest -q -rs -p no:cacheprovider --durations=20 tests

test-fast: install browser
	$(PY) -m pytest -q -p no:cacheprovider -m "not large and not fuzz" tests

fuzz: install
	GRAPHSHAPE_FUZZ_GRAPHS=2000 $(PY) -m pytest -q -p no:cacheprovider -m fuzz tests

bench: install
	$(PY) -m pip install -q -r bench/requirements.txt
	$(PY) bench/run.py

# The nightly registry audit: serial vs LocalCluster vs the old ProcessPoolExecutor, with and
# without --verify, the second night, Dask's overhead per model (bench/results/audit.json)
bench-audit: install
	$(PY) bench/audit.py

lint: install
	$(PY) -m pip install -q -e '.[lint]'
	$(PY) -m ruff check graphshape models tests bench tools
	$(PY) -m mypy

clean:
	rm -rf $(VENV) .cache
