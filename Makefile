# segkit — two commands on a fresh machine: `make report` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
PARAMS ?= params/demo.yaml
CDNOW  := data/cdnow/orders.csv data/cdnow/CDNOW_sample.txt

.PHONY: setup report test lint lab bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

## Run the demo report (or PARAMS=params/x.yaml) into outputs/<params name>/
report: setup
	$(BIN)/segkit run --params $(PARAMS)

## Lint, then every test: unit, notebooks (nbval) and papermill runs (incl. params/cdnow.yaml)
test: setup lint $(CDNOW)
	$(BIN)/python -m pytest

## The CDNOW purchase log (real customers, 1997-1998) as data/cdnow/orders.csv, and the
## 2,357-customer sample of Fader, Hardie & Lee (2005) that the CLV tests reproduce
.PHONY: cdnow
cdnow: $(CDNOW)

# One command fetches both; when both are missing make runs it twice, the second finds
# everything in place.
$(CDNOW): | setup
	$(BIN)/python -m segkit.datasets cdnow --out data/cdnow

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## JupyterLab on the notebooks
lab: setup
	$(BIN)/jupyter lab notebooks

## Speed benchmarks (printed tables, not tests)
bench: setup
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
