"""D-Adaptation Adam, written from the official code (Defazio & Mishchenko 2023, arXiv:2301.07733,
github.com/facebookresearch/dadaptation ``dadaptation/dadapt_adam.py``), for ALL variables at once.

The step size d is one number for the whole optimizer: the sums below run over every variable,
so the reference updates every variable together. ``init`` and ``update`` take either a LIST of
arrays (all the optimizer's variables: the real algorithm) or one array (a single-variable run,
which is then exact too). ``t`` = 1-based step; sb2 = sqrt(beta_2) (``beta_2 ** 0.5``)::

    dlr   = d * lr * (sqrt(1 - b2^t) / (1 - b1^t) if use_bias_correction else 1)
    acum  = sum_vars dlr * <g, s / (sqrt(v) + eps)>                   (old s, v)
    m     = b1 m + dlr (1 - b1) g ;  v = b2 v + (1 - b2) g^2 ;  s = sb2 s + dlr (1 - sb2) g
    sk_l1 = sum_vars ||s||_1           (0 if lr == 0: nothing is accumulated then)
    if sk_l1 == 0: return (weights and d unchanged; m, v, s updated if lr > 0)
    num   = sb2 num + (1 - sb2) acum
    d     = max(d, min(num / ((1 - sb2) sk_l1), d * growth_rate))
    w     = w - wd * dlr * w  (decouple=True form) ;  w = w - m / (sqrt(v) + eps)
"""

import math

import numpy as np


def as_list(x):
    """``(list of float64 arrays, was_a_list)``."""
    if isinstance(x, (list, tuple)):
        return [np.asarray(a, dtype=np.float64) for a in x], True
    return [np.asarray(x, dtype=np.float64)], False


def run_jointly(factory, variant, initial, gradients, learning_rates):
    """Every variable through the reference together: ``gradients[t-1][i]`` is step t's gradient
    of variable i (dense). Returns the final weights (a list) and the final state."""
    init, update = factory(**variant)
    weights = [np.array(w, dtype=np.float64) for w in initial]
    state = init(weights)
    for t, step in enumerate(gradients, start=1):
        weights, state = update(list(step), state, weights, t, learning_rates[t - 1])
    return weights, state


def dadapt_adam(beta_1=0.9, beta_2=0.999, epsilon=1e-8, d0=1e-6, growth_rate=math.inf,
                use_bias_correction=False, weight_decay=None):
    wd = weight_decay or 0.0
    sb2 = beta_2**0.5

    def init(w):
        ws, _ = as_list(w)
        return {
            "d": d0,
            "numerator_weighted": 0.0,
            "momentum": [np.zeros_like(a) for a in ws],
            "velocity": [np.zeros_like(a) for a in ws],
            "s": [np.zeros_like(a) for a in ws],
        }

    def update(g, state, w, t, lr):
        gs, _ = as_list(g)
        ws, was_list = as_list(w)
        d = state["d"]
        bc = math.sqrt(1 - beta_2**t) / (1 - beta_1**t) if use_bias_correction else 1.0
        dlr = d * lr * bc
        ms, vs, ss = list(state["momentum"]), list(state["velocity"]), list(state["s"])
        acum, sk_l1 = 0.0, 0.0
        if lr > 0:
            for i, grad in enumerate(gs):
                acum += dlr * float(np.sum(grad * (ss[i] / (np.sqrt(vs[i]) + epsilon))))
                ms[i] = ms[i] * beta_1 + grad * (dlr * (1 - beta_1))
                vs[i] = vs[i] * beta_2 + (1 - beta_2) * grad * grad
                ss[i] = ss[i] * sb2 + grad * (dlr * (1 - sb2))
                sk_l1 += float(np.sum(np.abs(ss[i])))
        new_state = dict(state, momentum=ms, velocity=vs, s=ss)
        if sk_l1 == 0:
            return (ws if was_list else ws[0]), new_state
        numerator = sb2 * state["numerator_weighted"] + (1 - sb2) * acum
        d_hat = numerator / ((1 - sb2) * sk_l1)
        new_state["d"] = max(d, min(d_hat, d * growth_rate))
        new_state["numerator_weighted"] = numerator
        new_ws = []
        for i, p in enumerate(ws):
            if wd:
                p = p + p * (-wd * dlr)
            new_ws.append(p - ms[i] / (np.sqrt(vs[i]) + epsilon))
        return (new_ws if was_list else new_ws[0]), new_state

    return init, update


dadapt_adam.joint = True  # the reference of ALL variables at once (see run_jointly)
