# Two entry points that work on a fresh machine with Python 3.11+: `make check` and `make test`.
# Both make a virtual environment in .venv on first use and install kubecert into it.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: check test lint type unit regen bench-fleet clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[reference,cluster,reports,test]'
	touch $@

# The conformance suite against the embedded reference platform; reports land in reports/.
check: $(BIN)/.installed
	$(BIN)/kubecert check

# The project's own tests, with lint and type checks first.
test: lint type unit

lint: $(BIN)/.installed
	$(BIN)/ruff check .

type: $(BIN)/.installed
	$(BIN)/mypy

unit: $(BIN)/.installed
	$(BIN)/pytest -n 2

# The generated docs, after a change to the catalog or the faults: README.md's rule table and
# docs/detection-matrix.md (tests/test_docs.py and tests/test_detection_matrix.py fail until they are current).
regen: $(BIN)/.installed
	$(BIN)/python tools/regen_docs.py

# A fleet of reference clusters checked by kubecert beside openssl and the parse floor (benchmarks/fleet.py).
SIZES ?= 100 300 1000
bench-fleet: $(BIN)/.installed
	$(BIN)/python benchmarks/fleet.py --sizes $(SIZES)

clean:
	rm -rf $(VENV) reports/*.json reports/*.html reports/*.xml reports/*.prom reports/*.png .pytest_cache .mypy_cache .ruff_cache
