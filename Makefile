# Multimodal image search: every entry point people and CI use. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA_DIR ?= backend/data
API_HOST ?= 127.0.0.1
API_PORT ?= 8000
PYTEST_ARGS ?=

export NEXT_TELEMETRY_DISABLED := 1

.PHONY: help setup lint test test-backend index api demo bench clean eval docker-lint

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): backend/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e 'backend[dev]'
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install the backend (with dev tools)

lint: setup ## ruff + mypy on the backend
	cd backend && ../$(VENV)/bin/ruff check . && ../$(VENV)/bin/ruff format --check . && ../$(VENV)/bin/mypy

test-backend: setup ## backend unit + HTTP tests
	cd backend && ../$(PY) -m pytest $(PYTEST_ARGS)

test: lint docker-lint test-backend ## every check and test (what CI runs)

index: setup ## build the index: make index SOURCE=photos_url.csv|folder|list.txt
	@test -n "$(SOURCE)" || { echo "usage: make index SOURCE=path/to/photos_url.csv|folder|list.txt"; exit 2; }
	$(PY) backend/run_pipeline.py "$(SOURCE)" --data-dir "$(DATA_DIR)"

api: setup ## serve the API on $(API_HOST):$(API_PORT)
	cd backend && IMAGESEARCH_DATA_DIR="$(abspath $(DATA_DIR))" ../$(VENV)/bin/uvicorn search_api:app --host $(API_HOST) --port $(API_PORT)

DEMO_SOURCE ?= photos_url.csv
demo: setup ## build the default index if it is missing, then serve the API
	@test -f "$(DATA_DIR)/manifest.json" || $(PY) backend/run_pipeline.py "$(DEMO_SOURCE)" --data-dir "$(DATA_DIR)"
	$(MAKE) api

bench: setup ## pipeline throughput and /search latency figures
	$(PY) bench/bench_core.py

eval: setup ## score the index: make eval [CAPTIONS=captions.csv] [LABELS=class-folders|labels.csv]
	$(PY) backend/evaluate.py --data-dir "$(DATA_DIR)" $(if $(CAPTIONS),--captions "$(CAPTIONS)") $(if $(LABELS),--labels "$(LABELS)")

docker-lint: setup ## lint the Dockerfiles (hadolint) and compose files (compose-spec schema), offline
	$(VENV)/bin/hadolint backend/Dockerfile frontend/Dockerfile
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec compose.yaml compose.gpu.yaml
	@if docker compose version >/dev/null 2>&1; then docker compose -f compose.yaml -f compose.gpu.yaml config --quiet && echo "docker compose config: ok"; fi

clean: ## remove the venv and built data
	rm -rf $(VENV) backend/data
