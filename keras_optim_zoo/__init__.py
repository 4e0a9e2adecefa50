"""keras_optim_zoo: optimizers for Keras 3.

Every optimizer subclasses ``keras.optimizers.Optimizer`` and is registered under a ``"zoo_*"``
name, so ``model.compile(optimizer="zoo_nadam")`` and ``keras.optimizers.get("zoo_nadam")`` work
next to the built-ins and ``.keras`` files that use them reload once this package is imported.

    >>> import keras_optim_zoo as koz
    >>> koz.list_optimizers()          # {name: one-line summary}
    >>> opt = koz.get("zoo_adam", learning_rate=3e-4)
"""

from keras_optim_zoo._version import __version__
from keras_optim_zoo.base import ZooOptimizer
from keras_optim_zoo import optimizers as _optimizers
from keras_optim_zoo.optimizers import *  # noqa: F401,F403  (every optimizer class)
from keras_optim_zoo.registry import get, list_optimizers, optimizer_class
from keras_optim_zoo.weight_decay import extend_with_decoupled_weight_decay
from keras_optim_zoo import schedules, wrappers  # noqa: E402  (registers them for .keras reload)
from keras_optim_zoo.schedules import (
    CyclicalLearningRate,
    ExponentialCyclicalLearningRate,
    Triangular2CyclicalLearningRate,
    TriangularCyclicalLearningRate,
    OneCycle,
    LinearWarmup,
    WarmupStableDecay,
)
from keras_optim_zoo.wrappers import SWA, AverageWeightsCallback, Lookahead, MovingAverage
from keras_optim_zoo.wrappers import (
    AdaptiveGradientClipping,
    GradientCentralization,
    centralize_gradient,
    unitwise_clip,
)

__all__ = [
    "__version__",
    "ZooOptimizer",
    *_optimizers.__all__,
    "extend_with_decoupled_weight_decay",
    "schedules",
    "wrappers",
    "Lookahead",
    "MovingAverage",
    "SWA",
    "AverageWeightsCallback",
    "GradientCentralization",
    "AdaptiveGradientClipping",
    "centralize_gradient",
    "unitwise_clip",
    "CyclicalLearningRate",
    "TriangularCyclicalLearningRate",
    "Triangular2CyclicalLearningRate",
    "ExponentialCyclicalLearningRate",
    "OneCycle",
    "LinearWarmup",
    "WarmupStableDecay",
    "get",
    "list_optimizers",
    "optimizer_class",
]
