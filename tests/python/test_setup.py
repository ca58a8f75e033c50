"""What `make demo` and `make test` install (issue 13, item 10): the demo only
what building the extension and running the demo need; the test tools
(Catch2, clang-format, Chromium and its driver, the test extra) only with
`make test`. The Makefile is asked what it would do on a bare machine: its
probes (DEB_INCLUDE, DEB_PATH, PYTHON) point at empty folders and at a Python
that has nothing, and `make -n -B` prints the commands without running them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = {"g++", "libeigen3-dev", "libboost-dev", "python3-dev", "python3-venv"}
TESTS_ONLY = {"catch2", "clang-format", "chromium", "chromium-driver"}


def make(*args: str, **probes: str) -> str:
    """The output of ``make ARGS`` in the repository with the probes set."""
    exe = shutil.which("make")
    assert exe, "make is not installed"
    cmd = [exe, "--no-print-directory", *args, *(f"{k}={v}" for k, v in probes.items())]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def bare_machine(tmp_path: Path) -> dict[str, str]:
    """Probes for a machine without any of the packages."""
    (tmp_path / "include").mkdir()
    (tmp_path / "bin").mkdir()
    python = tmp_path / "python"  # knows no module and no include directory
    python.write_text("#!/bin/sh\nexit 1\n")
    python.chmod(0o755)
    return {
        "DEB_INCLUDE": str(tmp_path / "include"),
        "DEB_PATH": str(tmp_path / "bin"),
        "PYTHON": str(python),
    }


def full_machine(tmp_path: Path) -> dict[str, str]:
    """Probes for a machine with every package."""
    tmp_path.mkdir(exist_ok=True)
    inc, bin_, pyinc = tmp_path / "include", tmp_path / "bin", tmp_path / "pyinc"
    for header in (
        inc / "eigen3/Eigen/Core",
        inc / "boost/random/mersenne_twister.hpp",
        inc / "catch2/catch.hpp",
        pyinc / "Python.h",
    ):
        header.parent.mkdir(parents=True, exist_ok=True)
        header.touch()
    bin_.mkdir()
    for program in ("g++", "clang-format", "chromium", "chromedriver"):
        (bin_ / program).touch(mode=0o755)
    python = tmp_path / "python"  # imports everything; its headers are in pyinc
    python.write_text(f"#!/bin/sh\necho {pyinc}\n")
    python.chmod(0o755)
    return {"DEB_INCLUDE": str(inc), "DEB_PATH": str(bin_), "PYTHON": str(python)}


def apt_installs(commands: str) -> list[set[str]]:
    """The packages of each `apt-get install` in a dry run's commands."""
    return [
        set(m.group(1).split())
        for m in re.finditer(r"apt-get install -y -qq ([^\n;&]+)", commands)
    ]


def pip_installs(commands: str) -> list[str]:
    return re.findall(r"-m pip install -q (\S+)", commands)


def test_make_demo_installs_only_what_the_build_and_the_demo_need(tmp_path):
    commands = make("-n", "-B", "demo", **bare_machine(tmp_path))
    assert apt_installs(commands) == [BUILD], commands
    assert not TESTS_ONLY & set().union(*apt_installs(commands))
    # The package alone: no test, dev or other extra.
    assert pip_installs(commands) == ["--upgrade", "."], commands
    assert "[test" not in commands and "cmake ninja" not in commands


def test_make_test_installs_the_test_tools_too(tmp_path):
    commands = make("-n", "-B", "test", **bare_machine(tmp_path))
    assert apt_installs(commands) == [BUILD, TESTS_ONLY], commands
    assert '".[test,dev]"' in pip_installs(commands), commands


def test_nothing_is_installed_when_everything_is_there(tmp_path):
    commands = make("-n", "-B", "test", **full_machine(tmp_path))
    assert apt_installs(commands) == [], commands


def test_make_deps_lists_both_sets_and_what_is_missing(tmp_path):
    out = make("deps", **bare_machine(tmp_path))
    demo, demo_missing, test, test_missing = out.splitlines()
    assert demo.startswith("make demo installs (Debian): ")
    assert set(demo_missing.split(": ")[1].split()) == BUILD
    assert test.startswith("make test adds (Debian): ")
    assert set(test_missing.split(": ")[1].split()) == TESTS_ONLY
    out = make("deps", **full_machine(tmp_path / "full"))
    assert out.count("missing here: none") == 2, out


def test_catch2_is_needed_by_the_cpp_tests_only():
    """The extension builds without Catch2: only tests/cpp looks for it."""
    users = [
        p.relative_to(ROOT).as_posix()
        for p in ROOT.rglob("CMakeLists.txt")
        if "find_package(Catch2" in p.read_text()
        and not p.relative_to(ROOT).as_posix().startswith("build/")
    ]
    assert users == ["tests/cpp/CMakeLists.txt"]


# Every optional or test-only distribution; the demo must run without them.
EXTRAS_ONLY = [
    "plotly",
    "ipywidgets",
    "pyarrow",
    "dask",
    "distributed",
    "selenium",
    "lifetimes",
    "hypothesis",
    "jsonschema",
    "nbclient",
    "nbformat",
    "ipykernel",
    "IPython",
    "pytest",
]

HIDE_EXTRAS = """
import sys
from importlib.abc import MetaPathFinder

class Hide(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r} (hidden)")
        return None

sys.meta_path.insert(0, Hide())
from journeysim.apps.cli import main
sys.exit(main(["demo", "--out", sys.argv[1]]))
"""


def test_the_demo_runs_with_the_base_dependencies_only(tmp_path):
    code = f"HIDDEN = {set(EXTRAS_ONLY)!r}\n{HIDE_EXTRAS}"
    out = tmp_path / "demo.png"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.stat().st_size > 0
