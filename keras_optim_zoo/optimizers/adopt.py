"""ADOPT: Adam whose moment is built from gradients normalized by the PREVIOUS second moment."""

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.moments import const, ema, weighted_average
from keras_optim_zoo.families.adam import AdamFamily
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooADOPT(AdamFamily):
    """ADOPT: the current gradient is normalized by the second moment of the steps before it.

    Taniguchi, Harada, Minegishi, Oshima, Jeong, Nagahara, Iiyama, Suzuki, Iwasawa & Matsuo,
    "ADOPT: Modified Adam Can Converge with Any beta_2 with the Optimal Rate", NeurIPS 2024,
    arXiv:2411.02853; the official code (iShohei220/adopt, with the clipping added in its
    Nov 2024 update). With ``t`` the 1-based step::

        t = 1:   v <- g^2                     (the weights and m do not move)
        t >= 2:  n = g / max(sqrt(v), epsilon)             (v from steps 1 .. t-1 only)
                 clip_exponent set:  n <- clip(n, -c, c),  c = (t - 1) ** clip_exponent
                 m <- m + (n - m) (1 - beta_1)
                 w <- w - lr m
                 v <- beta_2 v + (1 - beta_2) g^2

    Conventions: epsilon bounds ``sqrt(v)`` from below (``max``, not added), as the official
    code; there is no bias correction (the first step initializes ``v`` with ``g^2``). The
    official clipping value is ``clip_lambda(step)`` with its 0-based step counter, i.e.
    ``(t - 1) ** 0.25`` here (pytorch_optimizer evaluates it one step later). Defaults are the
    official ones (betas (0.9, 0.9999), epsilon 1e-6). Weight decay: the zoo's decoupled decay
    (``weight_decay``, lr-scaled, before the step: the official ``decouple=True`` form), which the
    zoo also applies at step 1, where the official code skips the whole step; the official
    coupled (L2) form is a loss term in Keras.

    Args:
        learning_rate: float >= 0, schedule or callable. Default 0.001.
        beta_1, beta_2: floats in [0, 1). Defaults 0.9, 0.9999.
        epsilon: float >= 0. Default 1e-6.
        clip_exponent: float > 0, or None for the unclipped (original) ADOPT. Default 0.25.
        **kwargs: the Keras base optimizer arguments and the zoo's (``cautious``, ...).
    """

    spec = OptimizerSpec(
        name="zoo_adopt",
        summary='ADOPT: the current gradient is normalized by the second moment of the steps before it.',
        family="adam",
        paper='Taniguchi et al., "ADOPT: Modified Adam Can Converge with Any beta_2 with the Optimal Rate", NeurIPS 2024, arXiv:2411.02853',
    )

    _config_keys = AdamFamily._config_keys + ("clip_exponent",)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.9999, epsilon=1e-6, clip_exponent=0.25, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        if clip_exponent is not None:
            clip_exponent = checks.in_range("clip_exponent", clip_exponent, 0.0, float("inf"), low_open=True)
        self.clip_exponent = clip_exponent

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        dtype = variable.dtype
        step = context.step(dtype)
        first = ops.equal(step, 1)
        m, v = slots["momentum"], slots["velocity"]
        normed = ops.divide(gradient, ops.maximum(ops.sqrt(v), const(self.epsilon, dtype)))
        if self.clip_exponent is not None:
            bound = ops.power(step - 1, const(self.clip_exponent, dtype))
            normed = ops.clip(normed, -bound, bound)
        new_m = ema(m, normed, self.beta_1)
        square = ops.square(gradient)
        new_v = weighted_average(v, square, self.beta_2)
        direction = ops.multiply(learning_rate, new_m)
        return ops.where(first, ops.zeros_like(direction), direction), {
            "momentum": ops.where(first, m, new_m),
            "velocity": ops.where(first, ops.add(v, square), new_v),
        }
