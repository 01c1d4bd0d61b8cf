"""Worker processes die with the process that started them.

A CI job that kills netlint (a timeout, a cancelled run) kills its main process only; a pool
worker left running would keep parsing or linting, holding CPU and the job's files, for as long
as its share takes. Every pool netlint starts passes :func:`exit_with_parent` as its initializer.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading

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
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _watch(parent: int) -> None:
    stop = threading.Event()
    while not stop.wait(POLL_SECONDS):
        if os.getppid() != parent:
            os._exit(1)
