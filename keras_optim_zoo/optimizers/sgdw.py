"""SGDW: SGD with (Nesterov) momentum and decoupled weight decay (Loshchilov & Hutter)."""

from keras_optim_zoo import checks
from keras_optim_zoo.optimizers.sgd import ZooSGD
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooSGDW(ZooSGD):
    """SGD with (Nesterov) momentum and decoupled weight decay (SGDW).

    Update (``g`` gradient, ``lr`` learning rate, ``wd`` weight_decay)::

        decay, before the step (the gradient is left untouched):
            weight_decay_scaling="none" (default; paper, TFA):  w <- w - wd * w
            weight_decay_scaling="learning_rate" (Keras):        w <- w - lr * wd * w
        then the ``ZooSGD`` step on the decayed w:
            momentum == 0:  w <- w - lr * g
            momentum  > 0:  m <- momentum * m - lr * g
                            w <- w + m                          (nesterov=False)
                            w <- w + momentum * m - lr * g      (nesterov=True)

    Reference: Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019,
    arXiv:1711.05101 (Algorithm 1, SGDW). The decay is *decoupled*: unlike an L2 penalty added
    to the loss it never enters the momentum, so it is not amplified by ``1 / (1 - momentum)``
    and every weight decays at the same relative rate (``tests/test_sgdw.py`` compares the
    two).

    Conventions that differ between implementations:

    * **What multiplies the decay.** The paper decouples ``wd`` from the learning rate ``alpha``
      (``w <- w - m - eta_t * wd * w``, with ``eta_t`` the schedule *multiplier*, 1 for a constant
      rate), so that the best ``wd`` does not move when the rate is tuned; TensorFlow Addons'
      ``SGDW`` used the raw coefficient (users scheduled ``weight_decay`` themselves, as the TFA
      docs show). That is this class's default, ``weight_decay_scaling="none"``: it is what makes
      SGDW differ from ``ZooSGD(weight_decay=...)``. Keras (``SGD(weight_decay=...)``) and torch
      multiply by the whole learning rate: pass ``weight_decay_scaling="learning_rate"``, and
      ``ZooSGDW(weight_decay=wd, weight_decay_scaling="learning_rate", ...)`` equals
      ``keras.optimizers.SGD(weight_decay=wd, ...)`` step for step. (Every other zoo optimizer
      defaults to ``"learning_rate"``.)
    * **Momentum form.** Keras form, learning rate inside the velocity (see ``ZooSGD``).
    * **Sparse gradients.** Every row decays (Keras); TFA decayed only the touched rows.

    Relation to ``tfa.optimizers.SGDW(weight_decay, learning_rate=0.001, momentum=0.0,
    nesterov=False)``: same argument names and the same results with the same arguments. TFA's
    ``weight_decay`` was required and positional; here it is a keyword with a default, ``1e-4``
    (the order of the paper's CIFAR-10 settings and of TFA's documented example), so that
    ``ZooSGDW()`` and ``"zoo_sgdw"`` work; ``None`` is rejected (``ZooSGD`` is SGD without decay).
    The default learning rate is Keras's SGD default, 0.01 (TFA: 0.001).

    Args:
        learning_rate: float >= 0, a ``LearningRateSchedule`` or a callable. Default 0.01.
        weight_decay: float >= 0 (not ``None``). Default 1e-4.
        momentum: float in [0, 1]. Default 0.
        nesterov: bool. Default False.
        weight_decay_scaling: ``"none"`` (default) or ``"learning_rate"``, see above.
        **kwargs: the Keras base optimizer arguments.

    Example:
        >>> optimizer = keras_optim_zoo.ZooSGDW(learning_rate=0.1, weight_decay=1e-4, momentum=0.9)
        >>> optimizer.exclude_from_weight_decay(var_names=["bias"])
        >>> model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        >>> # Keras's SGD(learning_rate=0.1, weight_decay=5e-4, momentum=0.9), step for step:
        >>> keras_optim_zoo.ZooSGDW(0.1, weight_decay=5e-4, momentum=0.9, weight_decay_scaling="learning_rate")
    """

    spec = OptimizerSpec(
        name="zoo_sgdw",
        summary='SGD with (Nesterov) momentum and decoupled weight decay (SGDW).',
        family="sgd",
        paper='Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019, arXiv:1711.05101 (Algorithm 1, SGDW). The decay is *decoupled*: unlike an L2 penalty added to the loss it never enters the momentum, so it is not amplified by ``1 / (1 - momentum)`` and every weight decays at the same relative rate (``tests/test_sgdw.py`` compares the two)',
    )

    def __init__(self, learning_rate=0.01, weight_decay=1e-4, momentum=0.0, nesterov=False,
                 weight_decay_scaling="none", **kwargs):
        if weight_decay is None:
            raise TypeError(
                "ZooSGDW requires `weight_decay`, a real number >= 0; received weight_decay=None. "
                "For SGD without weight decay use ZooSGD."
            )
        weight_decay = checks.non_negative("weight_decay", weight_decay)
        super().__init__(
            learning_rate,
            momentum=momentum,
            nesterov=nesterov,
            weight_decay=weight_decay,
            weight_decay_scaling=weight_decay_scaling,
            **kwargs,
        )
