"""The README, docs/ and frontend/README.md point only at things that exist.

Checked on every page, outside fenced code blocks:

1. each relative markdown link ``[text](path)`` / ``[text](path#anchor)`` names an existing file or
   folder of the repository, resolved against the page's folder (``/path`` against the root);
2. each ``#anchor`` (same page or another page) is the GitHub slug of a heading of the target page
   (lowercase, punctuation removed, spaces to ``-``; repeated headings get ``-1``, ``-2``, …);
3. each image link exists;
4. absolute ``http(s)://`` and ``mailto:`` links are allowed and not fetched (no network);
5. each repository path written in backticks exists: ``backend/…``, ``frontend/…``, ``bench/…``,
   ``docs/…``, ``.ci/…``, the root files, ``imagesearch/…`` and ``tests/…`` (relative to backend/),
   and bare ``name.py`` module names (found in one of the backend's or bench's source folders).

Every broken reference is listed in one assertion message. Fast, no network, no imports of the
package.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[2]

# Root-level files a backticked name may refer to.
ROOT_FILES = frozenset(
    {"Makefile", "README.md", "compose.yaml", "compose.gpu.yaml", "clip_embedding_generation.ipynb"}
)
# Backticked paths that start with these name repository folders (resolved against the root)...
ROOT_PREFIXES = ("backend/", "frontend/", "bench/", "docs/", ".ci/")
# ...and these are written relative to backend/.
BACKEND_PREFIXES = ("imagesearch/", "tests/")
# Folders where a bare `name.py` may live (the docs name modules, scripts and tests this way).
MODULE_DIRS = (
    "backend",
    "backend/imagesearch",
    *(f"backend/imagesearch/{layer}" for layer in ("api", "api/routes", "encoders", "index", "ingest")),
    "backend/imagesearch/ingest/ray",
    *(f"backend/imagesearch/{layer}" for layer in ("search", "evaluation", "demo")),
    "backend/tests",
    "backend/tests/support",
    "bench",
)
# Build outputs named in the docs: ignored by git (.gitignore), absent from a fresh clone.
GENERATED = (
    "backend/data",
    "frontend/.next",
    "frontend/.e2e",
    "frontend/out",
    "frontend/node_modules",
    "frontend/test-results",
    "frontend/playwright-report",
)
# A backticked token with any of these is a pattern or a placeholder, not a path.
NOT_A_PATH = re.compile(r"[\s*<>{}…]")
BARE_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.py")
ALLOWED_SCHEMES = ("http://", "https://", "mailto:")
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
# GitHub's line anchors on a non-markdown file: #L10 or #L10-L20.
LINE_ANCHOR = re.compile(r"L\d+(?:-L\d+)?")

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT_UNDERLINE = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
# A code span: a run of backticks, then anything up to the same run, never across a blank line.
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)((?:[^\n]|\n(?![ \t]*\n))+?)(?<!`)\1(?!`)")
LINK = re.compile(
    r"(!?)\[(?:[^\[\]]|\[[^\[\]]*\])*\]"  # [text] or ![alt], one level of nested brackets
    r"\(\s*(<[^>\n]*>|[^()\s]+(?:\([^()\s]*\)[^()\s]*)*)"  # (target
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)"  # optional "title")
)
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*(<[^>\n]*>|\S+)", re.MULTILINE)
HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*?\b(href|src)=[\"']([^\"']+)[\"']", re.IGNORECASE)
HTML_ANCHOR = re.compile(r"<[a-z][^>]*?\b(?:id|name)=[\"']([^\"']+)[\"']", re.IGNORECASE)


def doc_pages(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md")), root / "frontend" / "README.md"]


def blank_code_blocks(text: str) -> str:
    """The text with every fenced code block blanked out (each line keeps its length: offsets hold)."""
    out: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        match = FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
        elif (
            fence is not None
            and match
            and match.group(1).startswith(fence)
            and not line.strip(fence[0] + " \t")
        ):
            fence = None
        else:
            out.append(line if fence is None else " " * len(line))
            continue
        out.append(" " * len(line))
    return "\n".join(out)


def code_spans(text: str) -> list[tuple[int, str]]:
    """(offset, content) of each inline code span outside fenced blocks, content as rendered."""
    spans = []
    for match in CODE_SPAN.finditer(blank_code_blocks(text)):
        content = match.group(2).replace("\n", " ")
        if len(content) > 2 and content.startswith(" ") and content.endswith(" ") and content.strip():
            content = content[1:-1]
        spans.append((match.start(), content))
    return spans


def without_code(text: str) -> str:
    """The text with fenced blocks and code spans replaced by spaces (offsets kept)."""
    text = blank_code_blocks(text)
    return CODE_SPAN.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def plain_heading_text(heading: str) -> str:
    """What GitHub renders of a heading's inline markdown, as text."""
    heading = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", heading)  # images: no text
    heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: their text
    heading = re.sub(r"\[([^\]]*)\]\[[^\]]*\]", r"\1", heading)  # reference links
    parts = re.split(r"(`+)(.+?)\1", heading)
    # re.split with two groups gives [text, ticks, code, text, ticks, code, ...].
    out = []
    for i, part in enumerate(parts):
        if i % 3 == 0:
            part = re.sub(r"<[^>]+>", "", part)  # inline HTML
            part = re.sub(r"(?<![A-Za-z0-9])_+|_+(?![A-Za-z0-9])", "", part)  # _emphasis_
            out.append(part)
        elif i % 3 == 2:
            out.append(part)
    return "".join(out)


def github_slug(heading: str) -> str:
    """github-slugger: lowercase; keep letters, marks, numbers, '_', '-' and spaces; spaces to '-'."""
    text = plain_heading_text(heading).strip().lower()
    kept = "".join(
        ch
        for ch in text
        if ch in " -" or unicodedata.category(ch)[0] in "LMN" or unicodedata.category(ch) == "Pc"
    )
    return kept.replace(" ", "-")


def heading_texts(text: str) -> list[str]:
    """The headings of a markdown page, in order (ATX and setext), outside code blocks."""
    headings = []
    lines = blank_code_blocks(text).split("\n")
    for i, line in enumerate(lines):
        atx = ATX_HEADING.match(line)
        if atx:
            headings.append((atx.group(2) or "").strip())
        elif (
            i > 0
            and SETEXT_UNDERLINE.match(line)
            and lines[i - 1].strip()
            and not ATX_HEADING.match(lines[i - 1])
            and not re.match(r"^ {0,3}(?:[-*+]|\d+[.)])[ \t]", lines[i - 1])
            and not re.match(r"^ {0,3}(?:=+|-+)[ \t]*$", lines[i - 1])
            and "|" not in lines[i - 1]
        ):
            headings.append(lines[i - 1].strip())
    return headings


def anchors(text: str) -> set[str]:
    """Every anchor GitHub makes for a page: heading slugs (duplicates -1, -2, …) and HTML ids."""
    occurrences: dict[str, int] = {}
    result: set[str] = set()
    for heading in heading_texts(text):
        original = slug = github_slug(heading)
        while slug in occurrences:
            occurrences[original] += 1
            slug = f"{original}-{occurrences[original]}"
        occurrences[slug] = 0
        result.add(slug)
    result.update(match.group(1) for match in HTML_ANCHOR.finditer(without_code(text)))
    return result


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def link_targets(text: str) -> list[tuple[int, str, bool]]:
    """(offset, target, is_image) of every link outside code: inline, reference definitions, HTML."""
    bare = without_code(text)
    found = [(m.start(), m.group(2), m.group(1) == "!") for m in LINK.finditer(bare)]
    found += [(m.start(), m.group(1), False) for m in REFERENCE_DEFINITION.finditer(bare)]
    found += [(m.start(), m.group(2), m.group(1).lower() == "src") for m in HTML_LINK.finditer(bare)]
    return sorted((offset, target.strip("<>"), image) for offset, target, image in found)


def inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def link_problems(page: Path, root: Path = ROOT) -> list[str]:
    """Broken links, images and anchors of one page, as 'page:line: message'."""
    text = page.read_text(encoding="utf-8")
    name = page.relative_to(root).as_posix()
    problems = []
    for offset, target, image in link_targets(text):
        where = f"{name}:{line_of(text, offset)}"
        kind = "image" if image else "link"
        if target.startswith(ALLOWED_SCHEMES):
            continue
        if SCHEME.match(target):
            problems.append(f"{where}: {kind} {target!r} uses a scheme other than http(s)/mailto")
            continue
        path_part, _, anchor = target.partition("#")
        path_part = unquote(path_part)
        if not path_part:
            dest = page
        elif path_part.startswith("/"):
            dest = root / path_part.lstrip("/")
        else:
            dest = page.parent / path_part
        if not path_part and not anchor:
            problems.append(f"{where}: empty {kind} target")
            continue
        if not dest.exists() or not inside(dest, root):
            problems.append(f"{where}: {kind} {target!r}: {path_part} does not exist")
            continue
        if image and not dest.is_file():
            problems.append(f"{where}: image {target!r} is not a file")
            continue
        if not anchor:
            continue
        anchored = dest / "README.md" if dest.is_dir() else dest
        if anchored.suffix.lower() == ".md" and anchored.is_file():
            if unquote(anchor) not in anchors(anchored.read_text(encoding="utf-8")):
                target_name = anchored.relative_to(root).as_posix()
                problems.append(
                    f"{where}: {kind} {target!r}: no heading of {target_name} has anchor #{anchor}"
                )
        elif not LINE_ANCHOR.fullmatch(anchor):
            problems.append(f"{where}: {kind} {target!r}: #{anchor} on a file that has no headings")
    return problems


def backticked_path(token: str, root: Path = ROOT) -> list[Path] | None:
    """Where a backticked token would have to exist (any of the candidates), or None: not a path."""
    if not token or NOT_A_PATH.search(token):
        return None
    token = re.sub(r":\d+(?:-\d+)?$", "", token)  # file.py:42
    token = token.split("#", 1)[0]
    if token in ROOT_FILES or token.startswith(ROOT_PREFIXES):
        return [root / token]
    if token.startswith(BACKEND_PREFIXES):
        return [root / "backend" / token]
    if BARE_MODULE.fullmatch(token):
        return [root / folder / token for folder in MODULE_DIRS]
    return None


def generated(path: Path, root: Path) -> bool:
    relative = path.relative_to(root).as_posix().rstrip("/")
    return any(relative == output or relative.startswith(output + "/") for output in GENERATED)


def path_problems(page: Path, root: Path = ROOT) -> list[str]:
    """Backticked repository paths of one page that do not exist."""
    text = page.read_text(encoding="utf-8")
    name = page.relative_to(root).as_posix()
    problems = []
    for offset, token in code_spans(text):
        candidates = backticked_path(token.strip(), root)
        if candidates is None:
            continue
        if any(generated(path, root) or (path.exists() and inside(path, root)) for path in candidates):
            continue
        where = f"{name}:{line_of(text, offset)}"
        if len(candidates) == 1:
            problems.append(
                f"{where}: `{token}`: {candidates[0].relative_to(root).as_posix()} does not exist"
            )
        else:
            folders = ", ".join(f"{folder}/" for folder in MODULE_DIRS)
            problems.append(f"{where}: `{token}` is in none of {folders}")
    return problems


def report(problems: list[str]) -> str:
    return f"{len(problems)} broken reference(s):\n" + "\n".join(problems)


# --- the repository's pages --------------------------------------------------------------------


def test_links_images_and_anchors_exist() -> None:
    problems = [problem for page in doc_pages() for problem in link_problems(page)]
    assert not problems, report(problems)


def test_backticked_repository_paths_exist() -> None:
    problems = [problem for page in doc_pages() for problem in path_problems(page)]
    assert not problems, report(problems)


def test_readme_is_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 300, f"README.md has {len(lines)} lines; move detail into docs/ (at most 300)"


def test_readme_links_every_docs_page() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    linked = {
        (readme.parent / unquote(target.partition("#")[0])).resolve()
        for _, target, _ in link_targets(text)
        if not target.startswith(ALLOWED_SCHEMES) and target.partition("#")[0]
    }
    pages = sorted((ROOT / "docs").glob("*.md"))
    assert pages, "docs/ has no pages"
    missing = [page.relative_to(ROOT).as_posix() for page in pages if page.resolve() not in linked]
    assert not missing, f"README.md does not link to: {', '.join(missing)}"


# --- the checker itself, on made-up pages --------------------------------------------------------


def test_github_slugs() -> None:
    assert github_slug("Search API: pages, similar images, combined and batch queries, metrics") == (
        "search-api-pages-similar-images-combined-and-batch-queries-metrics"
    )
    assert github_slug("Re-index on a GPU (Colab or Jupyter)") == "re-index-on-a-gpu-colab-or-jupyter"
    assert github_slug("Why these `torch` pins") == "why-these-torch-pins"
    assert github_slug("The `image_urls.pkl` format") == "the-image_urlspkl-format"
    assert github_slug("[Linked](x.md) *emphasis* and _more_") == "linked-emphasis-and-more"
    assert github_slug("Query latency: 2\u00d7 faster \u2014 maybe") == "query-latency-2-faster--maybe"
    text = "# Notes\n\n## Notes\n\n```\n# Notes\n```\n\nNotes\n-----\n\n## Notes-1\n"
    assert anchors(text) == {"notes", "notes-1", "notes-2", "notes-1-1"}


def test_checker_reports_every_broken_reference(tmp_path: Path) -> None:
    (tmp_path / "backend" / "imagesearch").mkdir(parents=True)
    (tmp_path / "backend" / "imagesearch" / "config.py").write_text("")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "api.md").write_text("# API\n\n## Errors\n\n## Errors\n")
    (tmp_path / "pic.jpg").write_bytes(b"")
    page = tmp_path / "README.md"
    page.write_text(
        "# Title\n\n"
        "[ok](docs/api.md#errors-1) [ok](#title) [ok](docs/) [ok](https://example.com/x#y)\n"
        "![ok](pic.jpg) `backend/imagesearch/config.py` `imagesearch/config.py` `config.py`\n"
        "`backend/data/demo-index` `backend/run_pipeline.py SOURCE` `backend/*.py`\n"
        "[bad](docs/nope.md) [bad](docs/api.md#nope) [bad](#nope) ![bad](missing.png)\n"
        "`backend/imagesearch/gone.py` `tests/test_gone.py` `gone_module.py` `Makefile`\n"
        "```\n[not a link](nowhere.md) `backend/not/checked.py`\n```\n"
        "`[not a link](nowhere.md)` [bad](../outside.md)\n"
    )
    links = link_problems(page, tmp_path)
    assert [problem.split(": ", 1)[1] for problem in links] == [
        "link 'docs/nope.md': docs/nope.md does not exist",
        "link 'docs/api.md#nope': no heading of docs/api.md has anchor #nope",
        "link '#nope': no heading of README.md has anchor #nope",
        "image 'missing.png': missing.png does not exist",
        "link '../outside.md': ../outside.md does not exist",
    ], links
    assert [problem.split(":", 2)[1] for problem in links] == ["6", "6", "6", "6", "11"]
    paths = path_problems(page, tmp_path)
    assert [problem.split(": ", 1)[1].split(":")[0] for problem in paths] == [
        "`backend/imagesearch/gone.py`",
        "`tests/test_gone.py`",
        "`gone_module.py` is in none of " + ", ".join(f"{folder}/" for folder in MODULE_DIRS),
        "`Makefile`",
    ], paths
