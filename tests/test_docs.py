"""The project's Markdown pages: every relative link resolves inside the repository.

A page moved or renamed, or a heading reworded, would otherwise leave a link
that 404s on GitHub and in a source checkout alike. Links to other sites are
not fetched (the suite runs offline); links inside code blocks are not links.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [
    ROOT / "README.md",
    *DOCS,
    *sorted((ROOT / "benchmarks").glob("*.md")),
    ROOT / "spec" / "recordings" / "README.md",
]

_FENCE = re.compile(r"^```.*?^```", re.M | re.S)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.M)


def _prose(text: str) -> str:
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def _anchor(heading: str) -> str:
    # GitHub's rule: lower case, drop punctuation but "-" and "_", spaces to "-".
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_anchor(h) for h in _HEADING.findall(_prose(page.read_text(encoding="utf-8")))}


def _relative_links(page: Path) -> list[str]:
    links = _LINK.findall(_prose(page.read_text(encoding="utf-8")))
    return [link for link in links if not re.match(r"[a-z][a-z0-9+.-]*:", link)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    for link in _relative_links(page):
        path, _, fragment = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.is_relative_to(ROOT), f"{link} points outside the repository"
        assert target.exists(), f"{link}: no such file"
        if fragment and target.suffix == ".md":
            assert fragment in _anchors(target), f"{link}: no such heading"


def test_the_checker_sees_links() -> None:
    # Guards the regular expressions: the README links to every page of docs/.
    linked = {link.split("#")[0] for link in _relative_links(ROOT / "README.md")}
    for page in DOCS:
        assert f"docs/{page.name}" in linked, page.name
