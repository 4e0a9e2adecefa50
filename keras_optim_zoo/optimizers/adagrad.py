"""Adagrad: per-coordinate learning rates from the sum of squared gradients."""

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.base import ZooOptimizer
from keras_optim_zoo.moments import constant_initializer
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooAdagrad(ZooOptimizer):
    """Adagrad: per-coordinate learning rates from the running sum of squared gradients.

    Update (``g`` gradient, ``lr`` learning rate)::

        acc <- acc + g^2                      (acc starts at initial_accumulator_value)
        w   <- w - lr * g / sqrt(acc + epsilon)

    Reference: Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and
    Stochastic Optimization", JMLR 12 (2011).

    Conventions: epsilon inside the square root, accumulator initialised to 0.1 (Keras; torch uses
    0 and epsilon outside). Defaults equal ``keras.optimizers.Adagrad``; results equal it step for
    step. Sparse gradients update only the touched rows (a zero gradient changes nothing, so this
    is exactly the dense result), with repeated indices summed before squaring (Keras 3.15 squares
    each duplicate separately).

    Args:
        learning_rate: float >= 0, schedule or callable. Default 0.001.
        initial_accumulator_value: float >= 0. Default 0.1.
        epsilon: float >= 0 (``None``: Keras 2 spelling of 1e-7). Default 1e-7.
        **kwargs: the Keras base optimizer arguments.

    Example:
        >>> model.compile(optimizer=keras_optim_zoo.ZooAdagrad(learning_rate=0.1), ...)
    """

    spec = OptimizerSpec(
        name="zoo_adagrad",
        summary='Adagrad: per-coordinate learning rates from the running sum of squared gradients.',
        family="adagrad",
        paper='Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and Stochastic Optimization", JMLR 12 (2011)',
        builtin="Adagrad",
        keras2="Adagrad",
    )

    _config_keys = ("initial_accumulator_value", "epsilon")

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = checks.non_negative(
            "initial_accumulator_value", initial_accumulator_value
        )
        self.epsilon = self._epsilon(epsilon)

    def _slot_specs(self):
        return [("accumulator", constant_initializer(self.initial_accumulator_value))]

    def _lazy_sparse(self):
        return True

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        accumulator = ops.add(slots["accumulator"], ops.square(gradient))
        step = ops.divide(
            ops.multiply(learning_rate, gradient), ops.sqrt(ops.add(accumulator, self.epsilon))
        )
        return step, {"accumulator": accumulator}
