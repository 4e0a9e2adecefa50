"""Lion, from the paper's Program 1 (Chen et al. 2023, arXiv:2302.06675).

Update equations (``t`` = 1-based step; m_0 = 0; wd = weight_decay)::

    w     <- w - lr * wd * w                  (decoupled decay, Keras's placement; paper: same step)
    c_t   = beta_1 m_{t-1} + (1 - beta_1) g_t
    w_t   = w - lr * sign(c_t)                (sign(0) = 0)
    m_t   = beta_2 m_{t-1} + (1 - beta_2) g_t

Defaults as the paper's recommendation and keras.optimizers.Lion: beta_1 0.9, beta_2 0.99.
"""

import numpy as np

from ._cautious import caution_step


def sign(x):
    """``np.sign`` with subnormal values as 0: TensorFlow's CPU kernels (and XLA) flush subnormal
    float64 inputs to zero, so ``tf.sign(2.2e-311) == 0``; the reference follows (it only matters for
    sign-based updates, where a subnormal gradient would otherwise move a weight by a full ``lr``)."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(np.where(np.abs(x) < np.finfo(np.float64).tiny, 0.0, x))


def lion(beta_1=0.9, beta_2=0.99, weight_decay=None, cautious=False):
    wd = weight_decay or 0.0

    def init(w):
        return {"momentum": np.zeros_like(np.asarray(w, dtype=np.float64))}

    def update(g, state, w, t, lr):
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        w = w - lr * wd * w
        m = state["momentum"]
        c = beta_1 * m + (1 - beta_1) * g
        step = lr * sign(c)
        new_w = caution_step(w, step, g) if cautious else w - step
        return new_w, {"momentum": beta_2 * m + (1 - beta_2) * g}

    return init, update
