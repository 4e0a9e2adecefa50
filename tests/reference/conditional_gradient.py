"""Conditional gradient (Frank-Wolfe) with a norm-ball constraint per variable.

Update equations (``lr`` = learning rate of the step = the Frank-Wolfe step
size gamma, ``lambda_`` = radius of the ball ||w|| <= lambda_)::

    s_t = argmin_{||s|| <= lambda_} <g_t, s>             (linear minimisation oracle)
        ord="fro":     s_t = -lambda_ * g_t / (||g_t||_F + epsilon)
        ord="nuclear": s_t = -lambda_ * u_1 v_1^T  (top singular vectors of g_t
                       seen as a matrix; s_t = 0 if g_t = 0, taken to include a
                       subnormal top singular value)
    w_t = (1 - lr) * w_{t-1} + lr * s_t

For the nuclear norm a tensor of rank 0 or 1 is a 1 x n matrix and one of
rank >= 3 is reshaped to (prod(shape[:-1]), shape[-1]).

Papers: M. Frank & P. Wolfe (1956), "An algorithm for quadratic programming",
Naval Research Logistics Quarterly 3(1-2):95-110; M. Jaggi (2013), "Revisiting
Frank-Wolfe: Projection-Free Sparse Convex Optimization", ICML 2013 (the
norm-ball oracles).  TensorFlow Addons' ConditionalGradient writes the same
step with its learning rate standing for 1 - gamma.
"""

import numpy as np


def _top_singular_direction(g):
    shape = g.shape
    if g.size == 0:
        return np.zeros(shape)
    matrix = g.reshape(-1, shape[-1]) if g.ndim >= 2 else g.reshape(1, -1)
    u, s, vh = np.linalg.svd(matrix, full_matrices=False)
    if s[0] < np.finfo(np.float64).tiny:  # zero (or subnormal, which TF flushes to zero)
        return np.zeros(shape)
    return np.outer(u[:, 0], vh[0]).reshape(shape)


def conditional_gradient(lambda_=0.01, epsilon=1e-7, ord="fro"):
    """Frank-Wolfe over a Frobenius- or nuclear-norm ball; see the module docstring."""
    if ord not in ("fro", "nuclear"):
        raise ValueError(ord)

    def init(w):
        return {}

    def update(g, state, w, t, lr):
        del state, t
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        if ord == "fro":
            direction = g / (np.sqrt(np.sum(g * g)) + epsilon)
        else:
            direction = _top_singular_direction(g)
        s = -lambda_ * direction
        return (1 - lr) * w + lr * s, {}

    return init, update
