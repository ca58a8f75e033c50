"""Every relative link in the README and docs/ leads to a file of the
repository (issue 13, item 10: the README pointed at design notes outside it).
Links are checked as GitHub renders them: a relative target resolves against the
file's folder and must exist inside the repository; an anchor must name a
heading of its file. Code spans that spell a relative path (`../x.md`) are held
to the same rule, since a reader follows them too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!\!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_PATH = re.compile(r"`(\.{1,2}/[^`\s]+)`")
FENCE = re.compile(r"^```.*?^```", flags=re.S | re.M)
EXTERNAL = ("http://", "https://", "mailto:")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces
    to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return anchors_in(page.read_text())


def anchors_in(text: str) -> set[str]:
    text = FENCE.sub("", text)
    return {slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", text, flags=re.M)}


def problems(page: Path, text: str | None = None) -> list[str]:
    """What is wrong with the relative links and path code spans of ``page``
    (whose text is ``text`` when given)."""
    text = FENCE.sub("", page.read_text() if text is None else text)
    found = []
    targets = [(m.group(1), "link") for m in LINK.finditer(text)]
    targets += [(m.group(1), "code span") for m in CODE_PATH.finditer(text)]
    for target, what in targets:
        if target.startswith(EXTERNAL):
            continue
        path, _, anchor = target.partition("#")
        name = f"{page.relative_to(ROOT)}: {what} {target!r}"
        headings = anchors_in(text)  # an anchor alone: a heading of this page
        if path:
            resolved = (page.parent / path).resolve()
            if not resolved.is_relative_to(ROOT):
                found.append(f"{name} leads outside the repository")
                continue
            if not resolved.exists():
                found.append(f"{name} leads to no file")
                continue
            headings = anchors(resolved) if resolved.suffix == ".md" else None
        if anchor and headings is not None and anchor not in headings:
            found.append(f"{name}: no heading #{anchor} there")
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve_inside_the_repository(page):
    assert problems(page) == []


def test_the_design_notes_are_in_the_repository():
    readme = (ROOT / "README.md").read_text()
    assert "](docs/design.md)" in readme
    assert "shared/DESIGN" not in readme


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("The design notes live in `../shared/DESIGN.md`.", "leads outside"),
        ("See [design](../shared/DESIGN.md).", "leads outside"),
        ("See [gone](docs/nothing-here.md).", "leads to no file"),
        ("See [there](#no-such-heading).", "no heading #no-such-heading"),
        ("See [the layers](docs/architecture.md#the-layers).", None),
        ("See [it](https://example.org/x.md) and `./README.md`.", None),
    ],
)
def test_the_check_finds_each_kind_of_bad_link(line, problem):
    found = problems(ROOT / "probe.md", f"# Probe\n\n{line}\n")
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and problem in found[0], found
