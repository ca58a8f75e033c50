"""Type stub of the compiled core (private; use the journeysim package)."""

from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt

_Array = npt.NDArray[np.float64]

class Accrual(Enum):
    start = ...
    end = ...
    half_cycle = ...

class Method(Enum):
    individual = ...
    aggregate = ...

class Journey:
    def __init__(
        self,
        stages: list[str],
        segments: list[tuple[Any, ...]],
        absorbing: list[int],
        value_stages: list[int],
        net_weights: list[float],
        cohort_size: float,
        arrivals: list[float],
        arrivals_constant: bool,
        normalize: bool,
        tolerance: float,
    ) -> None: ...
    @property
    def stages(self) -> list[str]: ...
    @property
    def absorbing(self) -> list[bool]: ...
    @property
    def n_segments(self) -> int: ...
    @property
    def stationary_from(self) -> int: ...
    @property
    def net_weights(self) -> list[float]: ...
    def share(self, segment: int) -> float: ...
    def start(self, segment: int) -> _Array: ...
    def transition_starts(self, segment: int) -> list[int]: ...
    def transitions(self, segment: int) -> list[_Array]: ...

class Analysis:
    periods: int
    occupancy: _Array
    population: _Array
    retention: _Array
    entries: _Array
    population_entries: _Array
    flows: _Array
    value_by_period: _Array
    value_by_period_nominal: _Array
    population_value_by_period: _Array
    population_value_by_period_nominal: _Array
    value: _Array
    value_infinite: _Array
    population_value: _Array
    lifetime_horizon: float
    lifetime: float
    absorption: _Array
    value_reached: _Array
    ttv_reached: float
    ttv_mean: float
    stage_lifetime: _Array
    stage_lifetime_horizon: _Array
    stage_value: _Array
    stage_value_infinite: _Array
    warnings: list[str]
    condition: float
    condition_warnings: list[str]
    segments: list[Analysis]

def analyze(journey: Journey, periods: int, accrual: Accrual) -> Analysis: ...
def analysis_memory(journey: Journey, periods: int) -> float: ...
def available_memory() -> float: ...

class Sensitivity(Enum):
    value = ...
    lifetime = ...
    retention = ...

def sensitivities(
    journey: Journey,
    periods: int,
    accrual: Accrual,
    metric: Sensitivity,
    dest: list[int],
) -> _Array: ...
def first_visits(
    journey: Journey, segment: int, stages: list[int], start: int, until: int
) -> _Array: ...

class SimulationControl:
    def __init__(self) -> None: ...
    def cancel(self) -> None: ...
    @property
    def steps_done(self) -> int: ...

class SimulationCancelled(RuntimeError): ...

def simulate(
    journey: Journey,
    customers: int,
    periods: int,
    seed: int,
    replications: int,
    threads: int,
    accrual: Accrual,
    method: Method,
    per_customer: bool,
    record_events: bool,
    control: SimulationControl | None = None,
    capacity: list[tuple[Any, ...]] = ...,
) -> dict[str, np.ndarray]: ...
def expected_moves(journey: Journey, periods: int) -> float: ...
def simulation_memory(
    journey: Journey,
    customers: int,
    periods: int,
    replications: int,
    threads: int,
    method: Method,
    per_customer: bool,
    capacity_rules: int,
) -> list[tuple[str, float]]: ...
