r"""Real Clebsch–Gordan coefficients in e3nn's basis, from Racah's formula in floating point."""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from e3nn import o3

__all__ = ["clebsch_gordan", "nonzero_clebsch_gordan"]

_FACTORIALS = np.array([math.factorial(k) for k in range(64)], dtype=np.float64)  # for l up to 10


@functools.lru_cache(maxsize=None)
def clebsch_gordan(l1: int, l2: int, l3: int) -> np.ndarray:
    r"""Real Clebsch–Gordan coefficients, float64 ``(2l_1+1, 2l_2+1, 2l_3+1)``: e3nn's ``wigner_3j``.

    The complex coefficients come from Racah's formula in floating point,

    .. math::
        \langle l_1 m_1 l_2 m_2 | l_3 m_3 \rangle \propto \sum_k \frac{(-1)^k}{k!\,(l_1+l_2-l_3-k)!\,
        (l_1-m_1-k)!\,(l_2+m_2-k)!\,(l_3-l_2+m_1+k)!\,(l_3-l_1-m_2+k)!},

    then move to e3nn's real basis and are normalised to :math:`\sum C^2 = 1`. Same numbers as
    ``e3nn.o3.wigner_3j`` to rounding, without its exact rational arithmetic (0.1 s per process).
    """
    m1, m2 = np.arange(-l1, l1 + 1)[:, None], np.arange(-l2, l2 + 1)[None, :]
    m3 = m1 + m2
    k = np.arange(l1 + l2 - l3 + 1)[:, None, None]
    # the six factorial arguments above, (6, k, m1, m2), as constant + k + m1 + m2 terms
    args = (np.array([0, l1 + l2 - l3, l1, l2, l3 - l2, l3 - l1])[:, None, None, None]
            + np.array([1, -1, -1, -1, 1, 1])[:, None, None, None] * k
            + np.array([0, 0, -1, 0, 1, 0])[:, None, None, None] * m1
            + np.array([0, 0, 0, 1, 0, -1])[:, None, None, None] * m2)
    valid = (args >= 0).all(0)
    total = np.where(valid, (-1.0) ** k / _FACTORIALS[np.maximum(args, 0)].prod(0), 0.0).sum(0)
    inside = np.abs(m3) <= l3
    m3c = np.where(inside, m3, 0)
    root = np.sqrt(_FACTORIALS[l3 + m3c] * _FACTORIALS[l3 - m3c] * _FACTORIALS[l1 - m1] * _FACTORIALS[l1 + m1]
                   * _FACTORIALS[l2 - m2] * _FACTORIALS[l2 + m2])
    complex_cg = np.zeros((2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1))
    i, j = np.nonzero(inside)
    complex_cg[i, j, m3[i, j] + l3] = (root * total)[i, j]
    q1, q2, q3 = (_real_to_complex(l) for l in (l1, l2, l3))  # one basis index at a time:
    real = (q1.T @ complex_cg.reshape(len(q1), -1)).reshape(complex_cg.shape)
    real = (real.transpose(0, 2, 1) @ q2).transpose(0, 2, 1)
    real = (real @ q3.conj()).real
    real /= np.linalg.norm(real)
    real.flags.writeable = False  # cached and shared
    return real


@functools.lru_cache(maxsize=None)
def nonzero_clebsch_gordan(l1: int, l2: int, l3: int) -> tuple[np.ndarray, ...]:
    """The non-zero entries of :func:`clebsch_gordan`: their three indices and values."""
    table = clebsch_gordan(l1, l2, l3)
    j, g, q = np.nonzero(table)
    return j, g, q, table[j, g, q]


@functools.lru_cache(maxsize=None)
def _real_to_complex(l: int) -> np.ndarray:
    return o3.change_basis_real_to_complex(l, dtype=torch.float64).numpy()
