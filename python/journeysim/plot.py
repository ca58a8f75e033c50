"""Plots of journeys and their results (``journeysim.plot.tornado``, ...).
Defined in :mod:`journeysim.view.plot`; see there."""

from __future__ import annotations

from .view.plot import (
    band_plot,
    figure,
    journey_diagram,
    occupancy_area,
    retention_curve,
    tornado,
)

__all__ = [
    "band_plot",
    "figure",
    "journey_diagram",
    "occupancy_area",
    "retention_curve",
    "tornado",
]
