# Every target makes or reuses .venv itself, so a fresh clone needs nothing but Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint bench venv clean postgres proxies deploy-tools browser wrk lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip check
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m knock_testing.demo

# The suite runs every integration test on SQLite and on a throwaway PostgreSQL cluster that the
# test fixtures start and stop; here we only make sure PostgreSQL is installed.
postgres:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		|| scripts/apt-install postgresql

# tests/unit/test_deploy_configs.py checks deploy/ with the servers' own validators.
proxies:
	@missing=""; \
	{ command -v caddy || test -x /usr/bin/caddy; } >/dev/null || missing="$$missing caddy"; \
	{ command -v nginx || test -x /usr/sbin/nginx; } >/dev/null || missing="$$missing nginx"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	test -z "$$missing" || scripts/apt-install $$missing

# tests/unit/test_deploy_systemd.py checks deploy/systemd with systemd-analyze (Debian: systemd);
# tests/unit/test_deploy_kubernetes.py renders deploy/kubernetes with kubectl's built-in
# kustomize (Debian: kubernetes-client); tests/unit/test_deploy_prometheus.py checks and tests
# deploy/prometheus's alert rules with promtool (Debian: prometheus).
deploy-tools:
	@missing=""; \
	{ command -v systemd-analyze || test -x /usr/bin/systemd-analyze; } >/dev/null || missing="$$missing systemd"; \
	{ command -v kubectl || test -x /usr/bin/kubectl; } >/dev/null || missing="$$missing kubernetes-client"; \
	{ command -v promtool || test -x /usr/bin/promtool; } >/dev/null || missing="$$missing prometheus"; \
	test -z "$$missing" || scripts/apt-install $$missing

# The browser tests (tests/integration/browser) drive Debian's Chromium, never a browser that
# Playwright would download, and check pages with axe-core, pinned by the package-lock.json there.
# Chromium only recommends fonts-liberation (Arial's and Times' metrics): asked for by name.
BROWSER_TESTS := tests/integration/browser
AXE := $(BROWSER_TESTS)/node_modules/axe-core/axe.min.js

browser: $(AXE)
	@missing=""; \
	{ command -v chromium || test -x /usr/bin/chromium; } >/dev/null || missing="$$missing chromium"; \
	test -d /usr/share/fonts/truetype/liberation || missing="$$missing fonts-liberation"; \
	test -z "$$missing" || scripts/apt-install $$missing

$(AXE): $(BROWSER_TESTS)/package.json $(BROWSER_TESTS)/package-lock.json
	@command -v npm >/dev/null || scripts/apt-install npm
	cd $(BROWSER_TESTS) && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

wrk:
	@command -v wrk >/dev/null || scripts/apt-install wrk

test: $(STAMP) postgres proxies deploy-tools browser
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# bench.intake drives a deployed Knock process with wrk and compiles its open-loop load
# generator (bench/openloop.c) with the system's C compiler.
bench: $(STAMP) postgres wrk
	@command -v cc >/dev/null || command -v gcc >/dev/null || scripts/apt-install gcc libc6-dev
	$(BIN)/python -m bench
	$(BIN)/python -m bench.e2e
	$(BIN)/python -m bench.intake
	$(BIN)/python -m bench.intake --doors 4 --doors-only
	$(BIN)/python -m bench.memory
	$(BIN)/python -m bench.blocklist

# requirements.lock: the runtime dependencies, pinned with hashes, that the Docker image installs.
# Regenerate it after changing the dependencies in pyproject.toml (needs Python 3.11, the image's).
lock:
	PYTHON=$(PYTHON) scripts/lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .demo $(BROWSER_TESTS)/node_modules
