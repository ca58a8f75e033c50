"""The HTML plan report: its contents, and that it renders in a real browser
(headless Chromium driven by Selenium: the summary table's cells and every
chart are laid out with a size, and their screenshots are not blank)."""

from __future__ import annotations

import html
import io
import re

import numpy as np
import pytest

import journeysim as js
from conftest import geometric, headless_chromium

CHARTS = [
    "incremental-value",
    "cost-return",
    "retention",
    "journey-map",
    "occupancy",
    "moments",
    "timeline",
]


def plans():
    return js.default_plans()  # "onboarding call", "rescue desk", both


@pytest.fixture(scope="module")
def exact_report(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "exact.html"
    page = js.report(js.default_journey(), plans(), path, periods=36)
    return path, page


def test_report_is_self_contained(exact_report):
    path, page = exact_report
    assert path.read_text(encoding="utf-8") == page
    assert page.startswith("<!DOCTYPE html>")
    # Nothing fetched, nothing run: no script, no external reference.
    assert "<script" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    for key in CHARTS:
        assert f'id="chart-{key}"' in page
    assert page.count("<svg") == len(CHARTS)


def test_report_numbers_are_the_comparisons(exact_report):
    _, page = exact_report
    c = js.compare(js.default_journey(), plans(), 36)
    inc = c.summary["incremental net value"]
    best = inc.iloc[1:].idxmax()
    assert best == "call and rescue"
    per = c.summary.loc[best, "incremental net value per customer"]
    assert f"<b>{best}</b> adds the most: ${per:,.0f} of net value per customer" in page
    assert "over 36 months" in page
    for plan in ("baseline", "onboarding call", "rescue desk", "call and rescue"):
        assert f"<td>{plan}</td>" in page
    assert f"{100 * c.summary.loc['onboarding call', 'retention at 36']:.1f}%" in page
    # The strategy reader's figures: payback, NRR and GRR, outcomes, in units.
    assert "pays back in" in page
    assert "first-year net revenue retention is 106.3%" in page
    assert 'id="revenue-table"' in page and 'id="outcomes-table"' in page
    assert 'id="population-table"' in page
    assert 'id="timeline-table"' in page and "Who does what when" in page


def test_report_monte_carlo_has_intervals(tmp_path):
    page = js.report(
        js.default_journey(),
        plans()[:1],
        tmp_path / "mc.html",
        periods=24,
        customers=5_000,
        seed=3,
        progress=False,
    )
    assert "Monte Carlo, seed 3" in page
    assert page.count('class="interval"') >= 5
    assert "95% interval" in page


def test_report_with_uncertainty(tmp_path):
    j = geometric(0.1, value=100.0)
    s = j.simulate(2_000, periods=12, seed=1, record="events")
    f = js.fit(s.stage_log(), stages=j.stages, absorbing=["churned"], end=12)
    iv = js.Intervention("save", at=("active", "churned"), relative_risk=0.8)
    page = js.report(
        j,
        [js.Plan("save", [iv])],
        tmp_path / "u.html",
        periods=12,
        uncertainty=f,
        draws=50,
        seed=2,
    )
    assert 'id="uncertainty-table"' in page
    assert 'id="chart-uncertainty"' in page
    assert "beats the baseline with probability" in page
    # Where to listen: the value of information of the same draws, in words.
    v = js.value_of_information(
        j, [js.Plan("save", [iv])], uncertainty=f, draws=50, periods=12, seed=2
    )
    assert 'id="information"' in page and 'id="chart-information"' in page
    for line in v.to_text().splitlines():
        assert html.escape(line) in page
    top = v.table.index[0]
    assert f"<tr><td>{html.escape(top)}</td>" in page


def test_report_shows_a_given_value_of_information_and_refuses_other_objects(
    tmp_path,
):
    j = geometric(0.1, value=100.0)
    s = j.simulate(2_000, periods=12, seed=1, record="events")
    f = js.fit(s.stage_log(), stages=j.stages, absorbing=["churned"], end=12)
    plan = js.Plan(
        "save", [js.Intervention("save", ("active", "churned"), relative_risk=0.8)]
    )
    v = js.value_of_information(j, [plan], uncertainty=f, draws=40, periods=12, seed=5)
    page = js.report(j, [plan], periods=12, information=v)
    assert 'id="information"' in page
    assert html.escape(v.to_text().splitlines()[0]) in page
    assert 'id="information"' not in js.report(j, [plan], periods=12)
    with pytest.raises(ValueError, match="must be a ValueOfInformation"):
        js.report(j, [plan], periods=12, information={"evpi": 1})


def test_report_bad_input(tmp_path):
    with pytest.raises(ValueError, match="needs a Journey"):
        js.report("journey.yaml", plans(), tmp_path / "x.html")
    with pytest.raises(ValueError, match="must be a Comparison"):
        js.report(js.default_journey(), plans(), comparison=object())
    # Where the page goes is checked before the comparison runs.
    with pytest.raises(ValueError, match="does not exist"):
        js.report(js.default_journey(), plans(), tmp_path / "no" / "such" / "x.html")
    with pytest.raises(ValueError, match=r"x\.pdf: a report is HTML"):
        js.report(js.default_journey(), plans(), tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()


# -- in a real browser ---------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    driver = headless_chromium("the report's browser test")
    yield driver
    driver.quit()


def not_blank(png: bytes, min_ink: float = 0.01) -> tuple[float, int]:
    """Share of non-white pixels and number of distinct colours of a screenshot."""
    import matplotlib.image as mpimg

    img = mpimg.imread(io.BytesIO(png), format="png")[..., :3]
    ink = float((img.min(axis=-1) < 0.9).mean())
    colours = len(np.unique((img * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    return ink, colours


def test_report_renders_in_chromium(browser, exact_report):
    from selenium.webdriver.common.by import By

    path, _ = exact_report
    browser.get(path.as_uri())
    assert browser.title == "Plan comparison: B2B SaaS customer success"

    table = browser.find_element(By.ID, "summary-table")
    rows = table.find_elements(By.TAG_NAME, "tr")
    assert [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows[1:]] == [
        "baseline",
        "onboarding call",
        "rescue desk",
        "call and rescue",
    ]
    assert table.size["width"] > 400 and table.size["height"] > 80
    best = browser.find_element(By.CSS_SELECTOR, "#summary-table tr.best td")
    assert best.text == "call and rescue"
    findings = browser.find_element(By.ID, "findings").text
    assert "adds the most" in findings

    for key in CHARTS:
        fig = browser.find_element(By.ID, f"chart-{key}")
        svg = fig.find_element(By.TAG_NAME, "svg")
        assert svg.size["width"] > 200 and svg.size["height"] > 100, key
        drawn = browser.execute_script(
            "return arguments[0].querySelectorAll('path, use, text').length", svg
        )
        assert drawn > 20, key
        browser.execute_script("arguments[0].scrollIntoView()", fig)
        ink, colours = not_blank(svg.screenshot_as_png)
        assert ink > 0.01 and colours > 8, (key, ink, colours)

    page_ink, _ = not_blank(browser.get_screenshot_as_png())
    assert page_ink > 0.02


@pytest.fixture(scope="module")
def monte_carlo_report(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "mc.html"
    page = js.report(
        js.default_journey(), plans(), path, periods=36, customers=20_000, seed=1
    )
    return path, page


@pytest.mark.parametrize("which", ["exact_report", "monte_carlo_report"])
def test_report_reads_for_a_strategy_reader_in_chromium(browser, which, request):
    """Issue 14: what a reader sees has units and no scientific notation, the
    charts are there, and every table fits the page (no sideways scrolling)."""
    from selenium.webdriver.common.by import By

    path, _ = request.getfixturevalue(which)
    browser.get(path.as_uri())
    text = browser.find_element(By.TAG_NAME, "body").text
    assert not re.search(r"\d[eE][+-]?\d", text), re.findall(
        r".{20}\d[eE][+-]?\d.{5}", text
    )
    for words in ("months", "$", "%", "pays back", "NRR", "GRR"):
        assert words in text, words
    for key in CHARTS:
        svg = browser.find_element(By.CSS_SELECTOR, f"#chart-{key} svg")
        assert svg.size["width"] > 200, key
        # The charts' own text (axis labels, ticks) has no "e+" either.
        labels = browser.execute_script(
            "return Array.from(arguments[0].querySelectorAll('text'))"
            ".map(t => t.textContent).join(' ')",
            svg,
        )
        assert not re.search(r"\d[eE][+-]\d", labels), key
    page_width = browser.execute_script("return document.documentElement.clientWidth")
    tables = browser.find_elements(By.TAG_NAME, "table")
    assert len(tables) >= 5
    for t in tables:
        right = browser.execute_script(
            "return arguments[0].getBoundingClientRect().right", t
        )
        assert right <= page_width, (t.get_attribute("id"), right, page_width)
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= "
        "document.documentElement.clientWidth"
    )
