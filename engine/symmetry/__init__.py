"""Point groups, Curie's principle and order parameters of point sets.

An equivariant network maps a point set onto an output that is at least as symmetric as its
input (Curie's principle). This package finds the symmetry group of a start set, the subgroup that
a target displacement respects, and the lowest spherical-harmonic input that breaks the start's
symmetry the way the target does (the *order parameter*).

All operations act on coordinates centred on the start's centroid. Signals follow e3nn: real
spherical harmonics with y as the polar axis, irreps ``(l, (-1)**l)``.
"""

from ._analyze import analyze
from ._curie import CurieReport, curie_check, curie_report
from ._groups import PointGroup, point_group
from ._order_parameter import order_parameter, point_order_parameter

__all__ = [
    "PointGroup",
    "CurieReport",
    "point_group",
    "curie_check",
    "curie_report",
    "order_parameter",
    "point_order_parameter",
    "analyze",
]
