"""Helpers shared by the engine tests (test modules never import each other)."""

import numpy as np
import torch
from e3nn import o3


def wigner(irreps, R) -> np.ndarray:
    """``irreps.D_from_matrix(R)`` exact in float64, as numpy (e3nn builds its generators in the
    default dtype, so it is switched to float64 for the call)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return o3.Irreps(irreps).D_from_matrix(torch.as_tensor(np.asarray(R), dtype=torch.float64)).numpy()
    finally:
        torch.set_default_dtype(previous)


def random_orthogonal(generator: torch.Generator, inversion: bool = False) -> np.ndarray:
    """A uniformly random rotation (times -I with ``inversion``), ``(3, 3)`` float64."""
    q = torch.randn(4, generator=generator, dtype=torch.float64)
    R = o3.quaternion_to_matrix(q / q.norm()).numpy()
    return -R if inversion else R


def rotations(seed: int = 0, count: int = 3) -> list[np.ndarray]:
    """``count`` random rotations, each followed by itself composed with the inversion."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        R = random_orthogonal(generator)
        out += [R, -R]
    return out
