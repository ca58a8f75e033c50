"""Atomic file writes: every file journeysim writes (model files, HTML reports,
the command line's CSV tables and plots) goes through :func:`atomic_write`.

The new content is written to a temporary file in the target's own folder,
flushed and ``fsync``-ed, then renamed over the target with ``os.replace``
(atomic on POSIX and Windows), and the folder is ``fsync``-ed so that the
rename itself survives a power cut. A failure at any point (a full disk, a
kill, an exception while the content is produced) leaves the user's existing
file as it was: at worst the temporary file is left behind by a kill, never a
truncated target. On an error the temporary file is removed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from .errors import InputError

__all__ = ["atomic_write", "check_writable", "save_figure", "write_text"]


def _target(path: str | os.PathLike) -> Path:
    """The file that will be replaced: a symbolic link is followed, so that
    the file it points to is updated and the link kept."""
    p = Path(os.fspath(path))
    return Path(os.path.realpath(p)) if p.is_symlink() else p


def _create_temporary(folder: Path, name: str) -> tuple[int, Path]:
    """A new file next to the target, created with the usual permissions
    (0o666 less the umask, as ``open`` would), never an existing one."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = folder / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # pragma: no cover - 2**32 names
            continue


def _sync_folder(folder: Path) -> None:
    """Make the rename durable; not every system can open a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that refuse it
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_write(
    path: str | os.PathLike,
    mode: str = "w",
    *,
    encoding: str | None = "utf-8",
    newline: str | None = None,
) -> Iterator[IO[Any]]:
    """A file object to write the new content of ``path`` to; the content
    replaces ``path`` only when the block ends without an error.

    ``mode`` is ``"w"`` (text, ``encoding`` and ``newline`` as for ``open``)
    or ``"wb"``. An existing target keeps its permission bits.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from journeysim._base.atomic import atomic_write
    >>> path = pathlib.Path(tempfile.mkdtemp(), "a.txt")
    >>> with atomic_write(path) as f:
    ...     _ = f.write("hello")
    >>> path.read_text()
    'hello'
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    target = _target(path)
    folder = target.parent
    try:
        keep_mode = target.stat().st_mode & 0o7777
    except OSError:
        keep_mode = None
    fd, tmp = _create_temporary(folder, target.name)
    try:
        try:
            if mode == "wb":
                f = os.fdopen(fd, "wb")
            else:
                f = os.fdopen(fd, "w", encoding=encoding, newline=newline)
        except BaseException:
            os.close(fd)  # fdopen did not take it (e.g. an unknown encoding)
            raise
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if keep_mode is not None:
            os.chmod(tmp, keep_mode)
        os.replace(tmp, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_folder(folder)


def write_text(path: str | os.PathLike, text: str, *, newline: str | None = None):
    """Replace ``path`` by ``text`` (UTF-8), atomically."""
    with atomic_write(path, "w", newline=newline) as f:
        f.write(text)


def save_figure(fig: Any, path: str | os.PathLike, **savefig_kwargs: Any) -> None:
    """``fig.savefig(path, ...)`` atomically: the format is the one of
    ``path``'s suffix (``.png``, ``.svg``, ``.pdf``, ...), as savefig would
    infer it from the name."""
    fmt = Path(os.fspath(path)).suffix.lstrip(".").lower()
    if not fmt:
        raise InputError(f"{os.fspath(path)}: a plot file needs a suffix such as .png")
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format=fmt, **savefig_kwargs)


def check_writable(path: str | os.PathLike) -> Path:
    """Raise an InputError naming ``path`` unless a file can be written there:
    its folder exists and may be written to, and ``path`` is not a folder.
    Returns the path. Used before any work, so that a long computation does
    not end in an error about where its result goes."""
    p = Path(os.fspath(path))
    folder = _target(p).parent
    shown = os.fspath(path)
    if not folder.is_dir():
        if folder.exists():
            raise InputError(f"{shown}: {folder} is a file, not a folder")
        raise InputError(f"{shown}: the folder {folder} does not exist")
    if p.is_dir():
        raise InputError(f"{shown}: is a folder, not a file")
    # A new file needs write and search permission on the folder (root passes
    # os.access for folders of any mode; the write itself then succeeds).
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{shown}: the folder {folder} is not writable")
    return p
