"""LARS (You, Gitman & Ginsburg 2017, arXiv:1708.03888), Algorithm 1 with momentum.

Update equations for one variable w (``t`` = 1-based step; v_0 = 0; wd = weight_decay = the
paper's beta; eta = trust coefficient; ||.|| the 2-norm over the whole variable)::

    lambda = eta * ||w|| / (||g|| + wd * ||w|| + epsilon)    (1 if ||w|| = 0 or ||g|| = 0)
    v_t    = momentum * v_{t-1} + lr * lambda * (g + wd * w)
    w_t    = w - v_t                                         (nesterov: w - (momentum v_t + lr lambda (g + wd w)))

(The paper writes gamma_t * lambda; epsilon and the ratio-1 fallback are tf.contrib's.) The
per-variable exclusions need variable names and are tested in tests/test_layerwise.py.
"""

import numpy as np


def lars(momentum=0.9, eta=0.001, epsilon=0.0, nesterov=False, weight_decay=None,
         exclude_from_layer_adaptation=None):
    wd = weight_decay or 0.0

    def init(w):
        return {"momentum": np.zeros_like(np.asarray(w, dtype=np.float64))} if momentum else {}

    def update(g, state, w, t, lr):
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        w_norm, g_norm = np.linalg.norm(w), np.linalg.norm(g)
        local = eta * w_norm / (g_norm + wd * w_norm + epsilon) if w_norm > 0 and g_norm > 0 else 1.0
        step = lr * local * (g + wd * w)
        if not momentum:
            return w - step, {}
        v = momentum * state["momentum"] + step
        if nesterov:
            return w - (momentum * v + step), {"momentum": v}
        return w - v, {"momentum": v}

    return init, update
