# SPDX-License-Identifier: GPL-3.0-or-later
"""Run one engine call away from Blender's UI thread.

Only plain values cross: numpy arrays and dataclasses in, a result (or an exception) out. The
modal operator that owns a job polls it from a timer on the main thread and touches Blender
data only there. Cancelling sets a flag that the engine checks every step of training or learning;
a prediction runs in one go, and the operator drops the result of a cancelled one.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Optional


class Job:
    """``fn(**kwargs, progress=..., cancel=...)`` in a daemon thread: ``total`` steps reported
    through ``progress``; ``what`` it does, {'training', 'learning', 'predicting'}, picks the panel
    that shows it."""

    def __init__(self, fn: Callable[..., Any], total: int, what: str, **kwargs: Any) -> None:
        self.total, self.what = total, what
        self.iteration = 0
        self.loss = float("nan")
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(fn, kwargs), daemon=True,
                                        name="symbreak-job")

    def start(self) -> "Job":
        self._thread.start()
        return self

    def _progress(self, iteration: int, loss: float) -> None:
        self.iteration, self.loss = int(iteration), float(loss)

    def _run(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        try:
            self.result = fn(**kwargs, progress=self._progress, cancel=self._cancel.is_set)
        except BaseException as error:  # handed to the main thread, which reports it
            self.error = error
        finally:
            self._done.set()

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


# The job the panels show (one at a time).
current: Optional[Job] = None
