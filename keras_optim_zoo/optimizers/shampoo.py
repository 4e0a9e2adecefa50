"""Shampoo: one Kronecker factor of the gradient's second moment per dim, with layer-wise grafting."""

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.moments import const, l2_norm
from keras_optim_zoo.preconditioning import (
    MatrixPreconditioned,
    all_finite,
    branch,
    eye_initializer,
    gram,
    inverse_pth_root,
    mode_products,
    preconditioned_dims,
)
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec

GRAFT_TYPES = ("sgd", "adagrad", "adagrad_normalized", "rmsprop", "rmsprop_normalized", "sqrt_n", "none")

#: ``_EPSILON`` of distributed_shampoo.py: keeps the grafting ratio and the normalized grafts finite.
_TINY = 1e-25


@register
class ZooShampoo(MatrixPreconditioned):
    """Shampoo: per-dim Kronecker-factored preconditioner, grafted to a diagonal method's step size.

    Gupta, Koren & Singer, "Shampoo: Preconditioned Stochastic Tensor Optimization", ICML 2018,
    arXiv:1802.09568 (Algorithm 2, order-k tensors), in the practical form of Anil, Gupta, Koren,
    Regan & Singer, "Scalable Second Order Optimization for Deep Learning", arXiv:2002.09018, and
    its reference code (google-research ``scalable_shampoo/optax/distributed_shampoo.py``,
    ``distributed_shampoo``; the version with ``relative_matrix_epsilon``, ``eigh`` and
    ``decoupled_weight_decay`` arguments). For a variable ``w`` with gradient ``g`` whose dims
    ``i in S`` get a matrix (``k = |S|``), at the 0-based step ``c`` (Keras ``iterations``)::

        L_i <- beta_2 L_i + (1 - beta_2) G_(i) G_(i)^T      (beta_2 = 1: L_i + G_(i) G_(i)^T)
              G_(i) G_(i)^T = tensordot(g, g) over every dim but i;  L_i starts at matrix_epsilon I
        every precondition_frequency steps (c % f == 0), from the L_i just updated:
            P_i = (L_i + ridge_i I)^(-1/(2k)),   ridge_i = matrix_epsilon * max(lambda_max(L_i), 1e-6)
        graft direction d (graft_type; D: diagonal accumulator, starts at 0):
            "sgd": g    "adagrad": D += g^2, g / (sqrt(D) + epsilon)
            "rmsprop": D = beta_2 D + (1 - beta_2) g^2, g / (sqrt(D) + epsilon)
            "*_normalized": the same with g / (||g|| + 1e-25) in place of g
            "sqrt_n": sign(g)    "none": g, and no rescaling below
        s = g x_1 P_1 ... x_k P_k                              (dims not in S left as they are;
                                                                s = d when k = 0)
        u = s * ||d|| / (||s|| + 1e-25)                        (layer-wise grafting)
        m <- beta_1 m + u;   m_d <- beta_1 m_d + d             (both momenta, every step)
        (v, m*) = (u, m) if c >= start_preconditioning_step else (d, m_d)
        w <- w - lr * (v + beta_1 m*)      (nesterov)   or   w - lr * m*   (nesterov=False)

    Norms are over the whole variable. The defaults are the reference code's (beta_1 0.9,
    beta_2 0.999, epsilon = its ``diagonal_epsilon`` 1e-10, matrix_epsilon 1e-6 relative to the
    largest eigenvalue, start_preconditioning_step 5, precondition_frequency = its
    ``preconditioning_compute_steps`` 1, graft_type "sgd", nesterov True, max_preconditioner_dim
    = its ``skip_preconditioning_dim_size_gt`` 4096). It has no default learning rate; 0.01 here
    (with the default SGD grafting the step has the norm of an SGD-with-momentum step; Keras's
    SGD default).

    Conventions and deviations from the reference code (and why):

    * **Inverse root by eigendecomposition** (``keras.ops.eigh``; the code's default is a
      coupled Newton iteration, its ``eigh=True`` path is this one). ``lambda_max`` is the exact
      largest eigenvalue (the code estimates it by power iteration), and the eigenvalues of
      ``L + ridge I`` are taken as ``e(L) + ridge``. The ridge is inside the root, relative
      (``relative_matrix_epsilon=True``, the code's default; ``max(lambda_max, 1e-6)`` as it does).
      ``P`` is a matrix function, unique whatever basis eigh returns. If ``L`` holds a NaN/Inf,
      the previous ``P`` is kept (the code keeps it when its inverse fails).
    * **Which dims get a matrix** (the paper's one statistic per dim, no reshaping): every dim of
      size ``2 .. max_preconditioner_dim`` of a variable of rank >= 2, and the exponent is
      ``-1/(2k)`` with ``k`` the number of such dims, so the direction is scale-free. Size-1
      dims, rank-1 variables (biases, normalization scales) and dims larger than
      ``max_preconditioner_dim`` get no matrix: a variable with none takes the graft direction.
      The reference code instead merges small dims (``best_effort_shape_interpretation``, a
      (2, 3, 4) kernel becomes one 24 x 24 factor), blocks dims larger than ``block_size`` and
      gives rank-1 variables a full matrix; those reshapings are not done here (they change
      which factors exist, not the algorithm; blocking is left out to keep one matrix per dim).
    * **Weight decay**: the Keras ``weight_decay`` argument, decoupled and scaled by the learning
      rate (``w <- w - lr * wd * w`` before the step), which is the code's
      ``decoupled_weight_decay=True`` with ``decoupled_learning_rate=True`` exactly; its default
      (coupled, added to ``u`` and ``d``) is a loss term in Keras. ``exclude_from_weight_decay``
      and ``weight_decay_scaling`` work as for every zoo optimizer.
    * Momentum as the code with ``moving_average_for_momentum=False`` (a sum, not an average);
      the code's clipping, quantization, sharding and LOBPCG options are not provided.
    * Sparse gradients are made dense (the statistics are over the whole variable). 16-bit
      variables compute, and keep the matrices, in float32.

    Args:
        learning_rate: float >= 0, schedule or callable. Default 0.01.
        beta_1: momentum, float in [0, 1). Default 0.9.
        beta_2: decay of the statistics (and of the RMSprop graft), float in [0, 1]; 1 sums them.
            Default 0.999.
        epsilon: float >= 0, the diagonal graft's epsilon (outside the square root). Default 1e-10.
        matrix_epsilon: float > 0, the ridge relative to the largest eigenvalue, and the scale of
            the statistics' initial value ``matrix_epsilon * I``. Default 1e-6. (0 is rejected: the
            inverse root of a singular statistic would be infinite; the reference code accepts it.)
        start_preconditioning_step: int >= 0, steps (0-based count ``c < start``) that take the
            graft direction only. Default 5.
        precondition_frequency: int >= 1, recompute the preconditioners every that many steps.
            Default 1.
        max_preconditioner_dim: int >= 1, larger dims get no matrix. Default 4096.
        graft_type: one of ``"sgd"``, ``"adagrad"``, ``"adagrad_normalized"``, ``"rmsprop"``,
            ``"rmsprop_normalized"``, ``"sqrt_n"``, ``"none"``. Default ``"sgd"``.
        nesterov: bool. Default True.
        **kwargs: the Keras base optimizer arguments (``weight_decay``, ...).

    Example:
        >>> optimizer = keras_optim_zoo.ZooShampoo(learning_rate=0.01, graft_type="rmsprop_normalized")
        >>> model.compile(optimizer=optimizer, loss=...)   # or optimizer="zoo_shampoo"
    """

    spec = OptimizerSpec(
        name="zoo_shampoo",
        summary="Shampoo: per-dim Kronecker-factored preconditioner, grafted to a diagonal method's step size.",
        family="preconditioned",
        paper='Gupta, Koren & Singer, "Shampoo: Preconditioned Stochastic Tensor Optimization", ICML 2018, arXiv:1802.09568',
    )

    _config_keys = (
        "beta_1",
        "beta_2",
        "epsilon",
        "matrix_epsilon",
        "start_preconditioning_step",
        "precondition_frequency",
        "max_preconditioner_dim",
        "graft_type",
        "nesterov",
    )

    def __init__(self, learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-10, matrix_epsilon=1e-6,
                 start_preconditioning_step=5, precondition_frequency=1, max_preconditioner_dim=4096,
                 graft_type="sgd", nesterov=True, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = checks.beta("beta_1", beta_1)
        self.beta_2 = checks.in_range("beta_2", beta_2, 0.0, 1.0)
        self.epsilon = checks.non_negative("epsilon", epsilon)
        self.matrix_epsilon = checks.in_range("matrix_epsilon", matrix_epsilon, 0.0, float("inf"), low_open=True)
        self.start_preconditioning_step = checks.integer("start_preconditioning_step", start_preconditioning_step, 0)
        self.precondition_frequency = checks.integer("precondition_frequency", precondition_frequency, 1)
        self.max_preconditioner_dim = checks.integer("max_preconditioner_dim", max_preconditioner_dim, 1)
        self.graft_type = checks.one_of("graft_type", graft_type, GRAFT_TYPES)
        self.nesterov = checks.boolean("nesterov", nesterov)

    # ------------------------------------------------------------------ state
    def _dims(self, shape):
        if len(shape) < 2:
            return (False,) * len(shape)
        return preconditioned_dims(shape, self.max_preconditioner_dim, min_size=2)

    def _has_accumulator(self):
        return self.graft_type in ("adagrad", "adagrad_normalized", "rmsprop", "rmsprop_normalized")

    def _slot_specs(self):
        specs = [("momentum", "zeros"), ("graft_momentum", "zeros")]
        if self._has_accumulator():
            specs.append(("graft_accumulator", "zeros"))
        return specs

    def _per_dim_matrices(self):
        return [("statistics", eye_initializer(self.matrix_epsilon)), ("preconditioner", eye_initializer())]

    # ------------------------------------------------------------------ the step
    def _weights(self, dtype):
        """``(w1, w2)`` of ``L <- w1 L + w2 G G^T``: ``(beta_2, 1 - beta_2)``, or ``(1, 1)`` at beta_2 = 1."""
        w2 = 1.0 if self.beta_2 == 1.0 else 1.0 - self.beta_2
        return const(self.beta_2, dtype), const(w2, dtype)

    def _graft(self, gradient, slots, dtype):
        """``(direction, new accumulator or None)``."""
        kind = self.graft_type
        if kind in ("sgd", "none"):
            return gradient, None
        if kind == "sqrt_n":
            return ops.sign(gradient), None
        scaled = gradient
        if kind.endswith("_normalized"):
            scaled = ops.divide(gradient, ops.add(l2_norm(gradient), const(_TINY, dtype)))
        if kind.startswith("adagrad"):
            accumulator = ops.add(slots["graft_accumulator"], ops.square(scaled))
        else:
            w1, w2 = self._weights(dtype)
            accumulator = ops.add(ops.multiply(w1, slots["graft_accumulator"]), ops.multiply(w2, ops.square(scaled)))
        direction = ops.divide(scaled, ops.add(ops.sqrt(accumulator), const(self.epsilon, dtype)))
        return direction, accumulator

    def _preconditioners(self, statistics, old, exponent):
        """New ``P_i`` from the ``L_i`` (the old ``P_i`` where ``L_i`` is not finite)."""
        new = []
        for matrix, previous in zip(statistics, old):
            finite = all_finite(matrix)
            safe = ops.where(finite, matrix, ops.eye(matrix.shape[0], dtype=matrix.dtype))
            root = inverse_pth_root(safe, exponent, self.matrix_epsilon)
            new.append(ops.where(finite, root, previous))
        return new

    def _update_with_matrices(self, context, gradient, variable, slots, matrices):
        learning_rate = context.learning_rate
        dtype = variable.dtype
        count = self._step_count()
        dims = self._dims(variable.shape)
        k = sum(dims)
        new_matrices = {}
        if k:
            w1, w2 = self._weights(dtype)
            statistics, old = [], []
            for i, has in enumerate(dims):
                if has:
                    updated = ops.add(ops.multiply(w1, matrices[f"statistics_{i}"]), ops.multiply(w2, gram(gradient, i)))
                    statistics.append(updated)
                    old.append(matrices[f"preconditioner_{i}"])
            if self.precondition_frequency == 1:
                preconditioners = self._preconditioners(statistics, old, 2 * k)
            else:
                refresh = ops.equal(ops.mod(count, self.precondition_frequency), 0)
                preconditioners = branch(
                    refresh, lambda: self._preconditioners(statistics, old, 2 * k), lambda: list(old)
                )
            it = iter(zip(statistics, preconditioners))
            per_dim = []
            for i, has in enumerate(dims):
                if has:
                    stat, precond = next(it)
                    new_matrices[f"statistics_{i}"] = stat
                    new_matrices[f"preconditioner_{i}"] = precond
                    per_dim.append(precond)
                else:
                    per_dim.append(None)

        graft, accumulator = self._graft(gradient, slots, dtype)
        shampoo = mode_products(gradient, per_dim) if k else graft
        if self.graft_type != "none":
            shampoo = ops.multiply(shampoo, l2_norm(graft) / (l2_norm(shampoo) + const(_TINY, dtype)))

        beta_1 = const(self.beta_1, dtype)
        momentum = ops.add(ops.multiply(slots["momentum"], beta_1), shampoo)
        graft_momentum = ops.add(ops.multiply(slots["graft_momentum"], beta_1), graft)
        run = ops.greater_equal(count, self.start_preconditioning_step)
        chosen_momentum = ops.where(run, momentum, graft_momentum)
        if self.nesterov:
            step = ops.add(ops.where(run, shampoo, graft), ops.multiply(beta_1, chosen_momentum))
        else:
            step = chosen_momentum
        new_slots = {"momentum": momentum, "graft_momentum": graft_momentum}
        if accumulator is not None:
            new_slots["graft_accumulator"] = accumulator
        return ops.multiply(learning_rate, step), new_slots, new_matrices
