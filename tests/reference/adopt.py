"""ADOPT (Taniguchi et al. 2024, arXiv:2411.02853; the official code with clipping), t 1-based::

    t = 1:   v = g^2, nothing else moves
    t >= 2:  n = clip(g / max(sqrt(v), eps), +-(t - 1)**clip_exponent);  m = b1 m + (1 - b1) n
             w = w - lr m;  v = b2 v + (1 - b2) g^2
"""

import numpy as np

from ._cautious import caution_step


def adopt(beta_1=0.9, beta_2=0.9999, epsilon=1e-6, clip_exponent=0.25, weight_decay=None, cautious=False):
    def init(w):
        return {"momentum": np.zeros_like(w, dtype=np.float64), "velocity": np.zeros_like(w, dtype=np.float64)}

    def update(g, state, w, t, lr):
        g, w = np.asarray(g, np.float64), np.asarray(w, np.float64)
        w = w - (weight_decay or 0.0) * lr * w  # the zoo's decoupled decay, before the step
        if t == 1:
            return w, {"momentum": state["momentum"], "velocity": state["velocity"] + g * g}
        n = g / np.maximum(np.sqrt(state["velocity"]), epsilon)
        if clip_exponent is not None:
            with np.errstate(over="ignore"):  # a huge exponent: no clipping (inf), as in float64 tensors
                c = np.float64(t - 1) ** clip_exponent
            n = np.clip(n, -c, c)
        m = beta_1 * state["momentum"] + (1 - beta_1) * n
        u = lr * m
        return (caution_step(w, u, g) if cautious else w - u), {"momentum": m, "velocity": beta_2 * state["velocity"] + (1 - beta_2) * g * g}

    return init, update
