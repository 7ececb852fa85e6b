"""The threads of the engine's calls: torch's intra-op threads and BLAS's, process-wide state.

The policy is explicit and runs only where the caller says: :func:`engine.api.load` may fix torch's
count once, and :func:`single_thread` limits both to one thread around training, prediction and
analysis, at every size: beside another busy process two torch threads made a step 3-20 times
slower than one (the seed's tasks 0.5 s against 6-27 s; 2,000 points 1.4-23 s against 0.75-1.3 s;
10,000 points 7-40 s against 3.3-4.4 s on 2 cores; predicting 100,000 points 81 s against 10.6 s).
The OpenBLAS of numpy and of scipy on two threads kept the second core spinning for no gain:
decoding 100,000 signals spent 1.3-1.5 s of kernel time beside 2.5 s of work, analysing a
40,000-point grid took 1.8-1.9 s of CPU for 1.1-1.2 s (one thread: 1.1-1.3 s, on as much CPU),
and beside a busy process that analysis took 1.30-1.33 s against 1.14-1.21 s on one thread.
Call these from one thread at a time (the add-on's jobs run one at a time), the thread that owns
torch in the process or a worker process: the counts are global to the process, and each call
restores what it found. Signal surfaces, which the add-on draws on its UI thread, leave them alone.
"""

from __future__ import annotations

import contextlib

import torch
from threadpoolctl import threadpool_limits

__all__ = ["single_thread", "set_threads"]


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op threads (None keeps them) and return the count in use."""
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    return torch.get_num_threads()


@contextlib.contextmanager
def single_thread():
    """One torch intra-op thread and one BLAS thread inside the block, both counts restored after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(previous)
