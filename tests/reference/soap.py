"""SOAP (Vyas et al. 2024, arXiv:2409.11321), the official ``soap.py`` (nikhilvyas/SOAP, Dec 2024),
plain NumPy float64. ``t`` is the 1-based step, ``s = t - 1`` the official ``state["step"]``;
``Q^T x`` rotates every dim that has a basis (``x x_i Q_i``), ``Q x`` rotates back::

    t = 1:  GG_i = (1 - sb) G_(i) G_(i)^T;  Q_i = eigenvectors of GG_i + 1e-30 I, decreasing eigenvalues
    t >= 2: m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) (Q^T g)^2
            n = Q ((Q^T m) / (sqrt(v) + eps));  normalize_grads: n /= 1e-30 + sqrt(mean(n^2))
            w -= lr sqrt(1 - b2^s) / (1 - b1^s) n   (correct_bias);   w -= lr wd w   (after, on the new w)
            GG_i += (1 - sb) (G_(i) G_(i)^T - GG_i)
            s % f == 0: per dim i: order = argsort(-diag(Q_i^T GG_i Q_i)); v = v[order along i];
                        Q_i = qr(GG_i Q_i[:, order]).Q

(sb = shampoo_beta, or b2 when negative; m is kept unrotated, which equals the official rotated
storage because Q is orthogonal.)

Why NumPy, TensorFlow and JAX agree although eigh/QR bases differ between libraries:

* column signs never matter (v holds squares of rotated coordinates, n is rotated back with the
  same columns; QR is unique up to column signs for a full-rank input);
* a repeated eigenvalue (dimension > 1 eigenspace) would matter. With the dense test streams the
  step-1 Gram matrices have at most a 1-dimensional null space (the (4, 5) variable's 5 x 5 one has
  rank 4), but a sparse gradient with a missing row (e.g. rows {0, 1, 2} of the (4, 5) variable at
  step 1 of the table's sparse stream) leaves a 2-dimensional one. ``canonical_eigh`` therefore
  fixes the basis inside every cluster of eigenvalues equal within sqrt(machine eps) times the
  largest: the eigenvectors of ``V_c^T diag(1..n) V_c``, ascending - the same rule as
  ``keras_optim_zoo.preconditioning.canonical_eigh``;
* at the QR refreshes the statistics (moving averages over >= 10 steps) have full rank here, and
  eigenvalue estimates have no ties, so the sort order agrees.
"""

import numpy as np

CLUSTER_RTOL = (2.0**-52) ** 0.5


def _gram(g, axis):
    others = [i for i in range(g.ndim) if i != axis]
    return np.tensordot(g, g, axes=(others, others))


def _rotate(x, bases, back=False):
    for q in bases:
        if q is None:
            x = np.transpose(x, list(range(1, x.ndim)) + [0])
        else:
            x = np.tensordot(x, q, axes=([0], [1 if back else 0]))
    return x


def canonical_eigh(matrix):
    """Eigenvalues ascending and eigenvectors, with a canonical basis in repeated eigenspaces."""
    values, vectors = np.linalg.eigh(0.5 * (matrix + matrix.T))
    n = len(values)
    if n == 1:
        return values, vectors
    tol = np.max(np.abs(values)) * CLUSTER_RTOL
    starts = [0] + [i + 1 for i in range(n - 1) if values[i + 1] - values[i] > tol] + [n]
    weights = np.arange(1, n + 1, dtype=np.float64)
    vectors = vectors.copy()
    for a, b in zip(starts[:-1], starts[1:]):
        if b - a > 1:
            block = vectors[:, a:b]
            compressed = block.T @ (weights[:, None] * block)
            _, rotation = np.linalg.eigh(0.5 * (compressed + compressed.T))
            vectors[:, a:b] = block @ rotation
    return values, vectors


def soap(beta_1=0.95, beta_2=0.95, shampoo_beta=-1.0, epsilon=1e-8, weight_decay=0.01, precondition_frequency=10,
         max_precond_dim=10000, precondition_1d=False, normalize_grads=False, correct_bias=True):
    sb = shampoo_beta if shampoo_beta >= 0 else beta_2

    def dims(shape):
        if len(shape) == 0 or (len(shape) == 1 and not precondition_1d):
            return [False] * len(shape)
        return [d <= max_precond_dim for d in shape]

    def init(w):
        w = np.asarray(w, np.float64)
        has = dims(w.shape)
        return {
            "momentum": np.zeros_like(w),
            "velocity": np.zeros_like(w),
            "statistics": [np.zeros((n, n)) if h else None for n, h in zip(w.shape, has)],
            "bases": [np.eye(n) if h else None for n, h in zip(w.shape, has)],
        }

    def update(g, state, w, t, lr):
        g, w = np.asarray(g, np.float64), np.asarray(w, np.float64)
        has = dims(w.shape)
        stats = [None if s is None else s + (_gram(g, i) - s) * (1 - sb) for i, s in enumerate(state["statistics"])]
        if t == 1:
            bases = []
            for s in stats:
                if s is None:
                    bases.append(None)
                else:
                    _, vectors = canonical_eigh(s + 1e-30 * np.eye(len(s)))
                    bases.append(vectors[:, ::-1])
            return w, {**state, "statistics": stats, "bases": bases}
        s_step = t - 1
        bases = state["bases"]
        m = state["momentum"] * beta_1 + (1 - beta_1) * g
        v = state["velocity"] * beta_2 + (1 - beta_2) * _rotate(g, bases) ** 2
        n = _rotate(_rotate(m, bases) / (np.sqrt(v) + epsilon), bases, back=True)
        if normalize_grads:
            n = n / (np.sqrt(np.sum(n**2) / n.size) + 1e-30)
        step_size = lr
        if correct_bias:
            step_size = lr * np.sqrt(1 - beta_2**s_step) / (1 - beta_1**s_step)
        w = w - step_size * n
        if weight_decay:
            w = w - w * (lr * weight_decay)
        bases = list(bases)
        if s_step % precondition_frequency == 0:
            for i, (s, q) in enumerate(zip(stats, bases)):
                if s is None:
                    continue
                order = np.argsort(-np.sum(q * (s @ q), axis=0), kind="stable")
                v = np.take(v, order, axis=i)
                bases[i] = np.linalg.qr(s @ q[:, order])[0]
        return w, {"momentum": m, "velocity": v, "statistics": stats, "bases": bases}

    return init, update
