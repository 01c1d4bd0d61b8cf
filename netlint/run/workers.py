"""Worker processes die with the process that started them.

A CI job that kills netlint (a timeout, a cancelled run) kills its main process only; a pool
worker left running would keep parsing or linting, holding CPU and the job's files, for as long
as its share takes. Every pool netlint starts passes :func:`exit_with_parent` as its initializer.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

#: ``prctl`` option: the signal the kernel sends this process when its parent dies.
_PR_SET_PDEATHSIG = 1
#: How often the portable fallback looks at the parent, in seconds.
POLL_SECONDS = 0.5


def exit_with_parent(parent: int | None = None) -> None:
    """Make this (worker) process end as soon as its parent dies.

    ``parent`` is the pid of the process that created the pool (pass ``os.getpid()`` there, in
    ``initargs``): a parent that died before the worker got here is then noticed too.

    Linux: the kernel delivers SIGKILL on the parent's death (``PR_SET_PDEATHSIG``). Everywhere,
    and as a second line on Linux: a daemon thread that ends the process once the parent id
    changes (the orphan is re-parented), which costs a ``getppid`` call twice a second.
    """
    if parent is None:
        parent = os.getppid()
    if sys.platform.startswith("linux"):
        _set_death_signal()
    if os.getppid() != parent:
        os._exit(1)  # the parent died before the signal was armed
    watcher = threading.Thread(
        target=_watch, args=(parent,), name="netlint-exit-with-parent", daemon=True
    )
    watcher.start()


def _set_death_signal() -> None:
    # Imported here, in the worker: ctypes costs the many runs that start none 8 ms.
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _watch(parent: int) -> None:
    stop = threading.Event()
    while not stop.wait(POLL_SECONDS):
        if os.getppid() != parent:
            os._exit(1)


#: What the forked workers of :func:`ordered_map` inherit instead of receiving it pickled.
_FORKED: dict[str, Callable[[int], Any]] = {}


def ordered_map(task: Callable[[int], T], count: int, *, jobs: int, least: int = 2) -> Iterator[T]:
    """``task(0)``, ``task(1)``, ... ``task(count - 1)``, in that order, shared with
    ``jobs - 1`` forked processes that inherit ``task`` and what it reads (copy-on-write).

    The calling process runs every ``jobs``-th task itself, so it works while it waits. At
    most two results per worker are held ahead of the one being yielded: a writer that
    streams them keeps the memory of a few tasks, not of the whole output. Runs in this
    process alone where fork does not exist (not Linux), with fewer than two jobs, or fewer
    than ``least`` tasks. A task's exception is raised here."""
    if jobs < 2 or count < max(least, 2) or sys.platform != "linux":
        yield from map(task, range(count))
        return
    # Imported here: most runs never start these workers.
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor

    _FORKED["task"] = task
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(
        max_workers=jobs - 1,
        mp_context=context,
        initializer=exit_with_parent,
        initargs=(os.getpid(),),
    )
    try:
        pending: dict[int, Future[T]] = {}
        window = 2 * jobs  # tasks given out beyond the one being yielded
        ahead = 0  # the first task not yet given out
        for number in range(count):
            while ahead < count and ahead <= number + window:
                if ahead % jobs:
                    pending[ahead] = pool.submit(_run_forked, ahead)
                ahead += 1
            found = pending.pop(number, None)
            yield task(number) if found is None else found.result()
    finally:
        # A consumer that stops early (or a task that failed) leaves tasks nobody will read.
        pool.shutdown(wait=True, cancel_futures=True)
        _FORKED.clear()


def _run_forked(number: int) -> Any:
    return _FORKED["task"](number)
