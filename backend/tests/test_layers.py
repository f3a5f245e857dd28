"""The layers stay light and readable: the search service and the index layer never pull in torch,
and no module or function outgrows the house limits.

The import contracts themselves are checked by ``lint-imports`` (``make lint``); this checks
what they are for, in a fresh interpreter: a process that only searches an index (or a tool
that only reads one) starts without torch's ~1 GB.
"""

from __future__ import annotations

import ast
import subprocess
import sys

from support.paths import BACKEND_DIR

LIGHT = [
    "imagesearch.search.service",
    "imagesearch.search.hybrid",
    "imagesearch.index.store",
    "imagesearch.index.factory",
    "imagesearch.index.stored_vectors",
    "imagesearch.encoders.protocol",
]


def test_search_and_index_import_without_torch() -> None:
    code = (
        "import sys\n"
        f"for name in {LIGHT!r}:\n"
        "    __import__(name)\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'open_clip', 'torchvision'})\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BACKEND_DIR, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"imported: {result.stdout.strip()}"


def test_the_encoders_do_import_torch() -> None:
    """The check above can see torch: importing CLIP's encoder does load it."""
    code = "import sys, imagesearch.encoders.clip; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BACKEND_DIR, capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip() == "True", result.stderr


# House style (shared/STYLE.md): modules of about 300 lines at most, functions under ~50 lines,
# at most 6 parameters (else a dataclass). Checked over the runtime package, so it stays readable.
MAX_MODULE_LINES = 320
MAX_FUNCTION_LINES = 50
MAX_PARAMETERS = 6


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    args = node.args
    names = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    count = len(names) + (args.vararg is not None) + (args.kwarg is not None)
    return count - (bool(names) and names[0].arg in ("self", "cls"))


def test_modules_and_functions_stay_small() -> None:
    package = BACKEND_DIR / "imagesearch"
    problems = []
    for path in sorted(package.rglob("*.py")):
        name = path.relative_to(BACKEND_DIR).as_posix()
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            problems.append(f"{name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                problems.append(f"{name}:{node.lineno} {node.name}: {length} lines")
            if _parameters(node) > MAX_PARAMETERS:
                problems.append(f"{name}:{node.lineno} {node.name}: {_parameters(node)} parameters")
    assert not problems, "\n".join(problems)
