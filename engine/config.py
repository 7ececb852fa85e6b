"""The network's settings as a plain value (no torch): what a checkpoint and the command line store."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import numpy as np

__all__ = ["ModelConfig", "MESH_CHANNELS", "MAX_CHANNELS"]

# hidden copies of each degree on a radius graph. The seed's single copy is too narrow for a mesh:
# in 300 steps a swirl through a random cloud ended 49.6 / 23.8 / 5.7 % off at worst with 1 / 2 / 4
# copies (17 / 26 / 90 s a run), and 2,000 steps with 1 copy still 17.8 %; Suzanne's squash 18.3 / 11.2 / 5.3 %
MESH_CHANNELS = 4
MAX_CHANNELS = 16


@dataclass(frozen=True)
class ModelConfig:
    """Network settings; the defaults are the seed's network, in units of the mesh, with 8 radial
    basis functions instead of its 3: a mesh has many more distinct edge lengths than the seed's
    square, and with 3 a triaxial icosphere stalled several times further from its target; and on a
    radius graph with :data:`MESH_CHANNELS` copies of each hidden degree instead of its one.

    Attributes
    ----------
    lmax : highest degree of features, edge harmonics and output signals
    layers : convolutions (all but the last followed by a gate)
    max_radius, number_of_basis : radial basis on ``[0, max_radius]``; ``None`` ties the range to
        the graph (:meth:`basis_range`)
    radial_neurons, radial_layers : hidden width and depth of each radial MLP
    radius : graph radius; ``None`` convolves over all pairs, each point with itself included
    hub : on a radius graph, one more point at the centroid, joined both ways to every vertex
        (:func:`~engine.graph.with_hub`): a radius graph's vertices see a few neighbours deep, and
        through the hub they see where they sit in the whole; all pairs see the whole already
    channels : copies of each degree l ≥ 1 in the hidden features; ``None`` chooses
        (:attr:`hidden_channels`): the seed's one over all pairs, :data:`MESH_CHANNELS` on a radius graph
    output : {'signal', 'vector'} a signal with ``l = 0..lmax`` per point, or one ``1o`` vector
    unit : the length one unit of output stands for (:meth:`in_units_of` sets it)

    >>> ModelConfig.from_dict(ModelConfig(lmax=2).to_dict()).lmax
    2
    """

    lmax: int = 5
    layers: int = 3
    max_radius: float | None = None
    number_of_basis: int = 8
    radial_neurons: int = 100
    radial_layers: int = 3
    radius: float | None = None
    hub: bool = True
    channels: int | None = None
    output: str = "signal"
    unit: float = 1.0

    def __post_init__(self):
        if not 1 <= self.lmax <= 8:
            raise ValueError(f"lmax must be in 1..8, got {self.lmax}")
        if self.layers < 1:
            raise ValueError(f"layers must be at least 1, got {self.layers}")
        if self.output not in ("signal", "vector"):
            raise ValueError(f"output must be 'signal' or 'vector', got {self.output!r}")
        for name in ("radius", "max_radius"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive or None, got {value}")
        if not self.unit > 0:
            raise ValueError(f"unit must be positive, got {self.unit}")
        if not isinstance(self.hub, bool):
            raise ValueError(f"hub must be True or False, got {self.hub!r}")
        if self.channels is not None and not (type(self.channels) is int and 1 <= self.channels <= MAX_CHANNELS):
            raise ValueError(f"channels must be an integer in 1..{MAX_CHANNELS} or None, got {self.channels!r}")
        if self.number_of_basis < 2 or self.radial_neurons < 1 or self.radial_layers < 0:
            raise ValueError("number_of_basis must be at least 2 and the radial MLP non-empty")

    @property
    def has_hub(self) -> bool:
        """Whether the network's graph has a hub: ``hub`` on a radius graph."""
        return self.hub and self.radius is not None

    @property
    def hidden_channels(self) -> int:
        """Copies of each degree in the hidden features: ``channels``, or when that is ``None`` 1 over
        all pairs (the seed's network) and :data:`MESH_CHANNELS` on a radius graph."""
        if self.channels is not None:
            return self.channels
        return 1 if self.radius is None else MESH_CHANNELS

    def basis_range(self, positions: np.ndarray) -> float:
        """The radial basis range on ``(N, 3)`` positions: ``max_radius`` when set, else the graph
        radius, else (all pairs) the set's diameter, the longest edge; so the basis scales with the mesh."""
        if self.max_radius is not None:
            return self.max_radius
        if self.radius is not None:
            return self.radius
        x = np.asarray(positions, dtype=np.float64)
        return max(float(np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1).max(initial=0.0))), 1e-300)

    def in_units_of(self, start: np.ndarray, displacements: np.ndarray) -> "ModelConfig":
        r"""This configuration fixed to a training problem, so that the same task gives the same
        network at any scale: :meth:`basis_range` on ``start`` stored as ``max_radius``, and
        ``unit`` the largest displacement :math:`\max_i |\vec d_i|` (the basis range when
        nothing moves), so the targets the network fits are at most 1; ``channels`` as
        :attr:`hidden_channels` says."""
        max_radius = self.basis_range(start)
        largest = float(np.linalg.norm(displacements, axis=-1).max(initial=0.0))
        return replace(self, max_radius=max_radius, unit=largest if largest > 0 else max_radius,
                       channels=self.hidden_channels)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        """The inverse of :meth:`to_dict`; ``ValueError`` names unknown keys or bad values."""
        if not isinstance(data, dict):
            raise ValueError(f"A model configuration is a dict, got {type(data).__name__}")
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"Unknown model settings: {', '.join(sorted(map(str, unknown)))}")
        try:
            return cls(**data)
        except TypeError as error:
            raise ValueError(f"Bad model settings: {error}") from None
