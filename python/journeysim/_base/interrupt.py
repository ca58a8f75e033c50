"""Ctrl-C for work that runs in the C++ core, in any thread.

Python delivers SIGINT to the main thread only. A simulation running in the
main thread sees KeyboardInterrupt in its polling loop and cancels the core; one
running in another thread (a ThreadPoolExecutor, a web server) would carry on.
So every running simulation registers its control here (:func:`running`), and
while a handler of ours is installed, Ctrl-C cancels them all before raising
KeyboardInterrupt in the main thread as Python's default handler does.

Nothing is installed on import. The handler is installed for the duration of a
long call made in the main thread, and by :func:`cancel_on_interrupt` around a
block of the program's own (a main thread that waits for worker threads), in
place of Python's default handler only: a handler of the program's own is left
alone. It is restored when the call or block ends.

Work made of several simulations (a Monte Carlo ``compare``) runs as one
:func:`session`: Ctrl-C also cancels it between its simulations (its Python
work in between is not interruptible from another thread), so that the next
simulation does not start, or stops at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Running",
    "Session",
    "cancel_all",
    "cancel_on_interrupt",
    "cancel_thread",
    "checkpoint",
    "running",
    "running_in",
    "session",
]


@dataclass
class Running:
    """A registered simulation: its core control, whether Ctrl-C or
    :func:`cancel_thread` (rather than an error of its own) stopped it, and
    the thread that runs it."""

    control: Any
    cancelled_by_ctrl_c: bool = False
    thread: int = field(default_factory=threading.get_ident)


@dataclass
class Session:
    """Work of several simulations in one thread: ``cancelled`` once Ctrl-C
    came while it ran."""

    thread: int
    cancelled: bool = False


# id(control) -> Running, for the simulations running now
_running: dict[int, Running] = {}
# thread id -> Session, for the sessions running now (one per thread: nested
# sessions share the outermost)
_sessions: dict[int, Session] = {}
_running_lock = threading.Lock()


def cancel_all() -> None:
    """Cancel every running simulation and session, in every thread."""
    with _running_lock:
        for entry in _running.values():
            entry.cancelled_by_ctrl_c = True
            entry.control.cancel()
        for s in _sessions.values():
            s.cancelled = True


def cancel_thread(thread: int) -> None:
    """Cancel the work of one thread only (its session and the simulations it
    runs), as Ctrl-C would: a web server's cancel button stops one user's
    run and leaves the others'."""
    with _running_lock:
        for entry in _running.values():
            if entry.thread == thread:
                entry.cancelled_by_ctrl_c = True
                entry.control.cancel()
        s = _sessions.get(thread)
        if s is not None:
            s.cancelled = True


def running_in(thread: int) -> list[Running]:
    """The simulations one thread runs now (for a progress indicator: each
    control's ``steps_done``)."""
    with _running_lock:
        return [e for e in _running.values() if e.thread == thread]


def checkpoint() -> None:
    """KeyboardInterrupt if Ctrl-C cancelled this thread's session: work
    between simulations calls it before starting more."""
    s = _sessions.get(threading.get_ident())
    if s is not None and s.cancelled:
        raise KeyboardInterrupt("cancelled by Ctrl-C")


@contextmanager
def session() -> Iterator[Session]:
    """Run the block (several simulations) as one: Ctrl-C cancels the
    simulation running in it and every later one, and :func:`checkpoint`
    raises KeyboardInterrupt in it. In the main thread the handler is
    installed for the whole block."""
    me = threading.get_ident()
    with _running_lock:
        outer = _sessions.get(me)
        s = outer or _sessions.setdefault(me, Session(me))
    try:
        with cancel_on_interrupt():
            yield s
    finally:
        if outer is None:
            with _running_lock:
                _sessions.pop(me, None)


def _on_sigint(signum: int, frame: Any) -> None:
    """Ctrl-C: cancel every running simulation, then raise KeyboardInterrupt as
    Python's default handler does."""
    cancel_all()
    signal.default_int_handler(signum, frame)


@contextmanager
def cancel_on_interrupt() -> Iterator[None]:
    """While the block runs, Ctrl-C also cancels journeysim's simulations in
    every other thread (then raises KeyboardInterrupt here, as usual).

    Use it in the main thread around code that waits for worker threads which
    call :meth:`~journeysim.Journey.simulate` or :func:`~journeysim.compare`;
    calls made in the main thread do this themselves. Python's default handler
    is replaced for the block only, and a handler of the program's own is left
    alone. Outside the main thread it does nothing.

    Examples
    --------
    >>> import concurrent.futures as cf
    >>> import journeysim as js
    >>> j = js.default_journey()
    >>> with cf.ThreadPoolExecutor(2) as ex, js.cancel_on_interrupt():
    ...     runs = [ex.submit(j.simulate, 1000, 12, seed=s) for s in (1, 2)]
    ...     _ = cf.wait(runs)  # Ctrl-C here stops both simulations
    ...     print([r.result().customers for r in runs])
    [1000, 1000]
    """
    installed = False
    if threading.current_thread() is threading.main_thread():
        try:
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                signal.signal(signal.SIGINT, _on_sigint)
                installed = True
        except ValueError:  # pragma: no cover - not the main interpreter
            pass
    try:
        yield
    finally:
        if installed and signal.getsignal(signal.SIGINT) is _on_sigint:
            signal.signal(signal.SIGINT, signal.default_int_handler)


@contextmanager
def running(control: Any) -> Iterator[Running]:
    """Register a simulation's control for the duration of the block (and
    install the handler if this is the main thread)."""
    entry = Running(control)
    with _running_lock:
        _running[id(control)] = entry
        # Ctrl-C came earlier in this thread's session: stop at once.
        s = _sessions.get(threading.get_ident())
        if s is not None and s.cancelled:
            entry.cancelled_by_ctrl_c = True
            control.cancel()
    try:
        with cancel_on_interrupt():
            yield entry
    finally:
        with _running_lock:
            _running.pop(id(control), None)
