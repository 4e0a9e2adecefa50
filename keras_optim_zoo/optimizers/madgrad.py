"""MADGRAD: momentumized, adaptive, dual-averaged gradient method."""

import math

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.moments import const
from keras_optim_zoo.families.per_variable import PerVariableChoices
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooMADGRAD(PerVariableChoices):
    """MADGRAD: dual averaging with a cube-root adaptive scale and momentum by iterate averaging.

    Update at the 1-based step ``t`` (``g`` gradient, ``lr`` learning rate of the step, ``eps``
    epsilon, ``c = 1 - momentum``; ``s = nu = 0`` and ``x0`` the weights at the first update)::

        lam  = (lr + eps) * sqrt(t)                       (lambda_k = lr * sqrt(k + 1), k = t - 1)
        g   <- g + wd * w                                 (weight decay as L2, the default)
        s   <- s + lam * g                                (dual average of the gradients)
        nu  <- nu + lam * g^2                             (weighted sum of squares)
        z    = x0 - s / (nu^(1/3) + eps)
        w   <- (1 - c) * w + c * z                        (momentum = 0: w <- z)
        decouple_decay:  w <- w - (lr + eps) * wd * w_old (instead of the L2 term)

    Reference: Defazio & Jelassi, "Adaptivity without Compromise: A Momentumized, Adaptive, Dual
    Averaged Gradient Method for Stochastic Optimization", 2021, arXiv:2101.11075 (Algorithm 1);
    official code github.com/facebookresearch/madgrad ``madgrad/madgrad.py`` (v1.2), followed
    operation for operation with its defaults (lr 1e-2, momentum 0.9, weight_decay 0, eps 1e-6,
    decouple_decay False).

    Conventions and differences:

    * **epsilon** is added outside the cube root, and also to the learning rate
      (``lr + eps`` in ``lam`` and in the decoupled decay), both as in the official code (the
      paper has ``lambda_k = lr * sqrt(k + 1)`` and no epsilon on the rate). A consequence kept from
      the official code: ``learning_rate=0`` still moves the weights (``lam = eps * sqrt(t)``).
      With ``epsilon=0``, coordinates whose ``nu`` is 0 do not move (official: division by inf).
    * **x0**: with ``momentum > 0`` the weights at each variable's first update are kept in the
      slot ``x0``; with ``momentum = 0`` there is no such slot and ``x0 = w + s / (nu^(1/3) + eps)``
      is recomputed before each step (official; equal in exact arithmetic).
    * **weight decay** (Keras's ``weight_decay`` argument) is MADGRAD's own: by default an L2 term
      added to the gradient before ``s`` and ``nu`` see it (official default); with
      ``decouple_decay=True`` the official decoupled form ``w <- w - (lr + eps) * wd * w_old``
      after the step (``w_old`` the weights before the step; it differs from the zoo's usual
      decay before the step by the momentum factor). Keras's own decay step is not applied, so
      ``weight_decay_scaling="none"`` is rejected; ``exclude_from_weight_decay`` is honoured.
    * The step count ``t`` is the optimizer's (``iterations + 1``), as the official global ``k``.
    * **Sparse gradients** are made dense (the same result as the dense gradient). The official
      code has a sparse path (``momentum=0`` and no weight decay only) that updates only the rows
      present; with those settings a zero-gradient row does not move in exact arithmetic either.
    * ``cautious=True`` is not offered: the step ``c * (w - z)`` is an interpolation towards the
      dual-averaging iterate ``z``, whose distance carries the whole history, not a momentum step;
      masking it only delays the same move.

    Args:
        learning_rate: float >= 0, schedule or callable. Default 0.01.
        momentum: float in [0, 1). Default 0.9.
        epsilon: float >= 0. Default 1e-6.
        decouple_decay: bool, decoupled instead of L2 weight decay. Default False.
        **kwargs: the Keras base optimizer arguments (``weight_decay``, ...).

    Example:
        >>> optimizer = keras_optim_zoo.ZooMADGRAD(learning_rate=1e-3, momentum=0.9)
        >>> model.compile(optimizer=optimizer, ...)      # or optimizer="zoo_madgrad"
    """

    spec = OptimizerSpec(
        name="zoo_madgrad",
        summary='MADGRAD: dual averaging with a cube-root adaptive scale and momentum by iterate averaging.',
        family="dual-averaging",
        paper='Defazio & Jelassi, "Adaptivity without Compromise: A Momentumized, Adaptive, Dual Averaged Gradient Method for Stochastic Optimization", 2021, arXiv:2101.11075 (Algorithm 1)',
    )

    _full_precision_slots = ("x0",)  # the initial weights: kept in the variable's dtype (state_dtype)
    _config_keys = ("momentum", "epsilon", "decouple_decay")

    def __init__(self, learning_rate=0.01, momentum=0.9, epsilon=1e-6, decouple_decay=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum = checks.beta("momentum", momentum)
        self.epsilon = checks.non_negative("epsilon", epsilon)
        self.decouple_decay = checks.boolean("decouple_decay", decouple_decay)
        self._reject_unscaled_decay("ZooMADGRAD", self.weight_decay_scaling)

    def _slot_specs(self):
        specs = [("sum_of_squares", "zeros"), ("s", "zeros")]
        if self.momentum > 0:
            specs += [("x0", "zeros"), ("initialized", "zeros", ())]
        return specs

    def _rms(self, sum_of_squares):
        """``nu^(1/3) + eps`` (inf where it is 0, so that ``s / rms`` is 0 there, as officially)."""
        dtype = sum_of_squares.dtype
        rms = ops.add(ops.power(sum_of_squares, const(1.0 / 3.0, dtype)), const(self.epsilon, dtype))
        if self.epsilon == 0:
            rms = ops.where(ops.equal(rms, 0), const(math.inf, dtype), rms)
        return rms

    def _step_kind(self):
        return "new_value"  # dual averaging: the weights interpolate x0 - z and the current weights

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        (decays,) = context.choices
        dtype = variable.dtype
        lr = ops.add(learning_rate, const(self.epsilon, dtype))
        lam = ops.multiply(lr, ops.sqrt(context.step(dtype)))
        g = gradient
        if decays and not self.decouple_decay:
            g = ops.add(g, ops.multiply(variable, const(self.weight_decay, dtype)))
        new = {}
        if self.momentum > 0:
            x0 = ops.where(ops.greater(slots["initialized"], 0), slots["x0"], variable)
            new["x0"], new["initialized"] = x0, ops.ones_like(slots["initialized"])
        else:
            x0 = ops.add(variable, ops.divide(slots["s"], self._rms(slots["sum_of_squares"])))
        nu = new["sum_of_squares"] = ops.add(slots["sum_of_squares"], ops.multiply(ops.square(g), lam))
        s = new["s"] = ops.add(slots["s"], ops.multiply(g, lam))
        z = ops.subtract(x0, ops.divide(s, self._rms(nu)))
        if self.momentum > 0:
            ck = 1.0 - self.momentum  # the official code's c_k and 1 - c_k, rounded as there
            new_variable = ops.add(ops.multiply(variable, 1.0 - ck), ops.multiply(z, ck))
        else:
            new_variable = z
        if decays and self.decouple_decay:
            new_variable = ops.subtract(new_variable, ops.multiply(variable, lr * const(self.weight_decay, dtype)))
        return new_variable, new
