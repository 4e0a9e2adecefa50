"""Prodigy, written from the official code (Mishchenko & Defazio 2023, arXiv:2306.06101,
github.com/konstmish/prodigy ``prodigyopt/prodigy.py``), for ALL variables at once.

The step size d is one number for the whole optimizer: the sums below run over every variable,
so the reference updates every variable together. ``init`` and ``update`` take either a LIST of
arrays (all the optimizer's variables) or one array (a single-variable run). ``t`` = 1-based step;
b3 = sqrt(b2) unless given; w0 = the weights passed to ``init``::

    dlr   = d * lr * (sqrt(1 - b2^t) / (1 - b1^t) if use_bias_correction else 1)
    num   = b3 num + sum_vars (d / d0) dlr <g, w0 - w>
    m     = b1 m + d (1 - b1) g ;  v = b2 v + d^2 (1 - b2) g^2
    s     = b3 s + (d / d0) dlr g          (safeguard_warmup: (d / d0) d g)
    den   = sum_vars ||s||_1               (0 if lr == 0: nothing is accumulated then)
    if den == 0: return (weights, d, num unchanged; m, v, s updated if lr > 0)
    d_hat = d_coef num / den ; d = max(d, d_hat) if d == d0 ; d_max = max(d_max, d_hat)
    d     = min(d_max, d * growth_rate)
    w     = w - wd * dlr * w ;  w = w - dlr m / (sqrt(v) + d eps)      (beta_1 = 0: m -> d_new g)
(m, v and dlr use the d from before the step; the eps term the new d.)
"""

import math

import numpy as np

from .dadapt_adam import as_list, run_jointly  # noqa: F401  (run_jointly re-exported)


def prodigy(beta_1=0.9, beta_2=0.999, beta_3=None, epsilon=1e-8, d0=1e-6, d_coef=1.0, growth_rate=math.inf,
            use_bias_correction=False, safeguard_warmup=False, weight_decay=None):
    wd = weight_decay or 0.0
    b3 = math.sqrt(beta_2) if beta_3 is None else beta_3

    def init(w):
        ws, _ = as_list(w)
        return {
            "d": d0,
            "d_max": d0,
            "d_numerator": 0.0,
            "p0": [a.copy() for a in ws],
            "momentum": [np.zeros_like(a) for a in ws],
            "velocity": [np.zeros_like(a) for a in ws],
            "s": [np.zeros_like(a) for a in ws],
        }

    def update(g, state, w, t, lr):
        gs, _ = as_list(g)
        ws, was_list = as_list(w)
        d, d_max = state["d"], state["d_max"]
        bc = math.sqrt(1 - beta_2**t) / (1 - beta_1**t) if use_bias_correction else 1.0
        dlr = d * lr * bc
        numerator = state["d_numerator"] * b3
        ms, vs, ss = list(state["momentum"]), list(state["velocity"]), list(state["s"])
        delta, d_denom = 0.0, 0.0
        if lr > 0:
            for i, grad in enumerate(gs):
                delta += (d / d0) * dlr * float(np.sum(grad * (state["p0"][i] - ws[i])))
                if beta_1 > 0:
                    ms[i] = ms[i] * beta_1 + grad * (d * (1 - beta_1))
                vs[i] = vs[i] * beta_2 + grad * grad * (d * d * (1 - beta_2))
                ss[i] = ss[i] * b3 + grad * ((d / d0) * (d if safeguard_warmup else dlr))
                d_denom += float(np.sum(np.abs(ss[i])))
        new_state = dict(state, momentum=ms, velocity=vs, s=ss)
        if d_denom == 0:
            return (ws if was_list else ws[0]), new_state
        numerator = numerator + delta
        d_hat = d_coef * numerator / d_denom
        if d == d0:
            d = max(d, d_hat)
        d_max = max(d_max, d_hat)
        d = min(d_max, d * growth_rate)
        new_state.update(d=d, d_max=d_max, d_numerator=numerator)
        new_ws = []
        for i, p in enumerate(ws):
            denom = np.sqrt(vs[i]) + d * epsilon
            if wd:
                p = p + p * (-wd * dlr)
            if beta_1 > 0:
                p = p - dlr * (ms[i] / denom)
            else:
                p = p - (dlr * d) * (gs[i] / denom)  # official: value=-dlr * d, the new d
            new_ws.append(p)
        return (new_ws if was_list else new_ws[0]), new_state

    return init, update


prodigy.joint = True  # the reference of ALL variables at once (see run_jointly)
