"""The documentation site (issue 20): every public name has a reference page,
the examples of the site's own pages run and print what the pages say, and the
built site works in a real browser (home page, a tutorial with its figures, an
API page, search).

The site is the one `make docs` built in docs/_build/html (`make test` runs
`make docs` before pytest); it is built here, the same way, only when it is
missing or older than its sources."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

import journeysim as js
from conftest import headless_chromium

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
HTML = DOCS / "_build" / "html"
SOURCES = [
    *DOCS.glob("*.md"),
    *DOCS.glob("howto/*.md"),
    DOCS / "conf.py",
    *(ROOT / "notebooks").glob("*.ipynb"),
    *(ROOT / "python" / "journeysim").rglob("*.py"),
]
# Pages of the site whose ```python blocks run here, in order, one namespace per
# page. Not run: howto/dask_cluster.md (starts a local cluster of worker
# processes, some 25 s; tests/python/test_dask.py runs sweeps on one).
EXAMPLE_PAGES = [
    "getting_started.md",
    "tour.md",
    "heemod.md",
    "pydtmc.md",
    "howto/calibrate_from_crm.md",
    "howto/plans_under_budget.md",
]
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", flags=re.S | re.M)


# -- the build -------------------------------------------------------------------


def build_is_current() -> bool:
    index = HTML / "index.html"
    if not index.exists():
        return False
    built = index.stat().st_mtime
    return all(p.stat().st_mtime <= built for p in SOURCES if p.exists())


@pytest.fixture(scope="module")
def site() -> Path:
    """docs/_build/html, built as `make docs` builds it when it is not current."""
    if not build_is_current():
        pytest.importorskip("sphinx", reason="the docs extra: pip install '.[docs]'")
        cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-E", "-W"]
        cmd += ["--keep-going", "-q", str(DOCS), str(HTML)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    return HTML


def public_names() -> list[str]:
    return sorted(n for n in js.__all__ if n != "__version__")


def test_every_public_name_has_a_reference_page(site):
    generated = site / "api" / "generated"
    missing = [
        n for n in public_names() if not (generated / f"journeysim.{n}.html").exists()
    ]
    assert not missing, f"public names without a reference page: {missing}"
    api = (site / "api" / "index.html").read_text()
    unlinked = [
        n for n in public_names() if f"generated/journeysim.{n}.html" not in api
    ]
    assert not unlinked, f"the API index does not link {unlinked}"


def test_the_module_pages_document_their_own_functions(site):
    """journeysim.plot's functions are documented on its page; journeysim.warnings
    links to the classes documented with the package's names."""
    plot = (site / "api" / "generated" / "journeysim.plot.html").read_text()
    for name in js.plot.__all__:
        assert f'id="journeysim.plot.{name}"' in plot, name
    warnings = (site / "api" / "generated" / "journeysim.warnings.html").read_text()
    assert "journeysim.JourneyWarning.html" in warnings


def test_every_notebook_is_a_tutorial_page(site):
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        page = site / "notebooks" / f"{nb.stem}.html"
        assert page.exists(), nb.name
        assert f"notebooks/{nb.stem}.html" in (site / "tutorials.html").read_text()


def test_every_guide_page_is_in_the_site(site):
    """A docs/*.md page added by other work appears (under Guides) by itself."""
    for page in DOCS.glob("*.md"):
        assert (site / f"{page.stem}.html").exists(), page.name


def test_build_output_is_ignored_by_git():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "docs/_build/" in ignored and "docs/api/generated/" in ignored


# -- the pages' examples ----------------------------------------------------------


def blocks(page: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer((DOCS / page).read_text())]


def imports_available(code: str) -> bool:
    names = re.findall(r"^\s*(?:from|import)\s+(\w+)", code, flags=re.M)
    return all(importlib.util.find_spec(n) is not None for n in names)


def same_output(printed: str, shown: str) -> bool:
    def lines(text):
        return [x.rstrip() for x in text.strip().splitlines()]

    return lines(printed) == lines(shown)


@pytest.mark.parametrize("page", EXAMPLE_PAGES)
def test_the_pages_examples_run_and_print_what_the_page_shows(
    page, tmp_path, monkeypatch
):
    """Every ```python block runs (blocks for a library that is not installed,
    such as PyDTMC, are skipped); a ```text block right after one is what it
    prints; a ```yaml block with a format is a model that loads."""
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    found = blocks(page)
    ran = 0
    for k, (lang, code) in enumerate(found):
        if lang == "python" and imports_available(code):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(code, f"docs/{page}", "exec"), namespace)
            ran += 1
            nxt = found[k + 1] if k + 1 < len(found) else None
            if nxt and nxt[0] == "text" and adjacent(page, code, nxt[1]):
                assert same_output(out.getvalue(), nxt[1]), (
                    f"docs/{page}: block {k} prints\n{out.getvalue()}"
                )
        elif lang == "yaml" and code.startswith("format: journeysim/"):
            path = tmp_path / f"block{k}.yaml"
            path.write_text(code)
            assert js.load_model(path).journey is not None
    assert ran, f"docs/{page} has no example that runs here"
    import matplotlib.pyplot as plt

    plt.close("all")


def adjacent(page: str, code: str, text: str) -> bool:
    """Whether the ```text block follows the ```python block with only blank
    lines between them (then it shows the block's output)."""
    source = (DOCS / page).read_text()
    return f"{code}```\n\n```text\n{text}" in source


def test_the_output_check_can_fail():
    assert same_output("a  \nb\n", "a\nb")
    assert not same_output("retention 62.5%", "retention 62.4%")


# -- in a real browser -------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    driver = headless_chromium("the site's browser test")
    yield driver
    driver.quit()


def loaded_images(browser) -> list[int]:
    """naturalWidth of every image of the page that finished loading."""
    return browser.execute_script(
        "return Array.from(document.images)"
        ".filter(i => i.complete).map(i => i.naturalWidth)"
    )


def wait_for(browser, script: str, timeout: float = 20):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout).until(lambda d: d.execute_script(script))


def test_home_page_loads_with_its_picture_and_sections(browser, site):
    from selenium.webdriver.common.by import By

    browser.get((site / "index.html").as_uri())
    assert "journeysim" in browser.title
    wait_for(browser, "return document.readyState === 'complete'")
    widths = loaded_images(browser)
    assert widths and all(w > 0 for w in widths), widths
    nav = browser.find_element(By.CSS_SELECTOR, "nav, .bd-header").text
    for section in ("Getting started", "Tutorials", "API reference"):
        assert section in nav, nav


def test_a_tutorial_shows_its_figures(browser, site):
    from selenium.webdriver.common.by import By

    browser.get((site / "notebooks" / "01_quickstart.html").as_uri())
    wait_for(browser, "return document.readyState === 'complete'")
    figures = browser.find_elements(By.CSS_SELECTOR, ".cell_output img")
    assert len(figures) >= 2, len(figures)
    widths = [
        browser.execute_script("return arguments[0].naturalWidth", f) for f in figures
    ]
    assert all(w > 100 for w in widths), widths
    tables = browser.find_elements(By.CSS_SELECTOR, ".cell_output table")
    assert tables, "the notebook's tables are not on the page"


def test_an_api_page_loads(browser, site):
    from selenium.webdriver.common.by import By

    browser.get((site / "api" / "generated" / "journeysim.Journey.html").as_uri())
    wait_for(browser, "return document.readyState === 'complete'")
    heading = browser.find_element(By.TAG_NAME, "h1").text
    assert heading.startswith("journeysim.Journey"), heading
    ids = browser.execute_script(
        "return Array.from(document.querySelectorAll('dt[id]')).map(e => e.id)"
    )
    for member in ("journeysim.Journey", "journeysim.Journey.analyze"):
        assert member in ids, ids[:20]
    assert "Examples" in browser.find_element(By.TAG_NAME, "main").text


def test_search_finds_journey(browser, site):
    from selenium.webdriver.common.by import By

    browser.get((site / "search.html").as_uri() + "?q=Journey")
    wait_for(
        browser,
        "const r = document.querySelectorAll('#search-results li');"
        "return r.length > 0 ? r.length : null;",
        timeout=30,
    )
    results = browser.find_elements(By.CSS_SELECTOR, "#search-results li a")
    targets = [r.get_attribute("href") or "" for r in results]
    assert any("journeysim.Journey.html" in t for t in targets), targets[:10]
