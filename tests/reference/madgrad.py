"""MADGRAD (Defazio & Jelassi 2021), in NumPy float64.

Paper: A. Defazio & S. Jelassi (2021), "Adaptivity without Compromise: A
Momentumized, Adaptive, Dual Averaged Gradient Method for Stochastic
Optimization", arXiv:2101.11075, Algorithm 1; with the official code's
conventions (github.com/facebookresearch/madgrad, v1.2).

Update at step k = t - 1 (``t`` 1-based; s_0 = nu_0 = 0, x_0 the initial weights,
c = 1 - momentum)::

    lambda_k = (lr_k + eps) sqrt(k + 1)      (official: eps added to the rate)
    g_k     <- g_k + wd x_k                  (L2 weight decay, unless decouple_decay)
    s_{k+1}  = s_k + lambda_k g_k
    nu_{k+1} = nu_k + lambda_k g_k^2
    z_{k+1}  = x_0 - s_{k+1} / (nu_{k+1}^(1/3) + eps)
    x_{k+1}  = (1 - c) x_k + c z_{k+1}       (momentum 0: x_{k+1} = z_{k+1})
    decouple_decay: x_{k+1} -= (lr_k + eps) wd x_k

Official convention kept: with momentum 0 there is no stored x_0; it is
recomputed from the current weights, x_0 = x_k + s_k / (nu_k^(1/3) + eps).
With eps = 0 a zero denominator counts as infinite (the coordinate stays at x_0).
"""

import numpy as np


def madgrad(momentum=0.9, epsilon=1e-6, decouple_decay=False, weight_decay=None):
    wd = weight_decay or 0.0
    c = 1 - momentum

    def rms(nu):
        r = np.cbrt(nu) + epsilon
        return np.where(r == 0, np.inf, r)

    def init(w):
        w = np.asarray(w, dtype=np.float64)
        state = {"s": np.zeros_like(w), "nu": np.zeros_like(w)}
        if momentum != 0:
            state["x0"] = w.copy()
        return state

    def update(g, state, w, t, lr):
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        rate = lr + epsilon
        lam = rate * np.sqrt(t)
        if wd and not decouple_decay:
            g = g + wd * w
        x0 = state["x0"] if momentum != 0 else w + state["s"] / rms(state["nu"])
        s = state["s"] + lam * g
        nu = state["nu"] + lam * g * g
        z = x0 - s / rms(nu)
        new_w = z if momentum == 0 else (1 - c) * w + c * z
        if wd and decouple_decay:
            new_w = new_w - rate * wd * w
        new_state = {"s": s, "nu": nu}
        if momentum != 0:
            new_state["x0"] = x0
        return new_w, new_state

    return init, update
