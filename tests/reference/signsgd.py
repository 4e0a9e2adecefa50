"""signSGD and Signum (Bernstein et al. 2018, arXiv:1802.04434, Algorithms 1 and 3).

Update equations (``t`` = 1-based step; m_0 = 0; wd = weight_decay)::

    w   <- w - lr * wd * w                    (decoupled decay, Keras's placement)
    momentum == 0:  w_t = w - lr * sign(g_t)
    momentum  > 0:  m_t = momentum m_{t-1} + (1 - momentum) g_t
                    w_t = w - lr * sign(m_t)

sign(0) = 0.
"""

import numpy as np


def sign(x):
    """``np.sign`` with subnormal values as 0: TensorFlow's CPU kernels (and XLA) flush subnormal
    float64 inputs to zero, so ``tf.sign(2.2e-311) == 0``; the reference follows (it only matters for
    sign-based updates, where a subnormal gradient would otherwise move a weight by a full ``lr``)."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(np.where(np.abs(x) < np.finfo(np.float64).tiny, 0.0, x))


def signsgd(momentum=0.0, weight_decay=None):
    wd = weight_decay or 0.0

    def init(w):
        return {"momentum": np.zeros_like(np.asarray(w, dtype=np.float64))} if momentum else {}

    def update(g, state, w, t, lr):
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        w = w - lr * wd * w
        if not momentum:
            return w - lr * sign(g), {}
        m = momentum * state["momentum"] + (1 - momentum) * g
        return w - lr * sign(m), {"momentum": m}

    return init, update
