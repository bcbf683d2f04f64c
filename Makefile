# Two commands do everything: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATABASE_URL ?= sqlite:///data/gateway.db
export DATABASE_URL
# Where `make run` listens: `make run PORT=8080` (HOST=0.0.0.0 to listen on every interface).
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: vendor cluster sip bench-sip bench-cluster lock run test test-sqlite lint bench bench-bloctel bench-registries bench-reports bench-capacity bench-monitors bench-console install clean

LOCK := requirements.lock.txt

# Installs exactly the versions pinned in $(LOCK) (the project itself editable, no other
# resolution): every machine, CI and benchmark runs the same code. `make lock` re-pins.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip install --quiet --no-deps -e clients/python
	touch $(STAMP)

lock:  ## re-pin every dependency to the newest versions pyproject.toml admits
	rm -rf .lockenv
	$(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet --upgrade pip
	.lockenv/bin/pip install --quiet -e '.[dev]'
	.lockenv/bin/pip freeze --exclude-editable > $(LOCK)
	rm -rf .lockenv

install: $(STAMP)

run: $(STAMP)  ## migrate, seed the demo tenant, print its keys, serve on $(HOST):$(PORT) (default 127.0.0.1:8000)
	$(BIN)/gateway db upgrade
	$(BIN)/gateway demo seed --base-url http://$(HOST):$(PORT)
	$(BIN)/gateway serve --host $(HOST) --port $(PORT)

# The in-process tests spread over TEST_WORKERS processes (pytest-xdist; each has its own
# PostgreSQL database), then the `serial` ones (real servers, HAProxy, Kamailio, sipp, Chromium,
# elapsed-time assertions) run one at a time. Both halves always run; either failing fails.
TEST_WORKERS ?= 2
test: $(STAMP)  ## the whole suite, SQLite and PostgreSQL (PostgreSQL required when CI=true)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	@status=0; \
	$(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) -m "not serial" || status=$$?; \
	$(BIN)/pytest -q -p no:cacheprovider -m serial || status=$$?; \
	exit $$status

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: $(STAMP)  ## checks/s and latency over HTTP, SQLite and PostgreSQL, beside /healthz
	$(BIN)/python -m bench.checks

bench-bloctel: $(STAMP)  ## BLOCTEL at 10M numbers: import vs sort -u, look-ups/s, checks/s with the list
	$(BIN)/python -m bench.bloctel

bench-registries: $(STAMP)  ## 1M consents imported, 1M prospects scrubbed, beside wc -l and sort
	$(BIN)/python -m bench.registries

bench-sip: $(STAMP)  ## INVITE -> final response through Kamailio, the gateway vs a stub that allows; calls/s
	$(BIN)/python -m bench.sip

# The enforcing SIP proxy in front of `make run`'s gateway: `make sip KEY=<the dialer key>`
# (Debian: kamailio kamailio-python3-modules sip-tester).
GATEWAY ?= http://$(HOST):$(PORT)
sip: $(STAMP)  ## Kamailio (integrations/kamailio) + a sipp carrier in front of a running gateway
	$(BIN)/python -m cluster.sip --gateway $(GATEWAY) --key "$(KEY)"

bench-monitors: $(STAMP)  ## checks/s with every abuse monitor on vs off, SQLite and PostgreSQL
	$(BIN)/python -m bench.monitors

bench-reports: $(STAMP)  ## 1M attempts exported as CSV beside sqlite3 -csv / psql \copy; sealed, verified; checks/s sealer on vs off
	$(BIN)/python -m bench.reports

bench-console: $(STAMP)  ## console pages (dashboard, attempts, investigation, seal panel) on a tenant with 1M attempts: p50/p95 server time
	$(BIN)/python -m bench.console

bench-capacity: $(STAMP)  ## the cost of one check (worker and PostgreSQL CPU, round trips, WAL, bytes stored) and the sizing it implies
	$(BIN)/python -m bench.capacity

clean:
	rm -rf $(VENV) data .pytest_cache

cluster: $(STAMP)  ## the compose topology without Docker: HAProxy + 3 replicas × 2 workers on PostgreSQL
	$(BIN)/python -m cluster

bench-cluster: $(STAMP)  ## 1, 2, 3 replicas behind HAProxy on one PostgreSQL: checks/s, p99, invariant
	$(BIN)/python -m bench.cluster

# The console's third-party assets, served by the gateway itself (no CDN: call centres run on
# closed networks), taken from their published npm packages with their licences.
HTMX_VERSION := 2.0.11
VENDOR_DIR := app/console/static/vendor
vendor:  ## refresh the console's vendored assets (htmx) from their published npm packages
	rm -rf .vendor && mkdir -p .vendor $(VENDOR_DIR)
	cd .vendor && npm pack --silent htmx.org@$(HTMX_VERSION) >/dev/null && tar xzf htmx.org-$(HTMX_VERSION).tgz
	cp .vendor/package/dist/htmx.min.js $(VENDOR_DIR)/htmx.min.js
	cp .vendor/package/LICENSE $(VENDOR_DIR)/htmx.LICENSE
	printf 'htmx.org %s (npm package htmx.org, dist/htmx.min.js; licence: htmx.LICENSE, 0BSD)\n' $(HTMX_VERSION) > $(VENDOR_DIR)/VERSIONS
	rm -rf .vendor
