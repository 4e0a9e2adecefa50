"""Adam, with the AMSGrad option."""

from keras import ops

from keras_optim_zoo.families.adam import ADAM_HYPERPARAMETERS, AdamFamily
from keras_optim_zoo.moments import adam_step_size
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec, boolean

#: AMSGrad's switch (Reddi et al.): the running maximum of the raw v.
AMSGRAD = boolean("amsgrad", False, "AMSGrad: the running maximum of the raw second moment")


@register
class ZooAdam(AdamFamily):
    """Adam: adaptive moment estimation, with the AMSGrad option.

    Update (``g`` gradient, ``lr`` learning rate, ``t`` the 1-based step)::

        m <- m + (g - m) * (1 - beta_1)
        v <- v + (g^2 - v) * (1 - beta_2)
        amsgrad:  v_hat <- max(v_hat, v) ; v = v_hat
        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        w <- w - alpha * m / (sqrt(v) + epsilon)

    References: Kingma & Ba, "Adam: A Method for Stochastic Optimization", arXiv:1412.6980 (2014);
    AMSGrad: Reddi, Kale & Kumar, "On the Convergence of Adam and Beyond", ICLR 2018.

    Conventions: bias correction is folded into the step size and epsilon is added outside the
    square root *after* the correction ("epsilon hat", as in Keras and the paper's Section 2 note),
    so it is ``epsilon / sqrt(1 - beta_2^t)`` in the paper's Algorithm 1 notation; torch and optax
    add epsilon to the bias-corrected ``sqrt(v_hat)``. AMSGrad takes the running maximum of the raw
    (not bias-corrected) ``v``. Defaults equal ``keras.optimizers.Adam`` (epsilon 1e-7); results
    equal it step for step, except that duplicate sparse indices are summed before squaring.

    Example:
        >>> model.compile(optimizer=keras_optim_zoo.ZooAdam(3e-4, amsgrad=True), ...)
        >>> keras.optimizers.get("zoo_adam")
    """

    spec = OptimizerSpec(
        name="zoo_adam",
        summary='Adam: adaptive moment estimation, with the AMSGrad option.',
        family="adam",
        paper='Kingma & Ba, "Adam: A Method for Stochastic Optimization", arXiv:1412.6980 (2014)',
        builtin="Adam",
        keras2="Adam",
        learning_rate=0.001,
        hyperparameters=ADAM_HYPERPARAMETERS + (AMSGRAD,),
    )

    def _slot_specs(self):
        return super()._slot_specs() + ([("velocity_hat", "zeros")] if self.amsgrad else [])

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        alpha = adam_step_size(learning_rate, self.beta_1, self.beta_2, context.step(variable.dtype))
        m, v = self._moments(gradient, slots)
        new = {"momentum": m, "velocity": v}
        if self.amsgrad:
            v = new["velocity_hat"] = ops.maximum(slots["velocity_hat"], v)
        step = ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon))
        return step, new
