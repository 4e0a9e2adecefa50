"""SGDW: SGD with (Nesterov) momentum and decoupled weight decay.

Update equations (``t`` = 1-based step, ``lr`` = learning rate of step t,
``wd`` = weight_decay, m_0 = 0)::

    decay first (the gradient is not changed by it):
        weight_decay_scaling="none" (default): w' = w_{t-1} - wd * w_{t-1}
        weight_decay_scaling="learning_rate":  w' = w_{t-1} - lr * wd * w_{t-1}
    then SGD on the decayed weights (Keras's velocity form):
        momentum == 0:   w_t = w' - lr * g_t
        momentum != 0:   m_t = momentum * m_{t-1} - lr * g_t
                         nesterov=False:  w_t = w' + m_t
                         nesterov=True:   w_t = w' + momentum * m_t - lr * g_t

Paper: I. Loshchilov & F. Hutter (2019), "Decoupled Weight Decay
Regularization", ICLR 2019, arXiv:1711.05101, Algorithm 1 (SGD with momentum
and SGDW).  The paper multiplies the decay by the schedule multiplier eta_t
(1 for a constant learning rate: "none", as TensorFlow Addons' SGDW);
"learning_rate" scaling (Keras, torch) multiplies by the whole learning rate.

The decay is decoupled: it never enters the momentum ``m``.  Compare L2
regularization, which adds ``wd * w`` to ``g`` and so to ``m``.
"""

import numpy as np


def sgdw(weight_decay=1e-4, momentum=0.0, nesterov=False, weight_decay_scaling="none"):
    """SGD with decoupled weight decay; see the module docstring."""
    if weight_decay_scaling not in ("learning_rate", "none"):
        raise ValueError(weight_decay_scaling)

    def init(w):
        w = np.asarray(w, dtype=np.float64)
        return {"momentum": np.zeros_like(w)} if momentum != 0 else {}

    def update(g, state, w, t, lr):
        del t
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        coefficient = lr * weight_decay if weight_decay_scaling == "learning_rate" else weight_decay
        w = w - coefficient * w
        if momentum == 0:
            return w - lr * g, {}
        m = momentum * state["momentum"] - lr * g
        if nesterov:
            return w + (momentum * m - lr * g), {"momentum": m}
        return w + m, {"momentum": m}

    return init, update
