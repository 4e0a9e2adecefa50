"""signSGD and Signum (sign of the gradient, or of its moving average)."""

from keras_optim_zoo import checks
from keras_optim_zoo.families.sign import SignMomentum
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooSignSGD(SignMomentum):
    """signSGD, and Signum (sign of the momentum) with ``momentum > 0``.

    Update (``g`` gradient, ``lr`` learning rate, ``m_0 = 0``)::

        momentum == 0 (signSGD):  w <- w - lr * sign(g)
        momentum  > 0 (Signum):   m <- momentum * m + (1 - momentum) * g
                                  w <- w - lr * sign(m)

    Reference: Bernstein, Wang, Azizzadenesheli & Anandkumar, "signSGD: Compressed Optimisation
    for Non-Convex Problems", ICML 2018, arXiv:1802.04434 (Algorithms 1 and 3).

    Conventions: the momentum is an exponential moving average, ``(1 - momentum)`` multiplies the
    gradient, as in the paper's Algorithm 3. Implementations that accumulate
    ``m <- momentum * m + g`` (torch-style heavy ball) give the same signs only while the averages
    agree in direction; both conventions give the same step at ``t = 1``. ``sign(0) = 0``: a
    coordinate whose gradient (or momentum) is exactly 0 does not move. Weight decay is Keras's
    decoupled ``w <- w - lr * wd * w`` before the step (the paper has none; Bernstein's Signum code
    adds ``wd * w`` to the gradient). Sparse gradients: without momentum only the touched rows
    change (exactly the dense result); with momentum every row's average decays (made dense).
    Default ``learning_rate=0.001``: each step moves every coordinate by exactly ``lr``.

    Args:
        learning_rate: float >= 0, schedule or callable. Default 0.001.
        momentum: float in [0, 1): 0 is signSGD, > 0 Signum (the paper uses 0.9). Default 0.
        **kwargs: the Keras base optimizer arguments.

    Example:
        >>> model.compile(optimizer=keras_optim_zoo.ZooSignSGD(1e-4, momentum=0.9), ...)  # Signum
        >>> model.compile(optimizer="zoo_signsgd", ...)
    """

    spec = OptimizerSpec(
        name="zoo_signsgd",
        summary='signSGD, and Signum (sign of the momentum) with ``momentum > 0``.',
        family="sign",
        paper='Bernstein, Wang, Azizzadenesheli & Anandkumar, "signSGD: Compressed Optimisation for Non-Convex Problems", ICML 2018, arXiv:1802.04434 (Algorithms 1 and 3)',
    )

    _config_keys = ("momentum",)

    def __init__(self, learning_rate=0.001, momentum=0.0, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum = checks.in_range("momentum", momentum, 0.0, 1.0, high_open=True)

    @property
    def _beta(self):
        return self.momentum
