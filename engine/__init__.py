"""SymBreak's engine: an E(3)-equivariant point network (torch + e3nn) over numpy arrays.

It never imports Blender: the add-on, the command line (``python -m engine``) and the tests
all call these functions.
"""

from . import checkpoint, signals
from .model import ModelConfig, Network
from .tasks import TASKS, Task
from .training import Features, Prediction, TrainingCancelled, TrainingDiverged, TrainResult, predict, train

__all__ = [
    "checkpoint",
    "signals",
    "ModelConfig",
    "Network",
    "TASKS",
    "Task",
    "Features",
    "Prediction",
    "TrainResult",
    "TrainingCancelled",
    "TrainingDiverged",
    "predict",
    "train",
]
