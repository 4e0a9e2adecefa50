"""SGD with optional (Nesterov) momentum, in Keras 3's conventions.

Update equations (``t`` = 1-based step, ``lr`` = learning rate of step t)::

    momentum == 0:
        w_t = w_{t-1} - lr * g_t
    momentum != 0 (velocity form, m_0 = 0):
        m_t = momentum * m_{t-1} - lr * g_t
        nesterov=False:  w_t = w_{t-1} + m_t
        nesterov=True:   w_t = w_{t-1} + momentum * m_t - lr * g_t

Papers: heavy-ball momentum, B. T. Polyak (1964), "Some methods of speeding up
the convergence of iteration methods", USSR Comp. Math. and Math. Physics 4(5);
Nesterov's accelerated gradient, Y. Nesterov (1983), Soviet Math. Doklady 27;
as used for deep learning by Sutskever, Martens, Dahl & Hinton (2013), ICML.
The Nesterov form above is the "look-ahead free" reformulation of Bengio,
Boulanger-Lewandowski & Pascanu (2012), arXiv:1212.0901, eq. (7).

Conventions: no epsilon, no bias correction.  The learning rate is folded into
the velocity ``m`` (so a learning-rate change affects past steps' velocity
only through ``m``, as in Keras, not as in PyTorch's ``m = mu*m + g``).  Keras
creates the ``momentum`` slot only when ``momentum != 0``; so does ``init``.
"""

import numpy as np


def sgd(momentum=0.0, nesterov=False):
    """Keras 3 ``SGD``; see the module docstring for the equations."""

    def init(w):
        w = np.asarray(w, dtype=np.float64)
        if momentum != 0:
            return {"momentum": np.zeros_like(w)}
        return {}

    def update(g, state, w, t, lr):
        del t  # SGD does not depend on the step number.
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        if momentum == 0:
            return w - lr * g, {}
        m = momentum * state["momentum"] - lr * g
        if nesterov:
            new_w = w + (momentum * m - lr * g)
        else:
            new_w = w + m
        return new_w, {"momentum": m}

    return init, update
