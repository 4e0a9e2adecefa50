"""Schedule-free SGD and AdamW (Defazio et al. 2024): iterate averaging instead of a schedule.

Both optimizers share ``ScheduleFree``: the z sequence (a slot), the optimizer-wide averaging
weights (``weight_sum``, ``lr_max``), the interpolation that keeps the model's variables at the
gradient point y, and the train/eval switch between y and the averaged iterate x
(``eval_mode`` / ``train_mode`` and ``ScheduleFreeEvalCallback``). A subclass only gives the
base direction (SGD: the gradient; AdamW: the gradient over Adam's bias-corrected denominator).
"""

from __future__ import annotations

import keras
from keras import ops

from keras_optim_zoo import checks, keras_adapter
from keras_optim_zoo.moments import bias_correction, compensated_add, const, constant_initializer
from keras_optim_zoo.families.per_variable import PerVariableChoices
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec
from keras_optim_zoo.keras_adapter import find_optimizer

__all__ = ["ZooScheduleFreeSGD", "ZooScheduleFreeAdamW", "ScheduleFreeEvalCallback"]


def lerp(start, end, weight):
    """``torch.lerp(start, end, weight)`` as PyTorch computes it (the official code's operation)::

        weight < 0.5:  start + weight * (end - start)
        otherwise:     end - (end - start) * (1 - weight)

    ``weight`` is a scalar tensor or a Python float.
    """
    diff = ops.subtract(end, start)
    if isinstance(weight, float):
        if weight < 0.5:
            return ops.add(start, ops.multiply(diff, const(weight, diff.dtype)))
        return ops.subtract(end, ops.multiply(diff, const(1.0 - weight, diff.dtype)))
    low = ops.add(start, ops.multiply(diff, weight))
    high = ops.subtract(end, ops.multiply(diff, ops.subtract(const(1.0, diff.dtype), weight)))
    return ops.where(ops.less(weight, 0.5), low, high)


def _variables_of(target):
    """A model/layer (its trainable variables), a list of variables, or None."""
    if target is None:
        return None
    if hasattr(target, "trainable_variables") and not isinstance(target, (list, tuple)):
        return list(target.trainable_variables)
    return list(target)


#: Largest ``r`` and ``weight_lr_power`` accepted (the official code has no bound; see ``__init__``).
MAX_POWER = 4.0


def _check_interpolation_beta(name, value):
    return checks.in_range(name, value, 0.0, 1.0, low_open=True, high_open=True)


class ScheduleFree(PerVariableChoices):
    """Shared machinery of the schedule-free optimizers (see ``ZooScheduleFreeSGD``).

    A subclass sets ``_interpolation_key`` (the attribute holding beta: ``momentum`` or
    ``beta_1``), ``_extra_slot_specs()`` and ``_direction(gradient, y, slots, step)`` returning
    ``(direction, new_slots)``; weight decay at y is added to the direction here.
    """

    _full_precision_slots = ("z",)  # a copy of the weights: kept in the variable's dtype
    _interpolation_key = None

    def __init__(self, learning_rate, warmup_steps=0, r=0.0, weight_lr_power=2.0, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.warmup_steps = checks.integer("warmup_steps", warmup_steps, 0)
        # weight_sum adds up t^r * lr_max^p as the official code: bounded so that it stays finite
        # (and non-zero) in float32 state for any practical run (t^4 < 3e38 up to t = 1.3e9).
        self.r = checks.in_range("r", r, 0.0, MAX_POWER)
        self.weight_lr_power = checks.in_range("weight_lr_power", weight_lr_power, 0.0, MAX_POWER)
        self._reject_unscaled_decay(type(self).__name__, self.weight_decay_scaling)

    @property
    def _beta(self):
        return getattr(self, self._interpolation_key)

    # ------------------------------------------------------------------ state
    def _slot_specs(self):
        # z starts as the weights at each variable's first update ("started" 0 -> 1, as the
        # official code creates it); "holds_x" is 1 while the variable holds x (eval mode).
        return [("z", "zeros")] + self._extra_slot_specs() + [("started", "zeros", ()), ("holds_x", "zeros", ())]

    def _extra_slot_specs(self):
        return []

    def _build_step_state(self, var_list):
        dtype = self._step_state_dtype(var_list)
        self._weight_sum = self.add_variable(
            shape=(), initializer="zeros", dtype=dtype, aggregation="only_first_replica", name="weight_sum"
        )
        # Kahan compensation of weight_sum (moments.compensated_add): the official sum is a Python
        # float64; a float32 running sum would drift ~1% in 10^6 steps.
        self._weight_sum_compensation = self.add_variable(
            shape=(), initializer="zeros", dtype=dtype, aggregation="only_first_replica",
            name="weight_sum_compensation",
        )
        self._lr_max = self.add_variable(
            shape=(), initializer=constant_initializer(-1.0), dtype=dtype,
            aggregation="only_first_replica", name="lr_max",
        )

    def _scheduled_lr(self, learning_rate, step):
        """``lr * min(1, t / warmup_steps)`` (the official ``lr * sched``)."""
        if not self.warmup_steps:
            return learning_rate
        return learning_rate * ops.minimum(step / const(float(self.warmup_steps), step.dtype), const(1.0, step.dtype))

    def _ckp1(self, context, dtype):
        """The averaging weight of this step, ``c_{t+1} = t^r lr_max^p / weight_sum`` (0 if the sum is 0)."""
        step = context.step(dtype)
        lr_max = ops.cast(self._lr_max, dtype)
        weight = ops.multiply(ops.power(step, const(self.r, dtype)), ops.power(lr_max, const(self.weight_lr_power, dtype)))
        weight_sum = ops.subtract(ops.cast(self._weight_sum, dtype), ops.cast(self._weight_sum_compensation, dtype))
        positive = ops.greater(weight_sum, 0)
        return ops.where(positive, weight / ops.where(positive, weight_sum, ops.ones_like(weight_sum)), ops.zeros_like(weight))

    def _advance_step_state(self, context, grads, variables):
        # Optimizer-wide, once per step, before the variables: lr_max and weight_sum (official order).
        dtype = self._weight_sum.dtype
        step = context.step(dtype)
        lr = self._scheduled_lr(ops.cast(context.learning_rate, dtype), step)
        lr_max = ops.maximum(lr, ops.cast(self._lr_max, dtype))
        weight = ops.multiply(ops.power(step, const(self.r, dtype)), ops.power(lr_max, const(self.weight_lr_power, dtype)))
        weight_sum, compensation = compensated_add(self._weight_sum, self._weight_sum_compensation, weight)
        self._assign_state(context, self._lr_max, lr_max)
        self._assign_state(context, self._weight_sum, weight_sum)
        self._assign_state(context, self._weight_sum_compensation, compensation)
        return grads

    # ------------------------------------------------------------------ the step
    def _step_kind(self):
        return "new_value"  # the weights are the interpolation y of the iterate z and the average x

    def _direction(self, gradient, y, slots, step):
        raise NotImplementedError

    def _y_from_x(self, x, z):
        return lerp(x, z, 1.0 - self._beta)

    def _x_from_y(self, y, z):
        return lerp(y, z, 1.0 - 1.0 / self._beta)

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        (decays,) = context.choices
        dtype = variable.dtype
        step = context.step(dtype)
        started = ops.greater(slots["started"], 0)
        z = ops.where(started, slots["z"], variable)
        # A step taken while the variable holds x (eval mode) first goes back to y, as train_mode().
        y = ops.where(ops.greater(slots["holds_x"], 0), self._y_from_x(variable, z), variable)
        direction, new_slots = self._direction(gradient, y, slots, step)
        if decays:
            direction = ops.add(direction, ops.multiply(y, const(self.weight_decay, dtype)))
        lr = self._scheduled_lr(learning_rate, step)
        ckp1 = self._ckp1(context, dtype)
        new_y = ops.add(lerp(y, z, ckp1), ops.multiply(direction, lr * (const(self._beta, dtype) * (1.0 - ckp1) - 1.0)))
        new_slots["z"] = ops.subtract(z, ops.multiply(direction, lr))
        new_slots["started"] = ops.ones_like(slots["started"])
        new_slots["holds_x"] = ops.zeros_like(slots["holds_x"])
        return new_y, new_slots

    # ------------------------------------------------------------------ train / eval switch
    def _switch_pairs(self, variables):
        """``[(index, variable, {"z", "started", "holds_x"})]`` for ``variables`` (default: all)."""
        variables = _variables_of(variables)
        if not self.built:
            return []
        if variables is None:
            variables = list(self._built_variables())
        pairs = []
        for variable in variables:
            try:
                index = self._index_of(variable)
            except KeyError:
                raise ValueError(
                    f"{type(self).__name__} keeps no state for variable "
                    f"{getattr(variable, 'path', variable.name)!r}: it was not among the variables the "
                    "optimizer was built with (pass model.trainable_variables or the model)."
                ) from None
            if self._slots["z"][index] is None:
                continue
            pairs.append((index, variable, {name: self._slots[name][index] for name in ("z", "started", "holds_x")}))
        return pairs

    def _saved_y(self):
        """``{variable index: y}``: the values ``eval_mode`` replaced, for an exact ``train_mode``.
        A cache kept out of Keras's tracking (not saved: see ``train_mode``)."""
        return keras_adapter.runtime(self).caches.setdefault("y_before_eval", {})

    def _x_in(self, variable, y, z):
        """x from y and z, rounded to ``variable``'s dtype (what ``eval_mode`` writes)."""
        dtype = self.compute_dtype(variable.dtype)
        return ops.cast(self._x_from_y(ops.cast(y, dtype), z), variable.dtype)

    def _switch(self, variables, to_eval):
        saved = self._saved_y()
        for index, variable, slots in self._switch_pairs(variables):
            if bool(ops.convert_to_numpy(slots["holds_x"]) > 0) == to_eval:  # already in that mode
                if not to_eval:
                    saved.pop(index, None)  # stale: a step taken in eval mode went back to y
                continue
            dtype = self.compute_dtype(variable.dtype)
            started = bool(ops.convert_to_numpy(slots["started"]) > 0)
            z = ops.cast(slots["z"], dtype) if started else None
            if not started:  # before its first step: z = y, so x = y
                saved.pop(index, None)
            elif to_eval:
                y = ops.copy(variable)  # a value, not the variable
                variable.assign(self._x_in(variable, y, z))
                saved[index] = y
            else:
                y = saved.pop(index, None)
                # The saved y only if the variable still holds the x computed from it (not weights
                # loaded or assigned since, not a z moved by a step taken in eval mode).
                unchanged = y is not None and ops.convert_to_numpy(ops.all(ops.equal(self._x_in(variable, y, z), variable)))
                if not unchanged:
                    y = ops.cast(self._y_from_x(ops.cast(variable, dtype), z), variable.dtype)
                variable.assign(y)
            slots["holds_x"].assign(ops.cast(1.0 if to_eval else 0.0, slots["holds_x"].dtype))

    def eval_mode(self, variables=None):
        """Put the averaged iterate x into the variables (for evaluation, inference, saving).

        ``x = lerp(y, z, 1 - 1/beta)`` (official ``eval()``). Idempotent: a variable already
        holding x is left alone (per-variable flag ``holds_x``, saved with the optimizer).
        ``variables``: a model/layer, a list of variables, or None (all the optimizer's).
        Before a variable's first step there is nothing to do (x = y = z). Call it eagerly
        (outside ``tf.function``). The replaced y is kept in memory (one copy of the switched
        variables, released by ``train_mode``) so that ``train_mode`` restores it bit for bit.
        """
        self._switch(variables, to_eval=True)

    def train_mode(self, variables=None):
        """Put the gradient point y back into the variables (before training).

        Idempotent. Exact: the y that ``eval_mode`` replaced is put back bit for bit, as long as
        the variable still holds the x written then. Otherwise (weights assigned or loaded since,
        or a ``.keras`` file / checkpoint saved in eval mode and reloaded) y is recomputed as
        ``y = lerp(x, z, 1 - beta)`` (official ``train()``), within a few roundings of
        ``|y| + |z - y|`` of the y before ``eval_mode``. A training step taken in eval mode does
        that recomputation itself first, so the optimizer state stays consistent, but that step's
        gradient was taken at x, not y (the official code raises): call this (or use
        ``ScheduleFreeEvalCallback``) before training.
        """
        self._switch(variables, to_eval=False)

    @property
    def in_eval_mode(self):
        """True if every variable the optimizer updates holds x (False before it is built)."""
        pairs = self._switch_pairs(None)
        return bool(pairs) and all(float(ops.convert_to_numpy(s["holds_x"])) > 0 for _, _, s in pairs)


_SHARED_DOC = """
    Conventions and differences:

    * **the model's variables hold y**, the point where gradients are taken, during training (as
      the official code); ``optimizer.eval_mode(model)`` puts the average x into them (for
      evaluation, inference and saving) and ``optimizer.train_mode(model)`` puts y back; both are
      idempotent, tracked per variable by the slot ``holds_x`` (saved with the optimizer, so a
      ``.keras`` file saved in eval mode reloads in eval mode). ``ScheduleFreeEvalCallback``
      does the switching inside ``fit``. The round trip is exact: ``eval_mode`` keeps the y it
      replaces in memory until ``train_mode`` puts it back (one transient copy of the weights,
      no permanent slot). After a reload in eval mode, or weights assigned in eval mode,
      ``train_mode`` recomputes ``y = lerp(x, z, 1 - beta)`` as the official code does (within
      a few roundings of ``|y| + |z - y|``). A step taken in eval mode first converts x back
      to y the same way (the official code raises; that step's gradient was taken at x).
    * **z** is each variable's value at its first update (official: created at the first step
      with a gradient); it is a full-precision slot under ``state_dtype``.
    * **weight_sum, lr_max** are optimizer-wide (one torch ``param_group``); the step count ``t``
      is ``iterations + 1`` (official ``k + 1``). They are float32 unless a variable is float64
      (official: Python floats); ``weight_sum`` is a compensated (Kahan) sum, so it stays
      accurate to ~1e-7 over millions of steps. ``learning_rate`` may also be a Keras schedule:
      ``lr_t`` is then the schedule's value times the warm-up factor.
    * **weight decay** (Keras's ``weight_decay``) is the official one, evaluated at y and added
      to the step direction (so it reaches y and z, scaled by ``lr_t``); Keras's decoupled decay
      before the step is not applied, so ``weight_decay_scaling="none"`` is rejected;
      ``exclude_from_weight_decay`` is honoured.
    * ``r`` and ``weight_lr_power`` are limited to [0, 4] (the official code has no bound):
      ``weight_sum`` adds up ``t^r * lr_max^p`` as there, which must stay finite and non-zero in
      float32 state (``t^r`` overflows float32 after 7000 steps at r = 10).
    * sparse gradients are made dense (every row moves towards z each step).
    * Keras 3's built-in ``keras.optimizers.ScheduleFreeAdamW`` (3.15) is not this algorithm: it
      recovers x from the already updated z; the zoo follows the official code.
"""


@register
class ZooScheduleFreeSGD(ScheduleFree):
    __doc__ = """Schedule-free SGD: SGD on z, gradients at an interpolation y, evaluation at the average x.

    Update at the 1-based step ``t`` (``g`` gradient, ``lr`` learning rate, ``beta`` momentum,
    ``wd`` weight decay, ``p`` weight_lr_power; ``z = y`` at the first step)::

        lr_t       = lr * min(1, t / warmup_steps)           (lr if warmup_steps = 0)
        lr_max     = max(lr_max, lr_t)                        (optimizer-wide, starts at -1)
        weight     = t^r * lr_max^p ;  weight_sum += weight   (optimizer-wide)
        c          = weight / weight_sum                      (0 if weight_sum = 0)
        d          = g + wd * y
        y         <- lerp(y, z, c) + lr_t * (beta * (1 - c) - 1) * d
        z         <- z - lr_t * d
        x          = lerp(y, z, 1 - 1/beta)                   (eval_mode; y = lerp(x, z, 1 - beta))

    which is the paper's ``y = (1 - beta) z + beta x``, ``z <- z - lr_t g(y)``,
    ``x <- (1 - c) x + c z`` without storing x.

    Reference: Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky, "The Road Less Scheduled",
    2024, arXiv:2405.15682; official code github.com/facebookresearch/schedule_free
    ``schedulefree/sgd_schedulefree.py`` (``SGDScheduleFree``, v1.3+), followed operation by
    operation (``torch.lerp``'s two-branch formula included) with its defaults: lr 1.0, momentum
    0.9, warmup_steps 0, r 0, weight_lr_power 2, weight_decay 0. Keras's ``SGD`` defaults to lr
    0.01: schedule-free SGD's rate is larger because y moves by only ``(1 - beta)`` of z's step.
""" + _SHARED_DOC + """
    Args:
        learning_rate: float >= 0, schedule or callable. Default 1.0.
        momentum: the interpolation beta, float in (0, 1) (official range). Default 0.9.
        warmup_steps: int >= 0, linear warm-up of the rate over these steps. Default 0.
        r: float in [0, 4], polynomial weighting ``t^r`` of the average. Default 0.
        weight_lr_power: float in [0, 4], the average weights are ``lr_max^p``. Default 2.
        **kwargs: the Keras base optimizer arguments (``weight_decay``, ...).

    Example:
        >>> optimizer = keras_optim_zoo.ZooScheduleFreeSGD(learning_rate=1.0, warmup_steps=100)
        >>> model.compile(optimizer=optimizer, loss="mse")     # or optimizer="zoo_schedule_free_sgd"
        >>> model.fit(x, y, validation_data=(xv, yv), callbacks=[keras_optim_zoo.ScheduleFreeEvalCallback()])
        >>> model.evaluate(xv, yv)                             # the model holds x after fit
    """

    spec = OptimizerSpec(
        name="zoo_schedule_free_sgd",
        summary='Schedule-free SGD: SGD on z, gradients at an interpolation y, evaluation at the average x.',
        family="schedule-free",
        paper='Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky, "The Road Less Scheduled", 2024, arXiv:2405.15682',
    )

    _interpolation_key = "momentum"
    _config_keys = ("momentum", "warmup_steps", "r", "weight_lr_power")

    def __init__(self, learning_rate=1.0, momentum=0.9, warmup_steps=0, r=0.0, weight_lr_power=2.0, **kwargs):
        super().__init__(learning_rate, warmup_steps=warmup_steps, r=r, weight_lr_power=weight_lr_power, **kwargs)
        self.momentum = _check_interpolation_beta("momentum", momentum)

    def _direction(self, gradient, y, slots, step):
        return gradient, {}


@register
class ZooScheduleFreeAdamW(ScheduleFree):
    __doc__ = """Schedule-free AdamW: the schedule-free interpolation on Adam-normalised gradients.

    Update at the 1-based step ``t`` (as ``ZooScheduleFreeSGD`` with ``beta = beta_1`` and the
    direction ``d`` below; ``v = m = 0`` at the start; ``mu`` = inner_momentum)::

        v  <- beta_2 * v + (1 - beta_2) * g^2
        m  <- mu * m + (1 - mu) * g                              (only if mu > 0)
        d   = g / (sqrt(v / (1 - beta_2^t)) + eps) + wd * y       (mu = 0, the default)
        d   = (m / (1 - mu^t)) / (sqrt(v / (1 - beta_2^t)) + eps) + wd * y   (mu > 0)
        lr_t, lr_max, weight_sum, c, y, z, x as for schedule-free SGD

    By default there is no first moment: ``beta_1`` is the interpolation weight of y between z
    and x. ``inner_momentum`` (official v1.4.1, "ScheduleFree+", default 0) adds an Adam first
    moment inside the direction, with its own slot ``exp_avg`` (allocated only when > 0).

    Reference: Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky, "The Road Less Scheduled",
    2024, arXiv:2405.15682; official code github.com/facebookresearch/schedule_free
    ``schedulefree/adamw_schedulefree.py`` (``AdamWScheduleFree``, v1.3+), followed operation by
    operation with its defaults: lr 0.0025, betas (0.9, 0.999), eps 1e-8, warmup_steps 0, r 0,
    weight_lr_power 2, weight_decay 0, inner_momentum 0. Bias correction as in v1.3+: ``v / (1 - beta_2^t)`` inside
    the square root; versions up to 1.2 multiplied ``lr_t`` by ``sqrt(1 - beta_2^t)`` instead
    (which also entered ``lr_max`` and the averaging weights). Keras's Adam uses epsilon 1e-7;
    here it is 1e-8 (official), added outside the square root.
""" + _SHARED_DOC + """
    Args:
        learning_rate: float >= 0, schedule or callable. Default 0.0025.
        beta_1: the interpolation beta, float in (0, 1). Default 0.9.
        beta_2: float in [0, 1). Default 0.999.
        epsilon: float >= 0. Default 1e-8.
        warmup_steps: int >= 0, linear warm-up of the rate over these steps. Default 0.
        r: float in [0, 4], polynomial weighting ``t^r`` of the average. Default 0.
        weight_lr_power: float in [0, 4], the average weights are ``lr_max^p``. Default 2.
        inner_momentum: float in [0, 1), Adam first-moment decay inside the direction; 0 (the
            default) keeps no first moment. The official code recommends 0.9 when used.
        **kwargs: the Keras base optimizer arguments (``weight_decay``, ...).

    Example:
        >>> optimizer = keras_optim_zoo.ZooScheduleFreeAdamW(warmup_steps=1000, weight_decay=0.01)
        >>> model.compile(optimizer=optimizer, loss="mse")   # or optimizer="zoo_schedule_free_adamw"
        >>> model.fit(x, y, callbacks=[keras_optim_zoo.ScheduleFreeEvalCallback()])
    """

    spec = OptimizerSpec(
        name="zoo_schedule_free_adamw",
        summary='Schedule-free AdamW: the schedule-free interpolation on Adam-normalised gradients.',
        family="schedule-free",
        paper='Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky, "The Road Less Scheduled", 2024, arXiv:2405.15682',
    )

    _interpolation_key = "beta_1"
    _config_keys = ("beta_1", "beta_2", "epsilon", "warmup_steps", "r", "weight_lr_power", "inner_momentum")

    def __init__(self, learning_rate=0.0025, beta_1=0.9, beta_2=0.999, epsilon=1e-8, warmup_steps=0, r=0.0,
                 weight_lr_power=2.0, inner_momentum=0.0, **kwargs):
        super().__init__(learning_rate, warmup_steps=warmup_steps, r=r, weight_lr_power=weight_lr_power, **kwargs)
        self.beta_1 = _check_interpolation_beta("beta_1", beta_1)
        self.beta_2 = checks.beta("beta_2", beta_2)
        self.epsilon = checks.non_negative("epsilon", epsilon)
        self.inner_momentum = checks.beta("inner_momentum", inner_momentum)

    def _extra_slot_specs(self):
        return [("velocity", "zeros")] + ([("exp_avg", "zeros")] if self.inner_momentum else [])

    def _direction(self, gradient, y, slots, step):
        dtype = gradient.dtype
        velocity = ops.add(
            ops.multiply(slots["velocity"], const(self.beta_2, dtype)),
            ops.multiply(ops.multiply(gradient, gradient), const(1.0 - self.beta_2, dtype)),
        )
        denom = ops.add(ops.sqrt(ops.divide(velocity, bias_correction(self.beta_2, step))), const(self.epsilon, dtype))
        if not self.inner_momentum:
            return ops.divide(gradient, denom), {"velocity": velocity}
        exp_avg = ops.add(
            ops.multiply(slots["exp_avg"], const(self.inner_momentum, dtype)),
            ops.multiply(gradient, const(1.0 - self.inner_momentum, dtype)),
        )
        direction = ops.divide(ops.divide(exp_avg, bias_correction(self.inner_momentum, step)), denom)
        return direction, {"velocity": velocity, "exp_avg": exp_avg}


def find_schedule_free_optimizer(optimizer):
    """The ``ScheduleFree`` optimizer in ``optimizer`` or among those it wraps, else None."""
    return find_optimizer(optimizer, ScheduleFree)


class ScheduleFreeEvalCallback(keras.callbacks.Callback):
    """Switch a schedule-free optimizer between y (training) and x (evaluation) inside ``fit``.

    For a model compiled with ``ZooScheduleFreeSGD`` / ``ZooScheduleFreeAdamW`` (also inside a
    ``LossScaleOptimizer`` or another wrapper):

    * ``on_train_begin`` and before every training batch that follows an evaluation: ``train_mode``
      (the variables hold y);
    * ``on_test_begin`` (``fit``'s validation, and ``model.evaluate(..., callbacks=[cb])``):
      ``eval_mode`` (the variables hold x);
    * ``on_train_end``: ``eval_mode``: after ``fit`` the model holds x, ready for ``evaluate``,
      ``predict`` or ``save``. Train again with the callback (or call ``optimizer.train_mode()``;
      a step taken in eval mode also converts back first).

    Training batches touch the variables only when the mode changes (a Python flag), so batches
    in between cost nothing (with JAX, no state sync per batch).
    """

    def __init__(self):
        super().__init__()
        self._holds_x = None  # unknown until on_train_begin

    def _optimizer(self):
        optimizer = find_schedule_free_optimizer(getattr(self.model, "optimizer", None))
        if optimizer is None:
            raise ValueError(
                "ScheduleFreeEvalCallback needs a model compiled with a schedule-free optimizer "
                f"(ZooScheduleFreeSGD, ZooScheduleFreeAdamW); the model's optimizer is {self.model.optimizer!r}."
            )
        return optimizer

    def _set(self, to_eval):
        optimizer = self._optimizer()
        model = self.model
        if to_eval:
            optimizer.eval_mode(model)
        else:
            optimizer.train_mode(model)
        self._holds_x = to_eval

    def on_train_begin(self, logs=None):
        self._set(False)

    def on_train_batch_begin(self, batch, logs=None):
        if self._holds_x is not False:
            self._set(False)

    def on_test_begin(self, logs=None):
        self._set(True)  # always: the model may have been trained since (a step converts back to y)

    def on_train_end(self, logs=None):
        self._set(True)
