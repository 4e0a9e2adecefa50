"""AdaBelief: Adam with the second moment of the gradient's deviation from its prediction."""

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.moments import bias_correction, ema
from keras_optim_zoo.families.rectified import RectifiedFamily
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooAdaBelief(RectifiedFamily):
    """AdaBelief: Adam that scales its step by the belief in the observed gradient.

    Update (``g`` gradient, ``lr`` learning rate, ``t`` the 1-based step)::

        m <- m + (g - m) * (1 - beta_1)
        s <- s + (((g - m)^2 - s) * (1 - beta_2) + epsilon)   (m: the updated first moment; this
                                                             association lets XLA reuse the new s)
        amsgrad:  s_max <- max(s_max, s) ; s = s_max
        m_hat = m / (1 - beta_1^t)
        s_hat = s / (1 - beta_2^t)
        u = m_hat / (sqrt(s_hat) + epsilon)
        rectify=False:  w <- w - lr_t * u
        rectify=True:   w <- w - lr_t * r_t * u   if rho_t >= sma_threshold   (RAdam's r_t, rho_t)
                        w <- w - lr_t * m_hat     otherwise (degenerated_to_sgd=True; False: no step)

    ``lr_t`` is ``lr``, or TFA's warm-up/decay ramp when ``total_steps > 0`` (see ``ZooRAdam``).
    ``s`` is stored as the ``velocity`` slot (``velocity_hat`` for the AMSGrad maximum).

    Reference: Zhuang, Tang, Ding, Tatikonda, Dvornek, Papademetris & Duncan, "AdaBelief
    Optimizer: Adapting Stepsizes by the Belief in Observed Gradients", NeurIPS 2020,
    arXiv:2010.07468 (Algorithm 2); official code github.com/juntang-zhuang/Adabelief-Optimizer.

    Conventions, and where the implementations differ:

    * epsilon appears twice, as in the paper and both official packages: added to ``s`` at every
      step (it accumulates: ``s`` tends to ``epsilon / (1 - beta_2)`` where the gradient is
      perfectly predicted) and added to ``sqrt(s_hat)`` *after* the bias correction (torch
      convention, not Keras's "epsilon hat"). Default 1e-14, as ``tfa.optimizers.AdaBelief`` and
      the official ``adabelief_tf``; the official PyTorch package (v0.2) defaults to 1e-16, its
      0.0.5 release to 1e-8. Any of these is far below float32's resolution of a typical ``s``.
    * rectify: default False, the paper's Algorithm 2; ``tfa.optimizers.AdaBelief`` and the official
      packages since v0.1 default to ``rectify=True`` (pass it to reproduce them). The rectification
      is RAdam's (shared code): threshold ``rho_t >= sma_threshold`` (5.0), early steps SGD with
      ``m_hat`` (``degenerated_to_sgd=True``, as TFA and the official code).
      In the rectified step the official PyTorch code divides by ``sqrt(s) + eps`` with
      ``sqrt(1 - beta_2^t)`` in the step size and ignores the AMSGrad maximum; TFA and this class
      use ``sqrt(s_hat) + eps`` (with the maximum) in both branches.
    * amsgrad (in both official packages, not in the paper): running maximum of ``s`` including
      the added epsilon, before the bias correction.
    * weight decay: the decoupled base mechanism (the official ``weight_decouple=True`` default,
      scaled by the learning rate unless ``weight_decay_scaling="none"``, the official
      ``fixed_decay=True``); TFA added ``weight_decay * w`` to the update instead.

    Args:
        learning_rate: float >= 0, schedule or callable. Default 0.001.
        beta_1, beta_2: floats in [0, 1). Defaults 0.9, 0.999.
        epsilon: float >= 0. Default 1e-14.
        amsgrad: bool. Default False.
        rectify: bool, RAdam's rectification. Default False.
        sma_threshold, degenerated_to_sgd: the rectification threshold (float >= 4, default 5.0) and
            whether to take an SGD step before it (default True); used with ``rectify=True``.
        total_steps, warmup_proportion, min_lr: TFA's warm-up/decay ramp (int >= 0, default 0 = off;
            float in [0, 1], default 0.1; float >= 0, default 0.0).
        **kwargs: the Keras base optimizer arguments.

    Example:
        >>> model.compile(optimizer="zoo_adabelief", ...)
        >>> keras_optim_zoo.ZooAdaBelief(1e-3, rectify=True)   # tfa.optimizers.AdaBelief's defaults
    """

    spec = OptimizerSpec(
        name="zoo_adabelief",
        summary='AdaBelief: Adam that scales its step by the belief in the observed gradient.',
        family="adam",
        paper='Zhuang, Tang, Ding, Tatikonda, Dvornek, Papademetris & Duncan, "AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed Gradients", NeurIPS 2020, arXiv:2010.07468 (Algorithm 2)',
    )

    _config_keys = RectifiedFamily._config_keys + ("rectify",)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-14, amsgrad=False,
                 rectify=False, sma_threshold=5.0, degenerated_to_sgd=True, total_steps=0,
                 warmup_proportion=0.1, min_lr=0.0, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, sma_threshold, degenerated_to_sgd,
                         total_steps, warmup_proportion, min_lr, **kwargs)
        self.rectify = checks.boolean("rectify", rectify)

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        step = context.step(variable.dtype)
        m = ema(slots["momentum"], gradient, self.beta_1)
        s = ema(slots["velocity"], ops.square(ops.subtract(gradient, m)), self.beta_2, offset=self.epsilon)
        new = {"momentum": m, "velocity": s}
        s = self._second_moment_for_step(s, slots, new)
        m_hat = ops.divide(m, bias_correction(self.beta_1, step))
        s_hat = ops.divide(s, bias_correction(self.beta_2, step))
        direction = ops.divide(m_hat, ops.add(ops.sqrt(s_hat), self.epsilon))
        if self.rectify:
            direction = self._rectified(direction, m_hat, step)
        return ops.multiply(self._scheduled_learning_rate(learning_rate, step), direction), new
