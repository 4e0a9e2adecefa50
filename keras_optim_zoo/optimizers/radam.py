"""RAdam (Rectified Adam), and the rectification/warm-up arguments it shares with AdaBelief."""


from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.moments import bias_correction, rectification, warmup_then_decay
from keras_optim_zoo.optimizers.adam import AdamFamily
from keras_optim_zoo.registry import register


class RectifiedFamily(AdamFamily):
    """Adam-family optimizers with RAdam's variance rectification and TFA's warm-up arguments.

    Holds the shared arguments (``amsgrad``, ``sma_threshold``, ``degenerated_to_sgd``,
    ``total_steps``, ``warmup_proportion``, ``min_lr``) and the two shared pieces of the step:
    ``_scheduled_learning_rate`` (TFA's warm-up ramp) and ``_rectified`` (the choice between the
    rectified adaptive step and the un-rectified early step). Subclasses compute the adaptive
    direction, the only term in which RAdam and AdaBelief differ.
    """

    _config_keys = AdamFamily._config_keys + (
        "amsgrad",
        "sma_threshold",
        "degenerated_to_sgd",
        "total_steps",
        "warmup_proportion",
        "min_lr",
    )

    def __init__(self, learning_rate, beta_1, beta_2, epsilon, amsgrad, sma_threshold, degenerated_to_sgd,
                 total_steps, warmup_proportion, min_lr, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        self.amsgrad = checks.boolean("amsgrad", amsgrad)
        # r_t is real only for rho_t >= 4 (and rho_t <= 2): a threshold below 4 would take a NaN step.
        self.sma_threshold = checks.in_range("sma_threshold", sma_threshold, 4.0, float("inf"))
        self.degenerated_to_sgd = checks.boolean("degenerated_to_sgd", degenerated_to_sgd)
        self.total_steps = checks.integer("total_steps", total_steps, 0)
        self.warmup_proportion = checks.in_range("warmup_proportion", warmup_proportion, 0.0, 1.0)
        self.min_lr = checks.non_negative("min_lr", min_lr)

    def _slot_specs(self):
        return super()._slot_specs() + ([("velocity_hat", "zeros")] if self.amsgrad else [])

    def _scheduled_learning_rate(self, learning_rate, step):
        """The learning rate of this step: TFA's warm-up then decay if ``total_steps > 0``."""
        if self.total_steps <= 0:
            return learning_rate
        return warmup_then_decay(learning_rate, step, self.total_steps, self.warmup_proportion, self.min_lr)

    def _second_moment_for_step(self, velocity, slots, new_slots):
        """``v`` itself, or (amsgrad) its running maximum, stored as ``velocity_hat``."""
        if not self.amsgrad:
            return velocity
        new_slots["velocity_hat"] = ops.maximum(slots["velocity_hat"], velocity)
        return new_slots["velocity_hat"]

    def _rectified(self, adaptive, m_hat, step):
        """``r_t * adaptive`` once ``rho_t >= sma_threshold``; before that ``m_hat`` (SGD with
        bias-corrected momentum, ``degenerated_to_sgd=True``) or no step at all."""
        rho_t, r_t = rectification(self.beta_2, step)
        early = m_hat if self.degenerated_to_sgd else ops.zeros_like(m_hat)
        return ops.where(rho_t >= self.sma_threshold, r_t * adaptive, early)


@register("zoo_radam")
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
