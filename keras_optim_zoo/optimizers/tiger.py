"""Tiger: "tight-fisted" sign momentum (Lion with beta_1 = beta_2)."""

from keras_optim_zoo import checks
from keras_optim_zoo.families.sign import SignMomentum
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooTiger(SignMomentum):
    """Tiger: the sign of a moving average of the gradient (Lion with beta_1 = beta_2).

    Update (``g`` gradient, ``lr`` learning rate, ``m_0 = 0``)::

        m <- beta * m + (1 - beta) * g
        w <- w - lr * sign(m)

    With ``weight_decay``, Keras's decoupled decay ``w <- w - lr * wd * w`` comes first; the
    official code's ``w <- w - lr * (sign(m) + wd * w)`` is the same step written in one expression.

    Reference: Jianlin Su, "Tiger: A Tight-fisted Optimizer", 2023, https://kexue.fm/archives/9512
    and the official code github.com/bojone/tiger (``tiger.py``, TF 1.15).

    What is and is not included from the official code:

    * included: the update above, ``beta=0.965`` (official default), weight decay as above;
    * left to Keras mechanisms: the ``lr_schedule`` (use a ``LearningRateSchedule``) and
      ``grad_accum_steps`` (use ``gradient_accumulation_steps``); Keras's default ``weight_decay``
      is None where the official class defaults to 0.01 — pass ``weight_decay=0.01`` to match;
    * not included: the official per-variable learning-rate rule (``lr * RMS(w)`` for ordinary
      weights, row-wise RMS for embeddings, ``lr / 2`` without decay for bias/beta/gamma) and the
      NaN guard that, on a step with a NaN gradient, shrinks the weights by ``shrink_ratio`` (0.99)
      towards 0 (towards 1 for ``gamma``) instead of stepping. For non-finite gradients use
      ``skip_nonfinite=True``, which leaves the weights untouched on such a step.

    Conventions: ``sign(0) = 0``. Mathematically this is Signum (``ZooSignSGD(momentum=beta)``)
    with Tiger's default; the two classes compute the same operations. Sparse gradients are made
    dense (every row's average decays).

    Args:
        learning_rate: float >= 0, schedule or callable. Default 0.001.
        beta: float in [0, 1). Default 0.965.
        **kwargs: the Keras base optimizer arguments (``weight_decay``, ...).

    Example:
        >>> model.compile(optimizer=keras_optim_zoo.ZooTiger(1e-3, weight_decay=0.01), ...)
        >>> model.compile(optimizer="zoo_tiger", ...)
    """

    spec = OptimizerSpec(
        name="zoo_tiger",
        summary='Tiger: the sign of a moving average of the gradient (Lion with beta_1 = beta_2).',
        family="sign",
        paper='Jianlin Su, "Tiger: A Tight-fisted Optimizer", 2023, https://kexue.fm/archives/9512 and the official code github.com/bojone/tiger (``tiger.py``, TF 1.15)',
    )

    _config_keys = ("beta",)

    def __init__(self, learning_rate=0.001, beta=0.965, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta = checks.beta("beta", beta)

    @property
    def _beta(self):
        return self.beta
