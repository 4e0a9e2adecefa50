"""The Adam family: beta_1, beta_2, epsilon and the two moment slots."""

from keras import ops

from keras_optim_zoo.base import ZooOptimizer
from keras_optim_zoo.moments import ema
from keras_optim_zoo.spec import beta, epsilon


#: beta_1, beta_2 and epsilon with Keras's defaults, shared by the Adam family's specs.
ADAM_HYPERPARAMETERS = (
    beta("beta_1", 0.9, "decay of the first moment"),
    beta("beta_2", 0.999, "decay of the second moment"),
    epsilon(1e-7, "added to sqrt(v), outside the bias correction"),
)


class AdamFamily(ZooOptimizer):
    """Shared hyper-parameters and moment slots of the Adam family (beta_1, beta_2, epsilon)."""

    _config_keys = tuple(h.name for h in ADAM_HYPERPARAMETERS)
    _supports_cautious = True

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        # For the family members whose spec does not declare its hyperparameters yet: the same
        # checks as ADAM_HYPERPARAMETERS (a spec-made constructor does not call this one).
        super().__init__(learning_rate, **kwargs)
        for hyperparameter, value in zip(ADAM_HYPERPARAMETERS, (beta_1, beta_2, epsilon)):
            setattr(self, hyperparameter.name, hyperparameter.check(hyperparameter.name, value))

    def _slot_specs(self):
        return [("momentum", "zeros"), ("velocity", "zeros")]

    def _moments(self, gradient, slots, beta_1=None, beta_2=None):
        """First and second raw moments: ``m <- ema(m, g, beta_1)``, ``v <- ema(v, g^2, beta_2)``.

        ``beta_1``/``beta_2`` default to the Python floats; Nadam passes them as tensors of the
        variable's dtype because ``keras.optimizers.Nadam`` rounds ``1 - beta`` that way.
        """
        beta_1 = self.beta_1 if beta_1 is None else beta_1
        beta_2 = self.beta_2 if beta_2 is None else beta_2
        return (
            ema(slots["momentum"], gradient, beta_1),
            ema(slots["velocity"], ops.square(gradient), beta_2),
        )
