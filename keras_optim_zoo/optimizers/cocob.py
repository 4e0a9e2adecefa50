"""COCOB-Backprop: learning-rate-free training by coin betting (Orabona & Tommasi)."""

import warnings

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.base import ZooOptimizer
from keras_optim_zoo.moments import const, constant_initializer
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooCOCOB(ZooOptimizer):
    """COCOB-Backprop: learning-rate-free training by coin betting.

    Each weight bets a fraction of the "wealth" it has won so far on the sign of the next negative
    gradient; no learning rate is needed. Update (element-wise, ``g`` the gradient, ``w_1`` the
    weight before the first step, ``tilde_w = w - w_1``)::

        L        <- max(L, |g|)                     maximum observed scale (starts at epsilon)
        G        <- G + |g|                         sum of absolute gradients
        reward   <- max(reward - g * tilde_w, 0)    wealth won (uses the old tilde_w)
        theta    <- theta + g                       sum of gradients
        tilde_w' = -theta / (L * max(G + L, alpha * L)) * (reward + L)
        w        <- w + (tilde_w' - tilde_w);  tilde_w <- tilde_w'

    Reference: Orabona & Tommasi, "Training Deep Networks without Learning Rates Through Coin
    Betting", NeurIPS 2017, arXiv:1705.07795 (Algorithm 2, COCOB-Backprop; the paper writes it
    with the *negative* gradient, hence the signs above).

    Conventions, and the difference from the paper and from TFA:

    * **No learning rate.** ``learning_rate`` is accepted for API compatibility only (Keras's
      ``fit``, callbacks and the zoo's tests pass one): it does not enter the step. Its default is
      1.0, and any other value (or a schedule) gives a ``UserWarning``. The one place it still acts
      is the base's decoupled ``weight_decay`` under ``weight_decay_scaling="learning_rate"``
      (``w <- w - lr * wd * w``: with the default 1.0 that is ``w <- w - wd * w``). optax's
      ``cocob`` multiplies the update by a learning rate instead; the paper and TFA have none.
    * **L starts at ``epsilon``** (default 1e-8, as TFA's hard-coded value and optax's ``eps``);
      the paper starts at 0, which divides 0 by 0 for a weight whose gradients so far are all zero.
      Once ``|g| > epsilon`` has been seen the two agree exactly.
    * **``alpha >= 1``** (TFA's check; any ``alpha <= 1`` acts as 1 since ``G + L >= L``). The
      default 100 is the paper's: the first steps move each weight by about ``1 / alpha`` of the
      scale that ``theta / L`` suggests, so early progress is slow by design.
    * **Incremental weight update** ``w + (tilde_w' - tilde_w)`` (TFA: ``w - tilde_w + tilde_w'``;
      the paper: ``w_1 + tilde_w'``): all equal in exact arithmetic; this form leaves a weight
      exactly unchanged when its gradient is zero, so the sparse (lazy) path equals the dense one,
      and composes with weight decay (applied to ``w``, not to ``tilde_w``) as TFA did.
    * **Sparse gradients** update only the touched rows (exactly the dense result, see above; TFA
      raised ``NotImplementedError``). Repeated indices are summed first.

    State per variable (all shaped like it): ``gradients_sum`` (theta), ``grad_norm_sum`` (G),
    ``tilde_w``, ``scale`` (L; TFA's slot ``"lr"``) and ``reward``: five times the variable's size.

    Relation to ``tfa.optimizers.COCOB(alpha=100, use_locking=False)``: same ``alpha``;
    ``use_locking`` is not needed and not accepted; same results (dense gradients).

    Args:
        learning_rate: ignored by the step (see above); float >= 0, schedule or callable.
            Default 1.0.
        alpha: float >= 1. Default 100.
        epsilon: float > 0, the initial value of ``L``. Default 1e-8.
        **kwargs: the Keras base optimizer arguments.

    Example:
        >>> model.compile(optimizer=keras_optim_zoo.ZooCOCOB(), loss="mse")
        >>> model.compile(optimizer="zoo_cocob", loss="mse")
    """

    spec = OptimizerSpec(
        name="zoo_cocob",
        summary='COCOB-Backprop: learning-rate-free training by coin betting.',
        family="learning-rate-free",
        paper='Orabona & Tommasi, "Training Deep Networks without Learning Rates Through Coin Betting", NeurIPS 2017, arXiv:1705.07795 (Algorithm 2, COCOB-Backprop',
    )

    _full_precision_slots = ("tilde_w",)  # kept in the variable's dtype (state_dtype)
    _config_keys = ("alpha", "epsilon")

    def __init__(self, learning_rate=1.0, alpha=100.0, epsilon=1e-8, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.alpha = checks.in_range("alpha", alpha, 1.0, float("inf"))
        self.epsilon = checks.in_range("epsilon", epsilon, 0.0, float("inf"), low_open=True)
        rate = kwargs.get("lr", learning_rate)
        if rate != 1.0:  # a number other than the default, or a schedule
            warnings.warn(
                f"ZooCOCOB is learning-rate free: learning_rate={rate!r} does not change its step "
                "(it only scales weight_decay when weight_decay_scaling='learning_rate').",
                UserWarning,
                stacklevel=2,
            )

    def _slot_specs(self):
        return [
            ("gradients_sum", "zeros"),
            ("grad_norm_sum", "zeros"),
            ("tilde_w", "zeros"),
            ("scale", constant_initializer(self.epsilon)),
            ("reward", "zeros"),
        ]

    def _lazy_sparse(self):
        # A zero gradient leaves L, G, reward and theta unchanged, hence tilde_w' == tilde_w exactly.
        return True

    def _step_kind(self):
        return "new_value"  # COCOB's weights are a closed form of its sums (the reward-weighted bet from the start point)

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        del learning_rate  # learning-rate free
        dtype = variable.dtype
        magnitude = ops.abs(gradient)
        scale = ops.maximum(slots["scale"], magnitude)
        grad_norm_sum = ops.add(slots["grad_norm_sum"], magnitude)
        reward = ops.maximum(ops.subtract(slots["reward"], ops.multiply(gradient, slots["tilde_w"])), 0)
        gradients_sum = ops.add(slots["gradients_sum"], gradient)
        denominator = ops.multiply(
            scale, ops.maximum(ops.add(grad_norm_sum, scale), ops.multiply(const(self.alpha, dtype), scale))
        )
        tilde_w = ops.multiply(ops.divide(ops.negative(gradients_sum), denominator), ops.add(reward, scale))
        new_variable = ops.add(variable, ops.subtract(tilde_w, slots["tilde_w"]))
        return new_variable, {
            "gradients_sum": gradients_sum,
            "grad_norm_sum": grad_norm_sum,
            "tilde_w": tilde_w,
            "scale": scale,
            "reward": reward,
        }
