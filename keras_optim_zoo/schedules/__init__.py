"""Learning-rate schedules (``keras.optimizers.schedules.LearningRateSchedule`` subclasses).

Each is registered as Keras-serializable (``"keras_optim_zoo>Name"``), so optimizers using it save
to ``.keras`` files and reload once ``keras_optim_zoo`` is imported. Use one as the
``learning_rate`` of any optimizer, built-in or zoo.

* ``CyclicalLearningRate`` (custom ``scale_fn``), ``TriangularCyclicalLearningRate``,
  ``Triangular2CyclicalLearningRate``, ``ExponentialCyclicalLearningRate`` – Smith's cyclical
  learning rates (arXiv:1506.01186), with TensorFlow Addons' names, arguments and formulas.
* ``OneCycle`` – Smith & Topin's one-cycle policy (arXiv:1708.07120), as torch's ``OneCycleLR``.
* ``LinearWarmup`` – a linear warmup followed by any schedule or a constant.
* ``WarmupStableDecay`` – WSD (arXiv:2404.06395): warmup, constant, then a linear, cosine or
  "1-sqrt" decay.

``notebooks/schedules.ipynb`` plots every one of them.
"""

from keras_optim_zoo.schedules.cyclical import (
    CyclicalLearningRate,
    ExponentialCyclicalLearningRate,
    Triangular2CyclicalLearningRate,
    TriangularCyclicalLearningRate,
)
from keras_optim_zoo.schedules.warmup import LinearWarmup, OneCycle, WarmupStableDecay

__all__ = [
    "CyclicalLearningRate",
    "TriangularCyclicalLearningRate",
    "Triangular2CyclicalLearningRate",
    "ExponentialCyclicalLearningRate",
    "OneCycle",
    "LinearWarmup",
    "WarmupStableDecay",
]
