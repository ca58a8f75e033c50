"""Draws the pictures of the README and the documentation site from the demo
journey (docs/images/*.png), with journeysim's own plots:

    PYTHONPATH=python python docs/images/make_images.py

They are stored (small PNGs) so that the README shows them on GitHub too."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import journeysim as js

HERE = Path(__file__).resolve().parent
DPI = 80


def main() -> None:
    j = js.default_journey()
    ax = j.plot()
    ax.figure.savefig(HERE / "journey_map.png", dpi=DPI, bbox_inches="tight")
    a = j.analyze(periods=36)
    ax = a.plot_retention()
    ax.figure.savefig(HERE / "retention.png", dpi=DPI, bbox_inches="tight")
    ax = a.plot_occupancy()
    ax.figure.savefig(HERE / "occupancy.png", dpi=DPI, bbox_inches="tight")
    c = js.compare(j, js.default_plans(), periods=36)
    ax = c.plot()
    ax.figure.savefig(HERE / "compare.png", dpi=DPI, bbox_inches="tight")


if __name__ == "__main__":
    main()
