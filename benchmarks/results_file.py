"""Writing one benchmark's section of RESULTS.md, keeping the others."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().with_name("RESULTS.md")


def write_section(section: str, text: str, path: Path = RESULTS) -> None:
    """Replace the section headed ``section`` (up to the next "## " heading) of
    ``path`` with ``text``, which starts with that heading, or append it."""
    old = path.read_text() if path.exists() else ""
    if not old.strip():
        path.write_text("# Benchmark results\n\n" + text)
        return
    lines = old.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.rstrip() == section), None)
    if start is None:
        path.write_text(old.rstrip("\n") + "\n\n" + text)
        return
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
        len(lines),
    )
    rest = "".join(lines[end:])
    path.write_text("".join(lines[:start]) + text + ("\n" + rest if rest else ""))
