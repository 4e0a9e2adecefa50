"""AdEMAMix: Adam plus a slow exponential moving average of the gradients."""

import math

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.moments import bias_correction, const, weighted_average
from keras_optim_zoo.families.adam import AdamFamily
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


def _half_life(beta):
    """The official ``f(beta) = ln(0.5) / ln(beta + 1e-8) - 1``: steps until a weight halves, minus one."""
    return math.log(0.5) / math.log(beta + 1e-8) - 1.0


@register
class ZooAdEMAMix(AdamFamily):
    """AdEMAMix: Adam's step plus ``alpha`` times a slow (long-memory) average of the gradients.

    Pagliardini, Ablin & Grangier, "The AdEMAMix Optimizer: Better, Faster, Older", 2024,
    arXiv:2409.03137, Algorithm 1; the official code (apple/ml-ademamix ``pytorch/ademamix.py``)
    followed operation by operation, with its defaults. ``t`` is the 1-based step::

        m1 <- m1 + (g - m1) (1 - beta_1)                  (fast EMA; m1 = g if beta_1 = 0)
        m2 <- beta_3(t) m2 + (1 - beta_3(t)) g            (slow EMA, no bias correction)
        v  <- v + (g^2 - v) (1 - beta_2)
        w  <- w - lr (m1 / (1 - beta_1^t) + alpha(t) m2) / (sqrt(v) / sqrt(1 - beta_2^t) + epsilon)

    Warm-ups (the official schedulers; both off by default, as there)::

        alpha(t)  = alpha * t / alpha_warmup                            for t < alpha_warmup
        beta_3(t) = 0.5 ** (1 / (s + 1)),  s = (1 - a) f(beta_1) + a f(beta_3),  a = t / beta_3_warmup
                                                                        for t < beta_3_warmup
        f(beta)   = ln(0.5) / ln(beta + 1e-8) - 1                       (the half-life, linear in t)

    and ``alpha``, ``beta_3`` from then on. The paper recommends warm-ups as long as training for
    large ``beta_3`` (e.g. 0.9999) and ``alpha`` in [4, 10]; the official code's defaults
    (alpha 2, no warm-up) are kept here. Conventions: epsilon 1e-8 added outside the square root,
    after the bias correction (torch's form); weight decay is decoupled and lr-scaled as the
    official ``update + wd * w`` (the zoo's shared decoupled decay: ``w - lr wd w`` before the
    step, equal in exact arithmetic). State: three slots per parameter.

    Args:
        learning_rate: float >= 0, schedule or callable. Default 0.001.
        beta_1, beta_2, beta_3: floats in [0, 1). Defaults 0.9, 0.999, 0.9999.
        alpha: float >= 0, the weight of the slow average. Default 2.0.
        beta_3_warmup, alpha_warmup: int >= 1 or None (no warm-up), steps of the warm-ups.
            Default None.
        epsilon: float >= 0. Default 1e-8.
        **kwargs: the Keras base optimizer arguments (``weight_decay``, ...) and the zoo's
            (``cautious``, ``state_dtype``, ...).

    Example:
        >>> optimizer = keras_optim_zoo.ZooAdEMAMix(1e-3, alpha=5.0, beta_3_warmup=10_000, alpha_warmup=10_000)
    """

    spec = OptimizerSpec(
        name="zoo_ademamix",
        summary="AdEMAMix: Adam's step plus ``alpha`` times a slow (long-memory) average of the gradients.",
        family="adam",
        paper='Pagliardini, Ablin & Grangier, "The AdEMAMix Optimizer: Better, Faster, Older", 2024, arXiv:2409.03137',
    )

    _config_keys = AdamFamily._config_keys + ("beta_3", "alpha", "beta_3_warmup", "alpha_warmup")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, beta_3=0.9999, alpha=2.0, beta_3_warmup=None,
                 alpha_warmup=None, epsilon=1e-8, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        self.beta_3 = checks.beta("beta_3", beta_3)
        self.alpha = checks.non_negative("alpha", alpha)
        self.beta_3_warmup = None if beta_3_warmup is None else checks.integer("beta_3_warmup", beta_3_warmup, 1)
        self.alpha_warmup = None if alpha_warmup is None else checks.integer("alpha_warmup", alpha_warmup, 1)

    def _slot_specs(self):
        return super()._slot_specs() + [("slow_momentum", "zeros")]

    def _alpha(self, step):
        alpha = const(self.alpha, step.dtype)
        if self.alpha_warmup is None:
            return alpha
        fraction = ops.divide(step, const(float(self.alpha_warmup), step.dtype))
        return ops.where(ops.less(step, float(self.alpha_warmup)), ops.multiply(fraction, alpha), alpha)

    def _beta_3(self, step):
        if self.beta_3_warmup is None:
            return self.beta_3
        dtype = step.dtype
        fraction = ops.divide(step, const(float(self.beta_3_warmup), dtype))
        start, end = _half_life(self.beta_1), _half_life(self.beta_3)
        half_life = ops.add(
            ops.multiply(ops.subtract(const(1.0, dtype), fraction), const(start, dtype)),
            ops.multiply(fraction, const(end, dtype)),
        )
        warm = ops.power(const(0.5, dtype), ops.divide(const(1.0, dtype), ops.add(half_life, const(1.0, dtype))))
        return ops.where(ops.less(step, float(self.beta_3_warmup)), warm, const(self.beta_3, dtype))

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        dtype = variable.dtype
        step = context.step(dtype)
        m, v = self._moments(gradient, slots)
        if self.beta_1 == 0:
            m = gradient  # the official code keeps no fast average then
        slow = weighted_average(slots["slow_momentum"], gradient, self._beta_3(step))
        denominator = ops.add(
            ops.divide(ops.sqrt(v), ops.sqrt(bias_correction(self.beta_2, step))), const(self.epsilon, dtype)
        )
        direction = ops.add(ops.divide(m, bias_correction(self.beta_1, step)), ops.multiply(self._alpha(step), slow))
        return ops.divide(ops.multiply(direction, learning_rate), denominator), {
            "momentum": m,
            "velocity": v,
            "slow_momentum": slow,
        }
