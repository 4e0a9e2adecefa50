"""Adamax (Adam with the infinity norm), in Keras 3's conventions.

Update equations (``t`` = 1-based step; m_0 = u_0 = 0)::

    m_t = m_{t-1} + (g_t - m_{t-1}) * (1 - beta_1)
    u_t = max(beta_2 * u_{t-1}, |g_t|)
    w_t = w_{t-1} - lr * m_t / ((1 - beta_1**t) * (u_t + epsilon))

Paper: D. P. Kingma & J. Ba (2014), "Adam: A Method for Stochastic
Optimization", arXiv:1412.6980 (ICLR 2015), Section 7.1, Algorithm 2.

Conventions: only the first moment is bias-corrected (the infinity norm needs
none); epsilon (absent in the paper) is added to u_t, i.e. outside any root,
and sits inside the bias-correction factor's product
((1 - beta_1**t) * (u_t + eps)), so it is not itself bias-corrected.  Keras slot
names: ``momentum`` (m) and ``norm`` (u).
"""

import numpy as np

from ._cautious import caution_step


def adamax(beta_1=0.9, beta_2=0.999, epsilon=1e-7, cautious=False):
    """Keras 3 ``Adamax``; see the module docstring for the equations.

    ``cautious=True`` (a zoo extension, not in Keras): the step is masked by ``_cautious``."""

    def init(w):
        w = np.asarray(w, dtype=np.float64)
        return {"momentum": np.zeros_like(w), "norm": np.zeros_like(w)}

    def update(g, state, w, t, lr):
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        m = state["momentum"] + (g - state["momentum"]) * (1 - beta_1)
        u = np.maximum(beta_2 * state["norm"], np.abs(g))
        step = lr * m / ((1 - beta_1**t) * (u + epsilon))
        new_w = caution_step(w, step, g) if cautious else w - step
        return new_w, {"momentum": m, "norm": u}

    return init, update
