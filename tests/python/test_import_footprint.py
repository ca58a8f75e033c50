"""``import journeysim`` loads only what it needs: the heavy libraries that
draw, fit or serve (matplotlib, scipy, pyarrow, Panel, ...) load with the
first call that uses them. A fresh interpreter checks it (the test's own
process has them all loaded already)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import journeysim

# Loaded on first use: plots, fitting and statistics, Parquet files, the
# studio, the widget, Sankey diagrams, Dask, progress bars.
LAZY = (
    "matplotlib",
    "scipy",
    "pyarrow",
    "panel",
    "bokeh",
    "plotly",
    "ipywidgets",
    "dask",
    "distributed",
    "tqdm",
)

# numpy and pandas come first: what they load themselves (pandas 3 loads
# pyarrow when it is installed) is not journeysim's doing.
PROBE = """
import json, sys
import numpy, pandas
before = set(sys.modules)
import journeysim
new = sorted({m.split(".")[0] for m in set(sys.modules) - before})
print(json.dumps(new))
"""


def loaded_by_import() -> set[str]:
    package_root = Path(journeysim.__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_journeysim_leaves_heavy_libraries_unloaded():
    new = loaded_by_import()
    assert "journeysim" in new  # the probe did import it
    assert sorted(new & set(LAZY)) == []
