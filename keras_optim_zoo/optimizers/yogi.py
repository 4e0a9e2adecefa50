"""Yogi: Adam whose second moment grows additively, controlled by the sign of v - g^2."""

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.moments import adam_step_size, constant_initializer, ema
from keras_optim_zoo.families.adam import AdamFamily
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec

ACTIVATIONS = ("sign", "tanh")


def _tanh(x):
    """``tanh(x) = 1 - 2 / (exp(2x) + 1)``, in the dtype of ``x``.

    (``keras.ops.tanh`` returns float32 for a float64 input on the JAX backend in Keras 3.15.1:
    ``result_type("float64", float)`` is float32 there.)
    """
    return ops.subtract(1.0, ops.divide(2.0, ops.add(ops.exp(ops.multiply(2.0, x)), 1.0)))


@register
class ZooYogi(AdamFamily):
    """Yogi: Adam with an additive second-moment update that limits growth of the effective rate.

    Update (``g`` gradient, ``lr`` learning rate, ``t`` the 1-based step; ``v`` starts at
    ``initial_accumulator_value``, ``m`` at 0)::

        m <- m + (g - m) * (1 - beta_1)
        v <- v - (1 - beta_2) * sign(v - g^2) * g^2     (activation="tanh": tanh(10 (v - g^2)))
        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)     (bias_correction=False: alpha = lr)
        w' = w - alpha * m / (sqrt(v) + epsilon)
        l1 > 0:   w <- sign(w') * max(|w'| - l1 * a, 0) / (1 + l2 * a),   a = alpha / (sqrt(v) + epsilon)
        l2 > 0:   w <- w' / (1 + l2 * a)
        else:     w <- w'

    Adam's ``v`` moves towards ``g^2`` by ``(1 - beta_2) (g^2 - v)``, a step that grows with ``v``;
    Yogi moves it by ``(1 - beta_2) g^2`` in the direction of ``g^2``, so that a burst of small
    gradients cannot shrink the denominator (and blow up the step) as fast.

    Reference: Zaheer, Reddi, Sachan, Kale & Kumar, "Adaptive Methods for Nonconvex Optimization",
    NeurIPS 2018 (Algorithm 2; no arXiv version).

    Conventions (defaults: the paper's lr 0.01, beta_1 0.9, beta_2 0.999, epsilon 1e-3, on which
    ``tfa.optimizers.Yogi`` agrees):

    * bias correction: ``tfa.optimizers.Yogi`` folds Adam's bias corrections into the step size
      (``lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)``, epsilon added to the raw ``sqrt(v)`` — Keras's
      "epsilon hat"); the paper's Algorithm 2 has none. Default ``bias_correction=True`` (TFA, so
      that its results carry over); ``bias_correction=False`` is Algorithm 2 exactly.
    * ``initial_accumulator_value=1e-6`` (TFA's default, ``v_0``); Algorithm 2 starts from
      ``v_0 = 0`` (pass 0.0). ``m`` starts at 0 as in both (the ``torch-optimizer`` port starts it at 1e-6 too).
    * ``l1_regularization_strength`` / ``l2_regularization_strength`` (TFA, not in the paper): the
      proximal (FTRL-style) step above, applied after the Yogi step, per coordinate.
    * ``activation="tanh"`` (TFA): a smooth sign, ``tanh(10 (g^2 - v))``.
    * weight decay: the decoupled base mechanism (TFA's Yogi had none; pytorch ports add L2 to g).
    * Sparse gradients are made dense (a zero gradient still moves ``w`` by its momentum). TFA
      updated ``v`` and ``w`` only at the touched rows but decayed ``m`` everywhere.

    Args:
        learning_rate: float >= 0, schedule or callable. Default 0.01.
        beta_1, beta_2: floats in [0, 1). Defaults 0.9, 0.999.
        epsilon: float >= 0. Default 1e-3.
        initial_accumulator_value: float >= 0, ``v_0``. Default 1e-6.
        l1_regularization_strength, l2_regularization_strength: floats >= 0. Default 0.0.
        activation: ``"sign"`` (default) or ``"tanh"``.
        bias_correction: bool. Default True.
        **kwargs: the Keras base optimizer arguments.

    Example:
        >>> model.compile(optimizer="zoo_yogi", ...)
        >>> keras_optim_zoo.ZooYogi(0.01, bias_correction=False, initial_accumulator_value=0.0)  # Algorithm 2
    """

    spec = OptimizerSpec(
        name="zoo_yogi",
        summary='Yogi: Adam with an additive second-moment update that limits growth of the effective rate.',
        family="adam",
        paper='Zaheer, Reddi, Sachan, Kale & Kumar, "Adaptive Methods for Nonconvex Optimization", NeurIPS 2018 (Algorithm 2',
    )

    _config_keys = AdamFamily._config_keys + (
        "initial_accumulator_value",
        "l1_regularization_strength",
        "l2_regularization_strength",
        "activation",
        "bias_correction",
    )

    def __init__(self, learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-3, initial_accumulator_value=1e-6,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0, activation="sign",
                 bias_correction=True, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        self.initial_accumulator_value = checks.non_negative("initial_accumulator_value", initial_accumulator_value)
        self.l1_regularization_strength = checks.non_negative("l1_regularization_strength", l1_regularization_strength)
        self.l2_regularization_strength = checks.non_negative("l2_regularization_strength", l2_regularization_strength)
        self.activation = checks.one_of("activation", activation, ACTIVATIONS)
        self.bias_correction = checks.boolean("bias_correction", bias_correction)

    def _slot_specs(self):
        return [("momentum", "zeros"), ("velocity", constant_initializer(self.initial_accumulator_value))]

    def _second_moment(self, velocity, gradient):
        """Yogi's additive update ``v + (1 - beta_2) * sign(g^2 - v) * g^2`` (or the tanh form)."""
        g2 = ops.square(gradient)
        if self.activation == "sign":
            direction = ops.sign(ops.subtract(g2, velocity))
        else:
            direction = _tanh(ops.multiply(10.0, ops.subtract(g2, velocity)))
        return ops.add(velocity, ops.multiply(ops.multiply(1 - self.beta_2, direction), g2))

    def _step_kind(self):
        # With l1/l2 the new weights are the proximal closed form of the Adam-style step.
        if self.l1_regularization_strength > 0 or self.l2_regularization_strength > 0:
            return "new_value"
        return "direction"

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        m = ema(slots["momentum"], gradient, self.beta_1)
        v = self._second_moment(slots["velocity"], gradient)
        alpha = learning_rate
        if self.bias_correction:
            alpha = adam_step_size(learning_rate, self.beta_1, self.beta_2, context.step(variable.dtype))
        per_coordinate = ops.divide(alpha, ops.add(ops.sqrt(v), self.epsilon))
        l1, l2 = self.l1_regularization_strength, self.l2_regularization_strength
        if self._step_kind() == "direction":
            return ops.multiply(per_coordinate, m), {"momentum": m, "velocity": v}
        new = ops.subtract(variable, ops.multiply(per_coordinate, m))
        if l1 > 0:
            shrunk = ops.maximum(ops.subtract(ops.abs(new), ops.multiply(l1, per_coordinate)), 0.0)
            new = ops.divide(ops.multiply(ops.sign(new), shrunk), ops.add(1.0, ops.multiply(l2, per_coordinate)))
        elif l2 > 0:
            new = ops.divide(new, ops.add(1.0, ops.multiply(l2, per_coordinate)))
        return new, {"momentum": m, "velocity": v}
