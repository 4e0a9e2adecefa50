"""Schedule-free AdamW (Defazio et al. 2024), in NumPy float64.

Paper: "The Road Less Scheduled", arXiv:2405.15682; written from the official code
(github.com/facebookresearch/schedule_free ``schedulefree/adamw_schedulefree.py``,
``AdamWScheduleFree.step``, v1.3+). The averaging and the interpolation step are those of
schedule-free SGD (``schedule_free_sgd.py``) with ``beta = beta_1``; the direction is::

    v = beta_2 v + (1 - beta_2) g^2
    d = g / (sqrt(v / (1 - beta_2^t)) + eps) + wd * y                        (inner_momentum = 0)

and with ``inner_momentum = mu > 0`` (official v1.4.1, "ScheduleFree+") a first moment::

    m = mu m + (1 - mu) g
    d = (m / (1 - mu^t)) / (sqrt(v / (1 - beta_2^t)) + eps) + wd * y

The returned weights are y; ``x_from_y(y, state["z"], beta_1)`` gives x.
"""

import numpy as np

from .schedule_free_sgd import averaging, schedule_free_step


def schedule_free_adamw(beta_1=0.9, beta_2=0.999, epsilon=1e-8, warmup_steps=0, r=0.0, weight_lr_power=2.0,
                        inner_momentum=0.0, weight_decay=None):
    wd = weight_decay or 0.0
    mu = inner_momentum

    def init(w):
        w = np.array(w, dtype=np.float64, copy=True)
        return {"z": w, "velocity": np.zeros_like(w), "exp_avg": np.zeros_like(w), "lr_max": -1.0, "weight_sum": 0.0}

    def update(g, state, w, t, lr):
        lr_t, c, lr_max, weight_sum = averaging(state, t, lr, warmup_steps, r, weight_lr_power)
        v = state["velocity"] * beta_2 + (g * g) * (1.0 - beta_2)
        denom = np.sqrt(v / (1.0 - beta_2**t)) + epsilon
        m = state["exp_avg"]
        if mu:
            m = m * mu + g * (1.0 - mu)
            d = (m / (1.0 - mu**t)) / denom
        else:
            d = g / denom
        if wd:
            d = d + w * wd
        y, z = schedule_free_step(w, state["z"], d, lr_t, c, beta_1)
        return y, {"z": z, "velocity": v, "exp_avg": m, "lr_max": lr_max, "weight_sum": weight_sum}

    return init, update
