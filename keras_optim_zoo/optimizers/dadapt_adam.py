"""D-Adaptation Adam: Adam whose step size is estimated from the run (learning-rate free)."""

import math

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo import sparse
from keras_optim_zoo.keras_adapter import compiled, compiled_or_none
from keras_optim_zoo.moments import bias_correction, const, constant_initializer
from keras_optim_zoo.optimizers.lars import PerVariableChoices
from keras_optim_zoo.registry import register


def growth_rate_check(value):
    """``growth_rate``: a number in [1, inf]; ``float("inf")`` (unbounded growth) is allowed."""
    if not isinstance(value, bool) and isinstance(value, (int, float)) and value == math.inf:
        return math.inf
    return checks.in_range("growth_rate", value, 1.0, math.inf)


class GlobalStepSizeEstimate(PerVariableChoices):
    """A step size ``d`` estimated over ALL variables at once, then the per-variable updates.

    One step has two phases (``_advance_step_state``, run by the engine once per step):

    1. ``_estimate(context, grads, variables)``: sums over every variable (on the gradients
       already all-reduced across replicas) and the new optimizer-wide state (``d``, ...), assigned
       with ``_assign_state`` (so ``skip_nonfinite`` keeps it on a skipped step);
    2. the ordinary per-variable ``update_step`` / pure ``_update``, which reads the optimizer-wide
       state (variables) and recomputes the per-variable quantities of phase 1 it stores.

    Under ``tf.distribute`` the engine all-reduces the gradients once, before phase 1; every
    replica then computes the same sums and the optimizer-wide state
    (``aggregation="only_first_replica"``) stays mirrored.
    """

    #: ``[(name, initial value)]`` of the optimizer-wide scalar state.
    _global_state = ()

    def _build_step_state(self, var_list):
        dtype = self._step_state_dtype(var_list)
        for name, value in self._global_state:
            setattr(self, f"_{name}", self.add_variable(
                shape=(), initializer=constant_initializer(value), dtype=dtype,
                aggregation="only_first_replica", name=name,
            ))

    @property
    def d_estimate(self):
        """The current step-size estimate ``d`` (one optimizer-wide variable; ``d0`` until built)."""
        return self._d if self.built else self.d0

    # ------------------------------------------------------------------ phase 1
    def _dense_gradients(self, grads, variables):
        dense = []
        for grad, variable in zip(grads, variables):
            dtype = self.compute_dtype(variable.dtype)
            if sparse.is_indexed_slices(grad):
                grad = sparse.to_dense(sparse.cast_values(grad, dtype), ops.shape(variable)[0])
            dense.append(ops.cast(grad, dtype))
        return dense

    def _advance_step_state(self, context, grads, variables):
        grads = self._dense_gradients(grads, variables)
        pairs = [(g, v) for g, v in zip(grads, variables) if 0 not in tuple(v.shape)]
        self._estimate(context, [g for g, _ in pairs], [v for _, v in pairs])
        return grads

    def _read(self, variable, dtype):
        return ops.cast(variable, dtype)

    def _step_kind(self):
        return "new_value"  # a step without progress (sum ||s||_1 = 0) keeps the weights exactly; the decay is scaled by d

    def _variable_sums(self, gradient, variable, slots, scalar):
        """The two sums of phase 1 over one variable, ``(dot, l1)``, in the gradient's dtype: pure
        (``slots`` may be variables; ``scalar`` is the optimizer's per-step weight)."""
        raise NotImplementedError

    def _sums(self, grads, variables, scalar):
        """``_variable_sums`` of every variable, cast to the state dtype: ``(dots, l1s)`` lists.

        The variables that take the fused path (``_fuses``, outside ``tf.distribute``, as the grouped
        update step) are summed in ONE XLA launch: op by op, each sum is several passes over the
        gradient and the state (measured, 16M parameters: the estimate cost as much as the update).
        The rest are summed op by op. ``tests/test_fused.py`` checks both against the readable path.
        """
        dtype = self._d.dtype

        def sums(gradient, variable, slots, scalar):
            return tuple(ops.cast(x, dtype) for x in self._variable_sums(gradient, variable, slots, scalar))

        grouped = self._groups()
        fused = [i for i, v in enumerate(variables) if grouped and self._fuses(v)]
        out = [
            None if i in fused else sums(gradient, variable, self._variable_slots(variable), scalar)
            for i, (gradient, variable) in enumerate(zip(grads, variables))
        ]
        if fused:

            def step(gradients, variables, slots, scalar):
                return [sums(*args, scalar) for args in zip(gradients, variables, slots)]

            results = compiled(self, "sums_step", step)(
                [grads[i] for i in fused],
                [sparse._tf_variable(variables[i]) for i in fused],
                [self._tf_slots(variables[i]) for i in fused],
                scalar,
            )
            for i, result in zip(fused, results):
                out[i] = tuple(result)
        return [dot for dot, _ in out], [l1 for _, l1 in out]

    @staticmethod
    def _total(values, dtype):
        return ops.sum(ops.stack(values)) if values else const(0.0, dtype)

    def _step_size_factor(self, learning_rate, step):
        """``lr * bias_correction`` (``sqrt(1 - b2^t) / (1 - b1^t)`` if enabled, else 1)."""
        if not self.use_bias_correction:
            return learning_rate
        return learning_rate * ops.sqrt(bias_correction(self.beta_2, step)) / bias_correction(self.beta_1, step)

    def _estimate(self, context, grads, variables):
        raise NotImplementedError

    @property
    def _sums_step(self):
        """The compiled sums of the fused variables (None until a step used them)."""
        return compiled_or_none(self, "sums_step")


@register("zoo_dadapt_adam")
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
