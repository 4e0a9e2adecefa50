"""Adamax: Adam with the infinity norm."""

from keras import ops

from keras_optim_zoo.moments import bias_correction, ema
from keras_optim_zoo.families.adam import ADAM_HYPERPARAMETERS, AdamFamily
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooAdamax(AdamFamily):
    """Adamax: the Adam variant based on the infinity norm of past gradients.

    Update (``g`` gradient, ``lr`` learning rate, ``t`` the 1-based step)::

        m <- m + (g - m) * (1 - beta_1)
        u <- max(beta_2 * u, |g|)
        w <- w - lr * m / ((1 - beta_1^t) * (u + epsilon))

    Reference: Kingma & Ba, "Adam: A Method for Stochastic Optimization", arXiv:1412.6980 (2014),
    Section 7.1.

    Conventions: the paper has no epsilon; Keras adds it to ``u`` (so a zero gradient history does
    not divide by zero). ``u`` needs no bias correction. Defaults equal ``keras.optimizers.Adamax``;
    results equal it step for step, sparse gradients included (``max`` and ``|g|`` of summed
    duplicates).

    Example:
        >>> model.compile(optimizer="zoo_adamax", ...)
    """

    spec = OptimizerSpec(
        name="zoo_adamax",
        summary='Adamax: the Adam variant based on the infinity norm of past gradients.',
        family="adam",
        paper='Kingma & Ba, "Adam: A Method for Stochastic Optimization", arXiv:1412.6980 (2014), Section 7.1',
        builtin="Adamax",
        keras2="Adamax",
        learning_rate=0.001,
        hyperparameters=ADAM_HYPERPARAMETERS,
    )

    def _slot_specs(self):
        return [("momentum", "zeros"), ("norm", "zeros")]

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        m = ema(slots["momentum"], gradient, self.beta_1)
        u = ops.maximum(ops.multiply(self.beta_2, slots["norm"]), ops.abs(gradient))
        correction = bias_correction(self.beta_1, context.step(variable.dtype))
        step = ops.divide(ops.multiply(learning_rate, m), ops.multiply(correction, ops.add(u, self.epsilon)))
        return step, {"momentum": m, "norm": u}
