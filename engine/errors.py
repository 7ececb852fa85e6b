"""The engine's own exceptions (no torch): bad input is a plain ``ValueError``."""

__all__ = ["EngineUnavailable", "Cancelled", "Diverged"]


class EngineUnavailable(ImportError):
    """torch, e3nn or scipy cannot be imported; the message names what is missing."""


class Cancelled(Exception):
    """Raised when a ``cancel()`` callback returned true."""


class Diverged(ValueError):
    """The training loss became NaN or infinite, or grew a thousandfold."""
