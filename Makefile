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
## touchpoints; Markov; Shapley; the whole report up to 1M customers. The peers lifetimes and
## ChannelAttribution need old or compiled packages that must stay out of the project's
## environment: each gets its own under $(PEERS)/ on first use (ChannelAttribution is built with
## the C++ compiler, installed with apt-get when missing). Give your own with
##   make bench LIFETIMES=/path/bin/python CHANNELATTRIBUTION=/path/bin/python
PEERS := .bench-peers
LIFETIMES ?= $(PEERS)/lifetimes/bin/python
CHANNELATTRIBUTION ?= $(PEERS)/channelattribution/bin/python
BENCH := $(BIN)/python benchmarks
bench: setup $(filter $(PEERS)/%,$(LIFETIMES) $(CHANNELATTRIBUTION))
	$(BENCH)/bench_customer_view.py --sizes 1000000 10000000 \
		--engines segkit-pandas segkit-polars segkit-duckdb segkit-spark hand-duckdb-sql hand-pandas \
		--lifetimes $(LIFETIMES)
	$(BENCH)/bench_customer_view.py --sizes 50000000 --steps view view+rfm \
		--engines segkit-polars segkit-duckdb hand-duckdb-sql
	$(BENCH)/bench_attribution.py --sizes 1000000 10000000 --engines pandas polars duckdb spark
	$(BENCH)/bench_markov.py --orders 1,3 --channelattribution $(CHANNELATTRIBUTION)
	$(BENCH)/bench_shapley.py
	$(BENCH)/bench_report.py --sizes 10000 100000 --engine pandas
	$(BENCH)/bench_report.py --sizes 100000 170000 1000000 --engine polars

## lifetimes 0.11.3 (tested with pandas 1.5.3, NumPy 1.24.4, SciPy 1.11.4, autograd 1.6.2);
## pyarrow reads the benchmark's Parquet input there
$(PEERS)/lifetimes/bin/python:
	rm -rf $(PEERS)/lifetimes
	$(PYTHON) -m venv $(PEERS)/lifetimes
	$(PEERS)/lifetimes/bin/pip install --quiet "lifetimes==0.11.3" "pandas<2" "numpy<1.25" \
		"scipy<1.12" "autograd<1.7" "pyarrow<15" || { rm -rf $(PEERS)/lifetimes; exit 1; }

$(PEERS)/channelattribution/bin/python:
	command -v c++ >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends g++; }
	rm -rf $(PEERS)/channelattribution
	$(PYTHON) -m venv $(PEERS)/channelattribution
	$(PEERS)/channelattribution/bin/pip install --quiet Cython numpy pandas matplotlib "setuptools>=77" \
		&& $(PEERS)/channelattribution/bin/pip install --quiet --no-build-isolation ChannelAttribution \
		|| { rm -rf $(PEERS)/channelattribution; exit 1; }

clean:
	rm -rf $(VENV) $(PEERS) .pytest_cache .ruff_cache *.egg-info
