"""LAMB: Adam with a layer-wise (per-variable) trust ratio, weight decay inside the ratio."""

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.moments import bias_correction, const, trust_ratio
from keras_optim_zoo.families.adam import AdamFamily
from keras_optim_zoo.families.per_variable import PerVariableChoices
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooLamb(PerVariableChoices, AdamFamily):
    """LAMB: layer-wise adaptive moments, Adam scaled per variable by the trust ratio ||w|| / ||u||.

    Update for each variable ``w`` (``g`` gradient, ``lr`` learning rate, ``t`` the 1-based step,
    ``wd`` weight_decay)::

        m <- m + (g - m) * (1 - beta_1)
        v <- v + (g^2 - v) * (1 - beta_2)
        r = (m / (1 - beta_1^t)) / (sqrt(v / (1 - beta_2^t)) + epsilon)
        u = r + wd * w                       (weight_decay_in_trust_ratio=True, default)
        ratio = ||w|| / ||u||                (1 if either norm is 0, or if w is excluded)
        w <- w - lr * ratio * u

    The norms are taken over the whole variable (a "layer" is one variable), so sparse gradients
    are made dense. With ``weight_decay_in_trust_ratio=False`` the decay is Keras's instead: the
    shared decoupled mechanism decays ``w <- w - lr * wd * w`` (or ``wd * w`` with
    ``weight_decay_scaling="none"``) before the step, and then ``u = r`` and the ratio is taken with
    the decayed ``w``.

    Reference: You, Li, Reddi, Hseu, Kumar, Bhojanapalli, Song, Demmel, Keutzer & Hsieh, "Large
    Batch Optimization for Deep Learning: Training BERT in 76 minutes", ICLR 2020, arXiv:1904.00962
    (Algorithm 2, with the scaling function phi the identity).

    Conventions, and where the implementations differ:

    * without weight decay this is ``keras.optimizers.Lamb`` operation for operation (bit-identical
      eagerly at the defaults; epsilon 1e-7 as Keras, TFA's ``LAMB`` used 1e-6) and reachable by
      name: ``"zoo_lamb"`` (Keras's string table has no ``"lamb"``);
    * with weight decay the default follows the paper and ``tfa.optimizers.LAMB``: ``wd * w`` is
      part of ``u`` *before* the trust ratio, so it is rescaled with the Adam step.
      ``keras.optimizers.Lamb(weight_decay=...)`` applies Keras's generic decay outside the ratio
      (``weight_decay_in_trust_ratio=False`` reproduces it exactly). The decay is then scaled by
      ``lr * ratio``, never by the raw coefficient, so ``weight_decay_scaling="none"`` is rejected
      in this mode;
    * ``exclude_from_layer_adaptation`` (TFA's name): regular expressions searched
      (``re.search``) in each variable's path (e.g. ``"sequential/dense/bias"``, which contains its
      name); matching variables take ``ratio = 1``. ``None`` (default) means, as in TFA, the
      variables excluded from weight decay (``optimizer.exclude_from_weight_decay(...)``);
      ``[]`` excludes nothing, as ``keras.optimizers.Lamb``. ``exclude_from_weight_decay`` is
      honoured in both modes;
    * bias correction applied to ``m`` and ``v`` separately and epsilon added after it (paper, TFA,
      Keras); ``||w||`` is not clamped (the widely copied PyTorch port ``pytorch-lamb`` clamps it to
      [0, 10] and drops the bias correction).

    Args:
        learning_rate: float >= 0, schedule or callable. Default 0.001.
        beta_1, beta_2: floats in [0, 1). Defaults 0.9, 0.999.
        epsilon: float >= 0. Default 1e-7.
        exclude_from_layer_adaptation: ``None``, a regular expression or a list of them. Default None.
        weight_decay_in_trust_ratio: bool. Default True (paper, TFA); False: Keras's placement.
        **kwargs: the Keras base optimizer arguments (``weight_decay``, ...).

    Example:
        >>> optimizer = keras_optim_zoo.ZooLamb(1e-3, weight_decay=0.01)
        >>> optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])  # BERT's recipe
        >>> model.compile(optimizer=optimizer, ...)
    """

    spec = OptimizerSpec(
        name="zoo_lamb",
        summary='LAMB: layer-wise adaptive moments, Adam scaled per variable by the trust ratio ||w|| / ||u||.',
        family="adam",
        paper='You, Li, Reddi, Hseu, Kumar, Bhojanapalli, Song, Demmel, Keutzer & Hsieh, "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes", ICLR 2020, arXiv:1904.00962 (Algorithm 2, with the scaling function phi the identity)',
        builtin="Lamb",
    )

    _config_keys = AdamFamily._config_keys + ("exclude_from_layer_adaptation", "weight_decay_in_trust_ratio")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 exclude_from_layer_adaptation=None, weight_decay_in_trust_ratio=True, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        self.exclude_from_layer_adaptation = checks.patterns("exclude_from_layer_adaptation", exclude_from_layer_adaptation)
        self.weight_decay_in_trust_ratio = checks.boolean("weight_decay_in_trust_ratio", weight_decay_in_trust_ratio)
        if self.weight_decay_in_trust_ratio and self.weight_decay_scaling == "none":
            raise ValueError(
                "`weight_decay_scaling='none'` cannot be combined with `weight_decay_in_trust_ratio=True`: "
                "inside the trust ratio the decay is always scaled by lr * ratio. Pass "
                "`weight_decay_in_trust_ratio=False` to decay by the raw coefficient before the step."
            )

    # ------------------------------------------------------------------ per-variable choices
    def _choices(self, variable):
        """``(decay inside the trust ratio, adapt)`` for ``variable``: Python decisions, per variable."""
        decays = self._use_weight_decay(self._keras_variable(variable))
        inside = bool(self.weight_decay) and self.weight_decay_in_trust_ratio and decays
        return inside, self._adapts(variable)

    def _decoupled_decay(self):
        return not self.weight_decay_in_trust_ratio  # else inside the trust ratio, in `_update`

    # ------------------------------------------------------------------ the step
    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        decay_inside, adapts = context.choices
        step = context.step(variable.dtype)
        m, v = self._moments(gradient, slots)
        # keras.optimizers.Lamb's operations, in its order.
        m_hat = ops.divide(m, bias_correction(self.beta_1, step))
        v_sqrt = ops.add(ops.sqrt(ops.divide(v, bias_correction(self.beta_2, step))), self.epsilon)
        update = ops.divide(m_hat, v_sqrt)
        if decay_inside:
            update = ops.add(update, ops.multiply(const(self.weight_decay, variable.dtype), variable))
        ratio = trust_ratio(variable, update) if adapts else 1.0
        return ratio * learning_rate * update, {"momentum": m, "velocity": v}
