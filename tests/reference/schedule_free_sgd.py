"""Schedule-free SGD (Defazio et al. 2024), in NumPy float64.

Paper: A. Defazio, X. Yang, H. Mehta, K. Mishchenko, A. Khaled & A. Cutkosky (2024), "The Road
Less Scheduled", arXiv:2405.15682; written from the official code
(github.com/facebookresearch/schedule_free ``schedulefree/sgd_schedulefree.py``,
``SGDScheduleFree.step``, v1.3+), not from any Keras code.

The returned weights are y, the point where gradients are taken (what the model holds during
training); ``x_from_y(y, state["z"], momentum)`` gives the averaged iterate x (``eval()``).
Update at the 1-based step ``t`` (``k = t - 1``; ``z = y`` at the first step)::

    lr_t   = lr * (t / warmup_steps if t <= warmup_steps else 1)
    lr_max = max(lr_t, lr_max)                     (lr_max starts at -1)
    weight = t^r * lr_max^weight_lr_power ;  weight_sum += weight
    c      = weight / weight_sum                   (0 if weight_sum == 0)
    d      = g + wd * y
    y      = lerp(y, z, c) + lr_t * (beta * (1 - c) - 1) * d
    z      = z - lr_t * d

``lerp`` is ``torch.lerp``: ``start + w (end - start)`` if ``w < 0.5`` else
``end - (end - start)(1 - w)``.
"""

import numpy as np


def lerp(start, end, weight):
    """``torch.lerp`` (two branches, as PyTorch computes it)."""
    if weight < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1.0 - weight)


def x_from_y(y, z, beta):
    """The averaged iterate x held in eval mode (official ``eval()``)."""
    return lerp(y, z, 1.0 - 1.0 / beta)


def y_from_x(x, z, beta):
    """Back to y (official ``train()``)."""
    return lerp(x, z, 1.0 - beta)


def averaging(state, t, lr, warmup_steps, r, weight_lr_power):
    """``(lr_t, c, new lr_max, new weight_sum)`` of step ``t`` (the official group-level part)."""
    sched = t / warmup_steps if t - 1 < warmup_steps else 1.0
    lr_t = lr * sched
    lr_max = max(lr_t, state["lr_max"])
    weight = (t**r) * (lr_max**weight_lr_power)
    weight_sum = state["weight_sum"] + weight
    c = weight / weight_sum if weight_sum != 0 else 0.0
    return lr_t, c, lr_max, weight_sum


def schedule_free_step(y, z, d, lr_t, c, beta):
    """The shared interpolation step: ``(new y, new z)`` for the direction ``d``."""
    new_y = lerp(y, z, c) + d * (lr_t * (beta * (1.0 - c) - 1.0))
    return new_y, z - d * lr_t


def schedule_free_sgd(momentum=0.9, warmup_steps=0, r=0.0, weight_lr_power=2.0, weight_decay=None):
    wd = weight_decay or 0.0

    def init(w):
        return {"z": np.array(w, dtype=np.float64, copy=True), "lr_max": -1.0, "weight_sum": 0.0}

    def update(g, state, w, t, lr):
        lr_t, c, lr_max, weight_sum = averaging(state, t, lr, warmup_steps, r, weight_lr_power)
        d = g + w * wd if wd else g
        y, z = schedule_free_step(w, state["z"], d, lr_t, c, momentum)
        return y, {"z": z, "lr_max": lr_max, "weight_sum": weight_sum}

    return init, update
