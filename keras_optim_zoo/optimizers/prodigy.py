"""Prodigy: D-Adaptation with a faster-growing step-size estimate (learning-rate free Adam)."""

import math

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.moments import const
from keras_optim_zoo.families.step_size_estimate import GlobalStepSizeEstimate, growth_rate_check
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooProdigy(GlobalStepSizeEstimate):
    """Prodigy: Adam with a step size ``d`` estimated from the run, growing faster than D-Adaptation's.

    Update, one optimizer-wide ``d`` (sums over ALL variables; ``g`` gradient, ``lr`` learning-rate
    multiplier (1), ``w0`` the weights at the first step, ``b1, b2, b3`` betas, ``eps`` epsilon)::

        dlr  = d * lr                                         (* sqrt(1-b2^t)/(1-b1^t) if use_bias_correction)
        num  <- b3 * num + (d / d0) * dlr * sum_vars <g, w0 - w>
        s    <- b3 * s + (d / d0) * dlr * g                   (safeguard_warmup: (d / d0) * d * g)
        den  = sum_vars ||s||_1
        d_hat = d_coef * num / den
        d    <- max(d, d_hat) if d == d0 ;  d_max <- max(d_max, d_hat) ;  d <- min(d_max, d * growth_rate)
        m    <- b1 * m + d_old * (1 - b1) * g                 (d_old: the d from before this step)
        v    <- b2 * v + d_old^2 * (1 - b2) * g^2
        w    <- w - wd * dlr * w                              (decoupled weight decay)
        w    <- w - dlr * m / (sqrt(v) + d * eps)             (beta_1 = 0: m replaced by d * g, new d)

    If ``den = 0`` (every gradient so far exactly 0) the weights and the estimate stay unchanged,
    as in the official code.

    Reference: Mishchenko & Defazio, "Prodigy: An Expeditiously Adaptive Parameter-Free Learner",
    2023, arXiv:2306.06101; official code github.com/konstmish/prodigy ``prodigyopt/prodigy.py``
    (v1.x), followed operation by operation with its defaults: lr 1.0, betas (0.9, 0.999),
    ``beta_3 = sqrt(beta_2)``, eps 1e-8, d0 1e-6, d_coef 1, growth_rate inf, bias correction and
    safeguard warm-up off, decoupled weight decay.

    Conventions and differences:

    * ``d`` is per optimizer: every variable updated by this optimizer contributes to the sums
      (as one torch ``param_group``). Under ``tf.distribute`` the sums use the all-reduced
      gradients. ``optimizer.d_estimate`` is the estimate (a scalar variable) for logging;
    * ``w0`` is each variable's value at its first update, as in the official code (state created
      when the parameter first has a gradient); ``slice_p`` (sub-sampled statistics) and FSDP are not provided (``slice_p=1``);
    * weight decay (Keras's ``weight_decay`` argument) is the official ``decouple=True`` form,
      scaled by ``dlr``; Keras's own ``lr * wd * w`` step is not applied, so
      ``weight_decay_scaling="none"`` is rejected; ``exclude_from_weight_decay`` is honoured;
    * the step number for the bias correction is Keras's ``iterations + 1``;
    * ``learning_rate`` multiplies the estimate; 0 freezes weights and state (official);
    * sparse gradients are made dense (the sums run over every entry).

    Args:
        learning_rate: float >= 0, schedule or callable: multiplier of ``d``. Default 1.0.
        beta_1, beta_2: floats in [0, 1). Defaults 0.9, 0.999.
        beta_3: ``None`` (``sqrt(beta_2)``) or float in [0, 1). Default None.
        epsilon: float > 0. Default 1e-8.
        d0: initial estimate, float > 0. Default 1e-6.
        d_coef: float >= 0, multiplies the estimate (the preferred knob). Default 1.0.
        growth_rate: float in [1, inf]: bound on ``d``'s growth per step. Default inf.
        use_bias_correction: bool. Default False.
        safeguard_warmup: bool: leave ``lr`` out of the denominator's weights. Default False.
        **kwargs: the Keras base optimizer arguments (``weight_decay``, ...).

    Example:
        >>> optimizer = keras_optim_zoo.ZooProdigy(weight_decay=0.01)   # leave learning_rate at 1.0
        >>> model.compile(optimizer=optimizer, ...)                     # or optimizer="zoo_prodigy"
        >>> float(optimizer.d_estimate)                                 # the adapted step size
    """

    spec = OptimizerSpec(
        name="zoo_prodigy",
        summary="Prodigy: Adam with a step size ``d`` estimated from the run, growing faster than D-Adaptation's.",
        family="learning-rate-free",
        paper='Mishchenko & Defazio, "Prodigy: An Expeditiously Adaptive Parameter-Free Learner", 2023, arXiv:2306.06101',
    )

    _full_precision_slots = ("initial_value", "s")  # kept in the variable's dtype (state_dtype)
    _config_keys = ("beta_1", "beta_2", "beta_3", "epsilon", "d0", "d_coef", "growth_rate",
                    "use_bias_correction", "safeguard_warmup")

    def __init__(self, learning_rate=1.0, beta_1=0.9, beta_2=0.999, beta_3=None, epsilon=1e-8, d0=1e-6,
                 d_coef=1.0, growth_rate=math.inf, use_bias_correction=False, safeguard_warmup=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = checks.beta("beta_1", beta_1)
        self.beta_2 = checks.beta("beta_2", beta_2)
        self.beta_3 = None if beta_3 is None else checks.beta("beta_3", beta_3)
        self.epsilon = checks.in_range("epsilon", epsilon, 0.0, math.inf, low_open=True)
        self.d0 = checks.in_range("d0", d0, 0.0, math.inf, low_open=True)
        self.d_coef = checks.non_negative("d_coef", d_coef)
        self.growth_rate = growth_rate_check(growth_rate)
        self.use_bias_correction = checks.boolean("use_bias_correction", use_bias_correction)
        self.safeguard_warmup = checks.boolean("safeguard_warmup", safeguard_warmup)
        self._reject_unscaled_decay("ZooProdigy", self.weight_decay_scaling)
        # d: the estimate; d_step: the d the current (last) step used; d_denom: that step's sum ||s||_1.
        self._global_state = (("d", self.d0), ("d_step", self.d0), ("d_max", self.d0),
                              ("d_numerator", 0.0), ("d_denom", 0.0))

    def _beta_3(self):
        return math.sqrt(self.beta_2) if self.beta_3 is None else self.beta_3  # as the official code

    def _slot_specs(self):
        # w0 ("initial_value") is taken at each variable's first update ("initialized" 0 -> 1).
        return ([("momentum", "zeros")] if self.beta_1 > 0 else []) + [
            ("velocity", "zeros"), ("s", "zeros"), ("initial_value", "zeros"), ("initialized", "zeros", ()),
        ]

    def _initial_value(self, initial_value, initialized, variable):
        """w0: the stored value, or the current weights at the variable's first update."""
        return ops.where(ops.greater(initialized, 0), initial_value, variable)

    def _s_weight(self, d, dlr):
        """The weight of ``g`` in ``s``: ``(d / d0) * dlr`` (``(d / d0) * d`` with safeguard_warmup)."""
        return (d / const(self.d0, d.dtype)) * (d if self.safeguard_warmup else dlr)

    def _variable_sums(self, gradient, variable, slots, weight):
        dtype = gradient.dtype
        w = ops.cast(variable, dtype)
        w0 = self._initial_value(
            ops.cast(slots["initial_value"], dtype), ops.cast(slots["initialized"], dtype), w
        )
        new_s = ops.add(
            ops.multiply(ops.cast(slots["s"], dtype), const(self._beta_3(), dtype)),
            ops.multiply(gradient, ops.cast(weight, dtype)),
        )
        return ops.sum(ops.multiply(gradient, ops.subtract(w0, w))), ops.sum(ops.abs(new_s))

    def _estimate(self, context, grads, variables):
        dtype = self._d.dtype
        lr = ops.cast(context.learning_rate, dtype)
        d = self._read(self._d, dtype)
        dlr = d * self._step_size_factor(lr, context.step(dtype))
        b3 = self._beta_3()
        weight = self._s_weight(d, dlr)
        dots, l1 = self._sums(grads, variables, weight)
        zero = const(0.0, dtype)
        delta = (d / const(self.d0, dtype)) * dlr * self._total(dots, dtype)
        d_denom = self._total(l1, dtype)
        d_denom = ops.where(ops.greater(lr, 0), d_denom, zero)  # official: nothing accumulated at lr 0
        old_numerator, old_d_max = self._read(self._d_numerator, dtype), self._read(self._d_max, dtype)
        numerator = const(b3, dtype) * old_numerator + delta
        progress = ops.greater(d_denom, 0)
        d_hat = const(self.d_coef, dtype) * numerator / ops.where(progress, d_denom, ops.ones_like(d_denom))
        d_first = ops.where(ops.equal(d, const(self.d0, dtype)), ops.maximum(d, d_hat), d)
        d_max = ops.maximum(old_d_max, d_hat)
        new_d = ops.minimum(d_max, d_first * const(self.growth_rate, dtype))
        self._assign_state(context, self._d_step, d)
        self._assign_state(context, self._d_denom, d_denom)
        self._assign_state(context, self._d_numerator, ops.where(progress, numerator, old_numerator))
        self._assign_state(context, self._d_max, ops.where(progress, d_max, old_d_max))
        self._assign_state(context, self._d, ops.where(progress, new_d, d))

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        (decays,) = context.choices
        dtype = variable.dtype
        d_old = self._read(self._d_step, dtype)
        d = self._read(self._d, dtype)
        dlr = d_old * self._step_size_factor(learning_rate, context.step(dtype))
        g = gradient
        new = {
            "velocity": ops.add(
                ops.multiply(slots["velocity"], const(self.beta_2, dtype)),
                ops.multiply(ops.multiply(g, g), d_old * d_old * (1 - self.beta_2)),
            ),
            "initial_value": self._initial_value(slots["initial_value"], slots["initialized"], variable),
            "initialized": ops.ones_like(slots["initialized"]),
            "s": ops.add(ops.multiply(slots["s"], const(self._beta_3(), dtype)), ops.multiply(g, self._s_weight(d_old, dlr))),
        }
        if self.beta_1 > 0:
            new["momentum"] = ops.add(
                ops.multiply(slots["momentum"], const(self.beta_1, dtype)), ops.multiply(g, d_old * (1 - self.beta_1))
            )
            step = ops.multiply(ops.divide(new["momentum"], ops.add(ops.sqrt(new["velocity"]), d * self.epsilon)), dlr)
        else:
            # Official: ``p.addcdiv_(grad, denom, value=-dlr * d)`` with the NEW d.
            step = ops.multiply(ops.divide(g, ops.add(ops.sqrt(new["velocity"]), d * self.epsilon)), dlr * d)
        w = variable
        if decays:
            w = ops.add(w, ops.multiply(w, -const(self.weight_decay, dtype) * dlr))
        w = ops.subtract(w, step)
        progress = ops.greater(self._read(self._d_denom, dtype), 0)
        active = ops.greater(learning_rate, 0)
        new_slots = {name: ops.where(active, value, slots[name]) for name, value in new.items()}
        return ops.where(progress, w, variable), new_slots
