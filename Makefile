# Two commands a new user needs: `make demo` and `make test`. Everything else is set up from here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-postgres lint bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Seed the demo CRM, `agentflows up` (Prefect UI on 127.0.0.1:4200, runner, webhooks, SMTP sink), draft three prospects.
demo: $(STAMP)
	$(BIN)/agentflows demo

## Lint, then the whole test suite (starts its own Prefect server, SMTP sink and fake model provider).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest

## The database-touching tests again, with the project database on a throwaway local PostgreSQL.
test-postgres: $(STAMP)
	AGENTFLOWS_TEST_POSTGRES=local $(BIN)/pytest tests/tasks tests/flows tests/fraud -q

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python benchmarks/fraud_signals.py
	$(BIN)/python benchmarks/webhooks.py

clean:
	rm -rf $(VENV) .agentflows .pytest_cache
