# Two commands a new user needs: `make demo` and `make test`. Everything else is set up from here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-postgres test-e2e lint bench install clean

# The fake model provider (tests, benchmarks) is its own distribution; editable, so a checkout change is live.
$(STAMP): pyproject.toml devtools/fake-provider/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,formats]"
	$(BIN)/python -m pip install --quiet -e devtools/fake-provider
	touch $(STAMP)

install: $(STAMP)

## Seed the demo CRM, `agentflows up` (Prefect UI on 127.0.0.1:4200, runner, webhooks, SMTP sink), draft three prospects.
demo: $(STAMP)
	$(BIN)/agentflows demo

## Lint (ruff, import contracts), then the whole test suite on two workers (each starts its own Prefect server, SMTP
## sink and fake model provider; a test file stays on one worker, so its module fixtures start once).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest --ignore=tests/e2e -n 2 --dist loadfile

## The database-touching tests again, with the project database on a throwaway local PostgreSQL.
test-postgres: $(STAMP)
	AGENTFLOWS_TEST_POSTGRES=local $(BIN)/pytest tests/tasks tests/flows tests/fraud tests/importing -q

## The browser test: the Prefect UI in headless Chromium approves an outreach draft. Installs python playwright
## into the venv and Debian's chromium (as root, if missing); never `playwright install` (no browser downloads).
test-e2e: $(STAMP)
	$(BIN)/python -c "import playwright" 2>/dev/null || $(BIN)/python -m pip install --quiet "playwright>=1.40"
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" != 0 ]; then echo "test-e2e: /usr/bin/chromium is missing and only root can install it; the test will skip"; \
	else export DEBIAN_FRONTEND=noninteractive; apt-get install -y chromium || { apt-get update && apt-get install -y chromium; } \
		|| echo "test-e2e: apt-get install chromium failed; the browser test will skip"; fi
	$(BIN)/pytest tests/e2e -q

## Ruff, then the import contracts (pyproject.toml [tool.importlinter]: core -> agents -> tasks -> flows -> top).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python benchmarks/fraud_signals.py
	$(BIN)/python benchmarks/webhooks.py

clean:
	rm -rf $(VENV) .agentflows .pytest_cache
