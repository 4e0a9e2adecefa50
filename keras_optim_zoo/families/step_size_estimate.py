"""Learning-rate-free step sizes estimated over all variables at once (D-Adaptation, Prodigy)."""

import math

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo import sparse
from keras_optim_zoo.families.per_variable import PerVariableChoices
from keras_optim_zoo.keras_adapter import compiled, compiled_or_none
from keras_optim_zoo.moments import bias_correction, const, constant_initializer


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
