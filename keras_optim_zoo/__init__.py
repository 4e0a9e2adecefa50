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
from keras_optim_zoo.optimizers import (
    ZooAdadelta,
    ZooAdagrad,
    ZooAdam,
    ZooAdamax,
    ZooNadam,
    ZooRMSprop,
    ZooSGD,
)
from keras_optim_zoo.registry import get, list_optimizers, optimizer_class

__all__ = [
    "__version__",
    "ZooOptimizer",
    "ZooSGD",
    "ZooRMSprop",
    "ZooAdagrad",
    "ZooAdadelta",
    "ZooAdam",
    "ZooAdamax",
    "ZooNadam",
    "get",
    "list_optimizers",
    "optimizer_class",
]
