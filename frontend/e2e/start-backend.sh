#!/usr/bin/env bash
# The real search API over a small real index, for the end-to-end tests (Playwright's webServer
# starts this script and stops it at the end of the run).
#
# Everything is rebuilt under frontend/.e2e/ (git-ignored) on each run:
#   tiny.pt    random weights for a tiny CLIP architecture: no real weights exist offline, so text
#              results are real but meaningless, while image -> image finds the image itself first
#   images/    20 real JPEG/PNG files: 18 drawn with PIL (backend/tests/support/images.py) and 2
#              near-duplicates (two of those drawings saved again at a lower JPEG quality, in
#              images/copies/), so "collapse near-duplicates" has something to collapse
#   images.csv the source: a `path` column and a `caption` column ("red background with
#              shapes, picture 4"; one left empty), so captions can be shown and searched, and
#              metadata columns for the filters (e2e/filters.spec.ts): `photographer` (3 names, one
#              with a quote and an accent), `year` (numbers; one row without), `taken` (ISO dates),
#              `tags` (lists like "sea|beach") and `featured` (yes/no)
#              Two of the drawings carry a sign in DejaVu Sans Bold (backend/tests/support/
#              text_images.py), for e2e/ocr.spec.ts: "PHARMACY / OPEN 24 HOURS" on img0002.jpg and
#              "FRESH / BREAD" on img0009.png (drawn before indexing, so no id or count changes)
#   queries/   fresh-bread.png: another drawing with a "FRESH BREAD" sign, not indexed, to upload
#   data/      the index, built from images.csv by the real pipeline (backend/run_pipeline.py) with
#              --ocr (RapidOCR reads each image: /health reports `ocr_engine`, and `has_text` and
#              `ocr_text` join the metadata fields)
# then uvicorn serves backend/search_api.py in the foreground. With E2E_SERVE_ONLY=1 it only serves
# the index an earlier start built (the API that requires a key, playwright.config.ts).
set -euo pipefail

FRONTEND="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(dirname "$FRONTEND")"
PY="${E2E_PYTHON:-$ROOT/.venv/bin/python}"
WORK="${E2E_WORK_DIR:-$FRONTEND/.e2e}"
PORT="${E2E_API_PORT:-8765}"
IMAGES="${E2E_IMAGE_COUNT:-20}"

if [[ ! -x "$PY" ]]; then
  echo "start-backend: no Python at $PY; run 'make setup' in $ROOT first" >&2
  exit 1
fi

export IMAGESEARCH_MODEL=test-tiny-clip
export IMAGESEARCH_MODEL_CONFIG_FILE="$ROOT/backend/tests/data/test-tiny-clip.json"
export IMAGESEARCH_PRETRAINED="$WORK/tiny.pt"
export IMAGESEARCH_DATA_DIR="$WORK/data"
export IMAGESEARCH_DEVICE=cpu
# Load shedding off the functional tests' path: two browsers, Next.js and this API share two
# cores, and a search predicted past the default 0.5 s budget (seen with the cores busy) was
# refused with 503 to a test's own API call. busy.spec.ts tests shedding on its own API, whose
# script sets a 1 µs budget before it runs this one.
export IMAGESEARCH_QUEUE_BUDGET_S="${IMAGESEARCH_QUEUE_BUDGET_S:-10}"
# The UI's origins (set by playwright.config.ts); the API only answers browsers from these.
export IMAGESEARCH_CORS_ORIGINS="${E2E_WEB_ORIGINS:-http://127.0.0.1:3100}"

if [[ "${E2E_SERVE_ONLY:-}" == 1 ]]; then
  # Another API (its own IMAGESEARCH_* settings added, e.g. a key) over the index a first start built.
  if [[ ! -f "$IMAGESEARCH_DATA_DIR/manifest.json" ]]; then
    echo "start-backend: E2E_SERVE_ONLY=1 but no index in $IMAGESEARCH_DATA_DIR yet" >&2
    exit 1
  fi
  cd "$ROOT/backend"
  exec "$PY" -m uvicorn search_api:app --host 127.0.0.1 --port "$PORT" --log-level warning
fi

rm -rf "$WORK"
mkdir -p "$WORK"
LOG="$WORK/setup.log"
trap 'status=$?; if (( status != 0 )); then cat "$LOG" >&2; fi' EXIT

"$PY" - "$ROOT" "$WORK" "$IMAGES" >>"$LOG" 2>&1 <<'PY'
import sys
from pathlib import Path

root, work, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
sys.path[:0] = [str(root / "backend"), str(root / "backend" / "tests")]

from support.images import make_image, write_images
from support.text_images import TextStyle, draw_text, fonts_available, INSTALL_HINT
from imagesearch.config import Settings
from support.weights import save_random_checkpoint

import csv

from PIL import Image

settings = Settings()  # the IMAGESEARCH_* variables exported above
save_random_checkpoint(settings, Path(settings.pretrained))

COLOUR_NAMES = ["red", "green", "blue", "yellow", "purple", "cyan", "orange", "grey", "white", "black"]
DUPLICATED = (4, 10)  # seeds whose drawing is saved a second time (JPEG originals)
UNCAPTIONED = 5  # one image without a caption: the UI shows none


PHOTOGRAPHERS = ["Ana Lima", 'Chloé "CJ" Martin', "Ben O'Hara"]
TAGS = ["sea", "city", "forest", "beach"]
NO_YEAR = 7  # one image without a year: the facet's "no value" bucket, and sorted last
# Seeds whose drawing gets a sign (e2e/ocr.spec.ts): none of the duplicated ones, so the copies
# still match their originals, and none an image search spec uploads (6, 13, 17).
SIGNS = {2: ["PHARMACY", "OPEN 24 HOURS"], 9: ["FRESH", "BREAD"]}
SIGN = TextStyle(font="sans-bold", size=30)


def caption(seed: int) -> str:
    return "" if seed == UNCAPTIONED else f"{COLOUR_NAMES[seed % 10]} background with shapes, picture {seed}"


def metadata(row: int) -> list[str]:
    """photographer, year, taken, tags, featured of the row-th image (plain functions of it)."""
    year = "" if row == NO_YEAR else str(2015 + (row * 7) % 9)
    taken = f"{2016 + row % 6}-{row % 12 + 1:02d}-{(row * 3) % 28 + 1:02d}"
    tags = "|".join(tag for k, tag in enumerate(TAGS) if (row >> k) & 1 or k == row % 4)
    featured = "yes" if row % 4 == 0 else "no"
    return [PHOTOGRAPHERS[row % 3], year, taken, tags, featured]


if count < 12:
    sys.exit(f"E2E_IMAGE_COUNT={count}: at least 12 images are needed (seeds 4 and 10 are saved twice)")
if not fonts_available():
    sys.exit(INSTALL_HINT)
drawn = write_images(work / "images", count - len(DUPLICATED))
for path in drawn:
    lines = SIGNS.get(int(path.stem[3:]))
    if lines:
        draw_text(Image.open(path), lines, SIGN, (12, 40)).save(path)
queries = work / "queries"
queries.mkdir()
draw_text(make_image(101, (360, 260)), ["FRESH", "BREAD"], SIGN, (40, 70)).save(queries / "fresh-bread.png")
rows = [(path, caption(int(path.stem[3:]))) for path in sorted(drawn)]
copies = work / "images" / "copies"
copies.mkdir()
for quality, seed in zip((35, 50), DUPLICATED, strict=True):
    original = next(path for path in drawn if path.stem == f"img{seed:04d}")
    copy = copies / f"{original.stem}-q{quality}.jpg"
    Image.open(original).convert("RGB").save(copy, quality=quality)
    rows.append((copy, f"{caption(seed)} (a copy)"))
with (work / "images.csv").open("w", newline="", encoding="utf-8") as handle:
    writer = csv.writer(handle)
    writer.writerow(["path", "caption", "photographer", "year", "taken", "tags", "featured"])
    writer.writerows(
        [path.relative_to(work).as_posix(), text, *metadata(row)] for row, (path, text) in enumerate(rows)
    )
PY

"$PY" "$ROOT/backend/run_pipeline.py" "$WORK/images.csv" --ocr --quiet >>"$LOG" 2>&1
echo "start-backend: indexed $IMAGES images in $WORK/data; serving on 127.0.0.1:$PORT" >&2

cd "$ROOT/backend"
trap - EXIT
exec "$PY" -m uvicorn search_api:app --host 127.0.0.1 --port "$PORT" --log-level warning
