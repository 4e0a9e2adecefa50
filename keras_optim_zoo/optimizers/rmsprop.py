"""RMSprop, plain or centered, with optional momentum."""

from keras import ops

from keras_optim_zoo.base import ZooOptimizer
from keras_optim_zoo.moments import weighted_average
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec, beta, boolean, epsilon, real


@register
class ZooRMSprop(ZooOptimizer):
    """RMSprop: divide the gradient by a running root mean square of recent gradients.

    Update (``g`` gradient, ``lr`` learning rate)::

        v <- rho * v + (1 - rho) * g^2
        centered:  mg <- rho * mg + (1 - rho) * g ;  d = v - mg^2 + epsilon
        otherwise:                                   d = v + epsilon
        increment = lr * g / sqrt(d)
        momentum > 0:  mom <- momentum * mom + increment ;  w <- w - mom
        otherwise:                                          w <- w - increment

    References: Tieleman & Hinton, Lecture 6.5 of "Neural Networks for Machine Learning" (2012);
    the centered form is Graves, "Generating Sequences With Recurrent Neural Networks",
    arXiv:1308.0850 (2013).

    Conventions: epsilon is added *inside* the square root (Keras 3 and TF 1); ``torch.optim.RMSprop``
    adds it outside. Momentum acts on the increment, learning rate included. Defaults equal
    ``keras.optimizers.RMSprop`` (rho 0.9, epsilon 1e-7); results equal it step for step, except
    for sparse gradients with repeated indices, where the zoo sums the duplicates before squaring
    (the dense result) and Keras 3.15 squares each duplicate separately.

    Example:
        >>> model.compile(optimizer=keras_optim_zoo.ZooRMSprop(centered=True), ...)
    """

    spec = OptimizerSpec(
        name="zoo_rmsprop",
        summary='RMSprop: divide the gradient by a running root mean square of recent gradients.',
        family="rmsprop",
        paper='Tieleman & Hinton, Lecture 6.5 of "Neural Networks for Machine Learning" (2012)',
        builtin="RMSprop",
        keras2="RMSprop",
        learning_rate=0.001,
        hyperparameters=(
            beta("rho", 0.9, "decay of the mean square"),
            real("momentum", 0.0, 0.0, 1.0, doc="momentum on the increment lr * g / sqrt(v + epsilon)"),
            epsilon(1e-7, "inside the square root, as Keras 3"),
            boolean("centered", False, "divide by the estimated variance instead (v - mean(g)^2)"),
        ),
    )

    def _slot_specs(self):
        specs = [("velocity", "zeros")]
        if self.momentum:
            specs.append(("momentum", "zeros"))
        if self.centered:
            specs.append(("average_gradient", "zeros"))
        return specs

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        new = {"velocity": weighted_average(slots["velocity"], ops.square(gradient), self.rho)}
        if self.centered:
            new["average_gradient"] = weighted_average(slots["average_gradient"], gradient, self.rho)
            denominator = new["velocity"] - ops.square(new["average_gradient"]) + self.epsilon
        else:
            denominator = ops.add(new["velocity"], self.epsilon)
        increment = ops.divide(ops.multiply(learning_rate, gradient), ops.sqrt(denominator))
        if self.momentum:
            new["momentum"] = ops.add(ops.multiply(self.momentum, slots["momentum"]), increment)
            increment = new["momentum"]
        return increment, new
