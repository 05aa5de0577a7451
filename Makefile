# Linli — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export LINLI_ENV ?= dev

.PHONY: install run test lint fmt bench soak fuzz schema migrate seed clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Install, migrate, seed the demo (if empty) and serve on 127.0.0.1:8000 with GraphiQL.
run: $(STAMP)
	$(BIN)/linli migrate
	$(BIN)/linli seed-demo --if-empty
	@echo "GraphiQL: http://127.0.0.1:8000/graphql"
	$(BIN)/linli serve --host 127.0.0.1 --port 8000

## Lint, then the whole test suite on SQLite and PostgreSQL.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Benchmarks (not part of `make test`): prints the DESIGN.md §5 ratios.
bench: $(STAMP)
	$(BIN)/python -m tests.bench

## 15 minutes of mixed traffic on two server processes (PostgreSQL): errors, p99, memory.
soak: $(STAMP)
	$(BIN)/python -m tests.bench.soak --minutes $${MINUTES:-15}

schema: $(STAMP)
	$(BIN)/linli schema > schema/schema.graphql

migrate: $(STAMP)
	$(BIN)/linli migrate

seed: $(STAMP)
	$(BIN)/linli seed-demo

clean:
	rm -rf $(VENV) linli.db linli.db-wal linli.db-shm

## New Alembic revision from the models: make migration m="what changed"
migration: $(STAMP)
	rm -f /tmp/linli-autogen.db*
	$(BIN)/python -c "from api.migrate import upgrade, autogenerate; u='sqlite+aiosqlite:////tmp/linli-autogen.db'; upgrade(u); autogenerate(u, '$(m)')"
	$(BIN)/ruff format migrations/versions >/dev/null

## A longer fuzzing run (schemathesis, GraphQL mode) than the bounded one in `make test`.
fuzz: $(STAMP)
	LINLI_FUZZ_EXAMPLES=50 LINLI_FUZZ_SEED=$$RANDOM $(BIN)/pytest -q tests/test_fuzz.py
