"""The command line's output files: every one checked before any work (its
folder exists and is writable, its suffix is its format's, it does not exist
unless ``--force``), all of a command's outputs checked before any is written,
and each written atomically (:mod:`journeysim._base.atomic`)."""

from __future__ import annotations

import enum
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .._base.atomic import atomic_write, check_writable, save_figure
from .._base.errors import InputError
from ..io.files import SUFFIXES as MODEL_SUFFIXES
from ..view.plot import plot_formats
from .report import HTML_SUFFIXES

__all__ = ["Kind", "Output", "check_outputs", "write_csv", "write_plot"]


class Kind(enum.Enum):
    """What an output holds, which fixes the suffixes it may have."""

    PLOT = "a plot"
    HTML = "an HTML report"
    CSV = "a CSV table"
    MODEL = "a model file"
    CSV_FOLDER = "a folder of CSV tables"


@dataclass(frozen=True)
class Output:
    """One output of a command: the path the user gave, what it holds, and
    the option that named it (for the messages). ``files`` is for a folder of
    CSV tables: the names written in it."""

    path: str
    kind: Kind
    option: str
    files: tuple[str, ...] = ()


def _suffixes(kind: Kind) -> tuple[str, ...]:
    if kind is Kind.PLOT:
        return tuple(f".{f}" for f in plot_formats())
    if kind is Kind.HTML:
        return HTML_SUFFIXES
    if kind is Kind.CSV:
        return (".csv",)
    if kind is Kind.MODEL:
        return tuple(MODEL_SUFFIXES)
    return ()


def _check_suffix(out: Output) -> None:
    allowed = _suffixes(out.kind)
    suffix = Path(out.path).suffix.lower()
    if allowed and suffix not in allowed:
        shown = ", ".join(allowed)
        raise InputError(
            f"{out.option} {out.path}: the name of {out.kind.value} must end in "
            f"{shown}, not {suffix or 'no suffix'!r}"
        )


def _check_folder(out: Output, force: bool) -> None:
    """A folder of tables: the folder itself (or the first of its parents
    that exists, as it will be created) is a writable folder, and no table
    in it is replaced without --force."""
    folder = Path(out.path)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{out.option} {out.path}: is a file, not a folder")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():  # pragma: no cover - a file is caught above
        raise InputError(f"{out.option} {out.path}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"{out.option} {out.path}: {existing} is not writable")
    if not force:
        there = [name for name in out.files if (folder / name).exists()]
        if there:
            raise InputError(
                f"{folder / there[0]} exists; pass --force to overwrite it"
                + (f" (and {len(there) - 1} more)" if len(there) > 1 else "")
            )


def check_outputs(outputs: Sequence[Output | None], force: bool) -> None:
    """Every output checked before any work: an InputError (one line, naming
    the file) for the first one that cannot be written."""
    given = [o for o in outputs if o is not None]
    seen: dict[str, Output] = {}
    for out in given:
        key = os.path.realpath(out.path)
        if key in seen:
            raise InputError(
                f"{seen[key].option} and {out.option} name the same file, {out.path}"
            )
        seen[key] = out
        if out.kind is Kind.CSV_FOLDER:
            _check_folder(out, force)
            continue
        _check_suffix(out)
        check_writable(out.path)
        if not force and os.path.lexists(out.path):
            raise InputError(f"{out.path} exists; pass --force to overwrite it")


def write_csv(table: pd.DataFrame | pd.Series, path: str | os.PathLike) -> None:
    """``table.to_csv(path)``, atomically."""
    with atomic_write(path, "w", newline="") as f:
        table.to_csv(f)


def write_plot(fig, path: str | os.PathLike) -> None:
    """The command line's figures, atomically, in the format of the suffix."""
    save_figure(fig, path, dpi=120, bbox_inches="tight")
