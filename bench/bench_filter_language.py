"""Filter figures on a synthetic table (not a test; nothing is asserted).

Builds a table of ``--rows`` rows (string, number, datetime and list fields, ~10% missing), then
times, for a few filters: compiling (parse + type check), the first mask (which also builds the
column encodings it needs) and a mask with the encodings warm but no mask cache.

    .venv/bin/python bench/bench_filter_language.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))

from imagesearch.index.metadata import Column, MetadataTable  # noqa: E402
from imagesearch.search.filters import FilterEngine, compile_filter  # noqa: E402

FILTERS = [
    "title = beach",
    "tags IN [sea, city]",
    "title = beach AND year >= 2020 OR tags = night",
    "taken 2019 TO 2020 AND NOT title IN [sea, night]",
    "title a TO m AND tags NOT IN [forest]",
]
WORDS = np.array(["beach", "Sea", "city", "forest", "night", "Jane Doe"], dtype=object)


def build_table(rows: int, rng: np.random.Generator) -> MetadataTable:
    tags = np.empty(rows, dtype=object)
    for i, (a, b) in enumerate(rng.integers(0, len(WORDS), size=(rows, 2))):
        tags[i] = (WORDS[a], WORDS[b])
    return MetadataTable(
        rows,
        {
            "title": Column("string", WORDS[rng.integers(0, len(WORDS), rows)], rng.random(rows) > 0.1),
            "year": Column("number", rng.integers(2000, 2025, rows).astype(float), rng.random(rows) > 0.1),
            "taken": Column(
                "datetime", rng.integers(946684800000, 1735689600000, rows), rng.random(rows) > 0.1
            ),
            "tags": Column("list", tags, rng.random(rows) > 0.1),
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    table = build_table(args.rows, np.random.default_rng(0))
    engine = FilterEngine(table)
    sys.stdout.write(f"{args.rows:,} rows\n")
    for text in FILTERS:
        start = time.perf_counter()
        for _ in range(100):
            compiled = compile_filter(text, engine.fields)
        compile_us = (time.perf_counter() - start) / 100 * 1e6
        start = time.perf_counter()
        engine.mask(text)
        first_ms = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        compiled.mask(table, engine.encodings)
        warm_ms = (time.perf_counter() - start) * 1000
        sys.stdout.write(
            f"{text!r}: compile {compile_us:.0f} us, first mask {first_ms:.0f} ms, warm {warm_ms:.1f} ms\n"
        )


if __name__ == "__main__":
    main()
