"""torch's intra-op thread count, the one piece of process-wide torch state the engine sets.

The policy is explicit and runs only where the caller says: :func:`engine.api.load` may fix the
count once, and :func:`for_graph` limits it to one thread around work on a small graph, whose
tensors are too small to share out (the seed's tasks measured 0.5 s on one thread against
6-27 s on two beside another busy process). Call the engine from the thread that owns torch
in the process (or from a worker process): the count is global to the process.
"""

from __future__ import annotations

import contextlib

import torch

__all__ = ["SMALL_GRAPH_EDGES", "for_graph", "set_threads"]

SMALL_GRAPH_EDGES = 4096


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op threads (None keeps them) and return the count in use."""
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    return torch.get_num_threads()


@contextlib.contextmanager
def for_graph(num_edges: int):
    """One intra-op thread while working on a graph of at most :data:`SMALL_GRAPH_EDGES` edges,
    restored after; larger graphs keep the count as it is."""
    previous = torch.get_num_threads()
    if num_edges <= SMALL_GRAPH_EDGES:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
