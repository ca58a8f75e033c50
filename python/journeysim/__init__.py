"""journeysim: customer journey simulation and what-if analysis.

A journey map made quantitative: a Markov chain over journey stages with value
streams, analysed exactly by a C++ core.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import plot  # js.plot.tornado, js.plot.journey_diagram, ...
from .analysis import Analysis
from .budget import BudgetChoice, best_plan
from .compare import Comparison, compare
from .demo import default_journey, default_plans
from .files import ModelFile, dumps, load, load_model, load_plans, loads, save
from .fit import Fit, FitCheck, fit
from .intervention import Intervention, Plan
from .journey import Journey
from .report import report
from .sankey import flows, sankey
from .simulation import Simulation
from .sweep import SweepError, sweep
from .warnings import IllConditionedWarning, InfiniteLifetimeWarning, JourneyWarning
from .widget import WhatIf, what_if

try:
    __version__ = version("journeysim")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "Analysis",
    "BudgetChoice",
    "Comparison",
    "Fit",
    "FitCheck",
    "IllConditionedWarning",
    "InfiniteLifetimeWarning",
    "Intervention",
    "Journey",
    "JourneyWarning",
    "ModelFile",
    "Plan",
    "Simulation",
    "SweepError",
    "WhatIf",
    "__version__",
    "best_plan",
    "compare",
    "default_journey",
    "default_plans",
    "dumps",
    "fit",
    "flows",
    "load",
    "load_model",
    "load_plans",
    "loads",
    "plot",
    "report",
    "sankey",
    "save",
    "sweep",
    "what_if",
]
