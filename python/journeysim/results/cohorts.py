"""Cohort tables: retention of each signup cohort by periods since signup,
observed in an event log or projected by a journey."""

from __future__ import annotations

import pandas as pd

from .._base.units import Units
from ..view.cohorts import cohort_heatmap
from ..view.display import table
from ..view.numbers import number, percent

__all__ = ["Cohorts"]


class Cohorts:
    """Retention by signup cohort (rows) and periods since signup (columns).

    Attributes
    ----------
    retention : DataFrame
        Share of each cohort still a customer (not in an absorbing stage) at
        0, 1, ... periods after signup; nan where the log (or horizon) ends
        before that age.
    customers : DataFrame
        Customers of each cohort known to be still a customer at each age.
    observed : DataFrame
        Customers of each cohort whose state at each age is known (every
        customer in a log of changes; in a log of snapshots, those seen at or
        after that age, or lost before it): the denominator of ``retention``.
    sizes : Series
        Customers who signed up in each cohort.
    kind : str
        ``"observed"`` (from an event log) or ``"projected"`` (by a journey).
    units : Units
        The time unit the ages count in.

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}},
    ...                time_unit="month", cohort_size=100, arrivals=[10.0])
    >>> t = js.cohort_table(j, periods=2)
    >>> t.customers.round(1)
    months since signup      0     1     2
    signup month
    0                    100.0  90.0  81.0
    1                     10.0   9.0   NaN
    >>> ax = t.plot()  # the cohort heat map
    """

    def __init__(
        self,
        customers: pd.DataFrame,
        observed: pd.DataFrame,
        sizes: pd.Series,
        units: Units,
        kind: str,
    ) -> None:
        self.customers = customers
        self.observed = observed
        self.sizes = sizes
        self.retention = customers / observed.where(observed > 0)
        self.units = units
        self.kind = kind

    def plot(self, ax=None):
        """The cohort heat map (retention by signup cohort and age)."""
        return cohort_heatmap(
            self.retention, self.units, ax=ax, title=f"{self.kind} retention by cohort"
        )

    def _repr_html_(self) -> str:
        u = self.units
        ages = list(self.retention.columns)[:13]
        rows = [
            [str(c), number(self.sizes[c], u)]
            + [
                ""
                if pd.isna(self.retention.loc[c, a])
                else percent(self.retention.loc[c, a], u, decimals=0)
                for a in ages
            ]
            for c in self.retention.index
        ]
        head = [f"signup {u.time_unit}", "customers", *(str(a) for a in ages)]
        return table(
            head,
            rows,
            title=f"{self.kind.capitalize()} retention by {u.plural} since signup",
        )

    def __repr__(self) -> str:
        return (
            f"<Cohorts ({self.kind}): {len(self.sizes)} cohorts, "
            f"{number(self.sizes.sum(), self.units)} customers>"
        )
