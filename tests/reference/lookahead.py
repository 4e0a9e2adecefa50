"""Lookahead around any reference optimizer, in plain NumPy.

Update equations (``t`` = 1-based step; phi_0 = w_0)::

    w_t = inner_update(g_t, w_{t-1})                 (the inner optimizer's step)
    if t % k == 0:                                   (k = sync_period)
        phi <- phi + alpha * (w_t - phi)             (alpha = slow_step_size)
        w_t <- phi

Paper: M. R. Zhang, J. Lucas, G. Hinton & J. Ba (2019), "Lookahead Optimizer: k
steps forward, 1 step back", NeurIPS 2019, arXiv:1907.08610, Algorithm 1.
Defaults k = 6, alpha = 0.5 as TensorFlow Addons' ``Lookahead``.

``lookahead(inner, ...)`` takes an ``(init, update)`` pair of another reference
(e.g. ``adam()``) and returns one; the state is the inner state plus ``"slow"``.
"""

import numpy as np


def lookahead(inner, sync_period=6, slow_step_size=0.5):
    """Wrap the reference ``inner = (init, update)`` with Lookahead."""
    inner_init, inner_update = inner

    def init(w):
        w = np.asarray(w, dtype=np.float64)
        state = dict(inner_init(w))
        assert "slow" not in state
        state["slow"] = w.copy()
        return state

    def update(g, state, w, t, lr):
        inner_state = {k: v for k, v in state.items() if k != "slow"}
        w, new_state = inner_update(g, inner_state, w, t, lr)
        new_state = dict(new_state)
        slow = state["slow"]
        if t % sync_period == 0:
            slow = slow + slow_step_size * (w - slow)
            w = slow.copy()
        new_state["slow"] = slow
        return w, new_state

    return init, update
