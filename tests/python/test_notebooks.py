"""Every notebook in notebooks/ runs top to bottom without an error, is stored
with the outputs of such a run (and is not rewritten by the test), and the
README's quickstart runs as written."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

import journeysim as js

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOURCE_LINES = 6  # of a failing cell, in the failure message
TRACEBACK_LINES = 20  # the end of the kernel's traceback, likewise
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def cell_failure(name: str, index: int, cell, error: str, traceback=()) -> str:
    """The failure message for cell ``index`` (0-based, markdown cells counted)
    of notebook ``name``: the error, the cell's first lines, and the end of the
    kernel's traceback (colour codes removed)."""
    lines = cell.source.strip().splitlines()
    shown = lines[:SOURCE_LINES] + (["..."] if len(lines) > SOURCE_LINES else [])
    out = [f"{name}: cell {index} failed: {error}", "", *(f"    {x}" for x in shown)]
    tb = ANSI.sub("", "\n".join(traceback)).splitlines()[-TRACEBACK_LINES:]
    if tb:
        out += ["", "traceback in the kernel (end):", *tb]
    return "\n".join(out)


def error_output(cell) -> dict | None:
    """The error output of ``cell``, if it has one."""
    outputs = cell.get("outputs", [])
    return next((o for o in outputs if o.get("output_type") == "error"), None)


def execute_notebook(nb, name: str, cwd: Path) -> None:
    """Runs every cell of ``nb``; on the first failure (an exception in a cell,
    a timeout, a dead kernel) or an error output left in a cell, fails the test
    with ``cell_failure``'s message instead of nbclient's traceback."""
    nbclient = pytest.importorskip("nbclient")
    from nbclient.exceptions import CellExecutionError

    current = [-1]  # the index of the code cell being executed

    def on_cell_execute(cell, cell_index):
        current[0] = cell_index

    client = nbclient.NotebookClient(
        nb,
        timeout=300,  # per cell, only against a hang
        kernel_name="python3",
        resources={"metadata": {"path": cwd}},
        on_cell_execute=on_cell_execute,
    )
    try:
        client.execute()
    except CellExecutionError as err:
        k = current[0]
        out = error_output(nb.cells[k]) or {}
        error = f"{err.ename}: {err.evalue}"
        tb = out.get("traceback", [])
        pytest.fail(cell_failure(name, k, nb.cells[k], error, tb), pytrace=False)
    except Exception as err:  # a timeout or a dead kernel: in which cell?
        if current[0] < 0:
            raise  # before the first cell
        k = current[0]
        error = f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"
        pytest.fail(cell_failure(name, k, nb.cells[k], error), pytrace=False)
    for k, cell in enumerate(nb.cells):  # errors of cells allowed to raise
        out = error_output(cell)
        if out is not None:
            error = f"{out['ename']}: {out['evalue']}"
            tb = out.get("traceback", [])
            pytest.fail(cell_failure(name, k, cell, error, tb), pytrace=False)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    stored = path.read_bytes()
    nb = nbformat.read(path, as_version=4)
    execute_notebook(nb, f"notebooks/{path.name}", tmp_path)
    assert path.read_bytes() == stored, "executing a notebook in the tests rewrote it"


HOLDOUT_CHECK = """
fitted_on = set(snapshots.loc[~in_holdout, "customer"])
checked_on = set(snapshots.loc[in_holdout, "customer"])
assert fitted_on and checked_on and not fitted_on & checked_on
assert f.customers == len(fitted_on)
assert check.retention["customers"].iloc[0] == len(checked_on) == len(held_out)
assert len(checked_on) > 0.3 * (len(checked_on) + len(fitted_on))
"""


def test_calibration_notebook_checks_the_fit_on_customers_it_never_saw(tmp_path):
    """Notebook 04 is "checked against a holdout": the fit sees two thirds of
    the customers, the check the other third, and no customer is in both."""
    nbformat = pytest.importorskip("nbformat")
    path = ROOT / "notebooks" / "04_calibration.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(HOLDOUT_CHECK))
    execute_notebook(nb, "notebooks/04_calibration.ipynb + holdout check", tmp_path)


STORED_LIMIT = 400_000  # bytes per notebook, figures as PNG at 80 dpi


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_with_the_outputs_of_one_run(path):
    """Stored executed (`make notebooks`), so that it reads on GitHub: every
    code cell ran, in order, in one kernel, without an error, and the figures
    are there as PNG."""
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: {counts}"
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    kinds = {k for o in outputs for k in o.get("data", {})}
    assert "image/png" in kinds and "image/svg+xml" not in kinds, kinds
    assert not [c for c in code if "execution" in c.metadata], "timing metadata"
    split = [  # adjacent outputs of one stream: how stdout was flushed, run to run
        k
        for k, c in enumerate(code)
        for a, b in zip(c.outputs, c.outputs[1:])
        if a.output_type == b.output_type == "stream" and a.name == b.name
    ]
    assert not split, f"{path.name}: code cells {split} have streams split in two"
    assert path.stat().st_size < STORED_LIMIT, path.stat().st_size


def test_the_notebook_extra_has_a_front_end_and_what_the_notebooks_import():
    """`pip install '.[notebook]'` opens and runs every notebook: JupyterLab,
    and every third-party module a notebook imports (or finds, as notebook 04
    finds lifetimes' data) is a dependency or in the extra."""
    nbformat = pytest.importorskip("nbformat")
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 on
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(specs):
        return {re.split(r"[<>=\[ ]", d)[0].lower() for d in specs}

    extra = names(meta["optional-dependencies"]["notebook"])
    assert {"jupyterlab", "ipykernel", "nbclient", "nbformat"} <= extra
    available = names(meta["dependencies"]) | extra | {"journeysim"}
    module_to_dist = {"yaml": "pyyaml"}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        tree = ast.parse("\n".join(x for x in source.splitlines() if x[:1] not in "%!"))
        used = {
            a.name.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.Import)
            for a in n.names
        }
        used |= {
            n.module.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module and not n.level
        }
        used |= set(re.findall(r"find_spec\(\"(\w+)\"\)", source))
        third_party = {m for m in used if m not in sys.stdlib_module_names}
        missing = {m for m in third_party if module_to_dist.get(m, m) not in available}
        assert not missing, f"{path.name} imports {missing}, in no dependency or extra"


def test_a_failing_cell_is_reported_with_its_index_source_and_error(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    v4 = nbformat.v4
    nb = v4.new_notebook(
        cells=[
            v4.new_markdown_cell("# A notebook that fails"),
            v4.new_code_cell("x = 1"),
            v4.new_code_cell("y = x + 1\nraise ValueError(f'broken on purpose {y}')"),
            v4.new_code_cell("z = 3"),
        ]
    )
    with pytest.raises(pytest.fail.Exception) as failed:
        execute_notebook(nb, "broken.ipynb", tmp_path)
    message = str(failed.value)
    assert message.startswith(
        "broken.ipynb: cell 2 failed: ValueError: broken on purpose 2\n"
    ), message
    assert "\n    y = x + 1\n    raise ValueError(f'broken on purpose {y}')" in message
    assert "\x1b[" not in message
    assert "z = 3" not in message


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebook"


def test_readme_quickstart_runs(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README.md has no python code block"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "__readme__"})
    import matplotlib.pyplot as plt

    plt.close("all")


def test_readme_model_file_loads(tmp_path):
    """The README's YAML model file is a valid model with a plan."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    assert blocks, "README.md has no yaml code block"
    for k, block in enumerate(blocks):
        path = tmp_path / f"readme-{k}.yaml"
        path.write_text(block)
        model = js.load_model(path)
        assert model.journey is not None and model.plans
        js.compare(model.journey, model.plans, periods=12)
