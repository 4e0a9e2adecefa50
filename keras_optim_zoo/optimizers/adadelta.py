"""Adadelta: step sizes from running averages of squared gradients and squared updates."""

from keras import ops

from keras_optim_zoo.base import ZooOptimizer
from keras_optim_zoo.moments import weighted_average
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec, beta, epsilon


@register
class ZooAdadelta(ZooOptimizer):
    """Adadelta: step sizes from running averages of squared gradients and of squared updates.

    Update (``g`` gradient, ``lr`` learning rate, ``rms(x) = sqrt(x + epsilon)``)::

        Eg2  <- rho * Eg2 + (1 - rho) * g^2
        dx    = -rms(Edx2) / rms(Eg2) * g
        Edx2 <- rho * Edx2 + (1 - rho) * dx^2
        w    <- w + lr * dx

    Reference: Zeiler, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701 (2012).

    Conventions: the paper has no learning rate (lr = 1); Keras multiplies the update by
    ``learning_rate`` (default 0.001, so training with the defaults is slow — use 1.0 for the
    paper's method). Epsilon is inside both square roots. Defaults equal
    ``keras.optimizers.Adadelta`` (rho 0.95, epsilon 1e-7); results equal it step for step, except
    that duplicate sparse indices are summed before squaring.

    Example:
        >>> model.compile(optimizer=keras_optim_zoo.ZooAdadelta(learning_rate=1.0), ...)
    """

    spec = OptimizerSpec(
        name="zoo_adadelta",
        summary='Adadelta: step sizes from running averages of squared gradients and of squared updates.',
        family="adadelta",
        paper='Zeiler, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701 (2012)',
        builtin="Adadelta",
        keras2="Adadelta",
        learning_rate=0.001,
        hyperparameters=(
            beta("rho", 0.95, "decay of both running averages"),
            epsilon(1e-7, "inside both square roots"),
        ),
    )

    def _slot_specs(self):
        return [("accumulated_grad", "zeros"), ("accumulated_delta_var", "zeros")]

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        def rms(x):
            return ops.sqrt(ops.add(x, self.epsilon))

        accumulated_grad = weighted_average(slots["accumulated_grad"], ops.square(gradient), self.rho)
        delta = ops.negative(
            ops.divide(ops.multiply(rms(slots["accumulated_delta_var"]), gradient), rms(accumulated_grad))
        )
        accumulated_delta = weighted_average(slots["accumulated_delta_var"], ops.square(delta), self.rho)
        # Keras adds lr * delta: the direction is its negation (w - (-x) is w + x exactly).
        return ops.negative(ops.multiply(learning_rate, delta)), {
            "accumulated_grad": accumulated_grad,
            "accumulated_delta_var": accumulated_delta,
        }
