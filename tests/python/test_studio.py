"""The plan studio (docs/studio.md): its state model (edits checked by the
rules of Intervention and Plan, the same numbers as js.compare, model files
that read back to the same numbers, uploads through the validating reader, a
cancellable Monte Carlo job), the page's reaction to bad values, the command's
messages, and the served app in headless Chromium driven by Selenium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import journeysim as js
from journeysim.apps.studio_state import (
    MAX_UPLOAD,
    MonteCarloJob,
    Setup,
    parse_number,
    read_upload,
)
from journeysim.view.numbers import money

ROOT = Path(__file__).resolve().parents[2]
CALL, RESCUE = "onboarding call", "rescue desk"


@pytest.fixture(scope="module")
def setup():
    return Setup.of(js.default_journey(), js.default_plans())


def call_plans(**changes):
    """The demo's plans with the onboarding call changed."""
    out = []
    for p in js.default_plans():
        ivs = [
            iv.replace(**changes) if iv.name == CALL else iv for iv in p.interventions
        ]
        out.append(js.Plan(p.name, ivs))
    return out


# -- the state model -------------------------------------------------------------


def test_an_edit_gives_exactly_what_compare_gives(setup):
    s = setup.edit(CALL, "effect", "0.5").edit(CALL, "cost_per_customer", "$300")
    got = s.exact().comparison.summary
    want = js.compare(
        js.default_journey(), call_plans(relative_risk=0.5, cost_per_customer=300), 36
    ).summary
    assert got.equals(want)
    # The edit changed the call in both plans that use it, and nothing else.
    assert s.plan("call and rescue").interventions[0].amount == 0.5
    assert s.intervention(RESCUE) == setup.intervention(RESCUE)
    assert setup.intervention(CALL).amount == 0.4  # the old setup is untouched


@pytest.mark.parametrize(
    "what, value, message",
    [
        ("reach", "1.5", "reach must be in [0, 1], got 1.5"),
        ("reach", "abc", "reach: 'abc' is not a number"),
        ("cost_per_customer", "-5", "cost_per_customer must be >= 0"),
        ("cost_per_customer", "", "a number is needed"),
        ("window start", "2.5", "must be a whole number"),
        ("window end", "0", "window"),
        ("capacity", "0", "capacity must be a whole number of customers"),
        ("effect", "inf", "must be a finite number"),
    ],
)
def test_a_bad_value_is_refused_with_its_reason(setup, what, value, message):
    with pytest.raises(ValueError, match=None) as err:
        setup.edit(CALL, what, value)
    assert message in str(err.value)


def test_an_effect_pushing_a_probability_out_of_range_fails_when_compared(setup):
    s = setup.edit(RESCUE, "effect", 200)
    with pytest.raises(ValueError, match=r"would become 2, outside \[0, 1\]"):
        s.exact()


def test_numbers_typed_as_people_type_them():
    assert parse_number("1,250", "x") == 1250.0
    assert parse_number("$2,000.5", "x") == 2000.5
    assert parse_number("25%", "x") == 0.25
    assert parse_number("", "x") is None
    assert parse_number("12", "x", whole=True) == 12
    with pytest.raises(ValueError, match="x: expected a number, got True"):
        parse_number(True, "x")


def test_plans_gain_and_lose_interventions(setup):
    s = setup.toggle("onboarding call", RESCUE, True)
    assert s.entry("onboarding call").members == (CALL, RESCUE)
    s = s.toggle("onboarding call", CALL, False).remove_plan("rescue desk")
    assert [p.name for p in s.plans] == ["onboarding call", "call and rescue"]
    s = s.add_plan("nothing yet").choose(["nothing yet"])
    assert s.exact().comparison.summary.index.tolist() == ["baseline", "nothing yet"]
    with pytest.raises(ValueError, match="already"):
        s.add_plan("nothing yet")
    with pytest.raises(ValueError, match="differs between plans"):
        Setup.of(
            js.default_journey(),
            [js.Plan("a", call_plans()[0].interventions), *call_plans(reach=0.5)],
        )


def test_a_capacity_plan_is_left_to_monte_carlo(setup):
    s = setup.edit(RESCUE, "capacity", "5")
    out = s.exact()
    assert out.comparison.summary.index.tolist() == ["baseline", "onboarding call"]
    assert any("capacity limit" in n for n in out.left_out)


def test_the_best_plan_is_best_plan(setup):
    got = setup.best("300")
    want = js.best_plan(
        js.default_journey(), list(setup.library), budget=300, periods=36
    )
    assert got.plan == want.plan and got.summary.equals(want.summary)
    with pytest.raises(ValueError, match="budget"):
        setup.best("-1")


def test_the_model_file_reads_back_to_the_same_numbers(setup, tmp_path):
    s = setup.edit(CALL, "reach", 0.6).edit(CALL, "window end", "")
    path = tmp_path / "edited.yaml"
    path.write_text(s.model_text(), encoding="utf-8")
    m = js.load_model(path)
    assert m.journey == s.journey and m.plans == s.all_plans()
    again = js.compare(m.journey, m.plans, 36).summary
    assert again.equals(s.exact().comparison.summary)
    # and through the upload reader, as the page reads it
    assert read_upload("edited.yaml", path.read_bytes()).all_plans() == m.plans


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("m.txt", b"format: journeysim/1", "m.txt: a model file is .yaml"),
        ("m.yaml", b"x" * (MAX_UPLOAD + 1), "more than the 5,242,880"),
        ("m.yaml", b"format: journeysim/1\n\xff\n", "m.yaml:2: the file is not UTF-8"),
        (
            "bad.yaml",
            b"format: journeysim/1\njourney:\n  stages: [a, b]\n"
            b"  transitions: {a: {b: 1.5}}\n",
            "bad.yaml:4: journey.transitions.a.b: probability 1.5 is outside [0, 1]",
        ),
        (
            "evil.yaml",
            b"format: !!python/object/apply:os.system ['echo hi']\n",
            "evil.yaml:1",
        ),
        ("plans.yaml", b"format: journeysim/1\nplans: []\n", "holds no journey"),
    ],
)
def test_an_upload_goes_through_the_validating_reader(name, data, message):
    with pytest.raises(ValueError) as err:
        read_upload(name, data)
    assert message in str(err.value)


def test_monte_carlo_runs_in_a_thread_with_the_numbers_of_compare(setup):
    s = setup.with_periods(12)
    job = MonteCarloJob(s, "5,000", 4)
    out = job.future.result(timeout=60)
    want = js.compare(
        js.default_journey(),
        js.default_plans(),
        12,
        customers=5000,
        seed=4,
        progress=False,
    )
    assert out.comparison.summary.equals(want.summary)
    assert job.progress == 1.0


def test_a_cancelled_run_stops_and_another_carries_on(setup):
    big = MonteCarloJob(setup, 3_000_000, 1)
    small = MonteCarloJob(setup.with_periods(6), 2_000, 1)
    time.sleep(0.3)
    started = time.perf_counter()
    big.cancel()
    with pytest.raises(KeyboardInterrupt):
        big.future.result(timeout=30)
    assert time.perf_counter() - started < 5
    assert small.future.result(timeout=60).comparison.method == "monte carlo"


# -- the page, without a browser --------------------------------------------------


@pytest.fixture
def app():
    pytest.importorskip("panel")
    return js.studio(js.default_journey(), js.default_plans())


def test_a_bad_value_shows_a_message_and_the_page_keeps_working(app):
    reach = app._inputs[(RESCUE, "reach")]
    reach.value = 1.5
    assert "reach must be in [0, 1]" in app.error and app.message.visible
    assert reach.value == 1.0  # back to the last good value
    effect = app._inputs[(CALL, "effect")]
    effect.value = 0.5
    assert app.error is None and not app.message.visible
    want = js.compare(js.default_journey(), call_plans(relative_risk=0.5), 36)
    v = want.population.loc["call and rescue", "incremental net value"]
    assert f"<span class='js-inv'>{money(v, want.units)}</span>" in app.headline.object


def test_without_panel_the_command_says_what_to_install(tmp_path):
    code = (
        "import sys; sys.modules['panel'] = None\n"
        "from journeysim.apps.cli import main\n"
        "sys.exit(main(['studio', '--no-browser']))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2
    assert r.stderr.strip() == (
        "journeysim: error: journeysim studio needs panel, an optional extra: "
        "pip install 'journeysim[studio]'"
    )


# -- served, in a real browser -----------------------------------------------------

DEEP = """
const sel = arguments[0]; const out = [];
const walk = (n) => {
  n.querySelectorAll(sel).forEach(e => out.push(e));
  n.querySelectorAll('*').forEach(e => { if (e.shadowRoot) walk(e.shadowRoot); });
};
const root = arguments[1] || document;
if (root.shadowRoot) walk(root.shadowRoot);
walk(root);
return out;
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("panel")
    folder = tmp_path_factory.mktemp("studio")
    model = folder / "saas.yaml"
    js.save(js.default_journey(), model, plans=js.default_plans())
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(js.__file__).parent.parent)}
    log = folder / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "journeysim",
                "studio",
                str(model),
                "--port",
                str(port),
                "--no-browser",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"journeysim studio exited: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.fail(
            "the studio's browser test needs Debian's chromium and chromium-driver: "
            "run `make setup`"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu"):
        options.add_argument(arg)
    options.add_argument("--window-size=1400,1000")
    try:
        driver = webdriver.Chrome(
            options=options,
            service=webdriver.ChromeService(executable_path=driver_path),
        )
    except Exception as err:  # Chromium present but unable to start here
        pytest.skip(f"Chromium could not start: {str(err).splitlines()[0]}")
    downloads = tmp_path_factory.mktemp("downloads")
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior",
        {"behavior": "allow", "downloadPath": str(downloads)},
    )
    driver.downloads = downloads
    yield driver
    driver.quit()


def deep(driver, selector, root=None):
    return driver.execute_script(DEEP, selector, root)


def wait_for(fn, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


SHOWN = (
    DEEP.replace("return out;", "")
    + """
const got = {};
out.forEach(e => { got[e.dataset.plan] = e.querySelector('.js-inv').textContent; });
return got;
"""
)


def shown(driver) -> dict[str, str]:
    """The incremental net value shown for each plan (read in one script, so
    that a redraw between two reads cannot mix old and new)."""
    return driver.execute_script(SHOWN, ".js-plan-result", None)


def open_page(driver, url):
    driver.get(url)
    return wait_for(lambda: len(shown(driver)) == 3 and shown(driver), "the page")


def type_into(driver, css_class, text):
    host = wait_for(lambda: deep(driver, f".{css_class}"), css_class)[0]
    field = deep(driver, "input", host)[0]
    driver.execute_script("arguments[0].value = ''", field)
    field.send_keys(text + "\n")


def expected(**changes) -> dict[str, str]:
    c = js.compare(js.default_journey(), call_plans(**changes), 36)
    inv = c.population["incremental net value"]
    return {p: money(inv[p], c.units) for p in inv.index[1:]}


def test_the_page_loads_with_the_numbers_of_compare(browser, server):
    assert open_page(browser, server) == expected()
    # the journey map is drawn, with the moments of truth's legend
    the_map = deep(browser, ".js-map")[0]
    assert "moment of truth" in " ".join(e.text for e in deep(browser, "svg", the_map))


def test_an_input_change_shows_what_compare_gives(browser, server):
    before = open_page(browser, server)
    type_into(browser, "js-effect-onboarding-call", "0.55")
    want = expected(relative_risk=0.55)
    assert want != before
    assert wait_for(lambda: shown(browser) == want and shown(browser), "update")


def test_a_bad_value_shows_its_message_in_the_page(browser, server):
    open_page(browser, server)
    type_into(browser, "js-cost-customer-onboarding-call", "-10")
    alert = wait_for(
        lambda: [e for e in deep(browser, ".js-error") if e.is_displayed()],
        "the message",
    )[0]
    text = wait_for(lambda: alert.text, "its text")
    assert "cost_per_customer must be >= 0" in text
    assert shown(browser) == expected()  # the last good numbers stay


def test_an_invalid_upload_shows_its_error(browser, server, tmp_path):
    open_page(browser, server)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "format: journeysim/1\njourney:\n  stages: [a, b]\n"
        "  transitions: {a: {b: 1.5}}\n"
    )
    host = deep(browser, ".js-upload")[0]
    deep(browser, "input[type=file]", host)[0].send_keys(str(bad))
    text = wait_for(
        lambda: "".join(e.text for e in deep(browser, ".js-error") if e.is_displayed()),
        "the upload's error",
    )
    assert "bad.yaml:4: journey.transitions.a.b: probability 1.5 is outside" in text


def test_the_downloaded_model_reloads_to_the_same_numbers(browser, server):
    open_page(browser, server)
    type_into(browser, "js-reach-onboarding-call", "0.7")
    want = expected(reach=0.7)
    wait_for(lambda: shown(browser) == want, "update")
    host = deep(browser, ".js-download-model")[0]
    deep(browser, "button", host)[0].click()
    path = browser.downloads / "saas-edited.yaml"
    wait_for(lambda: path.exists() and path.stat().st_size > 0, "the download")
    m = js.load_model(path)
    c = js.compare(m.journey, m.plans, 36)
    inv = c.population["incremental net value"]
    assert {p: money(inv[p], c.units) for p in inv.index[1:]} == want


def test_two_sessions_stay_independent(browser, server):
    open_page(browser, server)
    first = browser.current_window_handle
    browser.switch_to.new_window("tab")
    try:
        open_page(browser, server)
        type_into(browser, "js-effect-rescue-desk", "0.5")
        second = browser.current_window_handle
        want = _rescue(0.5)
        wait_for(lambda: shown(browser) == want, "the second session's update")
        browser.switch_to.window(first)
        assert shown(browser) == expected()
    finally:
        browser.switch_to.window(second)
        browser.close()
        browser.switch_to.window(first)


def _rescue(rr: float) -> dict[str, str]:
    plans = [
        js.Plan(
            p.name,
            [
                iv.replace(relative_risk=rr) if iv.name == RESCUE else iv
                for iv in p.interventions
            ],
        )
        for p in js.default_plans()
    ]
    c = js.compare(js.default_journey(), plans, 36)
    inv = c.population["incremental net value"]
    return {p: money(inv[p], c.units) for p in inv.index[1:]}
