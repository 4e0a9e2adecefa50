"""AdaBound and AMSBound: Adam whose per-coordinate step size is clipped to bounds converging to SGD's."""

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.moments import adam_step_size, const, dynamic_bounds
from keras_optim_zoo.families.adam import AdamFamily
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooAdaBound(AdamFamily):
    """AdaBound: Adam with each coordinate's step size clipped to bounds that converge to SGD's rate.

    Update (``g`` gradient, ``lr`` learning rate of the step, ``t`` the 1-based step)::

        m <- m + (g - m) * (1 - beta_1)
        v <- v + (g^2 - v) * (1 - beta_2)
        amsbound:  v_hat <- max(v_hat, v) ; v = v_hat
        alpha   = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        final   = final_lr * lr / base_learning_rate
        lower   = final * (1 - 1 / (gamma * t + 1))
        upper   = final * (1 + 1 / (gamma * t))
        eta     = clip(alpha / (sqrt(v) + epsilon), lower, upper)       (per coordinate)
        w <- w - eta * m

    Early on the bounds are loose (``[0, inf)`` at t = 0) and the step is Adam's; as ``t`` grows
    both bounds tighten around ``final`` and the step becomes SGD with momentum at rate ``final``
    (``1 / gamma`` steps set the time scale of the transition).

    Reference: Luo, Xiong, Liu & Sun, "Adaptive Gradient Methods with Dynamic Bound of Learning
    Rate", ICLR 2019, arXiv:1902.09843 (Algorithm 2 AdaBound, Algorithm 3 AMSBound); official code
    github.com/Luolc/AdaBound ``adabound.py``, followed operation for operation with its defaults
    (lr 1e-3, betas (0.9, 0.999), final_lr 0.1, gamma 1e-3, eps 1e-8).

    Conventions and differences:

    * **epsilon** is added outside the square root of the *raw* ``v`` and the bias corrections are
      folded into ``alpha`` (the official code, and Keras's Adam "epsilon hat"); the epsilon
      default is the official 1e-8, not Keras's 1e-7. AMSBound's maximum is over the raw ``v``.
    * **final_lr follows the learning rate.** The official code scales ``final_lr`` by
      ``lr / base_lr`` (``base_lr`` the rate the optimizer was built with) so that a torch
      scheduler decays the bounds too. Here ``base_learning_rate`` defaults to the learning rate of
      the first step as the optimizer is built: the float given, ``schedule(0)`` for a
      ``LearningRateSchedule`` (so the bounds follow ``final_lr * schedule(t) / schedule(0)``), the
      value of a callable. Keras 2 ``decay``, a schedule or an assigned ``optimizer.learning_rate``
      (``ReduceLROnPlateau``) all scale the bounds, as in torch. It is stored in ``get_config()``
      (the resolved number), so a reloaded optimizer keeps the original reference. A schedule that
      starts at 0 (linear warm-up) gives no usable ratio: pass ``base_learning_rate`` (e.g. the
      peak rate); with a reference of 0 the bounds use ``final_lr`` unscaled.
    * **weight decay** is the zoo's decoupled ``weight_decay`` (before the step, scaled by the
      learning rate by default). ``weight_decay_scaling="none"`` is the official ``AdaBoundW``
      (``w <- w - wd * w``, not scaled). The official ``AdaBound(weight_decay=...)`` is an L2
      penalty added to the gradient: add ``wd / 2 * ||w||^2`` to the loss for that.
    * ``cautious=True`` masks the step ``eta * m`` (Liang et al. 2024, see ``moments.cautious``).
    * Sparse gradients are made dense (every row's moments decay), as the official code (which
      rejects them) would need.

    Args:
        learning_rate: float >= 0, schedule or callable (Adam's rate). Default 0.001.
        beta_1, beta_2: floats in [0, 1). Defaults 0.9, 0.999.
        epsilon: float >= 0. Default 1e-8.
        final_lr: float >= 0, the SGD rate both bounds converge to (for the reference rate).
            Default 0.1.
        gamma: float in (0, 1), the convergence speed of the bounds. Default 1e-3.
        amsbound: bool, AMSBound (running maximum of ``v``). Default False.
        base_learning_rate: ``None`` or float >= 0: the rate at which ``final_lr`` applies
            unscaled (see above). Default None (the initial learning rate).
        **kwargs: the Keras base optimizer arguments (``weight_decay``, ...), ``cautious``, ...

    Example:
        >>> optimizer = keras_optim_zoo.ZooAdaBound(learning_rate=1e-3, final_lr=0.1)
        >>> model.compile(optimizer=optimizer, ...)        # or optimizer="zoo_adabound"
        >>> keras_optim_zoo.ZooAdaBound(amsbound=True)    # AMSBound
    """

    spec = OptimizerSpec(
        name="zoo_adabound",
        summary="AdaBound: Adam with each coordinate's step size clipped to bounds that converge to SGD's rate.",
        family="adam",
        paper='Luo, Xiong, Liu & Sun, "Adaptive Gradient Methods with Dynamic Bound of Learning Rate", ICLR 2019, arXiv:1902.09843 (Algorithm 2 AdaBound, Algorithm 3 AMSBound)',
    )

    _config_keys = AdamFamily._config_keys + ("final_lr", "gamma", "amsbound", "base_learning_rate")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8, final_lr=0.1, gamma=1e-3,
                 amsbound=False, base_learning_rate=None, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        self.final_lr = checks.non_negative("final_lr", final_lr)
        self.gamma = checks.in_range("gamma", gamma, 0.0, 1.0, low_open=True, high_open=True)
        self.amsbound = checks.boolean("amsbound", amsbound)
        if base_learning_rate is None:
            # The rate Keras computes for the first step (a float32 value, as every step's rate).
            base_learning_rate = float(ops.convert_to_numpy(self.current_learning_rate))
        self.base_learning_rate = checks.non_negative("base_learning_rate", base_learning_rate)

    def _slot_specs(self):
        return super()._slot_specs() + ([("velocity_hat", "zeros")] if self.amsbound else [])

    def _final_lr(self, learning_rate):
        """``final_lr * lr / base_learning_rate`` (``final_lr`` if the reference rate is 0)."""
        if self.base_learning_rate == 0:
            return const(self.final_lr, learning_rate.dtype)
        return ops.divide(ops.multiply(learning_rate, self.final_lr), self.base_learning_rate)

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        step = context.step(variable.dtype)
        alpha = adam_step_size(learning_rate, self.beta_1, self.beta_2, step)
        m, v = self._moments(gradient, slots)
        new = {"momentum": m, "velocity": v}
        if self.amsbound:
            v = new["velocity_hat"] = ops.maximum(slots["velocity_hat"], v)
        lower, upper = dynamic_bounds(self._final_lr(learning_rate), self.gamma, step)
        eta = ops.divide(alpha, ops.add(ops.sqrt(v), self.epsilon))
        eta = ops.minimum(ops.maximum(eta, lower), upper)  # torch's clamp_(lower, upper)
        return ops.multiply(eta, m), new
