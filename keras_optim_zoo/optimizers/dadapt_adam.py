"""D-Adaptation Adam: Adam whose step size is estimated from the run (learning-rate free)."""

import math

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.moments import const
from keras_optim_zoo.families.step_size_estimate import GlobalStepSizeEstimate, growth_rate_check
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooDAdaptAdam(GlobalStepSizeEstimate):
    """D-Adaptation Adam: Adam with a step size ``d`` estimated from the run (no learning rate to tune).

    Update, one optimizer-wide ``d`` (sums over ALL variables; ``g`` gradient, ``lr`` learning-rate
    multiplier (1), ``b1, b2`` betas, ``sb2 = sqrt(b2)``, ``eps`` epsilon, ``wd`` weight decay)::

        dlr  = d * lr                                        (* sqrt(1-b2^t)/(1-b1^t) if use_bias_correction)
        num  <- sb2 * num + (1 - sb2) * dlr * sum_vars <g, s / (sqrt(v) + eps)>     (old s, v)
        m    <- b1 * m + dlr * (1 - b1) * g
        v    <- b2 * v + (1 - b2) * g^2
        s    <- sb2 * s + dlr * (1 - sb2) * g
        d    <- max(d, min(num / ((1 - sb2) * sum_vars ||s||_1), d * growth_rate))
        w    <- w - wd * dlr * w                             (decoupled decay, as decouple=True)
        w    <- w - m / (sqrt(v) + eps)                      (dlr is already inside m)

    The new ``d`` is used from the next step on. If ``sum_vars ||s||_1 = 0`` (every gradient so
    far exactly 0) the weights and ``d`` stay unchanged, as in the official code.

    Reference: Defazio & Mishchenko, "Learning-Rate-Free Learning by D-Adaptation", ICML 2023,
    arXiv:2301.07733; official code github.com/facebookresearch/dadaptation ``dadapt_adam.py``
    (followed operation by operation; defaults lr 1.0, betas (0.9, 0.999), eps 1e-8, d0 1e-6,
    growth_rate inf, bias correction off).

    Conventions and differences:

    * ``d`` is per optimizer: every variable updated by this optimizer contributes to the sums
      (as one torch ``param_group``; the official ``layer_scale`` is 1 here). Under
      ``tf.distribute`` the sums use the all-reduced gradients. ``optimizer.d_estimate`` is the
      estimate (a scalar variable) for logging;
    * weight decay is the official ``decouple=True`` form scaled by ``dlr`` (the official default
      ``decouple=False`` adds ``wd * w`` to the gradient: add an L2 penalty to the loss for that).
      Keras's own decoupled step ``lr * wd * w`` is not applied, so ``weight_decay_scaling="none"``
      is rejected; ``exclude_from_weight_decay`` is honoured;
    * the step number for the bias correction is Keras's ``iterations + 1`` (the official ``k``
      does not count the steps on which every gradient was 0);
    * ``learning_rate`` multiplies the estimate; 0 freezes weights and state (official);
    * sparse gradients are made dense (the sums run over every entry).

    Args:
        learning_rate: float >= 0, schedule or callable: multiplier of ``d``. Default 1.0.
        beta_1, beta_2: floats in [0, 1). Defaults 0.9, 0.999.
        epsilon: float > 0. Default 1e-8.
        d0: initial estimate, float > 0. Default 1e-6.
        growth_rate: float in [1, inf]: bound on ``d``'s growth per step. Default inf.
        use_bias_correction: bool. Default False.
        **kwargs: the Keras base optimizer arguments (``weight_decay``, ...).

    Example:
        >>> optimizer = keras_optim_zoo.ZooDAdaptAdam()           # leave learning_rate at 1.0
        >>> model.compile(optimizer=optimizer, ...)               # or optimizer="zoo_dadapt_adam"
        >>> float(optimizer.d_estimate)                           # the adapted step size, for logging
    """

    spec = OptimizerSpec(
        name="zoo_dadapt_adam",
        summary='D-Adaptation Adam: Adam with a step size ``d`` estimated from the run (no learning rate to tune).',
        family="learning-rate-free",
        paper='Defazio & Mishchenko, "Learning-Rate-Free Learning by D-Adaptation", ICML 2023, arXiv:2301.07733',
    )

    _full_precision_slots = ("s",)  # kept in the variable's dtype (state_dtype)
    _config_keys = ("beta_1", "beta_2", "epsilon", "d0", "growth_rate", "use_bias_correction")
    _global_state = ()

    def __init__(self, learning_rate=1.0, beta_1=0.9, beta_2=0.999, epsilon=1e-8, d0=1e-6,
                 growth_rate=math.inf, use_bias_correction=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = checks.beta("beta_1", beta_1)
        self.beta_2 = checks.beta("beta_2", beta_2)
        self.epsilon = checks.in_range("epsilon", epsilon, 0.0, math.inf, low_open=True)
        self.d0 = checks.in_range("d0", d0, 0.0, math.inf, low_open=True)
        self.growth_rate = growth_rate_check(growth_rate)
        self.use_bias_correction = checks.boolean("use_bias_correction", use_bias_correction)
        self._reject_unscaled_decay("ZooDAdaptAdam", self.weight_decay_scaling)
        # d: the estimate; d_step: the d the current (last) step used; progress: sum ||s||_1 > 0.
        self._global_state = (("d", self.d0), ("d_step", self.d0), ("numerator_weighted", 0.0), ("sk_l1", 0.0))

    def _slot_specs(self):
        return [("momentum", "zeros"), ("velocity", "zeros"), ("s", "zeros")]

    def _sqrt_beta_2(self):
        return self.beta_2**0.5  # as the official code

    def _variable_sums(self, gradient, variable, slots, dlr):
        dtype = gradient.dtype
        sb2 = self._sqrt_beta_2()
        s = ops.cast(slots["s"], dtype)
        denom = ops.add(ops.sqrt(ops.cast(slots["velocity"], dtype)), const(self.epsilon, dtype))
        new_s = ops.add(ops.multiply(s, const(sb2, dtype)), ops.multiply(gradient, ops.cast(dlr, dtype) * (1 - sb2)))
        return ops.sum(ops.multiply(gradient, ops.divide(s, denom))), ops.sum(ops.abs(new_s))

    def _estimate(self, context, grads, variables):
        dtype = self._d.dtype
        lr = ops.cast(context.learning_rate, dtype)
        d = self._read(self._d, dtype)
        dlr = d * self._step_size_factor(lr, context.step(dtype))
        sb2 = self._sqrt_beta_2()
        dots, l1 = self._sums(grads, variables, dlr)
        zero = const(0.0, dtype)
        acum = dlr * self._total(dots, dtype)
        sk_l1 = self._total(l1, dtype)
        sk_l1 = ops.where(ops.greater(lr, 0), sk_l1, zero)  # official: nothing accumulated at lr 0
        old_numerator = self._read(self._numerator_weighted, dtype)
        numerator = const(sb2, dtype) * old_numerator + const(1 - sb2, dtype) * acum
        progress = ops.greater(sk_l1, 0)
        safe_l1 = ops.where(progress, sk_l1, ops.ones_like(sk_l1))
        d_hat = numerator / (const(1 - sb2, dtype) * safe_l1)
        new_d = ops.maximum(d, ops.minimum(d_hat, d * const(self.growth_rate, dtype)))
        self._assign_state(context, self._d_step, d)
        self._assign_state(context, self._sk_l1, sk_l1)
        self._assign_state(context, self._numerator_weighted, ops.where(progress, numerator, old_numerator))
        self._assign_state(context, self._d, ops.where(progress, new_d, d))

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        (decays,) = context.choices
        dtype = variable.dtype
        dlr = self._read(self._d_step, dtype) * self._step_size_factor(learning_rate, context.step(dtype))
        sb2 = self._sqrt_beta_2()
        g = gradient
        m = ops.add(ops.multiply(slots["momentum"], const(self.beta_1, dtype)), ops.multiply(g, dlr * (1 - self.beta_1)))
        v = ops.add(ops.multiply(slots["velocity"], const(self.beta_2, dtype)), ops.multiply(ops.multiply(g, g), const(1 - self.beta_2, dtype)))
        s = ops.add(ops.multiply(slots["s"], const(sb2, dtype)), ops.multiply(g, dlr * (1 - sb2)))
        denom = ops.add(ops.sqrt(v), const(self.epsilon, dtype))
        w = variable
        if decays:
            w = ops.add(w, ops.multiply(w, -const(self.weight_decay, dtype) * dlr))
        w = ops.subtract(w, ops.divide(m, denom))
        progress = ops.greater(self._read(self._sk_l1, dtype), 0)
        active = ops.greater(learning_rate, 0)
        new_slots = {
            name: ops.where(active, value, slots[name]) for name, value in (("momentum", m), ("velocity", v), ("s", s))
        }
        return ops.where(progress, w, variable), new_slots
