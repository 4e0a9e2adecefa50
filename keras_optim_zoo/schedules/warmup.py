"""Warmup-based schedules: one-cycle, linear warmup before any schedule, warmup-stable-decay.

Each takes the optimizer's 0-based iteration count ``step`` (what Keras passes), is computed with
``keras.ops`` in float32 without Python branches on tensors (so it runs eagerly, in
``tf.function``, under XLA and on JAX), holds its last value after the end, and is registered as
Keras-serializable, so an optimizer using it saves to and reloads from ``.keras`` files.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.registry import PACKAGE

ANNEAL_STRATEGIES = ("cos", "linear")
DECAY_SHAPES = ("linear", "cosine", "1-sqrt")


def _anneal(start, end, fraction, strategy):
    """From ``start`` (fraction 0) to ``end`` (fraction 1): cosine or linear, as torch's OneCycleLR."""
    if strategy == "cos":
        return end + (start - end) / 2.0 * (ops.cos(math.pi * fraction) + 1.0)
    return start + (end - start) * fraction


def _fraction(step, begin, end):
    """``(step - begin) / (end - begin)`` clipped to [0, 1] (1 if the phase is empty)."""
    if end <= begin:
        return ops.cast(step >= begin, "float32")
    return ops.clip((step - begin) / float(end - begin), 0.0, 1.0)


def _positive_integer(name, value):
    return checks.integer(name, value, minimum=1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """The one-cycle policy: up from ``max / div_factor`` to ``max``, then down far below the start.

    Smith & Topin, "Super-Convergence: Very Fast Training of Neural Networks Using Large Learning
    Rates", arXiv:1708.07120 (2017), with ``torch.optim.lr_scheduler.OneCycleLR``'s phases,
    defaults and step indexing (step 0 is the first step's rate, ``initial = max / div_factor``,
    ``final = initial / final_div_factor``, ``T = total_steps``, ``p = pct_start``)::

        two phases:    initial -> max over steps [0, p T - 1];  max -> final over [p T - 1, T - 1]
        three_phase:   initial -> max over [0, p T - 1];  max -> initial over [p T - 1, 2 p T - 2];
                       initial -> final over [2 p T - 2, T - 1]

    each phase annealed by cosine (``anneal_strategy="cos"``) or linearly. Only the learning rate
    cycles (torch also cycles the momentum, which a Keras schedule cannot). Past the cycle this
    schedule holds ``final``; torch extrapolates the last phase at step ``T`` (its annealing
    overshoots ``final``) and raises after it.

    Args:
        max_learning_rate: float > 0, the peak.
        total_steps: int >= 2, the length of the cycle in optimizer steps.
        pct_start: float in (0, 1), the share of the cycle spent increasing. Default 0.3.
        anneal_strategy: ``"cos"`` (default) or ``"linear"``.
        div_factor: float > 0, ``initial = max / div_factor``. Default 25.
        final_div_factor: float > 0, ``final = initial / final_div_factor``. Default 1e4.
        three_phase: bool, go back to ``initial`` before annealing to ``final``. Default False.
        name: optional name.
    """

    def __init__(self, max_learning_rate, total_steps, pct_start=0.3, anneal_strategy="cos", div_factor=25.0,
                 final_div_factor=1e4, three_phase=False, name=None):
        super().__init__()
        self.max_learning_rate = checks.in_range("max_learning_rate", max_learning_rate, 0.0, math.inf, low_open=True)
        self.total_steps = checks.integer("total_steps", total_steps, minimum=2)
        self.pct_start = checks.in_range("pct_start", pct_start, 0.0, 1.0, low_open=True, high_open=True)
        self.anneal_strategy = checks.one_of("anneal_strategy", anneal_strategy, ANNEAL_STRATEGIES)
        self.div_factor = checks.in_range("div_factor", div_factor, 0.0, math.inf, low_open=True)
        self.final_div_factor = checks.in_range("final_div_factor", final_div_factor, 0.0, math.inf, low_open=True)
        self.three_phase = checks.boolean("three_phase", three_phase)
        self.name = name

    def _phases(self):
        """``[(end_step, start_value, end_value)]`` as torch's OneCycleLR builds them."""
        initial = self.max_learning_rate / self.div_factor
        final = initial / self.final_div_factor
        up = float(self.pct_start * self.total_steps) - 1.0
        last = float(self.total_steps - 1)
        if self.three_phase:
            down = float(2 * self.pct_start * self.total_steps) - 2.0
            return [(up, initial, self.max_learning_rate), (down, self.max_learning_rate, initial), (last, initial, final)]
        return [(up, initial, self.max_learning_rate), (last, self.max_learning_rate, final)]

    def __call__(self, step):
        step = ops.cast(step, "float32")
        phases = self._phases()
        value = ops.convert_to_tensor(phases[-1][2], "float32")
        begin = 0.0
        pieces = []
        for end, start_value, end_value in phases:
            pieces.append((begin, end, _anneal(start_value, end_value, _fraction(step, begin, end), self.anneal_strategy)))
            begin = end
        # The first phase whose end has not been passed (torch: `step <= end_step`), else the last.
        for begin, end, piece in reversed(pieces):
            value = ops.where(step <= end, piece, value)
        return value

    def get_config(self):
        return {
            "max_learning_rate": self.max_learning_rate, "total_steps": self.total_steps, "pct_start": self.pct_start,
            "anneal_strategy": self.anneal_strategy, "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor, "three_phase": self.three_phase, "name": self.name,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup for ``warmup_steps`` steps, then any schedule (or a constant).

    ::

        step <  warmup_steps:  initial + (after(0) - initial) * step / warmup_steps
        step >= warmup_steps:  after(step - warmup_steps)

    The schedule that follows starts at its own step 0 when the warmup ends (optax's
    ``join_schedules`` convention), so e.g. a ``CosineDecay(1e-3, decay_steps=9000)`` after 1000
    warmup steps ends at step 10000, and the warmup ends exactly at ``after(0)``.

    Args:
        after: a ``LearningRateSchedule`` or a float (a constant learning rate).
        warmup_steps: int >= 1.
        initial_learning_rate: float >= 0, the rate at step 0. Default 0.
        name: optional name.
    """

    def __init__(self, after, warmup_steps, initial_learning_rate=0.0, name=None):
        super().__init__()
        if not isinstance(after, keras.optimizers.schedules.LearningRateSchedule):
            after = checks.non_negative("after", after)
        self.after = after
        self.warmup_steps = _positive_integer("warmup_steps", warmup_steps)
        self.initial_learning_rate = checks.non_negative("initial_learning_rate", initial_learning_rate)
        self.name = name

    def _after(self, step):
        if isinstance(self.after, keras.optimizers.schedules.LearningRateSchedule):
            return ops.cast(self.after(step), "float32")
        return ops.convert_to_tensor(self.after, "float32")

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak = self._after(ops.zeros_like(step))
        warm = self.initial_learning_rate + (peak - self.initial_learning_rate) * (step / float(self.warmup_steps))
        rest = self._after(ops.maximum(step - float(self.warmup_steps), 0.0))
        return ops.where(step < float(self.warmup_steps), warm, rest)

    def get_config(self):
        after = self.after
        if isinstance(after, keras.optimizers.schedules.LearningRateSchedule):
            after = keras.optimizers.schedules.serialize(after)
        return {"after": after, "warmup_steps": self.warmup_steps,
                "initial_learning_rate": self.initial_learning_rate, "name": self.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["after"], dict):
            config["after"] = keras.optimizers.schedules.deserialize(config["after"])
        return cls(**config)


@keras.saving.register_keras_serializable(package=PACKAGE)
class WarmupStableDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Warmup-stable-decay (WSD): a linear warmup, a long constant stage, a short final decay.

    Hu et al., "MiniCPM: Unveiling the Potential of Small Language Models with Scalable Training
    Strategies", arXiv:2404.06395 (2024); decay shapes as compared by Hägele et al., "Scaling Laws
    and Compute-Optimal Training Beyond Fixed Training Durations", arXiv:2405.18392 (2024), whose
    "1-sqrt" cooldown they found best. With ``D = total_steps - decay_steps`` (the decay's start)
    and ``p = (step - D) / decay_steps``::

        step <  warmup_steps:  initial + (peak - initial) * step / warmup_steps
        step <  D:             peak
        step >= D:             final + (peak - final) * shape(min(p, 1))
            shape: linear 1 - p;  cosine (1 + cos(pi p)) / 2;  1-sqrt  1 - sqrt(p)

    Args:
        peak_learning_rate: float > 0.
        total_steps: int >= 1, where the decay ends (the rate holds ``final`` after it).
        warmup_steps: int >= 0. Default 0.
        decay_steps: int >= 1, with ``warmup_steps + decay_steps <= total_steps``. Default: 10% of
            ``total_steps`` (at least 1).
        initial_learning_rate: float >= 0, the rate at step 0 when warming up. Default 0.
        final_learning_rate: float >= 0. Default 0.
        decay_shape: ``"linear"`` (default), ``"cosine"`` or ``"1-sqrt"``.
        name: optional name.
    """

    def __init__(self, peak_learning_rate, total_steps, warmup_steps=0, decay_steps=None, initial_learning_rate=0.0,
                 final_learning_rate=0.0, decay_shape="linear", name=None):
        super().__init__()
        self.peak_learning_rate = checks.in_range("peak_learning_rate", peak_learning_rate, 0.0, math.inf, low_open=True)
        self.total_steps = _positive_integer("total_steps", total_steps)
        self.warmup_steps = checks.integer("warmup_steps", warmup_steps, minimum=0)
        if decay_steps is None:
            decay_steps = max(1, self.total_steps // 10)
        self.decay_steps = _positive_integer("decay_steps", decay_steps)
        if self.warmup_steps + self.decay_steps > self.total_steps:
            raise ValueError(
                "Arguments `warmup_steps` + `decay_steps` must be <= `total_steps`; received "
                f"warmup_steps={self.warmup_steps}, decay_steps={self.decay_steps}, total_steps={self.total_steps}."
            )
        self.initial_learning_rate = checks.non_negative("initial_learning_rate", initial_learning_rate)
        self.final_learning_rate = checks.non_negative("final_learning_rate", final_learning_rate)
        self.decay_shape = checks.one_of("decay_shape", decay_shape, DECAY_SHAPES)
        self.name = name

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak, final = self.peak_learning_rate, self.final_learning_rate
        decay_start = float(self.total_steps - self.decay_steps)
        p = _fraction(step, decay_start, float(self.total_steps))
        if self.decay_shape == "linear":
            shape = 1.0 - p
        elif self.decay_shape == "cosine":
            shape = (1.0 + ops.cos(math.pi * p)) / 2.0
        else:
            shape = 1.0 - ops.sqrt(p)
        value = ops.where(step < decay_start, ops.convert_to_tensor(peak, "float32"), final + (peak - final) * shape)
        if self.warmup_steps:
            warm = self.initial_learning_rate + (peak - self.initial_learning_rate) * (step / float(self.warmup_steps))
            value = ops.where(step < float(self.warmup_steps), warm, value)
        return value

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate, "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps, "decay_steps": self.decay_steps,
            "initial_learning_rate": self.initial_learning_rate, "final_learning_rate": self.final_learning_rate,
            "decay_shape": self.decay_shape, "name": self.name,
        }
