"""Nadam (Adam with Nesterov momentum), in Keras 3's conventions.

Update equations (``t`` = 1-based step; m_0 = v_0 = 0, P_0 = 1)::

    mu_t   = beta_1 * (1 - 0.5 * 0.96**(d * t))     # momentum schedule
             d = 1              if schedule_decay is None  (Keras 3 Nadam)
             d = schedule_decay otherwise (Keras 1/2, tf.keras legacy Nadam,
                                Dozat's paper: 0.96**(t/250), i.e. d = 0.004)
    P_t    = P_{t-1} * mu_t                          # "u_product" = prod_{i<=t} mu_i
    P_t+1  = P_t * mu_{t+1}                          # not stored, recomputed
    m_t    = m_{t-1} + (g_t - m_{t-1}) * (1 - beta_1)
    v_t    = v_{t-1} + (g_t**2 - v_{t-1}) * (1 - beta_2)
    mhat_t = mu_{t+1} * m_t / (1 - P_{t+1}) + (1 - mu_t) * g_t / (1 - P_t)
    vhat_t = v_t / (1 - beta_2**t)
    w_t    = w_{t-1} - lr * mhat_t / (sqrt(vhat_t) + epsilon)

Paper: T. Dozat (2016), "Incorporating Nesterov Momentum into Adam", ICLR 2016
Workshop track (no arXiv id; openreview OM0jvwB8jIp57ZJjtNEZ), Algorithm 2.

Conventions: epsilon is OUTSIDE the square root but applied AFTER bias
correction (eps is added to sqrt(v_t / (1 - beta_2**t)) -- unlike Keras' Adam,
which adds eps to the uncorrected sqrt(v_t)).  The first moment is
"bias-corrected" with the product of the momentum schedule, not with
beta_1**t, while m itself is accumulated with the constant beta_1 (as in
Keras 2 and Keras 3).  Keras 3 dropped the
``schedule_decay`` argument and hard-codes d = 1, a schedule 250x faster
than the paper's (mu_t -> beta_1 within ~100 steps instead of ~25 000);
``schedule_decay`` here is an extension to express the Keras-2 / paper
schedule and is not an argument of ``keras.optimizers.Nadam``.

In Keras the product P is ONE optimizer-wide scalar advanced once per
``apply_gradients`` (in ``_backend_update_step``, before the per-variable
updates); here every variable's state carries its own copy under
``"u_product"`` (a 0-d float64 array), which is equivalent because it only
depends on t.  ``update`` must therefore be called with t = 1, 2, 3, ... in
order, exactly once per step.
"""

import numpy as np

from ._cautious import caution_step


def nadam(beta_1=0.9, beta_2=0.999, epsilon=1e-7, schedule_decay=None, cautious=False):
    """Keras 3 ``Nadam`` (plus the Keras-2 ``schedule_decay``); see module doc.

    ``cautious=True`` (a zoo extension, not in Keras): the step is masked by ``_cautious``."""

    def mu(step):
        """Momentum schedule mu_step = beta_1 * (1 - 0.5 * 0.96**(d*step))."""
        if schedule_decay is None:
            return beta_1 * (1.0 - 0.5 * 0.96**step)
        return beta_1 * (1.0 - 0.5 * 0.96 ** (schedule_decay * step))

    def init(w):
        w = np.asarray(w, dtype=np.float64)
        return {
            "momentum": np.zeros_like(w),
            "velocity": np.zeros_like(w),
            "u_product": np.array(1.0, dtype=np.float64),
        }

    def update(g, state, w, t, lr):
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)

        u_t = mu(t)
        u_t_1 = mu(t + 1)
        u_product_t = state["u_product"] * u_t  # prod_{i<=t} mu_i
        u_product_t_1 = u_product_t * u_t_1  # prod_{i<=t+1} mu_i

        m = state["momentum"] + (g - state["momentum"]) * (1 - beta_1)
        v = state["velocity"] + (g**2 - state["velocity"]) * (1 - beta_2)

        m_hat = u_t_1 * m / (1 - u_product_t_1) + (1 - u_t) * g / (1 - u_product_t)
        v_hat = v / (1 - beta_2**t)
        step = lr * m_hat / (np.sqrt(v_hat) + epsilon)
        new_w = caution_step(w, step, g) if cautious else w - step
        return new_w, {
            "momentum": m,
            "velocity": v,
            "u_product": np.asarray(u_product_t, dtype=np.float64),
        }

    return init, update
