# The two commands of the contract: `make run` and `make test`.
SHELL := /bin/bash
.PHONY: setup run test test-fast lint eval bench bench-dashboard run-prod system-test-deps

setup:
	./scripts/setup.sh

run: setup
	.venv/bin/python -m scripts.run_all

# System packages the tests need (PostgreSQL, Redis, Chromium, CJK fonts, nginx).
system-test-deps:
	./scripts/install_system_deps.sh

# Static checks (settings in pyproject.toml), before the tests: a finding fails the run.
lint: setup
	.venv/bin/ruff check --no-cache .
	.venv/bin/mypy

test: system-test-deps setup lint
	.venv/bin/python -m pytest -p no:cacheprovider tests

# NLU on the held-out split, then the conversations of tests/conversations/ through the real
# stack (prints MISSED TARGET without failing; add --enforce to fail on the targets).
eval: setup
	.venv/bin/python -m scripts.evaluate_nlu
	.venv/bin/python -m scripts.evaluate_conversations

bench: setup
	.venv/bin/python -m scripts.bench
	.venv/bin/python -m scripts.bench_dashboard
	.venv/bin/python -m scripts.bench_search
	.venv/bin/python -m scripts.bench_notices
	.venv/bin/python -m scripts.bench_rasa_seams

# The dashboard's part alone: a year of data (1M messages) in a throw-away PostgreSQL.
bench-dashboard: setup
	.venv/bin/python -m scripts.bench_dashboard

# Production layout on one machine: PostgreSQL, Redis, nginx, 2 gateways, 2 Rasa servers.
run-prod: system-test-deps setup
	.venv/bin/python -m scripts.run_prod
