"""Running batches of independent work in this process, on a local pool of
processes, or on a Dask cluster, with the same results either way.

The caller passes in the function that runs one batch (``run_batch(context,
items, threads)``, a module-level function so that it pickles by name) and a
context that every batch needs; the context travels once per worker process
(pool initializer, or scattered to every Dask worker), each batch carries only
its items. Nothing here knows what the items are: the sweep's cells, for now.
"""

from __future__ import annotations

import math
import os
import pickle
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .errors import InputError

__all__ = [
    "Progress",
    "batches",
    "check_client",
    "client_threads",
    "cpus",
    "default_threads",
    "run_dask",
    "run_local",
]

T = TypeVar("T")


def check_client(client: Any) -> None:
    """None, or a dask.distributed Client (else an InputError)."""
    if client is None:
        return
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - dask is an optional extra
        raise InputError(
            "client= needs dask.distributed: pip install 'journeysim[dask]'"
        ) from None
    if not isinstance(client, Client):
        raise InputError(
            f"client must be a dask.distributed.Client, got {type(client).__name__}"
        )


def cpus() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def client_threads(client: Any) -> int:
    """Worker threads on the cluster now (at least one)."""
    return max(1, sum(client.nthreads().values()))


def default_threads() -> int | None:
    """On a Dask worker, its threads; elsewhere None (every core)."""
    try:
        from distributed import get_worker

        return max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        return None


def batches(items: Sequence[T], workers: int, size: int | None) -> list[list[T]]:
    """Consecutive runs of items, about four batches per worker."""
    if size is None:
        size = max(1, math.ceil(len(items) / (4 * max(workers, 1))))
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


class Progress:
    """A tqdm bar counted in ``unit`` (or nothing when not shown)."""

    def __init__(self, total: int, show: bool, unit: str, desc: str) -> None:
        self.bar = None
        if show:
            from tqdm.auto import tqdm  # loaded only when a bar is shown

            self.bar = tqdm(total=total, unit=unit, desc=desc, leave=False)

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# -- local process pool ---------------------------------------------------------

# What a pool process was started with: the batch runner, the context and the
# threads each batch may use.
_POOL: tuple[Callable, Any, int] | None = None


def _pool_init(run_batch: Callable, blob: bytes, threads: int) -> None:
    global _POOL
    _POOL = (run_batch, pickle.loads(blob), threads)


def _pool_batch(items: list) -> Any:
    assert _POOL is not None
    run_batch, context, threads = _POOL
    return run_batch(context, items, threads)


def run_local(
    run_batch: Callable,
    context: Any,
    items: Sequence,
    *,
    workers: int,
    batch_size: int | None,
    weight: Callable[[Any], int],
    progress: Progress,
    threads: int | None,
    min_seconds: float,
) -> list:
    """Outcomes of every batch, in this process, or on a pool of ``workers``
    processes when the work is long enough to repay starting them (timed on
    the first item: more than ``min_seconds`` expected for the rest)."""
    import multiprocessing as mp

    if not items:
        return []
    start = time.perf_counter()
    outcomes = [run_batch(context, list(items[:1]), threads)]
    seconds = time.perf_counter() - start
    progress.update(weight(items[0]))
    rest = items[1:]
    in_child = mp.parent_process() is not None
    if workers <= 1 or in_child or seconds * len(rest) < min_seconds or len(rest) < 2:
        for batch in batches(rest, 1, batch_size):
            outcomes.append(run_batch(context, batch, threads))
            progress.update(sum(weight(x) for x in batch))
        return outcomes
    from concurrent.futures import ProcessPoolExecutor, as_completed

    parts = batches(rest, workers, batch_size)
    workers = min(workers, len(parts))
    per_worker = threads if threads is not None else max(1, cpus() // workers)
    blob = pickle.dumps(context, protocol=pickle.HIGHEST_PROTOCOL)
    # "spawn": a fork of a process with threads (a notebook's, tqdm's) may hang.
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=mp.get_context("spawn"),
        initializer=_pool_init,
        initargs=(run_batch, blob, per_worker),
    ) as pool:
        futures = {pool.submit(_pool_batch, b): b for b in parts}
        try:
            for fut in as_completed(futures):
                outcomes.append(fut.result())
                progress.update(sum(weight(x) for x in futures[fut]))
        except BaseException:  # e.g. Ctrl-C: do not wait for the queued batches
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return outcomes


# -- Dask -------------------------------------------------------------------------


def _dask_batch(run_batch: Callable, context: Any, items: list, threads: int | None):
    return run_batch(
        context, items, threads if threads is not None else default_threads()
    )


def run_dask(
    client: Any,
    run_batch: Callable,
    context: Any,
    items: Sequence,
    *,
    batch_size: int | None,
    weight: Callable[[Any], int],
    progress: Progress,
    threads: int | None,
    name: str,
) -> list:
    """One task per batch; the context scattered to every worker once. A
    worker that dies mid-batch has its batch rerun elsewhere by the scheduler
    (up to distributed.scheduler.allowed-failures times): the same items, so
    the same outcome."""
    from distributed import as_completed

    parts = batches(items, client_threads(client), batch_size)
    ctx_future = client.scatter(context, broadcast=True, hash=False)
    token = uuid.uuid4().hex[:12]
    futures = [
        client.submit(
            _dask_batch,
            run_batch,
            ctx_future,
            b,
            threads,
            key=f"journeysim-{name}-{token}-{k}",
        )
        for k, b in enumerate(parts)
    ]
    sizes = {f.key: sum(weight(x) for x in b) for f, b in zip(futures, parts)}
    outcomes = []
    try:
        for fut in as_completed(futures):
            outcomes.append(fut.result())
            progress.update(sizes[fut.key])
    except BaseException:  # e.g. Ctrl-C: leave nothing running on the cluster
        client.cancel([*futures, ctx_future])
        raise
    return outcomes
