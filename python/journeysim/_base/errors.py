"""journeysim's exceptions: one hierarchy under :class:`JourneySimError`.

Bad input is a ``ValueError`` as well (callers have caught ``ValueError`` since
the first version), so ``except ValueError`` and ``except JourneySimError`` both
work for it. :class:`SweepError` is not a ``ValueError``: it reports scenarios
that failed and carries the results of the others.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FitError",
    "InputError",
    "JourneySimError",
    "SpecError",
    "SweepError",
    "about",
    "spec_path",
]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*\Z")


class JourneySimError(Exception):
    """Base class of every error journeysim raises on purpose."""


class InputError(JourneySimError, ValueError):
    """An argument, journey, intervention, plan or file is not valid; the
    message names what is wrong and where.

    ``key`` is the key path the error is about in the dict form of what was
    given (``("segments", "smb", "share")``), when known: reading a model file
    reports it as the error's location without parsing the message."""

    def __init__(self, message: str = "", *, key: Sequence = ()) -> None:
        super().__init__(message)
        self.key = tuple(key)

    def __reduce__(self):
        return (_rebuild, (type(self), str(self), self.key))


def _rebuild(cls: type, message: str, key: tuple) -> InputError:
    return cls(message, key=key)


@contextmanager
def about(*key: str | int) -> Iterator[None]:
    """InputErrors raised in the block without a key path are about ``key``
    (an argument of a constructor, or a part of it)."""
    try:
        yield
    except SpecError:
        raise
    except InputError as err:
        if err.key:
            raise
        raise type(err)(str(err), key=key) from None


class SpecError(InputError):
    """A ValueError about one place in a journey spec, an intervention or plan
    dict, or a model file: ``path`` is the key path from the top of that
    document (keys and list indices), ``message`` what is wrong there."""

    def __init__(self, path: Sequence = (), message: str = "") -> None:
        self.path = tuple(path)
        self.message = message
        where = spec_path(self.path)
        super().__init__(f"{where}: {message}" if where else message, key=path)

    def within(self, *prefix) -> SpecError:
        """The same error, one level down in a larger document."""
        return SpecError(prefix + self.path, self.message)

    def __reduce__(self):
        return (type(self), (self.path, self.message))


class FitError(InputError):
    """An event log or a calibration request that cannot be fitted: a missing
    column, an unreadable file, a stage the journey does not have, ..."""


class SweepError(JourneySimError):
    """Some scenarios of a sweep raised. The others' results are kept.

    Attributes
    ----------
    results : DataFrame
        The whole sweep, one row per scenario; failing rows have the message in
        the ``error`` column and no metrics.
    failures : DataFrame
        The failing rows.
    """

    def __init__(self, message: str, results: pd.DataFrame) -> None:
        super().__init__(message)
        self.results = results
        self.failures = results[results["error"].notna()]

    def __reduce__(self):
        return (type(self), (str(self), self.results))


def spec_path(path: Sequence) -> str:
    """``("plans", 1, "interventions", 0)`` -> ``plans[1].interventions[0]``."""
    out = ""
    for p in path:
        if isinstance(p, str) and _IDENT.match(p):
            out += ("." if out else "") + p
        elif isinstance(p, int) and not isinstance(p, bool):
            out += f"[{p}]"
        else:
            out += f"[{p!r}]"
    return out


# Shown in tracebacks as journeysim.InputError (where users import them from),
# not as this module's path; pickles find them there too.
for _cls in (JourneySimError, InputError, SpecError, FitError, SweepError):
    _cls.__module__ = "journeysim"
del _cls
