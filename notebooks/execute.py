"""Executes notebooks in place and stores their outputs (`make notebooks`).

    python notebooks/execute.py notebooks/*.ipynb

Each notebook runs top to bottom in a fresh kernel in its own folder; on an
error nothing is written and the exit code is 1. No timing metadata is kept and
each cell's printed lines are one output, so that a notebook whose results did
not change is written byte for byte as it was. Figures are stored as PNG at
80 dpi (matplotlib's default is 100) to keep the files small.
tests/python/test_notebooks.py executes them again without writing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbclient
import nbformat
from nbclient.exceptions import CellExecutionError

DPI = 80


def execute(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=300,  # per cell, only against a hang
        kernel_name="python3",
        record_timing=False,
        coalesce_streams=True,  # one output per stream, however stdout was flushed
        extra_arguments=["--InlineBackend.rc", f"figure.dpi={DPI}"],
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    nbformat.write(nb, path)


def main(paths: list[str]) -> int:
    for name in paths:
        print(f"executing {name}", flush=True)
        try:
            execute(Path(name))
        except CellExecutionError as err:
            print(f"{name}: {str(err).strip().splitlines()[-1]}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
