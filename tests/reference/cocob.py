"""COCOB-Backprop: learning-rate-free training by coin betting.

Update equations, element-wise, written with the gradient g (the paper uses
the negative gradient); ``w_1`` the initial weights, tilde_w = w - w_1::

    L_0 = epsilon, G_0 = 0, reward_0 = 0, theta_0 = 0, tilde_w_0 = 0
    L_t       = max(L_{t-1}, |g_t|)
    G_t       = G_{t-1} + |g_t|
    reward_t  = max(reward_{t-1} - g_t * tilde_w_{t-1}, 0)
    theta_t   = theta_{t-1} + g_t
    tilde_w_t = -theta_t / (L_t * max(G_t + L_t, alpha * L_t)) * (reward_t + L_t)
    w_t       = w_1 + tilde_w_t

Paper: F. Orabona & T. Tommasi (2017), "Training Deep Networks without Learning
Rates Through Coin Betting", NeurIPS 2017, arXiv:1705.07795, Algorithm 2
(COCOB-Backprop), with L_0 = epsilon instead of 0 (as TensorFlow Addons and
optax), which avoids 0/0 while all gradients of a weight are zero.

There is no learning rate: ``lr`` is ignored.
"""

import numpy as np


def cocob(alpha=100.0, epsilon=1e-8):
    """COCOB-Backprop; see the module docstring."""

    def init(w):
        w = np.asarray(w, dtype=np.float64)
        return {
            "initial": w.copy(),
            "scale": np.full_like(w, epsilon),
            "grad_norm_sum": np.zeros_like(w),
            "reward": np.zeros_like(w),
            "gradients_sum": np.zeros_like(w),
            "tilde_w": np.zeros_like(w),
        }

    def update(g, state, w, t, lr):
        del t, lr  # learning-rate free
        g = np.asarray(g, dtype=np.float64)
        scale = np.maximum(state["scale"], np.abs(g))
        grad_norm_sum = state["grad_norm_sum"] + np.abs(g)
        reward = np.maximum(state["reward"] - g * state["tilde_w"], 0.0)
        gradients_sum = state["gradients_sum"] + g
        tilde_w = -gradients_sum / (scale * np.maximum(grad_norm_sum + scale, alpha * scale)) * (reward + scale)
        new_state = dict(state, scale=scale, grad_norm_sum=grad_norm_sum, reward=reward,
                         gradients_sum=gradients_sum, tilde_w=tilde_w)
        return state["initial"] + tilde_w, new_state

    return init, update
