"""AdamW: Adam with decoupled weight decay, in Keras 3's conventions.

Update equations (``t`` = 1-based step; m_0 = v_0 = vhat_0 = 0; wd = weight_decay)::

    decay first, on the current weights (Keras applies it before the update step):
        weight_decay_scaling="learning_rate":  w <- w - lr * wd * w     (Keras, torch)
        weight_decay_scaling="none":           w <- w - wd * w          (TensorFlow Addons)
    then Adam on the decayed weights:
        m_t     = b1 m_{t-1} + (1 - b1) g_t
        v_t     = b2 v_{t-1} + (1 - b2) g_t**2
        amsgrad=True:  vhat_t = max(vhat_{t-1}, v_t), used in place of v_t below
        alpha_t = lr * sqrt(1 - b2**t) / (1 - b1**t)
        w_t     = w - alpha_t * m_t / (sqrt(v_t) + epsilon)

Paper: I. Loshchilov & F. Hutter (2019), "Decoupled Weight Decay
Regularization", ICLR 2019, arXiv:1711.05101, Algorithm 2 (line 12:
theta_t = theta_{t-1} - eta_t (alpha mhat_t / (sqrt(vhat_t) + eps) + lambda theta_{t-1});
the Adam term does not depend on theta, so decaying first and then taking the
Adam step is the same update).  Keras and torch use eta_t * alpha = lr as the
decay's multiplier; TFA used none (weight_decay_scaling="none").

Epsilon is Keras's "epsilon hat" (added to sqrt(v_t), the bias corrections
folded into alpha_t), as in ``adam.py``.
"""

import numpy as np

from ._cautious import caution_step


def adamw(weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
          weight_decay_scaling="learning_rate", cautious=False):
    """Keras 3 ``AdamW`` (plus TFA's unscaled decay); see the module docstring."""

    def init(w):
        w = np.asarray(w, dtype=np.float64)
        state = {"momentum": np.zeros_like(w), "velocity": np.zeros_like(w)}
        if amsgrad:
            state["velocity_hat"] = np.zeros_like(w)
        return state

    def update(g, state, w, t, lr):
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)

        decay = weight_decay * lr if weight_decay_scaling == "learning_rate" else weight_decay
        w = w - decay * w

        m = beta_1 * state["momentum"] + (1 - beta_1) * g
        v = beta_2 * state["velocity"] + (1 - beta_2) * g**2
        new_state = {"momentum": m, "velocity": v}
        if amsgrad:
            v = np.maximum(state["velocity_hat"], v)
            new_state["velocity_hat"] = v
        alpha = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        u = alpha * m / (np.sqrt(v) + epsilon)
        return (caution_step(w, u, g) if cautious else w - u), new_state

    return init, update
