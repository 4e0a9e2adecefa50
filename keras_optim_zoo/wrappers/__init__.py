"""Optimizers that wrap another optimizer (a Keras built-in or a zoo optimizer).

* ``Lookahead`` – k fast steps of the inner optimizer, then a step back towards slow weights;
* ``MovingAverage`` – an exponential moving average of the weights (TFA semantics);
* ``SWA`` – stochastic weight averaging (equal-weight snapshots every ``average_period`` steps);
* ``AverageWeightsCallback`` – evaluate / save with the averaged weights at the end of ``fit``;
* ``GradientCentralization``, ``AdaptiveGradientClipping`` – gradient transforms before the inner
  optimizer's step (pure functions: ``centralize_gradient``, ``unitwise_clip``).

``keras_optim_zoo.ZooRanger`` (``"zoo_ranger"``) is ``Lookahead`` around ``ZooRAdam``.
"""

from keras_optim_zoo.wrappers.averaging import (
    AveragedOptimizer,
    AverageWeightsCallback,
    MovingAverage,
    SWA,
    find_averaged_optimizer,
)
from keras_optim_zoo.wrappers.base import OptimizerWrapper
from keras_optim_zoo.wrappers.lookahead import Lookahead

from keras_optim_zoo.wrappers.gradient_transforms import (
    AdaptiveGradientClipping,
    GradientCentralization,
    GradientTransform,
    centralize_gradient,
    unitwise_clip,
    unitwise_norm,
)

__all__ = [
    "GradientTransform",
    "GradientCentralization",
    "AdaptiveGradientClipping",
    "centralize_gradient",
    "unitwise_clip",
    "unitwise_norm",
    "OptimizerWrapper",
    "Lookahead",
    "AveragedOptimizer",
    "MovingAverage",
    "SWA",
    "AverageWeightsCallback",
    "find_averaged_optimizer",
]
