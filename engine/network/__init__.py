"""The equivariant point network: one structure (:mod:`.structure`, :mod:`.clebsch_gordan`),
the radial MLPs and the gate defined once (:mod:`.radial`, :mod:`.gate`), and the executors
that consume them: :mod:`.planned` (a fixed point set, hand-derived gradient), :mod:`.rotated`
(edges in their own frames, hand-derived gradient; its radial MLPs run at :mod:`.radial_nodes`),
:mod:`.streamed` (large graphs, edges in chunks) and the autograd node :mod:`.autograd`.
:mod:`engine.reference` is the same network written with e3nn's own modules."""

from .network import MAX_PLANNED_EDGES, Network, hidden_irreps

__all__ = ["Network", "hidden_irreps", "MAX_PLANNED_EDGES"]
