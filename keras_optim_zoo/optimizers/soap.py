"""SOAP: Adam in the eigenbasis of Shampoo's preconditioner, the basis refreshed by power iteration."""

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.engine.policy import size as _size
from keras_optim_zoo.moments import const, ema
from keras_optim_zoo.families.per_variable import PerVariableChoices
from keras_optim_zoo.preconditioning import (
    MatrixPreconditioned,
    all_finite,
    branch,
    canonical_eigh,
    eye_initializer,
    gram,
    mode_products,
    power_iteration_qr,
    preconditioned_dims,
)
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooSOAP(MatrixPreconditioned, PerVariableChoices):
    """SOAP: Adam run in the eigenbasis of Shampoo's per-dim statistics (ShampoO with Adam).

    Vyas, Morwani, Zhao, Kwun, Shapira, Brandfonbrener, Janson & Kakade, "SOAP: Improving and
    Stabilizing Shampoo using Adam", 2024, arXiv:2409.11321; follows the official code
    (github.com/nikhilvyas/SOAP ``soap.py``, commit a1e5535 of Dec 2024) operation by operation,
    with its defaults. For a variable with gradient ``g``, dims ``i`` that get a matrix
    (``GG_i``: statistics, ``Q_i``: orthonormal eigenbasis estimate), ``x -> Q^T x`` the rotation
    ``x x_1 Q_1 x_2 Q_2 ...`` and ``x -> Q x`` its inverse, ``t`` the 1-based Keras step and
    ``s = t - 1`` the official ``state["step"]``::

        t = 1:   GG_i = (1 - shampoo_beta) G_(i) G_(i)^T;  Q_i = eigenvectors of GG_i + 1e-30 I,
                 by decreasing eigenvalue.  Nothing else moves (the weights do not).
        t >= 2:  m <- beta_1 m + (1 - beta_1) g
                 v <- beta_2 v + (1 - beta_2) (Q^T g)^2                     (v lives in the rotated space)
                 n = Q ((Q^T m) / (sqrt(v) + epsilon))
                 normalize_grads:  n <- n / (1e-30 + sqrt(mean(n^2)))
                 w <- w - lr sqrt(1 - beta_2^s) / (1 - beta_1^s) n         (correct_bias; else lr n)
                 w <- w - lr wd w                                           (after the step, on the new w)
                 GG_i <- GG_i + (1 - shampoo_beta) (G_(i) G_(i)^T - GG_i)
                 if s % precondition_frequency == 0, for each dim i in turn:
                     order = argsort(-diag(Q_i^T GG_i Q_i));  v <- v[order along dim i]
                     Q_i <- qr(GG_i Q_i[:, order]).Q                         (one power iteration)

    Defaults are the official ones: lr 3e-3, betas (0.95, 0.95), shampoo_beta -1 (any negative
    value: use beta_2), epsilon 1e-8 (added outside the square root), weight_decay 0.01,
    precondition_frequency 10, max_precond_dim 10000, precondition_1d False,
    normalize_grads False, correct_bias True.

    Conventions and deviations:

    * **Steps.** The official ``state["step"]`` counts the Adam steps, i.e. ``t - 1``: the bias
      corrections use ``s = t - 1`` and the basis is refreshed at ``t = 11, 21, ...`` with the
      default frequency. The step count is optimizer-wide (Keras ``iterations``), so a variable
      first seen later than step 1 is not re-initialized as the official per-parameter state is.
    * **Momentum** is stored in the parameter space (as the official code before commit f42d296)
      and rotated each step; the current code stores it rotated and re-rotates it around each
      basis change. ``Q`` being orthogonal, the two are the same update.
    * **Weight decay** is the official decoupled decay after the step (``p <- p - lr wd p`` on
      the updated weights), not Keras's before-the-step decay; ``exclude_from_weight_decay``
      applies, ``weight_decay_scaling="none"`` is rejected. Nothing decays at ``t = 1``.
    * **Degenerate eigenspaces.** Where ``GG_i`` has a repeated eigenvalue (e.g. the null space of
      a first gradient with zero rows, or all-zero statistics), the official basis is whatever
      ``torch.linalg.eigh`` returns, and the update is not invariant to it. Here the basis inside
      such a cluster is made canonical (``preconditioning.canonical_eigh``), so TensorFlow, JAX and
      the NumPy reference agree; simple eigenvalues are unaffected (signs never matter: ``v`` sees
      squares and the rotation is undone).
    * **Rank-deficient first gradients.** As the weights do not move at ``t = 1``, a noiseless
      (full-batch) problem gives the same gradient at ``t = 2``; its components along the
      directions the first gradient did not span are then rounding errors, which the Adam
      normalization (epsilon 1e-8) turns into full-size steps, as in the official code. Minibatch
      noise, or a larger ``epsilon``, avoids it.
    * **Under XLA** (TensorFlow's ``jit_compile=True``) the eigensolver is less accurate (a tolerance-
      limited Jacobi method); one refinement step (``preconditioning.refine_eigenvectors``) makes
      the compiled step agree with the eager one to ~1e-13 in float64.
    * If ``GG_i`` holds a NaN/Inf, the basis (and ``v``'s order) is left unchanged instead of
      failing in eigh/QR. Eigendecompositions run in float32 for 16-bit variables (as the official
      code promotes to float32).
    * ``merge_dims`` and ``data_format`` are not provided (``merge_dims=False``, the default, is the
      behaviour); dims larger than ``max_precond_dim`` are not rotated, as in the official code.
    * Sparse gradients are made dense.

    Args:
        learning_rate: float >= 0, schedule or callable. Default 3e-3.
        beta_1, beta_2: floats in [0, 1). Defaults 0.95, 0.95.
        shampoo_beta: decay of the statistics, float in [0, 1), or negative for ``beta_2``.
            Default -1.
        epsilon: float >= 0. Default 1e-8.
        weight_decay: float >= 0. Default 0.01.
        precondition_frequency: int >= 1. Default 10.
        max_precond_dim: int >= 1, larger dims are not rotated. Default 10000.
        precondition_1d: bool, rotate rank-1 variables too. Default False.
        normalize_grads: bool. Default False.
        correct_bias: bool. Default True.
        **kwargs: the Keras base optimizer arguments.

    Example:
        >>> optimizer = keras_optim_zoo.ZooSOAP(learning_rate=3e-3, weight_decay=0.01)
        >>> optimizer.exclude_from_weight_decay(var_names=["bias"])
        >>> model.compile(optimizer=optimizer, loss=...)   # or optimizer="zoo_soap"
    """

    spec = OptimizerSpec(
        name="zoo_soap",
        summary="SOAP: Adam run in the eigenbasis of Shampoo's per-dim statistics (ShampoO with Adam).",
        family="preconditioned",
        paper='Vyas et al., "SOAP: Improving and Stabilizing Shampoo using Adam", 2024, arXiv:2409.11321',
    )

    _config_keys = (
        "beta_1",
        "beta_2",
        "shampoo_beta",
        "epsilon",
        "precondition_frequency",
        "max_precond_dim",
        "precondition_1d",
        "normalize_grads",
        "correct_bias",
    )

    def __init__(self, learning_rate=3e-3, beta_1=0.95, beta_2=0.95, shampoo_beta=-1.0, epsilon=1e-8,
                 weight_decay=0.01, precondition_frequency=10, max_precond_dim=10000, precondition_1d=False,
                 normalize_grads=False, correct_bias=True, **kwargs):
        weight_decay = checks.non_negative("weight_decay", weight_decay)
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.beta_1 = checks.beta("beta_1", beta_1)
        self.beta_2 = checks.beta("beta_2", beta_2)
        self.shampoo_beta = checks.in_range("shampoo_beta", shampoo_beta, float("-inf"), 1.0, high_open=True)
        self.epsilon = checks.non_negative("epsilon", epsilon)
        self.precondition_frequency = checks.integer("precondition_frequency", precondition_frequency, 1)
        self.max_precond_dim = checks.integer("max_precond_dim", max_precond_dim, 1)
        self.precondition_1d = checks.boolean("precondition_1d", precondition_1d)
        self.normalize_grads = checks.boolean("normalize_grads", normalize_grads)
        self.correct_bias = checks.boolean("correct_bias", correct_bias)
        self._reject_unscaled_decay("ZooSOAP", self.weight_decay_scaling)

    # ------------------------------------------------------------------ state
    def _dims(self, shape):
        return preconditioned_dims(shape, self.max_precond_dim, precondition_1d=self.precondition_1d)

    def _slot_specs(self):
        return [("momentum", "zeros"), ("velocity", "zeros")]

    def _per_dim_matrices(self):
        return [("statistics", "zeros"), ("basis", eye_initializer())]

    # ------------------------------------------------------------------ the step
    def _initial_bases(self, statistics, old, velocity):
        bases = []
        for matrix, previous in zip(statistics, old):
            finite = all_finite(matrix)
            eye = ops.eye(matrix.shape[0], dtype=matrix.dtype)
            safe = ops.where(finite, matrix, ops.zeros_like(matrix))
            _, vectors = canonical_eigh(ops.add(safe, ops.multiply(eye, const(1e-30, matrix.dtype))))
            bases.append(ops.where(finite, ops.flip(vectors, axis=1), previous))
        return bases, velocity

    def _refreshed_bases(self, statistics, old, velocity, dims):
        bases, it = [], iter(zip(statistics, old))
        for axis, has in enumerate(dims):
            if not has:
                continue
            matrix, previous = next(it)
            finite = all_finite(matrix)
            safe = ops.where(finite, matrix, ops.eye(matrix.shape[0], dtype=matrix.dtype))
            basis, permuted = power_iteration_qr(safe, previous, velocity, axis)
            bases.append(ops.where(finite, basis, previous))
            velocity = ops.where(finite, permuted, velocity)
        return bases, velocity

    def _step_kind(self):
        return "new_value"  # SOAP decays after the step and keeps the weights on the first step (official order)

    def _update_with_matrices(self, context, gradient, variable, slots, matrices):
        learning_rate = context.learning_rate
        dtype = variable.dtype
        (decays,) = context.choices
        count = self._step_count()
        first = ops.equal(count, 0)
        dims = self._dims(variable.shape)
        bases = [matrices[f"basis_{i}"] if has else None for i, has in enumerate(dims)]
        beta_1, beta_2 = const(self.beta_1, dtype), const(self.beta_2, dtype)

        # Adam in the rotated space (computed at t = 1 too, and discarded there).
        m = ops.add(ops.multiply(slots["momentum"], beta_1), ops.multiply(const(1.0 - self.beta_1, dtype), gradient))
        rotated = mode_products(gradient, bases)
        v = ops.add(
            ops.multiply(slots["velocity"], beta_2), ops.multiply(const(1.0 - self.beta_2, dtype), ops.square(rotated))
        )
        denominator = ops.add(ops.sqrt(v), const(self.epsilon, dtype))
        direction = mode_products(ops.divide(mode_products(m, bases), denominator), bases, transpose=True)
        if self.normalize_grads:
            rms = ops.sqrt(ops.sum(ops.square(direction)) / _size(variable))
            direction = ops.divide(direction, ops.add(rms, const(1e-30, dtype)))
        step_size = learning_rate
        if self.correct_bias:
            s = ops.cast(ops.maximum(count, 1), dtype)
            correction_2 = 1 - ops.power(beta_2, s)
            correction_1 = 1 - ops.power(beta_1, s)
            step_size = learning_rate * ops.sqrt(correction_2) / correction_1
        new_variable = ops.subtract(variable, ops.multiply(step_size, direction))
        if decays:
            new_variable = ops.subtract(
                new_variable, ops.multiply(new_variable, learning_rate * const(self.weight_decay, dtype))
            )
        new_variable = ops.where(first, variable, new_variable)
        new_m = ops.where(first, slots["momentum"], m)
        v = ops.where(first, slots["velocity"], v)

        # Statistics and eigenbases, after the step (the current gradient is never used in the
        # projection of its own step).
        shampoo_beta = self.shampoo_beta if self.shampoo_beta >= 0 else self.beta_2
        statistics, old, new_matrices = [], [], {}
        for i, has in enumerate(dims):
            if has:
                statistics.append(ema(matrices[f"statistics_{i}"], gram(gradient, i), shampoo_beta))
                old.append(matrices[f"basis_{i}"])
        if statistics:
            refresh = ops.logical_and(
                ops.logical_not(first), ops.equal(ops.mod(count, self.precondition_frequency), 0)
            )
            new_bases, v = branch(
                first,
                lambda: self._initial_bases(statistics, old, v),
                lambda: branch(
                    refresh,
                    lambda: self._refreshed_bases(statistics, old, v, dims),
                    lambda: (list(old), v),
                ),
            )
            it = iter(zip(statistics, new_bases))
            for i, has in enumerate(dims):
                if has:
                    stat, basis = next(it)
                    new_matrices[f"statistics_{i}"] = stat
                    new_matrices[f"basis_{i}"] = basis
        return new_variable, {"momentum": new_m, "velocity": v}, new_matrices
