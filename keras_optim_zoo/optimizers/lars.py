"""LARS: SGD with momentum and a layer-wise (per-variable) trust ratio."""

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.families.per_variable import PerVariableChoices
from keras_optim_zoo.moments import const, lars_trust_ratio
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooLARS(PerVariableChoices):
    """LARS: SGD with momentum whose step is scaled per variable by a layer-wise trust ratio.

    Update for each variable ``w`` (``g`` gradient, ``lr`` learning rate, ``wd`` weight_decay,
    ``eta`` trust coefficient, norms over the whole variable)::

        ratio = eta * ||w|| / (||g|| + wd * ||w|| + epsilon)    (1 if ||w|| = 0 or ||g|| = 0,
                                                                  or w excluded from adaptation)
        u = g + wd * w                                           (wd = 0 if w excluded from decay)
        v <- momentum * v + lr * ratio * u
        w <- w - v                                               (nesterov: w - (momentum * v + lr * ratio * u))

    Reference: You, Gitman & Ginsburg, "Large Batch Training of Convolutional Networks", 2017,
    arXiv:1708.03888, Algorithm 1 (``lambda = eta ||w|| / (||grad|| + beta ||w||)``, the local LR
    multiplies the decayed gradient inside the momentum).

    Conventions, and where implementations differ:

    * trust-ratio denominator: the paper's (and ``tf.contrib.opt.LARSOptimizer``'s)
      ``||g|| + wd ||w|| (+ epsilon)`` is used here; the SimCLR / tensorflow/models LARS
      (``classic_momentum=True``) and ``optax.lars`` use ``||g + wd w||`` instead (equal when
      ``wd = 0``, and the ratios differ by at most a factor 2 otherwise);
    * the learning rate and ratio are inside the velocity (paper, TF's ``MomentumOptimizer``-based
      implementations, optax's ``trace`` after ``scale_by_learning_rate``), so a learning-rate
      change acts on future steps only; ``momentum=0`` is plain layer-wise scaled SGD;
    * ratio 1 (not ``eta``) when ``||w||`` or ``||g||`` is 0, as tf.contrib / tensorflow/models /
      optax; epsilon defaults to 0 as in those three;
    * weight decay (the Keras ``weight_decay`` argument) is the paper's ``beta``: inside the trust
      ratio and added to the gradient, never Keras's separate decoupled step (so
      ``weight_decay_scaling="none"`` is rejected). ``optimizer.exclude_from_weight_decay(var_names=[...])``
      excludes variables from it (regular expressions searched in the variable name, e.g.
      ``["bias", "gamma", "beta"]``); ``exclude_from_layer_adaptation`` (regular expressions searched in
      the variable path) gives ratio 1; ``None`` (default) means the weight-decay exclusions, as in
      tensorflow/models and TFA's LAMB; ``[]`` adapts every variable;
    * sparse gradients are made dense (the norms are over the whole variable).

    Args:
        learning_rate: float >= 0, schedule or callable. Default 1.0 (the trust ratio brings
            steps down to about ``lr * eta`` relative to the weights).
        momentum: float in [0, 1]. Default 0.9.
        eta: trust coefficient, float >= 0. Default 0.001.
        epsilon: float >= 0, added to the ratio's denominator. Default 0.
        nesterov: bool. Default False.
        exclude_from_layer_adaptation: ``None``, a regular expression or a list of them. Default None.
        **kwargs: the Keras base optimizer arguments (``weight_decay``, ...).

    Example:
        >>> optimizer = keras_optim_zoo.ZooLARS(learning_rate=4.8, momentum=0.9, weight_decay=1e-6)
        >>> optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
        >>> model.compile(optimizer=optimizer, ...)   # or optimizer="zoo_lars"
    """

    spec = OptimizerSpec(
        name="zoo_lars",
        summary='LARS: SGD with momentum whose step is scaled per variable by a layer-wise trust ratio.',
        family="trust-ratio",
        paper='You, Gitman & Ginsburg, "Large Batch Training of Convolutional Networks", 2017, arXiv:1708.03888, Algorithm 1 (``lambda = eta ||w|| / (||grad|| + beta ||w||)``, the local LR multiplies the decayed gradient inside the momentum)',
    )

    _config_keys = ("momentum", "eta", "epsilon", "nesterov", "exclude_from_layer_adaptation")

    def __init__(self, learning_rate=1.0, momentum=0.9, eta=0.001, epsilon=0.0, nesterov=False,
                 exclude_from_layer_adaptation=None, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum = checks.in_range("momentum", momentum, 0.0, 1.0)
        self.eta = checks.non_negative("eta", eta)
        self.epsilon = checks.non_negative("epsilon", epsilon)
        self.nesterov = checks.boolean("nesterov", nesterov)
        self.exclude_from_layer_adaptation = checks.patterns("exclude_from_layer_adaptation", exclude_from_layer_adaptation)
        self._reject_unscaled_decay("ZooLARS", self.weight_decay_scaling)

    def _choices(self, variable):
        """``(decays, adapts)`` for ``variable``."""
        return self._decays(variable), self._adapts(variable)

    def _slot_specs(self):
        return [("momentum", "zeros")] if self.momentum else []

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        decays, adapts = context.choices
        dtype = variable.dtype
        wd = self.weight_decay if decays else 0.0
        update = ops.add(gradient, ops.multiply(const(wd, dtype), variable)) if decays else gradient
        if adapts:
            step = ops.multiply(learning_rate * lars_trust_ratio(variable, gradient, wd, self.eta, self.epsilon), update)
        else:
            step = ops.multiply(learning_rate, update)
        if not self.momentum:
            return step, {}
        v = ops.add(ops.multiply(slots["momentum"], const(self.momentum, dtype)), step)
        if self.nesterov:
            return ops.add(ops.multiply(v, const(self.momentum, dtype)), step), {"momentum": v}
        return v, {"momentum": v}
