"""QHAdam: quasi-hyperbolic Adam (averages of the moments with the current gradient)."""

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.moments import bias_correction, const
from keras_optim_zoo.families.adam import AdamFamily
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooQHAdam(AdamFamily):
    """QHAdam: each bias-corrected moment is mixed with the current gradient (squared) by ``nu``.

    Ma & Yarats, "Quasi-hyperbolic momentum and Adam for deep learning", ICLR 2019,
    arXiv:1810.06801, Algorithm 2 (the official ``qhoptim`` code). With ``t`` the 1-based step::

        m <- m + (g - m) (1 - beta_1);      m_hat = m / (1 - beta_1^t)
        v <- v + (g^2 - v) (1 - beta_2);    v_hat = v / (1 - beta_2^t)
        w <- w - lr * ((1 - nu_1) g + nu_1 m_hat) / (sqrt((1 - nu_2) g^2 + nu_2 v_hat) + epsilon)

    Conventions: bias-corrected moments and epsilon added outside the square root, after the
    correction (torch's and qhoptim's convention, not Keras's "epsilon hat"). ``nu_1 = nu_2 = 1``
    is Adam in that convention. Defaults: ``qhoptim`` requires betas and nus explicitly; these are
    the paper's recommendation for QHAdam (nu = (0.7, 1.0), beta = (0.995, 0.999)) with qhoptim's
    epsilon 1e-8. (torch_optimizer's QHAdam defaults to nu = (1, 1), beta = (0.9, 0.999), i.e. Adam.)
    Weight decay: the zoo's decoupled decay (qhoptim's ``decouple_weight_decay=True`` form).

    Args:
        learning_rate: float >= 0, schedule or callable. Default 0.001.
        beta_1, beta_2: floats in [0, 1). Defaults 0.995, 0.999.
        nu_1, nu_2: floats in [0, 1], the weights of the averages against the current gradient.
            Defaults 0.7, 1.0.
        epsilon: float >= 0. Default 1e-8.
        **kwargs: the Keras base optimizer arguments and the zoo's (``cautious``, ...).
    """

    spec = OptimizerSpec(
        name="zoo_qhadam",
        summary='QHAdam: each bias-corrected moment is mixed with the current gradient (squared) by ``nu``.',
        family="adam",
        paper='Ma & Yarats, "Quasi-hyperbolic momentum and Adam for deep learning", ICLR 2019, arXiv:1810.06801',
    )

    _config_keys = AdamFamily._config_keys + ("nu_1", "nu_2")

    def __init__(self, learning_rate=0.001, beta_1=0.995, beta_2=0.999, nu_1=0.7, nu_2=1.0, epsilon=1e-8, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        self.nu_1 = checks.in_range("nu_1", nu_1, 0.0, 1.0)
        self.nu_2 = checks.in_range("nu_2", nu_2, 0.0, 1.0)

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        dtype = variable.dtype
        step = context.step(dtype)
        m, v = self._moments(gradient, slots)
        m_hat = ops.divide(m, bias_correction(self.beta_1, step))
        v_hat = ops.divide(v, bias_correction(self.beta_2, step))
        numerator = ops.add(ops.multiply(gradient, 1 - self.nu_1), ops.multiply(m_hat, self.nu_1))
        second = ops.add(ops.multiply(ops.square(gradient), 1 - self.nu_2), ops.multiply(v_hat, self.nu_2))
        denominator = ops.add(ops.sqrt(second), const(self.epsilon, dtype))
        step_size = ops.divide(ops.multiply(numerator, learning_rate), denominator)
        return step_size, {"momentum": m, "velocity": v}
