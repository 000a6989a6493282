# segkit — two commands on a fresh machine: `make report` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
PARAMS ?= params/demo.yaml
CDNOW  := data/cdnow/orders.csv data/cdnow/CDNOW_sample.txt

.PHONY: setup java report test lint lab bench clean

setup: java $(VENV)/.installed

## Java 17 or newer for PySpark (the tests run Spark in local mode): when `java` is missing or
## older, Debian's OpenJDK 17 is installed with apt-get (through sudo unless run as root)
JAVA_MIN   := 17
JAVA_MAJOR := java -version 2>&1 | sed -n 's/.* version "\([0-9]*\).*/\1/p' | head -n 1
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
java:
	@major=$$($(JAVA_MAJOR)); \
	if [ "$${major:-0}" -ge $(JAVA_MIN) ] 2>/dev/null; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
		echo "segkit needs Java $(JAVA_MIN)+ for PySpark: install it and put java on PATH" >&2; \
		exit 1; \
	fi; \
	echo "Installing openjdk-17-jre-headless (found Java '$${major:-none}', need $(JAVA_MIN)+)"; \
	$(SUDO) mkdir -p /usr/share/man/man1; \
	$(SUDO) apt-get update -qq && \
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		openjdk-17-jre-headless || exit 1; \
	major=$$($(JAVA_MAJOR)); \
	[ "$${major:-0}" -ge $(JAVA_MIN) ] 2>/dev/null || { \
		echo "OpenJDK 17 is installed but java on PATH is Java $$major: choose it with" \
			"update-alternatives --config java" >&2; exit 1; }

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

## JupyterLab on the notebooks (kernels on Arrow's system memory pool, as segkit run does)
lab: setup
	ARROW_DEFAULT_MEMORY_POOL=$${ARROW_DEFAULT_MEMORY_POOL:-system} $(BIN)/jupyter lab notebooks

## Speed benchmarks (printed tables, not tests), about an hour on a quiet 2-core machine:
## customer view + RFM + CLV summary at 1M/10M orders on every engine (Spark included) and the
## hand-written peers, and at 50M on Polars/DuckDB against hand DuckDB SQL; attribution at 1M/10M
## touchpoints; Markov; Shapley; the whole report up to 1M customers. Peers that must stay out of the project's
## environment run in their own Python when given (see each script's docstring):
##   make bench LIFETIMES=/tmp/lifetimes_venv/bin/python CHANNELATTRIBUTION=/tmp/ca_venv/bin/python
LIFETIMES ?=
CHANNELATTRIBUTION ?=
BENCH := $(BIN)/python benchmarks
bench: setup
	$(BENCH)/bench_customer_view.py --sizes 1000000 10000000 \
		--engines segkit-pandas segkit-polars segkit-duckdb segkit-spark hand-duckdb-sql hand-pandas \
		$(if $(LIFETIMES),--lifetimes $(LIFETIMES))
	$(BENCH)/bench_customer_view.py --sizes 50000000 --steps view view+rfm \
		--engines segkit-polars segkit-duckdb hand-duckdb-sql
	$(BENCH)/bench_attribution.py --sizes 1000000 10000000 --engines pandas polars duckdb spark
	$(BENCH)/bench_markov.py --orders 1,3 $(if $(CHANNELATTRIBUTION),--channelattribution $(CHANNELATTRIBUTION))
	$(BENCH)/bench_shapley.py
	$(BENCH)/bench_report.py --sizes 10000 100000 --engine pandas
	$(BENCH)/bench_report.py --sizes 100000 170000 1000000 --engine polars

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
