"""torch's intra-op thread count, the one piece of process-wide torch state the engine sets.

The policy is explicit and runs only where the caller says: :func:`engine.api.load` may fix the
count once, and :func:`single_thread` limits it to one thread around training and prediction, at every size:
beside another busy process two threads made a step 3-20 times slower than one (the seed's
tasks 0.5 s against 6-27 s; 2,000 points 1.4-23 s against 0.75-1.3 s; 10,000 points 7-40 s
against 3.3-4.4 s on 2 cores; predicting 100,000 points 81 s against 10.6 s). Call the engine from the thread that owns torch in the process
(or from a worker process): the count is global to the process.
"""

from __future__ import annotations

import contextlib

import torch

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
    """One intra-op thread inside the block, the count restored after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
