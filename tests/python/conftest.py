"""Shared fixtures and helpers for the journeysim Python API tests."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import journeysim as js

#: The interpreter and console script of the environment the package lives in.
PYTHON = Path(sys.executable)
JOURNEYSIM = PYTHON.parent / "journeysim"


def python_child(code: str) -> subprocess.Popen:
    """``code`` run by this interpreter in a child process that imports the
    same journeysim as the tests (text pipes on stdout and stderr)."""
    package = str(Path(js.__file__).parent.parent)
    path = os.environ.get("PYTHONPATH", "")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (package, path) if p)}
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def max_rss() -> int:
    """This process's peak resident memory so far, in bytes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def fails_at_once(call, match: str) -> str:
    """Asserts that ``call`` raises MemoryError matching ``match`` before
    allocating anything (the process's peak memory does not grow by 64 MiB);
    returns the message. How long the refusal takes is measured by
    benchmarks/bench_limits.py."""
    rss = max_rss()
    with pytest.raises(MemoryError, match=match) as err:
        call()
    assert max_rss() - rss < 64 * 2**20  # nothing was allocated
    return str(err.value)


def geometric(p: float, value: float | None = None, rate: float = 0.0, **kwargs):
    """Two stages, ``active`` -> ``churned`` with probability ``p`` per period,
    optionally earning ``value`` per period in ``active`` (stream "revenue")."""
    if value is not None:
        kwargs.setdefault("values", {"revenue": {"active": value}})
    return js.Journey(
        ["active", "churned"],
        {"active": {"churned": p}},
        discount_rate=rate,
        **kwargs,
    )


def random_chain(n: int, n_absorbing: int, rng: np.random.Generator) -> np.ndarray:
    """A random row-stochastic matrix whose last ``n_absorbing`` stages are
    absorbing and from which every transient stage leaks into one of them."""
    P = rng.random((n, n)) * (rng.random((n, n)) < 0.5)
    for i in range(n - n_absorbing):
        P[i, n - n_absorbing + rng.integers(n_absorbing)] += 0.05
    P[n - n_absorbing :] = 0.0
    for i in range(n - n_absorbing, n):
        P[i, i] = 1.0
    return P / P.sum(axis=1, keepdims=True)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240607)


@pytest.fixture
def abc() -> js.Journey:
    """a -> b -> c, with c absorbing: the smallest journey with a middle stage."""
    return js.Journey(["a", "b", "c"], {"a": {"b": 0.5}, "b": {"c": 0.25}})


def headless_chromium(what: str):
    """A headless Chromium driven by Selenium, for the browser tests; fails
    (does not skip) naming ``what`` needs it when Debian's chromium and
    chromium-driver are missing: `make test` installs them."""
    webdriver = pytest.importorskip("selenium.webdriver")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.fail(
            f"{what} needs Debian's chromium and chromium-driver: run `make setup`"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu"):
        options.add_argument(arg)
    options.add_argument("--window-size=1300,1000")
    service = webdriver.ChromeService(executable_path=driver_path)
    return webdriver.Chrome(options=options, service=service)
