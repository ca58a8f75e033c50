"""Every notebook in notebooks/ runs top to bottom without an error, and the
README's quickstart runs as written."""

from __future__ import annotations

import re
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
    nb = nbformat.read(path, as_version=4)
    execute_notebook(nb, f"notebooks/{path.name}", tmp_path)


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
