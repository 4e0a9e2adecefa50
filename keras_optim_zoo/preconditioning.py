"""Matrix helpers shared by the Kronecker-factored optimizers (``zoo_shampoo``, ``zoo_soap``).

Everything here is ``keras.ops`` (TensorFlow eager / ``tf.function`` / XLA, and JAX):

* **which dims get a matrix** - ``preconditioned_dims``: a Python decision from the static shape;
* **statistics** - ``gram(x, axis)``: the mode-``axis`` Gram matrix ``G_(i) G_(i)^T``, i.e.
  ``tensordot`` of ``x`` with itself over every other dim;
* **mode products** - ``mode_products(x, matrices)``: ``x x_1 M_1 x_2 M_2 ...`` (a dim without a
  matrix is carried through unchanged), the way both reference codes write it: a ``tensordot``
  over dim 0 that moves the result to the end, once per dim;
* **symmetric eigendecompositions** - ``symmetric_eigh`` (input symmetrized first: JAX's ``eigh``
  symmetrizes, TensorFlow's reads one triangle; ``(A + A^T) / 2`` makes them agree),
  ``canonical_eigh`` (a backend-independent basis inside degenerate eigenspaces, see its
  docstring), ``inverse_pth_root`` (``(A + ridge I)^(-1/p)`` by eigendecomposition);
* **eigenbasis refresh** - ``power_iteration_qr``: SOAP's one power iteration + QR, with the
  eigenvalue estimates sorted and the matching permutation of a state tensor;
* ``MatrixPreconditioned``: a ``ZooOptimizer`` whose per-variable state includes matrices
  (per-variable shapes, created in ``build``), updated together with the slots by
  ``_update_with_matrices`` and assigned with ``skip_nonfinite`` honoured.
"""

from __future__ import annotations

import keras
from keras import ops

from keras_optim_zoo.base import ZooOptimizer
from keras_optim_zoo.moments import const

__all__ = [
    "preconditioned_dims",
    "gram",
    "mode_products",
    "symmetric_eigh",
    "canonical_eigh",
    "inverse_pth_root",
    "power_iteration_qr",
    "branch",
    "all_finite",
    "eye_initializer",
    "MatrixPreconditioned",
]


# --------------------------------------------------------------------------- shapes
def preconditioned_dims(shape, max_dim, precondition_1d=True, min_size=1):
    """A tuple of bools, one per dim of ``shape``: whether that dim gets a matrix.

    A dim gets one when ``min_size <= size <= max_dim``; a rank-1 shape only if
    ``precondition_1d``; a rank-0 shape never.
    """
    shape = tuple(int(d) for d in shape)
    if not shape or (len(shape) == 1 and not precondition_1d):
        return (False,) * len(shape)
    return tuple(min_size <= d <= max_dim for d in shape)


# --------------------------------------------------------------------------- tensor algebra
def gram(x, axis):
    """``G_(axis) G_(axis)^T``: ``x`` contracted with itself over every dim but ``axis``."""
    others = [i for i in range(len(x.shape)) if i != axis]
    return ops.tensordot(x, x, axes=(others, others))


def mode_products(x, matrices, transpose=False):
    """``x`` multiplied along each dim ``i`` by ``matrices[i]`` (``None``: left as is).

    ``transpose=False`` computes ``sum_a x[..a..] M[a, b]`` (the projection ``Q^T``-side of SOAP,
    and Shampoo's ``P`` which is symmetric), ``transpose=True`` ``sum_a x[..a..] M[b, a]``
    (SOAP's projection back). Each dim is contracted as dim 0 and moved to the end, so after all
    dims the order is the original one.
    """
    rank = len(x.shape)
    for matrix in matrices:
        if matrix is None:
            x = ops.transpose(x, list(range(1, rank)) + [0])
        else:
            x = ops.tensordot(x, matrix, axes=([0], [1 if transpose else 0]))
    return x


def branch(pred, true_fn, false_fn):
    """``ops.cond(pred, true_fn, false_fn)``, or the branch ``pred`` selects when it is a concrete
    value (eager execution): JAX's eager ``lax.cond`` traces and compiles both branches at every
    call, which made each eager step with an eigendecomposition in a branch ~0.3 s."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        concrete = tf.executing_eagerly()
    elif backend == "jax":
        import jax

        concrete = not isinstance(pred, jax.core.Tracer)
    else:
        concrete = False
    if concrete:
        return true_fn() if bool(ops.convert_to_numpy(pred)) else false_fn()
    return ops.cond(pred, true_fn, false_fn)


def all_finite(x):
    """A boolean scalar tensor: every entry of ``x`` is finite."""
    return ops.all(ops.isfinite(x))


def eye_initializer(scale=1.0):
    """A matrix-slot initializer: ``scale * I`` (``scale`` rounded once to the slot's dtype)."""

    def initialize(shape, dtype=None):
        eye = ops.eye(shape[0], shape[1], dtype=dtype)
        return eye if scale == 1.0 else ops.multiply(eye, const(scale, dtype))

    return initialize


# --------------------------------------------------------------------------- eigendecompositions
def symmetric_eigh(matrix):
    """``(eigenvalues ascending, eigenvectors as columns)`` of ``(A + A^T) / 2``, refined once.

    XLA's own eigensolver (TensorFlow under ``jit_compile=True``; JAX on CPU calls LAPACK) is a
    Jacobi method that stops at a relative off-diagonal tolerance: its eigenvectors leave
    residuals ``|A v - lambda v|``
    of ~1e-8 ``|A|`` even in float64 (LAPACK: ~1e-15; measured on 48 x 48 Gram matrices). One
    first-order correction (``refine_eigenvectors``) brings them to the square of that, so that
    the same step gives the same result eagerly and compiled.
    """
    symmetric = ops.multiply(ops.add(matrix, ops.transpose(matrix)), const(0.5, matrix.dtype))
    values, vectors = ops.eigh(symmetric)
    return refine_eigenvectors(symmetric, values, vectors)


def refine_eigenvectors(matrix, values, vectors):
    """One correction of an approximate eigendecomposition of the symmetric ``matrix``.

    With ``B = V^T A V = diag(lambda) + E`` (``E`` small), first-order perturbation gives the
    eigenvectors of ``B`` as ``I + K``, ``K_ij = B_ij / (lambda_j - lambda_i)`` (antisymmetric);
    pairs closer than the cluster tolerance (``_cluster_tolerance``: a repeated eigenvalue, whose
    basis ``canonical_eigh`` fixes) or whose ``|K_ij|`` would exceed 1e-2 are left alone. Then
    ``V <- V (I + K)``, made orthonormal again by one Newton-Schulz step
    ``V <- V (3 I - V^T V) / 2``, and ``lambda <- diag(B)``. On an accurate decomposition
    (LAPACK) it changes nothing beyond rounding.
    """
    dtype = matrix.dtype
    n = int(matrix.shape[-1])
    if n == 1:
        return values, vectors
    projected = ops.matmul(ops.transpose(vectors), ops.matmul(matrix, vectors))
    projected = ops.multiply(ops.add(projected, ops.transpose(projected)), const(0.5, dtype))
    gaps = ops.subtract(ops.expand_dims(values, 0), ops.expand_dims(values, 1))  # lambda_j - lambda_i
    scale = ops.maximum(ops.max(ops.abs(values)), const(1e-300 if keras.backend.standardize_dtype(dtype) == "float64" else 1e-30, dtype))
    separated = ops.greater(ops.abs(gaps), ops.multiply(scale, const(_cluster_tolerance(dtype), dtype)))
    eye = ops.eye(n, dtype=dtype)
    correction = ops.divide(ops.multiply(projected, ops.subtract(1.0, eye)), ops.where(separated, gaps, ops.ones_like(gaps)))
    correction = ops.where(ops.logical_and(separated, ops.less_equal(ops.abs(correction), 1e-2)), correction, 0.0)
    refined = ops.add(vectors, ops.matmul(vectors, correction))
    gram = ops.matmul(ops.transpose(refined), refined)
    refined = ops.matmul(refined, ops.multiply(ops.subtract(ops.multiply(eye, 3.0), gram), const(0.5, dtype)))
    return ops.diagonal(projected), refined


def _cluster_tolerance(dtype):
    """Eigenvalues closer than this (relative to the largest magnitude) count as equal:
    ``sqrt(machine epsilon)`` (1.5e-8 in float64, 3.5e-4 in float32). The rounding noise of an
    exactly repeated eigenvalue is ~``n * epsilon`` (e.g. 6e-6 for n = 48 in float32), well below
    it; distinct eigenvalues that close have eigenvectors no eigh determines to better than
    ``epsilon / sqrt(epsilon)`` anyway."""
    eps = {"float64": 2.0**-52, "float32": 2.0**-23}.get(keras.backend.standardize_dtype(dtype), 2.0**-23)
    return eps**0.5


def canonical_eigh(matrix):
    """``symmetric_eigh`` with a basis inside each (numerically) repeated eigenvalue that does not
    depend on the LAPACK / Eigen / XLA routine that computed it.

    An eigenspace of dimension ``r > 1`` (e.g. the null space of a rank-deficient Gram matrix:
    a first gradient with zero rows, or all-zero statistics) has no preferred orthonormal basis,
    and each library returns a different one. SOAP's update is not invariant to that choice (it
    squares coordinates in the basis). Here the basis of such a cluster ``V_c`` is rotated to the
    eigenvectors of ``V_c^T D V_c`` with ``D = diag(1, 2, ..., n)`` (ascending), a choice that
    depends only on the eigenspace: all clusters at once, through one eigendecomposition of the
    block-diagonal ``C = (V^T D V) * same_cluster + diag(2 n * cluster_index)`` (the offset keeps
    the clusters in their order). Simple eigenvalues keep their vector (up to sign). Columns
    stay in ascending eigenvalue order.
    """
    dtype = matrix.dtype
    n = int(matrix.shape[-1])
    values, vectors = symmetric_eigh(matrix)
    if n == 1:
        return values, vectors
    scale = ops.max(ops.abs(values))
    gaps = ops.subtract(values[1:], values[:-1])
    boundary = ops.cast(ops.greater(gaps, ops.multiply(scale, const(_cluster_tolerance(dtype), dtype))), dtype)
    cluster = ops.concatenate([ops.zeros((1,), dtype=dtype), ops.cumsum(boundary)], axis=0)
    same = ops.cast(ops.equal(ops.expand_dims(cluster, 1), ops.expand_dims(cluster, 0)), dtype)
    weights = ops.arange(1, n + 1, dtype=dtype)
    compressed = ops.matmul(ops.transpose(vectors), ops.multiply(ops.expand_dims(weights, 1), vectors))
    offset = ops.multiply(cluster, const(2.0 * n, dtype))
    # diag(offset) as I * offset: Keras 3.10-3.12's ops.diag wraps tf.linalg.diag in a tf.cond whose
    # result has a dynamic shape, which XLA's eigensolver rejects (fixed in Keras 3.13,
    # keras-team/keras#21906). The same numbers: offset >= 0, so every product is exact, +0 off the diagonal.
    block = ops.add(ops.multiply(compressed, same), ops.multiply(ops.eye(n, dtype=dtype), ops.expand_dims(offset, 0)))
    _, rotation = symmetric_eigh(block)
    return values, ops.matmul(vectors, rotation)


def inverse_pth_root(matrix, p, ridge_epsilon, relative=True, floor=1e-6):
    """``(A + ridge I)^(-1/p)`` of a symmetric PSD ``A`` by eigendecomposition.

    ``ridge = ridge_epsilon * max(lambda_max(A), floor)`` (``relative=True``, the
    ``relative_matrix_epsilon`` convention of google-research's ``distributed_shampoo``, whose
    ``error_tolerance`` 1e-6 is the floor), else ``ridge_epsilon``. As that code's eigh path::

        e, U = eigh(A);  e <- e + ridge;  inv_e = 0 where e == 0, else max(e, ridge)^(-1/p)
        P = (U sqrt(inv_e)) (U sqrt(inv_e))^T

    (the eigenvalues of ``A + ridge I`` are taken as ``e(A) + ridge`` from one decomposition of
    ``A``; ``lambda_max`` is the exact largest eigenvalue instead of 100 power iterations).
    """
    dtype = matrix.dtype
    values, vectors = symmetric_eigh(matrix)
    if relative:
        ridge = ops.multiply(const(ridge_epsilon, dtype), ops.maximum(ops.max(values), const(floor, dtype)))
    else:
        ridge = const(ridge_epsilon, dtype)
    values = ops.add(values, ridge)
    inverse = ops.where(
        ops.equal(values, 0), ops.zeros_like(values), ops.power(ops.maximum(values, ridge), const(-1.0 / p, dtype))
    )
    root = ops.multiply(vectors, ops.sqrt(inverse))
    return ops.matmul(root, ops.transpose(root))


def power_iteration_qr(matrix, basis, state, axis):
    """SOAP's eigenbasis refresh for one dim (``get_orthogonal_matrix_QR`` of the official code).

    ``est = diag(Q^T A Q)`` estimates the eigenvalues in the current basis; the columns of ``Q``
    and the slices of ``state`` along ``axis`` (the second moment in the rotated coordinates)
    are put in descending order of ``est``; then one power iteration and a QR decomposition::

        Q <- qr(A Q[:, order]).Q;   state <- take(state, order, axis)

    Returns ``(new_basis, new_state)``.
    """
    estimates = ops.sum(ops.multiply(basis, ops.matmul(matrix, basis)), axis=0)
    order = ops.argsort(ops.negative(estimates))
    state = ops.take(state, order, axis=axis)
    basis = ops.take(basis, order, axis=1)
    q, _ = ops.qr(ops.matmul(matrix, basis), mode="reduced")
    return q, state


# --------------------------------------------------------------------------- optimizer state
class MatrixPreconditioned(ZooOptimizer):
    """A ``ZooOptimizer`` with per-variable matrices next to its slots.

    A subclass implements ``_dims(shape)`` (which dims get matrices: ``preconditioned_dims``),
    ``_per_dim_matrices() -> [(name, initializer), ...]`` (the matrices each such dim ``i`` gets,
    named ``f"{name}_{i}"``) and
    ``_update_with_matrices(gradient, variable, slots, matrices, learning_rate)`` returning
    ``(new_variable, new_slots, new_matrices)`` (pure function of tensors; ``matrices`` is a dict
    ``name -> tensor``). Expensive recomputations belong in ``branch`` (``ops.cond``) inside it.

    A variable with matrices never takes the fused path (``_fuses``): its update computes
    eigendecompositions, and XLA's eigensolver is another algorithm. A variable without any
    (1-D, or every dim of size 1 or too large) is a plain elementwise update: it is fused (and
    grouped) like any zoo optimizer's.
    """

    #: Uses eigendecompositions (tests compare compiled and eager runs of these in float64).
    _eigensolver = True

    def _dims(self, shape):
        return (False,) * len(shape)

    def _per_dim_matrices(self):
        return []

    def _matrix_specs(self, variable):
        """``[(name, (size, size), initializer), ...]``: the matrices of ``variable`` (or of any
        tensor of its shape), dim by dim."""
        return [
            (f"{name}_{i}", (size, size), initializer)
            for i, (size, has) in enumerate(zip(variable.shape, self._dims(variable.shape)))
            if has
            for name, initializer in self._per_dim_matrices()
        ]

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        matrices = []
        for variable in var_list:
            entries = {}
            for name, shape, initializer in self._matrix_specs(variable):
                entries[name] = self._add_shaped_slot(variable, name, initializer, shape)
            matrices.append(entries)
        self._matrices = matrices

    def get_matrix(self, variable, name):
        """The matrix ``name`` (e.g. ``"statistics_0"``) kept for ``variable`` (KeyError if none)."""
        return self._matrices[self._index_of(variable)][name]

    def _fuses(self, variable):
        return not self._matrix_specs(variable) and super()._fuses(variable)

    def _update(self, context, gradient, variable, slots):
        """``_update_with_matrices`` with the matrices taken out of ``slots`` and put back in the
        result: ``_dense_step`` passes them with the slots, so the base's readable step (casts,
        cautious mask, ``skip_nonfinite``, assignments) serves them too."""
        names = {name for name, _, _ in self._matrix_specs(variable)}
        matrices = {name: value for name, value in slots.items() if name in names}
        slots = {name: value for name, value in slots.items() if name not in names}
        new_variable, new_slots, new_matrices = self._update_with_matrices(context, gradient, variable, slots, matrices)
        return new_variable, {**new_slots, **new_matrices}

    def _round_slot(self, value, variable, name):
        if name not in self._slot_names:
            return value  # a matrix: kept in the compute dtype, never a bfloat16 state
        return super()._round_slot(value, variable, name)

    def _update_with_matrices(self, context, gradient, variable, slots, matrices):
        raise NotImplementedError

    def _step_count(self):
        """The 0-based number of the step being taken (``iterations``), as int64."""
        return ops.cast(self.iterations, "int64")

    def _dense_step(self, context, gradient, variable, slots):
        matrices = self._matrices[self._index_of(variable)] if self._matrix_specs(variable) else {}
        return super()._dense_step(context, gradient, variable, {**slots, **matrices})
