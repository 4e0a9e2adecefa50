"""Conditional gradient (Frank-Wolfe) with a Frobenius- or nuclear-norm ball constraint per variable."""

import keras
import numpy as np
from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.base import ZooOptimizer
from keras_optim_zoo.moments import const
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec

NORMS = ("fro", "nuclear")


def frobenius_direction(gradient, epsilon):
    """``g / (||g||_F + epsilon)``: the Frobenius-ball vertex direction (norm < 1)."""
    return ops.divide(gradient, ops.add(ops.sqrt(ops.sum(ops.square(gradient))), epsilon))


def nuclear_direction(gradient):
    """``u_1 v_1^T`` of the gradient (as a matrix), the nuclear-ball vertex direction; 0 if g ~ 0.

    A variable of rank 0 or 1 is a ``1 x n`` matrix (then ``u_1 v_1^T = g / ||g||``); one of rank
    >= 3 is reshaped to ``(prod(shape[:-1]), shape[-1])``.
    """
    shape = tuple(gradient.shape)
    if any(dim == 0 for dim in shape):
        return gradient
    columns = shape[-1] if shape else 1
    matrix = ops.reshape(gradient, (-1, columns) if len(shape) >= 2 else (1, columns))
    u, s, vh = ops.svd(matrix, full_matrices=False)
    direction = ops.matmul(u[:, :1], vh[:1, :])
    # The SVD of a zero matrix returns arbitrary unit vectors: any point of the ball minimises
    # <0, s>; take s = 0, as the Frobenius form does. "Zero" includes subnormal gradients, which
    # TensorFlow's CPU kernels flush to zero anyway (so the result does not depend on the kernel).
    tiny = const(float(np.finfo(keras.backend.standardize_dtype(gradient.dtype)).tiny), gradient.dtype)
    direction = ops.where(s[0] >= tiny, direction, ops.zeros_like(direction))
    return ops.reshape(direction, shape)


@register
class ZooConditionalGradient(ZooOptimizer):
    """Conditional gradient (Frank-Wolfe) with a Frobenius- or nuclear-norm ball per variable.

    Each variable ``w`` is constrained to the ball ``||w|| <= lambda_``. A step moves towards the
    ball's point that minimises the linearised loss (the linear minimisation oracle, LMO)::

        ord="fro":      s = -lambda_ * g / (||g||_F + epsilon)
        ord="nuclear":  s = -lambda_ * u_1 v_1^T        (top singular pair of g; s = 0 if g = 0,
                                                          or if sigma_1 is subnormal)
        w <- (1 - lr) * w + lr * s  =  (1 - lr) * w - lr * lambda_ * g / (||g||_F + epsilon)

    The norm is over the whole variable (not per row). For ``0 <= lr <= 1`` the step is a convex
    combination of ``w`` and a point of the ball, so a variable that starts inside the ball stays
    inside it (``tests/test_proximal_and_constrained.py`` checks this); a variable that starts outside is pulled
    in geometrically. With a constant ``lr`` the iterates keep moving by about ``lr * lambda_``
    around a minimiser inside the ball; use a decaying rate (Frank-Wolfe's classical
    ``2 / (t + 2)`` is ``keras.optimizers.schedules.InverseTimeDecay(1.0, 2, 1.0)``) to converge.

    References: Frank & Wolfe, "An algorithm for quadratic programming", Naval Research Logistics
    Quarterly 3 (1956); Jaggi, "Revisiting Frank-Wolfe: Projection-Free Sparse Convex
    Optimization", ICML 2013 (norm-ball LMOs); Lacoste-Julien, "Convergence Rate of Frank-Wolfe for
    Non-Convex Objectives", 2016, arXiv:1607.00345; TFA cites Ravi, Dinh, Lokhande & Singh,
    "Constrained Deep Learning using Conditional Gradient and Applications in Computer Vision",
    2018, arXiv:1803.06453.

    Conventions, and the difference from TFA:

    * **The learning rate is the Frank-Wolfe step size** ``gamma`` (larger = bigger step, 0 = no
      move), so schedules and ``ReduceLROnPlateau`` behave as with any optimizer. TensorFlow
      Addons' ``ConditionalGradient`` computes ``w <- lr * w - (1 - lr) * lambda_ * s_dir``: its
      ``learning_rate`` is ``1 - gamma``. TFA's results are
      ``ZooConditionalGradient(learning_rate=1 - tfa_learning_rate, ...)``. A numeric
      ``learning_rate`` must be in [0, 1] (a schedule should stay there too).
    * ``epsilon`` guards ``||g||_F = 0`` (Frobenius only, as TFA); the nuclear direction of a zero
      gradient is 0 (TFA: an arbitrary unit-rank matrix from the SVD).
    * **Nuclear norm** costs a full SVD of every variable at every step (``keras.ops.svd``,
      ``O(m n min(m, n))``): fine for small layers, slow for large ones. Tensors of rank >= 3 are
      flattened to ``(prod(shape[:-1]), shape[-1])`` (TFA's reshaping only handled ranks 0-2).
      XLA's SVD is a different, iterative algorithm, far slower on CPU (measured: a 256 x 256
      matrix ~19 s vs ~12 ms without XLA) and accurate only to ~1e-9 in float64, so the nuclear
      norm never takes the zoo's fused (XLA) path (``_fusable()`` is False); avoid
      ``model.compile(jit_compile=True)`` with it on large layers.
    * **Sparse gradients** are made dense: every row moves by ``(1 - lr) w`` (TFA's sparse path
      updated only the touched rows).

    Relation to ``tfa.optimizers.ConditionalGradient(learning_rate, lambda_=0.01, epsilon=1e-7,
    ord="fro")``: same argument names and ``lambda_``/``epsilon``/``ord`` defaults; TFA had no
    default learning rate, here it is 0.01; see the first point for its meaning.

    Args:
        learning_rate: float in [0, 1], schedule or callable (the Frank-Wolfe step size).
            Default 0.01.
        lambda_: float >= 0, the radius of the norm ball. Default 0.01.
        epsilon: float >= 0 (``None``: Keras 2 spelling of 1e-7). Default 1e-7.
        ord: ``"fro"`` (Frobenius norm, default) or ``"nuclear"`` (nuclear norm).
        **kwargs: the Keras base optimizer arguments.

    Example:
        >>> schedule = keras.optimizers.schedules.InverseTimeDecay(1.0, 2, 1.0)  # 2 / (t + 2)
        >>> optimizer = keras_optim_zoo.ZooConditionalGradient(learning_rate=schedule, lambda_=5.0)
        >>> model.compile(optimizer=optimizer, loss="mse")
    """

    spec = OptimizerSpec(
        name="zoo_conditional_gradient",
        summary='Conditional gradient (Frank-Wolfe) with a Frobenius- or nuclear-norm ball per variable.',
        family="projection-free",
        paper='Frank & Wolfe, "An algorithm for quadratic programming", Naval Research Logistics Quarterly 3 (1956)',
    )

    _config_keys = ("lambda_", "epsilon", "ord")

    def __init__(self, learning_rate=0.01, lambda_=0.01, epsilon=1e-7, ord="fro", **kwargs):
        rate = kwargs.get("lr", learning_rate)
        super().__init__(learning_rate, **kwargs)
        if not (isinstance(rate, keras.optimizers.schedules.LearningRateSchedule) or callable(rate)):
            checks.in_range("learning_rate", rate, 0.0, 1.0)
        self.lambda_ = checks.non_negative("lambda_", lambda_)
        self.epsilon = self._epsilon(epsilon)
        self.ord = checks.one_of("ord", ord, NORMS)

    def _fusable(self):
        # XLA's SVD is another algorithm (iterative Jacobi): slow on CPU, ~1e-9 in float64.
        return self.ord != "nuclear"

    def _step_kind(self):
        return "new_value"  # the Frank-Wolfe step is the interpolation (1 - lr) w - lr s

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        dtype = variable.dtype
        if self.ord == "fro":
            direction = frobenius_direction(gradient, const(self.epsilon, dtype))
        else:
            direction = nuclear_direction(gradient)
        step = ops.multiply(ops.multiply(learning_rate, const(self.lambda_, dtype)), direction)
        return ops.subtract(ops.multiply(1 - learning_rate, variable), step), {}

