# SPDX-License-Identifier: GPL-3.0-or-later
"""Background jobs: every engine call runs here, away from Blender's UI thread.

A :class:`Job` runs ``work(progress, cancel)`` in a daemon thread. ``work`` takes plain data
(numpy arrays, numbers, the engine's frozen dataclasses) and calls only ``engine.api``; it never
touches Blender data. The operator that owns a job polls it from a timer on the main thread and
stores the result there. Cancelling sets a flag that the engine checks between steps. In
background mode (``blender -b``, the ``bpy`` module) an operator starts the same job and waits for
it, so the engine still runs off the calling thread.

Errors: a ``ValueError`` from the engine is bad input and its one sentence is what the user
reads; anything else is logged with its traceback (``logging``, logger ``__name__``) and the user
reads one sentence naming it.

Why a thread and not a persistent worker process. Measured on 2 shared cores (the ranges are
four runs, with and without ``bpy`` loaded; the machine's load varies), bpy 5.0.1, torch 2.13 CPU:
a spawned ``multiprocessing`` child that imports the engine and answers over queues, against a
thread in Blender's process.

- engine ready after the request: thread 4.3–12.0 s, process 6.6–13.3 s (a spawn, then the same
  imports); the add-on starts loading when it is enabled, so a click rarely waits for either;
- longest stall of the UI thread meanwhile: thread 0.31–1.07 s (the imports hold the GIL),
  process 0.02–0.14 s;
- the seed's Train (200 steps), wall time over the engine's own clock, after the first call:
  thread +0.05–0.13 s, process +0.12–0.37 s (queues, pickling, a second interpreter waking up);
- memory: a thread adds about 440 MB to Blender's process (451 MB without ``bpy``, 670 MB with
  it); a process keeps the parent at 14 MB (270 MB with ``bpy``) and adds a 438 MB child: the same;
- crash isolation: a segfault in the child (exit −11) leaves the parent running; in a thread it
  would close Blender;
- where it runs: a thread works unchanged in the Blender app and in the ``bpy`` module. A spawned
  child re-imports the parent's ``__main__`` (a script that imports ``bpy`` at its top fails there:
  "No module named '_bpy'") and the module of its entry point, and the add-on's package
  (``bl_ext.<repo>.symbreak``) imports ``bpy`` and exists only inside Blender, so a child needs its
  own entry script, the extension's wheel folder on its path and the engine loaded by file location.

So: a thread, for the lower per-call cost and the machinery it does not need. The one-time stall
happens when the add-on is enabled, not on a click, and no crash of torch itself has been seen;
the engine keeps its global torch settings to its own calls, one job at a time.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Optional

from ..engine import api

log = logging.getLogger(__name__)

Progress = Callable[..., None]
Cancel = Callable[[], bool]
Work = Callable[[Progress, Cancel], Any]


class Job:
    """``work(progress, cancel)`` in a daemon thread.

    ``what`` it does, {'loading', 'analyzing', 'training', 'learning', 'predicting'}, picks the
    panel that shows it; ``total`` is its number of steps (0 when it has none), ``iteration`` and
    ``loss`` the latest progress. When it is ``done``: ``result``, or ``error`` with
    ``message`` (one sentence for the user), or ``cancelled``.
    """

    def __init__(self, what: str, work: Work, total: int = 0) -> None:
        self.what, self.total = what, total
        self.iteration = 0
        self.loss = float("nan")
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self._work = work
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"symbreak-{what}")

    def start(self) -> "Job":
        self._thread.start()
        return self

    def _progress(self, iteration: int = 0, loss: float = float("nan"), *_: Any) -> None:
        self.iteration, self.loss = int(iteration), float(loss)

    def _run(self) -> None:
        try:
            self.result = self._work(self._progress, self._cancel.is_set)
        except api.Cancelled:
            self._cancel.set()
        except ValueError as error:  # bad input: the engine's sentence is the message
            self.error = error
        except BaseException as error:  # a bug or a broken install: logged in full
            log.error("SymBreak %s failed", self.what, exc_info=error)
            self.error = error
        finally:
            self._done.set()

    @property
    def message(self) -> str:
        """The error as one sentence for ``Operator.report`` ("" when there is none)."""
        if self.error is None:
            return ""
        first = next(iter(str(self.error).splitlines()), "")
        if isinstance(self.error, (ValueError, api.EngineUnavailable)):
            return first or type(self.error).__name__
        named = type(self.error).__name__ + (f": {first}" if first else "")
        return f"{self.what.capitalize()} failed ({named}); the traceback is in the system console"

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        return self._done.wait(timeout)


# The job the panels show (one at a time), and the engine loading started when the add-on is enabled.
current: Optional[Job] = None
loading: Optional[Job] = None


def start(job: Job) -> Job:
    """Start ``job`` as the current one."""
    global current
    current = job.start()
    return job


def preload() -> Job:
    """Import torch and e3nn in the background (``api.load``), once; a later job waits on Python's
    import lock rather than importing again."""
    global loading
    if loading is None:
        loading = Job('loading', lambda progress, cancel: api.load()).start()
    return loading


def stop() -> None:
    """Cancel the current job (on unregister); its thread ends at the engine's next step."""
    global current
    if current is not None:
        current.cancel()
        current = None
