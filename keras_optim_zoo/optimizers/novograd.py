"""NovoGrad: momentum on gradients normalized by a layer-wise (per-variable) second moment."""

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.base import ZooOptimizer
from keras_optim_zoo.moments import const, constant_initializer, weighted_average
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooNovoGrad(ZooOptimizer):
    """NovoGrad: momentum on gradients normalized by a layer-wise second moment.

    One scalar second moment ``v`` per variable (the "layer") instead of one per weight, so the
    state is the momentum plus a scalar: half of Adam's memory. Update (``g`` gradient of the
    variable ``w``, ``lr`` learning rate, ``wd`` weight_decay, ``||.||`` the Euclidean norm
    over the whole variable)::

        v  <- ||g||^2                                  first step (v == 0, see below)
        v  <- beta_2 * v + (1 - beta_2) * ||g||^2      later steps
        v_hat <- max(v_hat, v); use v_hat below        (amsgrad=True)
        d  = g / (sqrt(v) + epsilon) + wd * w          normalized gradient + weight decay
        d  <- (1 - beta_1) * d                         (grad_averaging=True, not on the first step)
        m  <- beta_1 * m + d
        w  <- w - lr * m

    Reference: Ginsburg, Castonguay, Hrinchuk, Kuchaiev, Lavrukhin, Leary, Li, Nguyen, Zhang &
    Cohen, "Stochastic Gradient Methods with Layer-wise Adaptive Moments for Training of Deep
    Networks" (later "Training Deep Networks with Stochastic Gradient Normalized by Layerwise
    Adaptive Second Moments"), 2019, arXiv:1905.11286 (Algorithm 1).

    Conventions that differ between implementations:

    * **First step.** ``v`` starts at ``||g_1||^2`` (the paper's initialisation, TFA, NVIDIA's
      code), not at ``(1 - beta_2) ||g_1||^2``; with ``grad_averaging`` the first ``d`` is not
      multiplied by ``1 - beta_1`` (paper's ``m_1``, TFA). The first step is detected per variable
      by ``v == 0`` (as NVIDIA's OpenSeq2Seq code does) rather than by the global step
      (``iterations == 0``, TFA): they agree unless a variable's first gradients are exactly zero,
      in which case TFA would start ``v`` at ``(1 - beta_2) ||g||^2`` later and take a step about
      ``1 / sqrt(1 - beta_2)`` times too large, while here ``v`` starts at the first non-zero
      gradient.
    * **Epsilon** outside the square root (TFA; NVIDIA's code adds it inside).
    * **Learning rate outside the momentum** (``w <- w - lr * m``: the paper and NVIDIA's
      ``MomentumOptimizer``-based code); TFA applies Keras momentum, ``m <- beta_1 m - lr d;
      w <- w + m``. The two agree while the learning rate is constant.
    * **No bias correction** (paper, TFA).
    * **Weight decay** is NovoGrad's own: ``wd * w`` is added to the *normalized* gradient and
      goes through the momentum (paper, TFA). It is therefore not the zoo's decoupled
      ``weight_decay``: the base's decay step is switched off, ``weight_decay`` is stored and
      returned by ``get_config`` as usual, ``exclude_from_weight_decay`` is honoured (an excluded
      variable gets ``wd = 0``), and ``weight_decay_scaling="none"`` is rejected (the term is
      always scaled by the learning rate, through ``m``). The per-variable coefficient is kept as
      a scalar slot ``"weight_decay"`` (only when ``weight_decay > 0``).
    * **amsgrad** keeps the running maximum of the scalar ``v`` (TFA stored it in a slot shaped
      like the variable, holding the same scalar everywhere).
    * **Sparse gradients** are made dense: ``||g||`` is over the whole variable and every row's
      momentum moves (TFA's sparse path updated the momentum of the touched rows only).

    State per variable: ``momentum`` (shaped like the variable), ``velocity`` (a scalar: ``v``),
    ``velocity_hat`` (scalar, amsgrad only), ``weight_decay`` (scalar, ``weight_decay > 0`` only);
    the scalars are float32 for 16-bit variables. ``get_slot(variable, "velocity")`` reads ``v``.

    Relation to ``tfa.optimizers.NovoGrad``: same arguments and defaults (``learning_rate=0.001,
    beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.0, grad_averaging=False,
    amsgrad=False``); same results while the learning rate is constant and first gradients are
    non-zero.

    Args:
        learning_rate: float >= 0, schedule or callable. Default 0.001.
        beta_1: float in [0, 1), the momentum. Default 0.9.
        beta_2: float in [0, 1), the decay of the layer-wise second moment. Default 0.999.
        epsilon: float >= 0 (``None``: Keras 2 spelling of 1e-7). Default 1e-7.
        weight_decay: float >= 0 (``None`` means 0). Default 0.
        grad_averaging: bool, average (``1 - beta_1``) the normalized gradients into ``m``.
        amsgrad: bool, normalize by the running maximum of ``v``.
        **kwargs: the Keras base optimizer arguments (``weight_decay_scaling`` only
            ``"learning_rate"``).

    Example:
        >>> optimizer = keras_optim_zoo.ZooNovoGrad(learning_rate=0.01, beta_1=0.95, beta_2=0.98,
        ...                                         weight_decay=0.001, grad_averaging=True)
        >>> optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
        >>> model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    """

    spec = OptimizerSpec(
        name="zoo_novograd",
        summary='NovoGrad: momentum on gradients normalized by a layer-wise second moment.',
        family="layer-wise",
        paper='Ginsburg, Castonguay, Hrinchuk, Kuchaiev, Lavrukhin, Leary, Li, Nguyen, Zhang & Cohen, "Stochastic Gradient Methods with Layer-wise Adaptive Moments for Training of Deep Networks" (later "Training Deep Networks with Stochastic Gradient Normalized by Layerwise Adaptive Second Moments"), 2019, arXiv:1905.11286 (Algorithm 1)',
    )

    _config_keys = ("beta_1", "beta_2", "epsilon", "grad_averaging", "amsgrad")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.0,
                 grad_averaging=False, amsgrad=False, **kwargs):
        if kwargs.get("weight_decay_scaling", "learning_rate") == "none":
            raise ValueError(
                "ZooNovoGrad does not support weight_decay_scaling='none': NovoGrad's `weight_decay` "
                "is part of its normalized gradient and reaches the weights through the momentum, "
                "scaled by the learning rate. Use weight_decay_scaling='learning_rate' (default)."
            )
        weight_decay = 0.0 if weight_decay is None else checks.non_negative("weight_decay", weight_decay)
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.beta_1 = checks.beta("beta_1", beta_1)
        self.beta_2 = checks.beta("beta_2", beta_2)
        self.epsilon = self._epsilon(epsilon)
        self.grad_averaging = checks.boolean("grad_averaging", grad_averaging)
        self.amsgrad = checks.boolean("amsgrad", amsgrad)

    def _decoupled_decay(self):
        # NovoGrad's weight decay is applied inside `_update` (through the momentum), not as the
        # base's decoupled decay step.
        return False

    def _slot_specs(self):
        specs = [("momentum", "zeros"), ("velocity", "zeros", ())]
        if self.amsgrad:
            specs.append(("velocity_hat", "zeros", ()))
        if self.weight_decay:
            specs.append(("weight_decay", constant_initializer(self.weight_decay), ()))
        return specs

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        if self.weight_decay:
            for variable, coefficient in zip(var_list, self._slots["weight_decay"]):
                if coefficient is not None and not self._use_weight_decay(variable):
                    coefficient.assign(ops.zeros((), coefficient.dtype))

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        dtype = variable.dtype
        beta_1 = const(self.beta_1, dtype)
        squared_norm = ops.sum(ops.square(gradient))
        first = ops.equal(slots["velocity"], 0)
        v = ops.where(first, squared_norm, weighted_average(slots["velocity"], squared_norm, const(self.beta_2, dtype)))
        new = {"velocity": v}
        if self.amsgrad:
            v = new["velocity_hat"] = ops.maximum(slots["velocity_hat"], v)
        direction = ops.divide(gradient, ops.add(ops.sqrt(v), const(self.epsilon, dtype)))
        if self.weight_decay:
            direction = ops.add(direction, ops.multiply(slots["weight_decay"], variable))
        if self.grad_averaging:
            direction = ops.where(first, direction, ops.multiply(1 - beta_1, direction))
        m = new["momentum"] = ops.add(ops.multiply(beta_1, slots["momentum"]), direction)
        return ops.multiply(learning_rate, m), new
