"""The user guide's code runs: every ```python block in docs/guide/*.md, in order, one namespace per page.

Each block is written to a file of its own before it runs, because wengert reads a
function's source; the line numbers the guide shows in generated code (``# line 4``)
are therefore lines of that block. A ```text block right after a ```python block is
what that block prints, and must match it exactly: when a change to wengert changes
what the guide shows, paste the new output (the failure shows it). Every python block
asserts something (or calls check_grads), so the guide cannot silently stop checking what it claims.
"""

import contextlib
import io
import os
import re

import pytest

import wengert

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUIDE = os.path.join(ROOT, "docs", "guide")
PAGES = sorted(f for f in os.listdir(GUIDE) if f.endswith(".md"))
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)


def blocks(page: str) -> list[tuple[str, str, int, str | None]]:
    """``(language, code, line, expected output)`` of each fenced block of ``page``, python blocks only."""
    with open(os.path.join(GUIDE, page), encoding="utf-8") as f:
        text = f.read()
    found = [(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1, m.start(), m.end())
             for m in FENCE.finditer(text)]
    out = []
    for i, (lang, code, line, _start, end) in enumerate(found):
        if lang != "python":
            continue
        expected = None
        if i + 1 < len(found) and found[i + 1][0] == "text" and not text[end:found[i + 1][3]].strip():
            expected = found[i + 1][1]
        out.append((lang, code, line, expected))
    return out


def test_guide_has_pages():
    assert "index.md" in PAGES and len(PAGES) >= 9
    for page in PAGES:
        assert page == "index.md" or blocks(page), f"{page} has no python block"


@pytest.mark.parametrize("page", PAGES)
def test_guide_page_runs(page, tmp_path):
    wengert.clear_cache()
    namespace = {"__name__": f"guide_{page[:-3].replace('-', '_')}"}
    for k, (_lang, code, line, expected) in enumerate(blocks(page), 1):
        where = f"docs/guide/{page}:{line}"
        checks = re.search(r"^\s*(assert\b|check_grads\()", code, re.M)
        assert checks, f"{where}: a python block must check something (assert, or check_grads)"
        path = tmp_path / f"{page[:-3]}_{k}.py"
        path.write_text(code, encoding="utf-8")
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            try:
                exec(compile(code, str(path), "exec"), namespace)
            except Exception as e:
                raise AssertionError(f"{where}: the block raised {type(e).__name__}: {e}") from e
        if expected is not None:
            got = printed.getvalue()
            assert got.rstrip() == expected.rstrip(), (
                f"{where}: the block printed something other than the ```text block after it; it printed:\n{got}"
            )


def test_readme_links_the_guide():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        assert "docs/guide/" in f.read()
