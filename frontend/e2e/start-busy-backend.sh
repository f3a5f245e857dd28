#!/usr/bin/env bash
# A second search API for e2e/busy.spec.ts: the index e2e/start-backend.sh built, served with a
# queue budget of 1 µs (IMAGESEARCH_QUEUE_BUDGET_S), so any search that arrives while another is
# admitted is refused at once with 503 + Retry-After: the API's real load shedding, made
# deterministic. The spec makes it busy with a real slow search: it uploads slow.png, a
# 10000x10000 PNG written here (about 1 MB; seconds to decode), which this API accepts
# (IMAGESEARCH_MAX_IMAGE_PIXELS is raised to 120 MP for it). Playwright starts it once the first
# API (and so the index) is up.
set -euo pipefail

FRONTEND="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${E2E_PYTHON:-$(dirname "$FRONTEND")/.venv/bin/python}"
WORK="${E2E_WORK_DIR:-$FRONTEND/.e2e}"

mkdir -p "$WORK/busy"
"$PY" -c "
import sys
from PIL import Image
Image.new('RGB', (10000, 10000), (200, 40, 40)).save(sys.argv[1], compress_level=1)
" "$WORK/busy/slow.png"

export IMAGESEARCH_QUEUE_BUDGET_S=0.000001
export IMAGESEARCH_MAX_IMAGE_PIXELS=120000000
echo "start-busy-backend: serving $WORK/data with a 1 µs queue budget on 127.0.0.1:${E2E_API_PORT:-}" >&2
E2E_SERVE_ONLY=1 exec bash "$FRONTEND/e2e/start-backend.sh"
