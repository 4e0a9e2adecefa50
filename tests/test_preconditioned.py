"""Shampoo and SOAP beyond the conformance table (whose rows check NumPy parity, fit, XLA, dtypes,
distribution, skip_nonfinite and reload):

* the matrix helpers of ``keras_optim_zoo.preconditioning`` (Gram matrices, mode products,
  inverse p-th roots, the canonical eigenbasis of repeated eigenvalues, the QR refresh);
* Shampoo: which dims get matrices and the exponent they use, refresh frequency, the grafting
  types not in the table, the graft-only steps before ``start_preconditioning_step``;
* SOAP: the initialization step, refreshes (with the permutation of the second moment), weight
  decay after the step and ``exclude_from_weight_decay``.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo as koz
import reference
from keras_optim_zoo import preconditioning as pc
from reference.soap import canonical_eigh as reference_canonical_eigh

RNG = np.random.default_rng(42)


def _apply(optimizer, variable, grads):
    for g in grads:
        optimizer.apply_gradients([(tf.constant(g, variable.dtype), variable)])


def _reference(factory, kwargs, w0, grads, lr):
    init, update = factory(**kwargs)
    w, state = np.array(w0, np.float64), init(np.array(w0, np.float64))
    for t, g in enumerate(grads, start=1):
        w, state = update(g, state, w, t, float(np.float32(lr)))
    return w, state


# --------------------------------------------------------------------------- helpers
def test_gram_and_mode_products():
    x = RNG.normal(size=(2, 3, 4))
    for axis in range(3):
        unfolded = np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)
        np.testing.assert_allclose(pc.gram(tf.constant(x), axis).numpy(), unfolded @ unfolded.T, rtol=1e-13)
    qs = [np.linalg.qr(RNG.normal(size=(n, n)))[0] for n in (2, 3, 4)]
    qs[1] = None  # a dim without a matrix is carried through
    rotated = pc.mode_products(tf.constant(x), [None if q is None else tf.constant(q) for q in qs])
    want = np.einsum("abc,ax,cz->xbz", x, qs[0], qs[2])  # Q^T applied along dims 0 and 2
    np.testing.assert_allclose(rotated.numpy(), want, rtol=1e-12, atol=1e-14)
    back = pc.mode_products(rotated, [None if q is None else tf.constant(q) for q in qs], transpose=True)
    np.testing.assert_allclose(back.numpy(), x, rtol=1e-12, atol=1e-14)


def test_inverse_pth_root_and_its_ridge():
    a = RNG.normal(size=(5, 3))
    matrix = a @ a.T  # rank 3: the ridge makes the root finite
    for p in (2, 4, 6):
        root = pc.inverse_pth_root(tf.constant(matrix), p, 1e-3).numpy()
        ridge = 1e-3 * np.linalg.eigvalsh(matrix).max()
        np.testing.assert_allclose(np.linalg.matrix_power(root, p) @ (matrix + ridge * np.eye(5)), np.eye(5), atol=1e-9)
        np.testing.assert_allclose(root, root.T, atol=1e-15)
    # Tiny statistics: the ridge is floored at matrix_epsilon * 1e-6.
    small = pc.inverse_pth_root(tf.constant(1e-9 * np.eye(2)), 2, 0.5).numpy()
    np.testing.assert_allclose(small, (1e-9 + 0.5e-6) ** -0.5 * np.eye(2), rtol=1e-12)
    absolute = pc.inverse_pth_root(tf.constant(np.diag([4.0, 1.0])), 2, 0.5, relative=False).numpy()
    np.testing.assert_allclose(absolute, np.diag([4.5**-0.5, 1.5**-0.5]), rtol=1e-12)


def test_canonical_eigh_fixes_the_basis_of_a_repeated_eigenvalue():
    a = RNG.normal(size=(6, 3))
    matrix = a @ a.T  # a 3-dimensional null space: eigh's basis of it is arbitrary
    values, vectors = (t.numpy() for t in pc.canonical_eigh(tf.constant(matrix)))
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(6), atol=1e-13)
    np.testing.assert_allclose(matrix @ vectors, vectors * values, atol=1e-12)
    want_values, want_vectors = reference_canonical_eigh(matrix)  # a loop over clusters
    np.testing.assert_allclose(values, want_values, atol=1e-12)
    np.testing.assert_allclose(np.abs(vectors.T @ want_vectors), np.eye(6), atol=1e-9)  # equal up to signs
    # Inside the null space the basis diagonalizes diag(1..6) restricted to it: a canonical choice.
    null = vectors[:, :3]
    compressed = null.T @ np.diag(np.arange(1.0, 7.0)) @ null
    np.testing.assert_allclose(compressed, np.diag(np.diag(compressed)), atol=1e-10)
    assert np.all(np.diff(np.diag(compressed)) > 0)
    # All-zero statistics (plus SOAP's 1e-30 I): the identity basis.
    _, eye_basis = pc.canonical_eigh(tf.constant(1e-30 * np.eye(4)))
    np.testing.assert_allclose(np.abs(eye_basis.numpy()), np.eye(4), atol=1e-15)


def test_power_iteration_qr_sorts_and_permutes():
    a = RNG.normal(size=(4, 6))
    matrix = a @ a.T
    basis = np.linalg.qr(RNG.normal(size=(4, 4)))[0]
    state = RNG.normal(size=(3, 4))
    q, permuted = (t.numpy() for t in pc.power_iteration_qr(tf.constant(matrix), tf.constant(basis), tf.constant(state), 1))
    order = np.argsort(-np.diag(basis.T @ matrix @ basis))
    np.testing.assert_array_equal(permuted, state[:, order])
    np.testing.assert_allclose(np.abs(q.T @ np.linalg.qr(matrix @ basis[:, order])[0]), np.eye(4), atol=1e-12)


# --------------------------------------------------------------------------- Shampoo
def test_shampoo_matrices_per_dim_and_exponent():
    optimizer = koz.ZooShampoo(max_preconditioner_dim=4, start_preconditioning_step=0)
    variables = [
        keras.Variable(np.zeros((3,)), dtype="float64", name="bias"),
        keras.Variable(np.zeros((1, 4)), dtype="float64", name="row"),
        keras.Variable(np.zeros((4, 5)), dtype="float64", name="kernel"),
        keras.Variable(np.zeros((2, 3, 4)), dtype="float64", name="conv"),
    ]
    optimizer.build(variables)
    names = [sorted(m) for m in optimizer._matrices]
    assert names[0] == [] and names[1] == ["preconditioner_1", "statistics_1"]
    assert names[2] == ["preconditioner_0", "statistics_0"]  # the 5-wide dim exceeds max_preconditioner_dim
    assert len(names[3]) == 6
    np.testing.assert_array_equal(optimizer.get_matrix(variables[2], "statistics_0").numpy(), 1e-6 * np.eye(4))
    g = RNG.normal(size=(4, 5))
    optimizer.apply_gradients([(tf.constant(g), variables[2])])
    stats = 0.999 * 1e-6 * np.eye(4) + 0.001 * g @ g.T
    np.testing.assert_allclose(optimizer.get_matrix(variables[2], "statistics_0").numpy(), stats, rtol=1e-14)
    # One dim with a matrix: k = 1, exponent -1/2.
    e, u = np.linalg.eigh(stats)
    want = u @ np.diag((e + 1e-6 * e.max()) ** -0.5) @ u.T
    np.testing.assert_allclose(optimizer.get_matrix(variables[2], "preconditioner_0").numpy(), want, rtol=1e-10)


def test_shampoo_refreshes_every_precondition_frequency_steps():
    variable = keras.Variable(RNG.normal(size=(3, 4)), dtype="float64")
    optimizer = koz.ZooShampoo(precondition_frequency=3)
    seen = []
    for _ in range(7):
        _apply(optimizer, variable, [RNG.normal(size=(3, 4))])
        seen.append(optimizer.get_matrix(variable, "preconditioner_0").numpy().copy())
    changed = [not np.array_equal(a, b) for a, b in zip(seen[:-1], seen[1:])]
    assert changed == [False, False, True, False, False, True]  # recomputed at 0-based steps 0, 3, 6
    assert not np.allclose(seen[0], np.eye(3))


def test_shampoo_graft_only_before_start_preconditioning_step():
    w0, grads = RNG.normal(size=(4, 3)), [RNG.normal(size=(4, 3)) for _ in range(3)]
    variable = keras.Variable(w0, dtype="float64")
    _apply(koz.ZooShampoo(learning_rate=0.1, start_preconditioning_step=3), variable, grads)
    lr, beta = float(np.float32(0.1)), 0.9
    w, m = w0.copy(), np.zeros_like(w0)
    for g in grads:  # SGD grafting: Nesterov momentum SGD on the raw gradient
        m = beta * m + g
        w = w - lr * (g + beta * m)
    np.testing.assert_allclose(variable.numpy(), w, rtol=1e-13)


@pytest.mark.parametrize(
    "kwargs",
    [{"graft_type": "sqrt_n"}, {"graft_type": "none", "start_preconditioning_step": 2}, {"graft_type": "rmsprop", "beta_2": 0.99}],
    ids=lambda kwargs: kwargs["graft_type"],
)
def test_shampoo_other_graft_types_match_the_reference(kwargs):
    for shape in ((4, 5), (2, 3, 4), (3,)):
        w0, grads = RNG.normal(size=shape), [RNG.normal(size=shape) for _ in range(10)]
        variable = keras.Variable(w0, dtype="float64")
        _apply(koz.ZooShampoo(learning_rate=0.01, **kwargs), variable, grads)
        want, _ = _reference(reference.shampoo, kwargs, w0, grads, 0.01)
        assert np.max(np.abs(want - w0)) > 1e-3
        np.testing.assert_allclose(variable.numpy(), want, rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- SOAP
def test_soap_first_step_only_initializes():
    w0, g = RNG.normal(size=(4, 5)), RNG.normal(size=(4, 5))
    variable = keras.Variable(w0, dtype="float64")
    optimizer = koz.ZooSOAP()
    _apply(optimizer, variable, [g])
    np.testing.assert_array_equal(variable.numpy(), w0)  # no step and no weight decay
    np.testing.assert_array_equal(optimizer.get_slot(variable, "momentum").numpy(), 0.0)
    stats = optimizer.get_matrix(variable, "statistics_1").numpy()
    np.testing.assert_allclose(stats, 0.05 * g.T @ g, rtol=1e-14)
    q = optimizer.get_matrix(variable, "basis_1").numpy()
    np.testing.assert_allclose(q.T @ q, np.eye(5), atol=1e-14)
    estimates = np.diag(q.T @ stats @ q)
    assert np.all(np.diff(estimates) <= 1e-15)  # decreasing eigenvalues, as the official code flips eigh's
    _apply(optimizer, variable, [g])
    assert np.max(np.abs(variable.numpy() - w0)) > 1e-3


def test_soap_refresh_changes_the_basis_only_on_schedule():
    variable = keras.Variable(RNG.normal(size=(3, 4)), dtype="float64")
    optimizer = koz.ZooSOAP(precondition_frequency=2)
    seen = []
    for _ in range(6):
        _apply(optimizer, variable, [RNG.normal(size=(3, 4))])
        seen.append(optimizer.get_matrix(variable, "basis_0").numpy().copy())
    changed = [not np.array_equal(a, b) for a, b in zip(seen[:-1], seen[1:])]
    assert changed == [False, True, False, True, False]  # official step s = t - 1 = 2, 4


def test_soap_weight_decay_after_the_step_and_exclusions():
    w0, grads = RNG.normal(size=(3, 4)), [RNG.normal(size=(3, 4)) for _ in range(4)]
    runs = {}
    for label, kwargs, exclude in (("decay", {"weight_decay": 0.1}, False), ("excluded", {"weight_decay": 0.1}, True),
                                   ("none", {"weight_decay": 0.0}, False)):
        variable = keras.Variable(w0, dtype="float64", name="kernel")
        optimizer = koz.ZooSOAP(learning_rate=0.01, **kwargs)
        if exclude:
            optimizer.exclude_from_weight_decay(var_names=["kernel"])
        _apply(optimizer, variable, grads)
        runs[label] = variable.numpy()
    np.testing.assert_array_equal(runs["excluded"], runs["none"])
    want, _ = _reference(reference.soap, {"weight_decay": 0.1}, w0, grads, 0.01)
    np.testing.assert_allclose(runs["decay"], want, rtol=1e-12)
    assert np.max(np.abs(runs["decay"] - runs["none"])) > 1e-4


def test_skip_nonfinite_keeps_the_matrices_at_a_refresh_step():
    for optimizer in (koz.ZooShampoo(skip_nonfinite=True), koz.ZooSOAP(skip_nonfinite=True, precondition_frequency=1)):
        variable = keras.Variable(RNG.normal(size=(3, 4)), dtype="float64")
        _apply(optimizer, variable, [RNG.normal(size=(3, 4)) for _ in range(3)])
        before = [v.numpy().copy() for v in optimizer.variables]
        bad = RNG.normal(size=(3, 4))
        bad[1, 2] = np.nan
        _apply(optimizer, variable, [bad])
        after = [v.numpy() for v in optimizer.variables]
        assert int(optimizer.skipped_steps) == 1
        for b, a, v in zip(before, after, optimizer.variables):
            if v is not optimizer._skipped_steps:
                np.testing.assert_array_equal(a, b, err_msg=v.name)
