"""Shampoo (Gupta, Koren & Singer 2018, arXiv:1802.09568, Algorithm 2; practical form of Anil et
al. 2020, arXiv:2002.09018 and google-research ``distributed_shampoo``), plain NumPy float64.

``c = t - 1`` is the 0-based step; ``S`` the dims with a matrix (every dim of size
2..max_preconditioner_dim of a variable of rank >= 2), ``k = |S|``::

    L_i <- beta_2 L_i + (1 - beta_2) G_(i) G_(i)^T     (beta_2 = 1: plain sum; L_i(0) = matrix_epsilon I)
    if c % precondition_frequency == 0:
        P_i = (L_i + r I)^(-1/(2k)),  r = matrix_epsilon * max(lambda_max(L_i), 1e-6)   (np.linalg.eigh)
    d = graft direction (sgd: g; adagrad / rmsprop: g / (sqrt(D) + epsilon); *_normalized: g / (||g|| + 1e-25);
        sqrt_n: sign(g); none: g)
    s = g x_i P_i (i in S), or d if k = 0;   u = s ||d|| / (||s|| + 1e-25)   (u = s for graft "none")
    m = beta_1 m + u;  m_d = beta_1 m_d + d;  run = c >= start_preconditioning_step
    nesterov: w <- w - lr ((u if run else d) + beta_1 (m if run else m_d));  else w <- w - lr (m if run else m_d)

Weight decay (``weight_decay``): decoupled, lr-scaled, before the step (``w <- w - w * wd * lr``),
the Keras placement (= the code's decoupled_weight_decay with decoupled_learning_rate).

P is a matrix function of L: the same whatever eigenvector basis eigh returns.
"""

import numpy as np

TINY = 1e-25


def _dims(shape, max_dim):
    if len(shape) < 2:
        return [False] * len(shape)
    return [2 <= d <= max_dim for d in shape]


def _gram(g, axis):
    others = [i for i in range(g.ndim) if i != axis]
    return np.tensordot(g, g, axes=(others, others))


def inverse_pth_root(matrix, p, ridge_epsilon):
    e, u = np.linalg.eigh(0.5 * (matrix + matrix.T))
    ridge = ridge_epsilon * max(np.max(e), 1e-6)
    e = e + ridge
    inv = np.where(e == 0, 0.0, np.maximum(e, ridge) ** (-1.0 / p))
    root = u * np.sqrt(inv)
    return root @ root.T


def mode_products(x, matrices):
    for m in matrices:
        x = np.transpose(x, list(range(1, x.ndim)) + [0]) if m is None else np.tensordot(x, m, axes=([0], [0]))
    return x


def shampoo(beta_1=0.9, beta_2=0.999, epsilon=1e-10, matrix_epsilon=1e-6, start_preconditioning_step=5,
            precondition_frequency=1, max_preconditioner_dim=4096, graft_type="sgd", nesterov=True,
            weight_decay=None):
    w1, w2 = beta_2, (1.0 if beta_2 == 1.0 else 1.0 - beta_2)

    def init(w):
        w = np.asarray(w, np.float64)
        dims = _dims(w.shape, max_preconditioner_dim)
        return {
            "momentum": np.zeros_like(w),
            "graft_momentum": np.zeros_like(w),
            "graft_accumulator": np.zeros_like(w),
            "statistics": [matrix_epsilon * np.eye(n) if has else None for n, has in zip(w.shape, dims)],
            "preconditioners": [np.eye(n) if has else None for n, has in zip(w.shape, dims)],
        }

    def update(g, state, w, t, lr):
        g, w = np.asarray(g, np.float64), np.asarray(w, np.float64)
        if weight_decay:
            w = w - w * weight_decay * lr
        c = t - 1
        dims = _dims(w.shape, max_preconditioner_dim)
        k = sum(dims)
        stats = [None if s is None else w1 * s + w2 * _gram(g, i) for i, s in enumerate(state["statistics"])]
        precs = list(state["preconditioners"])
        if k and c % precondition_frequency == 0:
            precs = [None if s is None else inverse_pth_root(s, 2 * k, matrix_epsilon) for s in stats]
        acc = state["graft_accumulator"]
        if graft_type in ("sgd", "none"):
            d = g
        elif graft_type == "sqrt_n":
            d = np.sign(g)
        else:
            scaled = g / (np.sqrt(np.sum(g**2)) + TINY) if graft_type.endswith("_normalized") else g
            acc = acc + scaled**2 if graft_type.startswith("adagrad") else w1 * acc + w2 * scaled**2
            d = scaled / (np.sqrt(acc) + epsilon)
        s = mode_products(g, precs) if k else d
        if graft_type != "none":
            s = s * (np.sqrt(np.sum(d**2)) / (np.sqrt(np.sum(s**2)) + TINY))
        m = state["momentum"] * beta_1 + s
        md = state["graft_momentum"] * beta_1 + d
        run = c >= start_preconditioning_step
        chosen = m if run else md
        step = ((s if run else d) + beta_1 * chosen) if nesterov else chosen
        new_state = {"momentum": m, "graft_momentum": md, "graft_accumulator": acc, "statistics": stats,
                     "preconditioners": precs}
        return w - lr * step, new_state

    return init, update
