"""Sign-of-momentum methods (signSGD/Signum, Tiger): the shared momentum argument and slot."""

from keras import ops

from keras_optim_zoo.base import ZooOptimizer
from keras_optim_zoo.moments import weighted_average


class SignMomentum(ZooOptimizer):
    """Shared step of signSGD / Signum / Tiger: ``w <- w - lr * sign(m)`` with an averaged ``m``.

    Subclasses set ``self._beta`` (0: no momentum slot, the sign of the gradient itself).
    """

    _beta = 0.0

    def _slot_specs(self):
        return [("momentum", "zeros")] if self._beta else []

    def _lazy_sparse(self):
        # Without momentum a zero gradient gives sign 0: untouched rows do not move (exact).
        return not self._beta

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        if not self._beta:
            return ops.multiply(learning_rate, ops.sign(gradient)), {}
        m = weighted_average(slots["momentum"], gradient, self._beta)  # beta m + (1 - beta) g
        return ops.multiply(learning_rate, ops.sign(m)), {"momentum": m}
