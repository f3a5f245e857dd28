"""Where the tests, the backend and the tiny test model's config live."""

from __future__ import annotations

from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent
BACKEND_DIR = TESTS_DIR.parent
SUPPORT_DIR = TESTS_DIR / "support"

TINY_CONFIG = TESTS_DIR / "data" / "test-tiny-clip.json"
TINY_MODEL = "test-tiny-clip"
