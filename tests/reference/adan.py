"""Adan (Xie et al. 2022, arXiv:2208.06677, Algorithm 1; official sail-sg/Adan code), t 1-based::

    d = g - g_prev  (0 at t = 1)
    m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) d;   n = b3 n + (1 - b3) (g + b2 d)^2
    u = lr (m / (1 - b1^t) + b2 v / (1 - b2^t)) / (sqrt(n / (1 - b3^t)) + eps)
    proximal (default):  w = (w - u) / (1 + s wd)
    no_prox:             w = w - s wd w - u          (decay first, as the zoo's decoupled decay)

with ``s = lr`` (``weight_decay_scaling="learning_rate"``) or 1 ("none"). With ``cautious`` the
mask applies to ``u`` (the step), before the proximal division.
"""

import numpy as np

from ._cautious import caution_step


def adan(beta_1=0.98, beta_2=0.92, beta_3=0.99, epsilon=1e-8, no_prox=False, weight_decay=None,
         weight_decay_scaling="learning_rate", cautious=False):
    def init(w):
        zeros = np.zeros_like(w, dtype=np.float64)
        return {"m": zeros, "v": zeros, "n": zeros, "previous": zeros}

    def update(g, state, w, t, lr):
        g, w = np.asarray(g, np.float64), np.asarray(w, np.float64)
        decay = (weight_decay or 0.0) * (lr if weight_decay_scaling == "learning_rate" else 1.0)
        if no_prox:
            w = w - decay * w
        d = np.zeros_like(g) if t == 1 else g - state["previous"]
        m = beta_1 * state["m"] + (1 - beta_1) * g
        v = beta_2 * state["v"] + (1 - beta_2) * d
        n = beta_3 * state["n"] + (1 - beta_3) * (g + beta_2 * d) ** 2
        u = lr * (m / (1 - beta_1**t) + beta_2 * v / (1 - beta_2**t)) / (np.sqrt(n / (1 - beta_3**t)) + epsilon)
        w = caution_step(w, u, g) if cautious else w - u
        if not no_prox:
            w = w / (1 + decay)
        return w, {"m": m, "v": v, "n": n, "previous": g}

    return init, update
