"""Tiger (J. Su 2023, https://kexue.fm/archives/9512, official code github.com/bojone/tiger).

Written from the official ``tiger.py`` without its per-variable learning-rate rule (RMS of the
weights, halved for bias/beta/gamma) and without its NaN shrink (see ZooTiger's docstring)::

    m_t = beta m_{t-1} + (1 - beta) g_t
    w_t = w - lr * (sign(m_t) + wd * w)         (official: u = (sign(m) + d * var) * lr)

sign(0) = 0. (ZooTiger decays first, w - lr*wd*w, then steps: equal up to rounding.)
"""

import numpy as np


def sign(x):
    """``np.sign`` with subnormal values as 0: TensorFlow's CPU kernels (and XLA) flush subnormal
    float64 inputs to zero, so ``tf.sign(2.2e-311) == 0``; the reference follows (it only matters for
    sign-based updates, where a subnormal gradient would otherwise move a weight by a full ``lr``)."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(np.where(np.abs(x) < np.finfo(np.float64).tiny, 0.0, x))


def tiger(beta=0.965, weight_decay=None):
    wd = weight_decay or 0.0

    def init(w):
        return {"momentum": np.zeros_like(np.asarray(w, dtype=np.float64))}

    def update(g, state, w, t, lr):
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        m = beta * state["momentum"] + (1 - beta) * g
        return w - lr * (sign(m) + wd * w), {"momentum": m}

    return init, update
