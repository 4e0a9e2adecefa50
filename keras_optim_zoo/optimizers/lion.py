"""Lion: sign of an interpolation of momentum and gradient (evolved sign momentum)."""

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.base import ZooOptimizer
from keras_optim_zoo.moments import const
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooLion(ZooOptimizer):
    """Lion: the sign of an interpolation between momentum and gradient, with decoupled weight decay.

    Update (``g`` gradient, ``lr`` learning rate, ``m`` momentum, ``m_0 = 0``)::

        c <- beta_1 * m + (1 - beta_1) * g           (interpolation used for the step)
        w <- w - lr * sign(c)
        m <- beta_2 * m + (1 - beta_2) * g           (momentum tracked with the other beta)

    With ``weight_decay`` the weights are first decayed ``w <- w - lr * wd * w`` (Keras's
    decoupled decay; the paper's ``w - lr * (sign(c) + wd * w)`` in one expression).

    Reference: Chen, Liang, Huang, Real, Wang, Pham, Dong, Luong, Hsieh, Lu & Le, "Symbolic
    Discovery of Optimization Algorithms", 2023, arXiv:2302.06675 (Program 1); official code
    google/automl ``lion``.

    Conventions: ``sign(0) = 0`` (a coordinate whose interpolation is exactly 0 does not move; the
    paper, the official code, optax, torch and Keras all use this convention). Defaults
    (lr 1e-3, beta_1 0.9, beta_2 0.99) and results equal ``keras.optimizers.Lion`` operation for
    operation (bit-identical eagerly in float32); ``beta_1`` must be in (0, 1] as in Keras
    (``beta_1 = 0`` would be signSGD: use ``ZooSignSGD``). A suitable learning rate is typically
    3-10x smaller than AdamW's and the weight decay 3-10x larger. Sparse gradients are made dense
    (every row's momentum decays).

    Args:
        learning_rate: float >= 0, schedule or callable. Default 0.001.
        beta_1: float in (0, 1]: interpolation weight of the momentum for the step. Default 0.9.
        beta_2: float in [0, 1): decay rate of the momentum. Default 0.99.
        **kwargs: the Keras base optimizer arguments (``weight_decay``, ...).

    Example:
        >>> optimizer = keras_optim_zoo.ZooLion(learning_rate=3e-4, weight_decay=0.1)
        >>> model.compile(optimizer=optimizer, ...)   # or optimizer="zoo_lion"
    """

    spec = OptimizerSpec(
        name="zoo_lion",
        summary='Lion: the sign of an interpolation between momentum and gradient, with decoupled weight decay.',
        family="sign",
        paper='Chen, Liang, Huang, Real, Wang, Pham, Dong, Luong, Hsieh, Lu & Le, "Symbolic Discovery of Optimization Algorithms", 2023, arXiv:2302.06675 (Program 1)',
        builtin="Lion",
    )

    _config_keys = ("beta_1", "beta_2")
    _supports_cautious = True

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = checks.in_range("beta_1", beta_1, 0.0, 1.0, low_open=True)
        self.beta_2 = checks.beta("beta_2", beta_2)

    def _slot_specs(self):
        return [("momentum", "zeros")]

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        # keras.optimizers.Lion's operations, in its order (betas as tensors of the compute dtype).
        m = slots["momentum"]
        beta_1 = const(self.beta_1, variable.dtype)
        beta_2 = const(self.beta_2, variable.dtype)
        c = ops.add(ops.multiply(m, beta_1), ops.multiply(gradient, (1.0 - beta_1)))
        direction = ops.multiply(learning_rate, ops.sign(c))
        new_m = ops.add(ops.multiply(m, beta_2), ops.multiply(gradient, (1.0 - beta_2)))
        return direction, {"momentum": new_m}
