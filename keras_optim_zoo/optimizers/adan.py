"""Adan: adaptive Nesterov momentum (a third moment of gradient differences)."""

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.moments import bias_correction, const, ema
from keras_optim_zoo.families.adam import AdamFamily
from keras_optim_zoo.families.per_variable import PerVariableChoices
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooAdan(PerVariableChoices, AdamFamily):
    """Adan: Adam with a moving average of gradient differences (a Nesterov-style look-ahead).

    Xie, Zhou, Li, Lin & Yan, "Adan: Adaptive Nesterov Momentum Algorithm for Faster Optimizing
    Deep Models", 2022 (TPAMI 2024), arXiv:2208.06677, Algorithm 1; the official code
    (sail-sg/Adan ``adan.py``) followed operation by operation. ``t`` is the 1-based step,
    ``g_0 = g_1`` (the difference is 0 at the first step), ``wd`` = weight_decay::

        d_t = g_t - g_{t-1}
        m  <- m + (g - m) (1 - beta_1)                       (gradient)
        v  <- v + (d - v) (1 - beta_2)                       (gradient difference)
        n  <- n + ((g + beta_2 d)^2 - n) (1 - beta_3)        (squared Nesterov gradient)
        u   = (m / (1 - beta_1^t) + beta_2 v / (1 - beta_2^t)) / (sqrt(n / (1 - beta_3^t)) + epsilon)
        w  <- (w - lr u) / (1 + lr wd)                       (proximal decay, the default)
        w  <- w - lr wd w - lr u                             (no_prox=True: decoupled decay first)

    Conventions: the betas are the official code's (the weight of the old average, 0.98, 0.92,
    0.99); the paper writes their complements (0.02, 0.08, 0.01). Bias correction on all three
    averages; epsilon 1e-8 added outside the square root, after the correction. The proximal
    decay divides the result of the step (with ``cautious=True``, after the mask: the mask sees
    the step alone); ``weight_decay_scaling="none"`` uses ``wd`` instead of ``lr * wd`` in either
    form. ``exclude_from_weight_decay`` is honoured. The official ``max_grad_norm`` (global
    gradient clipping, off by default) is Keras's ``global_clipnorm``. Defaults are the official
    ones (the paper recommends ``weight_decay=0.02`` for vision models; the default is None).
    State: three averages and the previous gradient (4 slots per parameter).

    Args:
        learning_rate: float >= 0, schedule or callable. Default 0.001.
        beta_1, beta_2, beta_3: floats in [0, 1). Defaults 0.98, 0.92, 0.99.
        epsilon: float >= 0. Default 1e-8.
        no_prox: bool, decoupled decay before the step instead of the proximal division.
            Default False.
        **kwargs: the Keras base optimizer arguments (``weight_decay``, ...) and the zoo's
            (``cautious``, ``state_dtype``, ...).

    Example:
        >>> model.compile(optimizer=keras_optim_zoo.ZooAdan(1e-3, weight_decay=0.02), ...)
    """

    spec = OptimizerSpec(
        name="zoo_adan",
        summary='Adan: Adam with a moving average of gradient differences (a Nesterov-style look-ahead).',
        family="adam",
        paper='Xie, Zhou, Li, Lin & Yan, "Adan: Adaptive Nesterov Momentum Algorithm for Faster Optimizing Deep Models", 2022, arXiv:2208.06677',
    )

    _config_keys = AdamFamily._config_keys + ("beta_3", "no_prox")

    def __init__(self, learning_rate=0.001, beta_1=0.98, beta_2=0.92, beta_3=0.99, epsilon=1e-8, no_prox=False,
                 **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        self.beta_3 = checks.beta("beta_3", beta_3)
        self.no_prox = checks.boolean("no_prox", no_prox)

    def _slot_specs(self):
        return super()._slot_specs() + [("gradient_difference", "zeros"), ("previous_gradient", "zeros")]

    def _decoupled_decay(self):
        return self.no_prox  # the shared decoupled decay before the step; else proximal, in _finish_step

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        dtype = variable.dtype
        step = context.step(dtype)
        difference = ops.where(
            ops.equal(step, 1), ops.zeros_like(gradient), ops.subtract(gradient, slots["previous_gradient"])
        )
        m = ema(slots["momentum"], gradient, self.beta_1)
        v = ema(slots["gradient_difference"], difference, self.beta_2)
        nesterov = ops.add(gradient, ops.multiply(difference, const(self.beta_2, dtype)))
        n = ema(slots["velocity"], ops.square(nesterov), self.beta_3)
        denominator = ops.add(
            ops.divide(ops.sqrt(n), ops.sqrt(bias_correction(self.beta_3, step))), const(self.epsilon, dtype)
        )
        direction = ops.add(
            ops.divide(m, bias_correction(self.beta_1, step)),
            ops.divide(ops.multiply(v, const(self.beta_2, dtype)), bias_correction(self.beta_2, step)),
        )
        return ops.divide(ops.multiply(direction, learning_rate), denominator), {
            "momentum": m,
            "gradient_difference": v,
            "velocity": n,
            "previous_gradient": gradient,
        }

    def _finish_step(self, context, new_variable):
        if self.no_prox or not (context.choices and context.choices[0]):
            return new_variable
        decay = const(self.weight_decay, new_variable.dtype)
        if self.weight_decay_scaling == "learning_rate":
            decay = ops.multiply(decay, context.learning_rate)
        return ops.divide(new_variable, ops.add(const(1.0, new_variable.dtype), decay))
