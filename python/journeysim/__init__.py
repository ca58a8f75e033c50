"""journeysim: customer journey simulation and what-if analysis.

A journey map made quantitative: a Markov chain over journey stages with value
streams, analysed exactly by a C++ core.

The package is built in layers that import one way (docs/architecture.md):
``apps`` -> ``plans`` | ``calibrate`` | ``io`` -> ``model`` -> ``results`` ->
``view`` -> ``_base``. The public names are gathered here.
"""

from __future__ import annotations

from . import datasets, plot  # js.datasets.saas_accounts; js.plot.tornado, ...
from ._base.errors import FitError, InputError, JourneySimError, SpecError, SweepError
from ._base.interrupt import cancel_on_interrupt
from ._base.version import __version__
from ._base.warnings import (
    IllConditionedWarning,
    InfiniteLifetimeWarning,
    JourneyWarning,
)
from .apps.demo import default_journey, default_plans
from .apps.report import report
from .apps.studio import studio
from .apps.widget import WhatIf, what_if
from .calibrate.cohorts import cohort_table
from .calibrate.fit import fit
from .calibrate.fitted import Fit, FitCheck
from .calibrate.monitor import Monitor, monitor
from .calibrate.rules import Rule, StageRules, stages_from
from .io.files import ModelFile, dumps, load, load_model, load_plans, loads, save
from .model.intervention import Intervention, Plan
from .model.journey import Journey
from .model.timeline import plot_timeline, timeline
from .plans.budget import BudgetChoice, best_plan
from .plans.compare import Comparison, compare
from .plans.information import ValueOfInformation, value_of_information
from .plans.journeys import JourneyComparison, compare_journeys
from .plans.sensitivity import Tornado, threshold, tornado
from .plans.sweep import sweep
from .results.analysis import Analysis
from .results.cohorts import Cohorts
from .results.flows import flows, sankey
from .results.simulation import Simulation

__all__ = [
    "Analysis",
    "BudgetChoice",
    "Cohorts",
    "Comparison",
    "Fit",
    "FitCheck",
    "FitError",
    "IllConditionedWarning",
    "InfiniteLifetimeWarning",
    "InputError",
    "Intervention",
    "Journey",
    "JourneyComparison",
    "JourneySimError",
    "JourneyWarning",
    "ModelFile",
    "Monitor",
    "Plan",
    "Rule",
    "Simulation",
    "SpecError",
    "StageRules",
    "SweepError",
    "Tornado",
    "ValueOfInformation",
    "WhatIf",
    "__version__",
    "best_plan",
    "cancel_on_interrupt",
    "cohort_table",
    "compare",
    "compare_journeys",
    "datasets",
    "default_journey",
    "default_plans",
    "dumps",
    "fit",
    "flows",
    "load",
    "load_model",
    "load_plans",
    "loads",
    "monitor",
    "plot",
    "plot_timeline",
    "report",
    "sankey",
    "save",
    "stages_from",
    "studio",
    "sweep",
    "threshold",
    "timeline",
    "tornado",
    "value_of_information",
    "what_if",
]
