"""The network's settings as a plain value (no torch): what a checkpoint and the command line store."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

__all__ = ["ModelConfig"]


@dataclass(frozen=True)
class ModelConfig:
    """Network settings; the defaults are the seed's.

    Attributes
    ----------
    lmax : highest degree of features, edge harmonics and output signals
    layers : convolutions (all but the last followed by a gate)
    max_radius, number_of_basis : radial basis on ``[0, max_radius]``
    radial_neurons, radial_layers : hidden width and depth of each radial MLP
    radius : graph radius; ``None`` convolves over all pairs, each point with itself included
    output : {'signal', 'vector'} a signal with ``l = 0..lmax`` per point, or one ``1o`` vector

    >>> ModelConfig.from_dict(ModelConfig(lmax=2).to_dict()).lmax
    2
    """

    lmax: int = 5
    layers: int = 3
    max_radius: float = 3.0
    number_of_basis: int = 3
    radial_neurons: int = 100
    radial_layers: int = 3
    radius: float | None = None
    output: str = "signal"

    def __post_init__(self):
        if not 1 <= self.lmax <= 8:
            raise ValueError(f"lmax must be in 1..8, got {self.lmax}")
        if self.layers < 1:
            raise ValueError(f"layers must be at least 1, got {self.layers}")
        if self.output not in ("signal", "vector"):
            raise ValueError(f"output must be 'signal' or 'vector', got {self.output!r}")
        if self.radius is not None and not self.radius > 0:
            raise ValueError(f"radius must be positive or None, got {self.radius}")
        if self.number_of_basis < 2 or self.radial_neurons < 1 or self.radial_layers < 0:
            raise ValueError("number_of_basis must be at least 2 and the radial MLP non-empty")

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
