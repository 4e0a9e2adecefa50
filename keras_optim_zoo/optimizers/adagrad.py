"""Adagrad: per-coordinate learning rates from the sum of squared gradients."""

from keras import ops

from keras_optim_zoo.base import ZooOptimizer
from keras_optim_zoo.moments import constant_initializer
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec, epsilon, real


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
        learning_rate=0.001,
        hyperparameters=(
            real("initial_accumulator_value", 0.1, 0.0, doc="the accumulator's starting value"),
            epsilon(1e-7, "inside the square root, as Keras"),
        ),
    )

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
