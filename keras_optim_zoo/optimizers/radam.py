"""RAdam (Rectified Adam), and the rectification/warm-up arguments it shares with AdaBelief."""


from keras import ops

from keras_optim_zoo.moments import bias_correction
from keras_optim_zoo.families.rectified import RectifiedFamily
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooRAdam(RectifiedFamily):
    """RAdam: Adam with the variance of its adaptive learning rate rectified in early steps.

    Update (``g`` gradient, ``lr`` learning rate, ``t`` the 1-based step)::

        m <- m + (g - m) * (1 - beta_1)
        v <- v + (g^2 - v) * (1 - beta_2)
        amsgrad:  v_hat <- max(v_hat, v) ; v = v_hat
        rho_inf = 2 / (1 - beta_2) - 1
        rho_t   = rho_inf - 2 t beta_2^t / (1 - beta_2^t)
        m_hat   = m / (1 - beta_1^t)
        if rho_t >= sma_threshold:
            r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
            w <- w - lr_t * r_t * m_hat * sqrt(1 - beta_2^t) / (sqrt(v) + epsilon)
        else:
            w <- w - lr_t * m_hat          (degenerated_to_sgd=True; False: w unchanged)

    ``lr_t`` is ``lr``, or with ``total_steps > 0`` TFA's ramp: linear warm-up from 0 over
    ``total_steps * warmup_proportion`` steps, then linear decay to ``min_lr`` at ``total_steps``.
    (The choice between the branches is an ``ops.where``: it works under ``tf.function`` and XLA.)

    Reference: Liu, Jiang, He, Chen, Liu, Gao & Han, "On the Variance of the Adaptive Learning Rate
    and Beyond", ICLR 2020, arXiv:1908.03265 (Algorithm 2); official code
    github.com/LiyuanLucasLiu/RAdam.

    Conventions, and where the implementations differ:

    * threshold: the paper rectifies when ``rho_t > 4``; the official code and ``tfa.optimizers.
      RectifiedAdam`` when ``rho_t >= 5`` ("more conservative since it's an approximated value").
      Default here ``sma_threshold=5.0`` with ``>=``, as both codes (with beta_2=0.999 the first
      rectified step is t=6; ``sma_threshold=4.0`` gives the paper's rule, first step t=5).
      Thresholds below 4 are rejected (``r_t`` is not real for 2 < rho_t < 4).
    * early (un-rectified) steps: SGD with the bias-corrected momentum ``m_hat`` (paper's
      Algorithm 2, TFA, torch.optim.RAdam and the official code until 2021) by default; the
      official code's current default ``degenerated_to_sgd=False`` skips those steps (the moments
      still accumulate); pytorch_optimizer also skips them.
    * epsilon: added to the raw ``sqrt(v)`` with ``sqrt(1 - beta_2^t)`` in the step size, as the
      official code does (Keras's "epsilon hat"); TFA adds it to ``sqrt(v / (1 - beta_2^t))``. The
      paper has no epsilon. Default 1e-7 (Keras, TFA); the official code uses 1e-8.
    * weight decay: the decoupled base mechanism (``weight_decay``, before the step, scaled by the
      base learning rate, not by TFA's warm-up ramp). TFA added ``weight_decay * w`` to the update
      (scaled by the ramped ``lr_t``); the official code decays only in steps that move ``w``.
    * amsgrad (TFA's option, not in the paper): running maximum of the raw ``v``.

    Args:
        learning_rate: float >= 0, schedule or callable. Default 0.001.
        beta_1, beta_2: floats in [0, 1). Defaults 0.9, 0.999.
        epsilon: float >= 0. Default 1e-7.
        amsgrad: bool. Default False.
        sma_threshold: float >= 4; rectify once ``rho_t >= sma_threshold``. Default 5.0.
        degenerated_to_sgd: bool; take an SGD-with-momentum step before that. Default True.
        total_steps: int >= 0; > 0 enables TFA's warm-up/decay ramp. Default 0.
        warmup_proportion: float in [0, 1]. Default 0.1.
        min_lr: float >= 0, the rate reached at ``total_steps``. Default 0.0.
        **kwargs: the Keras base optimizer arguments.

    Example:
        >>> model.compile(optimizer="zoo_radam", ...)
        >>> keras_optim_zoo.ZooRAdam(1e-3, total_steps=10000, warmup_proportion=0.1, min_lr=1e-5)
    """

    spec = OptimizerSpec(
        name="zoo_radam",
        summary='RAdam: Adam with the variance of its adaptive learning rate rectified in early steps.',
        family="adam",
        paper='Liu, Jiang, He, Chen, Liu, Gao & Han, "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020, arXiv:1908.03265 (Algorithm 2)',
    )

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 sma_threshold=5.0, degenerated_to_sgd=True, total_steps=0, warmup_proportion=0.1,
                 min_lr=0.0, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, sma_threshold, degenerated_to_sgd,
                         total_steps, warmup_proportion, min_lr, **kwargs)

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        step = context.step(variable.dtype)
        m, v = self._moments(gradient, slots)
        new = {"momentum": m, "velocity": v}
        v = self._second_moment_for_step(v, slots, new)
        m_hat = ops.divide(m, bias_correction(self.beta_1, step))
        adaptive = ops.divide(
            ops.multiply(m_hat, ops.sqrt(bias_correction(self.beta_2, step))), ops.add(ops.sqrt(v), self.epsilon)
        )
        direction = self._rectified(adaptive, m_hat, step)
        return ops.multiply(self._scheduled_learning_rate(learning_rate, step), direction), new
