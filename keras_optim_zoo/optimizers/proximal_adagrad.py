"""Proximal Adagrad: Adagrad step sizes with an L1/L2 proximal (FOBOS) step, as TensorFlow's kernel."""

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.base import ZooOptimizer
from keras_optim_zoo.moments import const, constant_initializer
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooProximalAdagrad(ZooOptimizer):
    """Proximal Adagrad: Adagrad step sizes followed by an L1/L2 proximal (FOBOS) step.

    Update (``g`` gradient, ``lr`` learning rate, ``l1``/``l2`` the regularization strengths;
    element-wise)::

        acc  <- acc + g^2                       (acc starts at initial_accumulator_value)
        lr_t  = lr / sqrt(acc)
        p     = w - lr_t * g                    (the Adagrad step)
        w    <- sign(p) * max(|p| - lr_t * l1, 0) / (1 + lr_t * l2)

    The last line is the proximal operator of ``lr_t * (l1 * |w| + l2 / 2 * w^2)``: soft
    thresholding by ``lr_t * l1`` (exact zeros: sparse weights), then shrinking by
    ``1 / (1 + lr_t * l2)``. With ``l1 = l2 = 0`` it is Adagrad without epsilon.

    References: Duchi & Singer, "Efficient Online and Batch Learning Using Forward Backward
    Splitting" (FOBOS), JMLR 10 (2009) / NeurIPS 2009; Duchi, Hazan & Singer, "Adaptive
    Subgradient Methods for Online Learning and Stochastic Optimization", JMLR 12 (2011) for the
    Adagrad step sizes (composite-mirror-descent form); Xiao, "Dual Averaging Methods for
    Regularized Stochastic Learning and Online Optimization", JMLR 11 (2010). The equations are
    TensorFlow's ``ApplyProximalAdagrad`` kernel (``tf.raw_ops.ResourceApplyProximalAdagrad``,
    used by ``tf.compat.v1.train.ProximalAdagradOptimizer`` and ``tfa.optimizers.ProximalAdagrad``);
    ``tests/test_proximal_and_constrained.py`` checks the two agree in float64.

    Conventions:

    * no epsilon: ``initial_accumulator_value`` must be > 0 (as in TF 1's optimizer; TFA accepted
      0, which gives NaN for a weight whose first gradients are zero);
    * the regularization acts through the proximal step only (it is not in the gradient, not in
      the accumulator);
    * **sparse gradients are lazy** (TF's ``SparseApplyProximalAdagrad`` kernel): only the touched
      rows take the step, accumulator and proximal shrinkage included. With ``l1 = l2 = 0`` this is
      exactly the dense result (a zero gradient changes nothing); with ``l1 > 0`` or ``l2 > 0`` a
      dense zero gradient still shrinks a row, a sparse gradient leaves untouched rows as they are.
      Repeated indices are summed first (the TF kernel applies them one after the other).

    Relation to ``tfa.optimizers.ProximalAdagrad``: same arguments and defaults
    (``learning_rate=0.001, initial_accumulator_value=0.1, l1_regularization_strength=0.0,
    l2_regularization_strength=0.0``), same results (dense and sparse with unique indices).

    Args:
        learning_rate: float >= 0, schedule or callable. Default 0.001.
        initial_accumulator_value: float > 0. Default 0.1.
        l1_regularization_strength: float >= 0. Default 0.
        l2_regularization_strength: float >= 0. Default 0.
        **kwargs: the Keras base optimizer arguments.

    Example:
        >>> optimizer = keras_optim_zoo.ZooProximalAdagrad(
        ...     learning_rate=0.1, l1_regularization_strength=1e-3, l2_regularization_strength=1e-4)
        >>> model.compile(optimizer=optimizer, loss="binary_crossentropy")  # sparse linear model
    """

    spec = OptimizerSpec(
        name="zoo_proximal_adagrad",
        summary='Proximal Adagrad: Adagrad step sizes followed by an L1/L2 proximal (FOBOS) step.',
        family="proximal",
        paper='Duchi & Singer, "Efficient Online and Batch Learning Using Forward Backward Splitting" (FOBOS), JMLR 10 (2009) / NeurIPS 2009',
        sparse="lazy",
    )

    _config_keys = ("initial_accumulator_value", "l1_regularization_strength", "l2_regularization_strength")

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, l1_regularization_strength=0.0,
                 l2_regularization_strength=0.0, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = checks.in_range(
            "initial_accumulator_value", initial_accumulator_value, 0.0, float("inf"), low_open=True
        )
        self.l1_regularization_strength = checks.non_negative("l1_regularization_strength", l1_regularization_strength)
        self.l2_regularization_strength = checks.non_negative("l2_regularization_strength", l2_regularization_strength)

    def _slot_specs(self):
        return [("accumulator", constant_initializer(self.initial_accumulator_value))]

    def _lazy_sparse(self):
        # Exact (equal to the dense result) for l1 = l2 = 0; otherwise TF's sparse-kernel semantics.
        return True

    def _step_kind(self):
        return "new_value"  # the proximal step is a closed form for the new weights

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        dtype = variable.dtype
        accumulator = ops.add(slots["accumulator"], ops.square(gradient))
        step_size = ops.divide(learning_rate, ops.sqrt(accumulator))
        proximal = ops.subtract(variable, ops.multiply(step_size, gradient))
        threshold = ops.multiply(step_size, const(self.l1_regularization_strength, dtype))
        shrunk = ops.multiply(ops.sign(proximal), ops.maximum(ops.subtract(ops.abs(proximal), threshold), 0))
        scale = ops.add(1, ops.multiply(step_size, const(self.l2_regularization_strength, dtype)))
        return ops.divide(shrunk, scale), {"accumulator": accumulator}
