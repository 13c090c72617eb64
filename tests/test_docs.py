"""The ```python blocks of the user guides run as written (each page in one namespace, top to bottom)."""

import importlib.util
import linecache
import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).parent.parent / "docs"

# page -> optional libraries it needs
PAGES = {"hooks.md": (), "bridges-torch.md": ("torch",), "bridges-jax.md": ("jax",)}


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_page_examples_run(page, capsys):
    for lib in PAGES[page]:
        if importlib.util.find_spec(lib) is None:
            pytest.skip(f"{lib} is not installed")
    path = DOCS / page
    blocks = python_blocks(path.read_text())
    assert blocks, f"{page} has no python examples"
    ns = {"__name__": f"docs_{page.replace('-', '_').removesuffix('.md')}"}
    for i, block in enumerate(blocks):
        name = f"{path}[block {i + 1}]"
        # registered like a notebook cell, so wengert reads the examples' source (not the tape)
        linecache.cache[name] = (len(block), None, block.splitlines(keepends=True), name)
        exec(compile(block, name, "exec"), ns)
