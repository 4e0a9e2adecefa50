"""Nadam: Adam with Nesterov momentum, with the Keras 3 or the Keras 2 / paper momentum schedule."""

from keras import ops

from keras_optim_zoo.moments import bias_correction, const
from keras_optim_zoo.families.adam import ADAM_HYPERPARAMETERS, AdamFamily
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec, non_negative_or_none


@register
class ZooNadam(AdamFamily):
    """Nadam: Adam with Nesterov momentum and a warming-up momentum schedule.

    Update (``g`` gradient, ``lr`` learning rate, ``t`` the 1-based step)::

        u_t = beta_1 * (1 - 0.5 * 0.96^(d * t))      momentum schedule (d: see below)
        P_t = u_1 * ... * u_t                        (kept in optimizer-wide state)
        m <- m + (g - m) * (1 - beta_1)
        v <- v + (g^2 - v) * (1 - beta_2)
        m_hat = u_{t+1} * m / (1 - P_t * u_{t+1}) + (1 - u_t) * g / (1 - P_t)
        v_hat = v / (1 - beta_2^t)
        w <- w - lr * m_hat / (sqrt(v_hat) + epsilon)

    Reference: Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016 workshop.

    The momentum schedule differs between implementations, and a lot early in training:

    * ``schedule_decay=None`` (default): Keras 3's ``u_t = beta_1 * (1 - 0.5 * 0.96^t)`` (d = 1),
      equal to ``keras.optimizers.Nadam`` step for step;
    * ``schedule_decay=0.004``: the paper's and Keras 2's ``u_t = beta_1 * (1 - 0.5 * 0.96^(0.004 t))``,
      for reproducing Keras 2 results (Keras 2's ``Nadam(schedule_decay=0.004)``).

    Conventions: epsilon outside the square root of the bias-corrected ``v``; ``P_t`` is
    optimizer-wide state advanced once per step (float32, or float64 if any variable is float64).

    Example:
        >>> model.compile(optimizer="zoo_nadam", ...)
        >>> keras_optim_zoo.ZooNadam(learning_rate=0.002, schedule_decay=0.004)  # Keras 2 Nadam
    """

    spec = OptimizerSpec(
        name="zoo_nadam",
        summary='Nadam: Adam with Nesterov momentum and a warming-up momentum schedule.',
        family="adam",
        paper='Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016 workshop',
        builtin="Nadam",
        keras2="Nadam",
        learning_rate=0.001,
        hyperparameters=ADAM_HYPERPARAMETERS + (
            non_negative_or_none(
                "schedule_decay", None, "None: Keras 3's momentum schedule; a number d: Keras 2's 0.96^(d t)"
            ),
        ),
    )

    def _schedule_factor(self, step):
        """``1 - 0.5 * 0.96^(d * t)`` for the 1-based step ``t`` (a float tensor)."""
        exponent = step if self.schedule_decay is None else step * self.schedule_decay
        return 1.0 - 0.5 * ops.power(const(0.96, step.dtype), exponent)

    def _momentum_schedule(self, step):
        """``u_t = beta_1 * (1 - 0.5 * 0.96^(d * t))``."""
        return const(self.beta_1, step.dtype) * self._schedule_factor(step)

    def _build_step_state(self, var_list):
        self._u_product = self.add_variable(
            shape=(),
            initializer="ones",
            dtype=self._step_state_dtype(var_list),
            aggregation="only_first_replica",
            name="u_product",
        )

    def _advance_step_state(self, context, grads, variables):
        # Same operation order as keras.optimizers.Nadam: (P * beta_1) * factor.
        step = context.step(self._u_product.dtype)
        self._assign_state(context, self._u_product, self._u_product * self.beta_1 * self._schedule_factor(step))
        return grads

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        dtype = variable.dtype
        step = context.step(dtype)
        u_t = self._momentum_schedule(step)
        u_next = self._momentum_schedule(step + 1)
        u_product = ops.cast(self._u_product, dtype)
        m, v = self._moments(gradient, slots, const(self.beta_1, dtype), const(self.beta_2, dtype))
        m_hat = ops.add(
            ops.divide(ops.multiply(u_next, m), 1 - u_product * u_next),
            ops.divide(ops.multiply(1 - u_t, gradient), 1 - u_product),
        )
        v_hat = ops.divide(v, bias_correction(self.beta_2, step))
        step_size = ops.divide(ops.multiply(m_hat, learning_rate), ops.add(ops.sqrt(v_hat), self.epsilon))
        return step_size, {"momentum": m, "velocity": v}
