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

## JupyterLab on the notebooks
lab: setup
	$(BIN)/jupyter lab notebooks

## Speed benchmarks (printed tables, not tests)
bench: setup
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
