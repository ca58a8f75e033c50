"""Type stub of the compiled core (private; use the journeysim package)."""

from enum import Enum
from typing import ClassVar

import numpy as np
import numpy.typing as npt

_Array = npt.NDArray[np.float64]
_Int = npt.NDArray[np.int64]

class Accrual(Enum):
    start = ...
    end = ...
    half_cycle = ...

class Method(Enum):
    individual = ...
    aggregate = ...

class Engine(Enum):
    sojourn = ...
    period = ...

class ValueStream:
    def __init__(
        self,
        *,
        name: str,
        discount_rate: float,
        value_starts: list[int],
        values: list[npt.ArrayLike],
        transition_values: npt.ArrayLike | None = None,
    ) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def discount_rate(self) -> float: ...
    @property
    def value_starts(self) -> list[int]: ...
    @property
    def values(self) -> list[_Array]: ...
    @property
    def transition_values(self) -> _Array | None: ...

class Segment:
    def __init__(
        self,
        *,
        name: str,
        share: float,
        transition_starts: list[int],
        transitions: list[npt.ArrayLike],
        streams: list[ValueStream],
        start: npt.ArrayLike,
    ) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def share(self) -> float: ...
    @property
    def transition_starts(self) -> list[int]: ...
    @property
    def transitions(self) -> list[_Array]: ...
    @property
    def streams(self) -> list[ValueStream]: ...
    @property
    def start(self) -> _Array: ...

class JourneySpec:
    def __init__(
        self,
        *,
        stages: list[str],
        segments: list[Segment],
        absorbing: list[int] | None = None,
        value_stages: list[int] = ...,
        net_weights: list[float] = ...,
        cohort_size: float = 1.0,
        arrivals: list[float] = ...,
        arrivals_constant: bool = False,
        normalize: bool = False,
        tolerance: float = 1e-9,
    ) -> None: ...
    @property
    def stages(self) -> list[str]: ...
    @property
    def segments(self) -> list[Segment]: ...
    @property
    def absorbing(self) -> list[int] | None: ...
    @property
    def value_stages(self) -> list[int]: ...
    @property
    def net_weights(self) -> list[float]: ...
    @property
    def cohort_size(self) -> float: ...
    @property
    def arrivals(self) -> list[float]: ...
    @property
    def arrivals_constant(self) -> bool: ...
    @property
    def normalize(self) -> bool: ...
    @property
    def tolerance(self) -> float: ...

class Journey:
    def __init__(self, spec: JourneySpec) -> None: ...
    @property
    def spec(self) -> JourneySpec: ...
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
    absorbed: _Array
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
    absorption_by_stage: _Array
    value_reached: _Array
    ttv_reached: float
    ttv_mean: float
    ttv_never: float
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
    periods: int | None,
    accrual: Accrual,
    metric: Sensitivity,
    dest: list[int],
) -> _Array: ...
def first_visits(
    journey: Journey, segment: int, stages: list[int], start: int, until: int
) -> _Array: ...
def first_visits_any(
    journey: Journey,
    segment: int,
    stages: list[list[int]],
    start: list[int],
    until: list[int],
    horizon: int,
) -> _Array: ...

class StageClass:
    stages: list[int]
    recurrent: bool
    period: int

class FirstPassage:
    probability: _Array
    missed: _Array
    mean_time: _Array
    condition: float
    warning: str

class FirstReturn:
    probability: _Array
    missed: _Array
    mean_time: _Array

def communicating_classes(journey: Journey, segment: int) -> list[StageClass]: ...
def stationary_distributions(journey: Journey, segment: int) -> _Array: ...
def first_passage(
    journey: Journey, segment: int, target: list[bool], avoid: list[bool]
) -> FirstPassage: ...
def expected_visits(journey: Journey, segment: int) -> _Array: ...
def first_returns(journey: Journey, segment: int) -> FirstReturn: ...

class SimulationControl:
    def __init__(self) -> None: ...
    def cancel(self) -> None: ...
    @property
    def steps_done(self) -> int: ...

class SimulationCancelled(RuntimeError): ...

class JourneyError(ValueError):
    part: str
    segment: str
    stream: str

class CapacityRule:
    def __init__(
        self,
        *,
        capacity: int | None,
        rank: list[int | None],
        window: tuple[int, int | None] = (0, None),
        calendar: tuple[int, int | None] = (0, None),
        touched: list[bool],
        fallback: list[int],
    ) -> None: ...
    @property
    def capacity(self) -> int | None: ...
    @property
    def rank(self) -> list[int | None]: ...
    @property
    def window(self) -> tuple[int, int | None]: ...
    @property
    def calendar(self) -> tuple[int, int | None]: ...
    @property
    def touched(self) -> list[bool]: ...
    @property
    def fallback(self) -> list[int]: ...

class SimulationResult:
    arrays: ClassVar[tuple[str, ...]]
    @property
    def replications(self) -> int: ...
    @property
    def periods(self) -> int: ...
    @property
    def stages(self) -> int: ...
    @property
    def streams(self) -> int: ...
    @property
    def occupancy(self) -> _Int: ...
    @property
    def cohort_occupancy(self) -> _Int: ...
    @property
    def value_by_period(self) -> _Array: ...
    @property
    def value_by_period_nominal(self) -> _Array: ...
    @property
    def cohort_value(self) -> _Array: ...
    @property
    def cohort_value_sq(self) -> _Array: ...
    @property
    def cohort_lifetime(self) -> _Array: ...
    @property
    def cohort_lifetime_sq(self) -> _Array: ...
    @property
    def arrivals(self) -> _Int: ...
    @property
    def capacity_eligible(self) -> _Int: ...
    @property
    def capacity_treated(self) -> _Int: ...
    @property
    def capacity_first_treated(self) -> _Int: ...
    @property
    def lifetime(self) -> npt.NDArray[np.int32]: ...
    @property
    def outcome(self) -> npt.NDArray[np.int16]: ...
    @property
    def start_stage(self) -> npt.NDArray[np.int16]: ...
    @property
    def first_value(self) -> npt.NDArray[np.int32]: ...
    @property
    def segment(self) -> npt.NDArray[np.uint8]: ...
    @property
    def customer_value(self) -> _Array: ...
    @property
    def event_customer(self) -> _Int: ...
    @property
    def event_period(self) -> npt.NDArray[np.int32]: ...
    @property
    def event_from(self) -> npt.NDArray[np.int32]: ...
    @property
    def event_to(self) -> npt.NDArray[np.int32]: ...

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
    capacity: list[CapacityRule] = ...,
    engine: Engine = ...,
) -> SimulationResult: ...
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

# -- fit: transition counting (bindings/register_fit.cpp) ---------------------------

def count_transitions(
    customer: _Int,
    period: _Int,
    stage: npt.NDArray[np.int32],
    segment: npt.NDArray[np.int32] | None,
    stages: int,
    segments: int,
    tenure_starts: list[int],
    absorbing: list[bool],
    carry_forward: bool,
    end_period: int,
) -> tuple[_Int, _Int]: ...  # counts (G x P x S x S), start counts (G x S)
def count_transitions_by_period(
    customer: _Int,
    period: _Int,
    stage: npt.NDArray[np.int32],
    stages: int,
    absorbing: list[bool],
    carry_forward: bool,
    origin: int,
    end_period: int,
) -> _Int: ...  # (end_period - origin) x S x S: bin t, moves from origin + t
