"""LazyAdam: Adam whose sparse updates touch only the rows present (TFA's LazyAdam).

Dense gradients: exactly Adam in Keras 3's conventions (see ``adam.py``)::

    m_t     = b1 m_{t-1} + (1 - b1) g_t
    v_t     = b2 v_{t-1} + (1 - b2) g_t**2
    amsgrad=True:  vhat_t = max(vhat_{t-1}, v_t), used in place of v_t below
    alpha_t = lr * sqrt(1 - b2**t) / (1 - b1**t)
    w_t     = w_{t-1} - alpha_t * m_t / (sqrt(v_t) + epsilon)

Sparse gradients (the lazy semantics): the rows of a repeated index are summed,
then the equations above are applied to the rows present only, with t the
GLOBAL step; every other row keeps its weight, its m, v and vhat (they do not
decay).  This function is the per-row update; ``tests/harness.py``
(``run_reference(..., lazy=True)``) applies it to the touched rows of a sparse
gradient, exactly as the semantics above say.

Paper: D. P. Kingma & J. Ba (2014), "Adam: A Method for Stochastic
Optimization", arXiv:1412.6980; the lazy sparse update is TensorFlow's
``LazyAdamOptimizer`` / TensorFlow Addons' ``LazyAdam`` (no separate paper).
"""

import numpy as np

from ._cautious import caution_step


def lazy_adam(beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, cautious=False):
    """Adam's update for the rows it is given (all rows for a dense gradient).

    ``cautious=True``: the mask's mean is over the whole variable, the rows not given counting
    as masked; its size is kept in the scalar state ``size`` (passed whole by the lazy harness).
    """

    def init(w):
        w = np.asarray(w, dtype=np.float64)
        state = {"momentum": np.zeros_like(w), "velocity": np.zeros_like(w)}
        if amsgrad:
            state["velocity_hat"] = np.zeros_like(w)
        if cautious:
            state["size"] = np.float64(w.size)
        return state

    def update(g, state, w, t, lr):
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        m = beta_1 * state["momentum"] + (1 - beta_1) * g
        v = beta_2 * state["velocity"] + (1 - beta_2) * g**2
        new_state = {"momentum": m, "velocity": v}
        if cautious:
            new_state["size"] = state["size"]
        if amsgrad:
            v = np.maximum(state["velocity_hat"], v)
            new_state["velocity_hat"] = v
        alpha = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        u = alpha * m / (np.sqrt(v) + epsilon)
        return (caution_step(w, u, g, state["size"]) if cautious else w - u), new_state

    return init, update
