"""QHAdam (Ma & Yarats 2019, arXiv:1810.06801, Algorithm 2), t 1-based::

    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  m_hat = m / (1 - b1^t);  v_hat = v / (1 - b2^t)
    w = w - lr ((1 - nu1) g + nu1 m_hat) / (sqrt((1 - nu2) g^2 + nu2 v_hat) + eps)
"""

import numpy as np

from ._cautious import caution_step


def qhadam(beta_1=0.995, beta_2=0.999, nu_1=0.7, nu_2=1.0, epsilon=1e-8, weight_decay=None, cautious=False):
    def init(w):
        return {"momentum": np.zeros_like(w, dtype=np.float64), "velocity": np.zeros_like(w, dtype=np.float64)}

    def update(g, state, w, t, lr):
        g, w = np.asarray(g, np.float64), np.asarray(w, np.float64)
        w = w - (weight_decay or 0.0) * lr * w  # the zoo's decoupled decay, before the step
        m = beta_1 * state["momentum"] + (1 - beta_1) * g
        v = beta_2 * state["velocity"] + (1 - beta_2) * g * g
        m_hat, v_hat = m / (1 - beta_1**t), v / (1 - beta_2**t)
        u = lr * ((1 - nu_1) * g + nu_1 * m_hat) / (np.sqrt((1 - nu_2) * g * g + nu_2 * v_hat) + epsilon)
        return (caution_step(w, u, g) if cautious else w - u), {"momentum": m, "velocity": v}

    return init, update
