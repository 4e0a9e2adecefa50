"""Weight averaging around any optimizer: MovingAverage (EMA) and SWA, with an exact swap API and a
callback that evaluates / saves the model with the averaged weights at the end of training."""

from __future__ import annotations

import contextlib

import keras
from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.registry import PACKAGE
from keras_optim_zoo.wrappers.base import (
    find_optimizer,
    OptimizerWrapper,
    compute_dtype,
    const,
    non_negative_int,
    positive_int,
)


def _variables_of(target):
    """The variables named by ``target``: a model/layer (its trainable variables) or a list."""
    if target is None:
        return None
    if hasattr(target, "trainable_variables") and not isinstance(target, (list, tuple)):
        return list(target.trainable_variables)
    return list(target)


class AveragedOptimizer(OptimizerWrapper):
    """Base of the averaging wrappers: one average per variable, kept as optimizer state, and the
    API to use it (``assign_average_vars``, ``swap_average_weights``, ``average_weights``).

    The averages are set to the variables' values when the optimizer is built and are updated after
    the inner optimizer's step (from the updated weights). A step the inner optimizer does not take
    (``skip_nonfinite``, gradient accumulation, a loss-scale overflow) leaves them unchanged.
    Only trainable variables are averaged (the optimizer never sees the others): after swapping in
    SWA averages, recompute BatchNormalization statistics with a pass over the training data, as
    Izmailov et al. do.
    """

    def __init__(self, optimizer, name=None, **kwargs):
        super().__init__(optimizer, name=name, **kwargs)
        self._swapped_in = False

    def _build_state(self, var_list):
        self._averages = self.add_state_like(var_list, "average", from_value=True)

    def average_of(self, variable):
        """The average kept for ``variable`` (a variable the optimizer was built with)."""
        self._require_built()
        try:
            return self.state_for(self._averages, variable)
        except KeyError:
            raise ValueError(
                f"{type(self).__name__} keeps no average for variable "
                f"{getattr(variable, 'path', variable.name)!r}: it was not among the variables the "
                "optimizer was built with (pass model.trainable_variables or the model)."
            ) from None

    def _require_built(self):
        if not self.built:
            raise ValueError(
                f"{type(self).__name__} has no averages yet: it is built on the first training step "
                "(or call `optimizer.build(model.trainable_variables)`)."
            )

    def _pairs(self, target):
        variables = _variables_of(target)
        if variables is None:
            self._require_built()
            variables = self._built_variables()
        pairs = [(v, self.average_of(v)) for v in variables]
        return [(v, a) for v, a in pairs if a is not None]

    @property
    def averages_swapped_in(self):
        """True between ``swap_average_weights()`` calls that swapped the averages into the model."""
        return self._swapped_in

    def assign_average_vars(self, var_list=None):
        """Copy the averages into the variables (TFA's name; the training weights are lost).

        ``var_list``: the variables, or a model (its trainable variables); default all of them.
        """
        for variable, average in self._pairs(var_list):
            variable.assign(average)

    def swap_average_weights(self, var_list=None):
        """Exchange the variables' values with their averages, exactly (through a copy).

        Call it once to evaluate or save with the averaged weights, and once more to get the
        training weights back bit for bit (the optimizer then holds the averages again). Between
        the two calls the optimizer's "averages" hold the training weights: do not train then.
        ``var_list``: the variables, or a model (its trainable variables); default all of them.
        Prefer ``with optimizer.average_weights(model): ...``, which always swaps back.
        """
        for variable, average in self._pairs(var_list):
            saved = ops.copy(variable)  # a value (ops.convert_to_tensor may return the variable)
            variable.assign(average)
            average.assign(saved)
        self._swapped_in = not self._swapped_in

    @contextlib.contextmanager
    def average_weights(self, var_list=None):
        """Context manager: the averaged weights are in the model inside the block, the training
        weights (bit-identical) after it, also if the block raises.

            >>> with optimizer.average_weights(model):
            ...     model.evaluate(x_val, y_val)
        """
        self.swap_average_weights(var_list)
        try:
            yield self
        finally:
            self.swap_average_weights(var_list)

    def _after_inner_step(self, variables, before, after):
        advanced = ops.not_equal(after, before)
        self.for_each_variable(self._update_average, variables, advanced, before)

    def _update_average(self, variable, advanced, step):
        average = self.state_for(self._averages, variable)
        dtype = compute_dtype(variable.dtype)

        def new():
            return [self._new_average(ops.cast(average, dtype), ops.cast(variable, dtype), step, dtype)]

        self.assign_if(ops.logical_and(advanced, self._updates_average(step)), [average], new)

    def _updates_average(self, step):
        """Whether the step with 0-based index ``step`` changes the average (a boolean tensor)."""
        return ops.convert_to_tensor(True)

    def _new_average(self, average, value, step, dtype):
        """The updated average; ``step`` is the 0-based index of the step just taken."""
        raise NotImplementedError


@keras.saving.register_keras_serializable(package=PACKAGE)
class MovingAverage(AveragedOptimizer):
    """An exponential moving average of the weights, kept by a wrapper around any optimizer.

    After each step of the inner optimizer (``s`` = the 0-based index of that step, i.e. the inner
    step count before it)::

        d   = average_decay, capped once at construction by num_updates n:  min(d, (1 + n) / (10 + n))
        d_s = 0                                       if s < start_step  (the average follows w)
            = min(d, (1 + s') / (10 + s'))            if dynamic_decay, s' = s - start_step
            = d                                       otherwise
        average <- average - (1 - d_s) * (average - w)

    with ``w`` the weights after the step; the average starts as the weights at build time. These
    are the semantics of TensorFlow Addons' ``tfa.optimizers.MovingAverage`` (same arguments and
    defaults; TFA computed ``d_s`` in float32, here it is computed in the variables' precision).

    How it differs from Keras's own ``use_ema=True`` (``ema_momentum``,
    ``ema_overwrite_frequency``): that option is available on every Keras 3 optimizer too, but
    (i) it has a fixed decay (no ``start_step``, no ``dynamic_decay`` warm-up, no ``num_updates``
    cap), (ii) ``fit`` overwrites the model's weights with the average at the end of training
    (``finalize_variable_values``) and ``ema_overwrite_frequency`` overwrites them during training,
    with no way back to the training weights, and (iii) it cannot be added to an optimizer that
    was created without it. This wrapper works around any optimizer (built-in, zoo, another
    wrapper), never touches the training weights on its own, and offers an explicit, exact swap:
    ``with optimizer.average_weights(model): model.evaluate(...)``, ``swap_average_weights()``,
    ``assign_average_vars()`` (TFA's name), and ``AverageWeightsCallback`` for the end of ``fit``.

    State: the inner optimizer's variables, then ``<variable path>_average`` per variable.

    Args:
        optimizer: the inner optimizer (instance or a name ``keras.optimizers.get`` resolves).
        average_decay: float in [0, 1]. Default 0.99.
        num_updates: ``None`` or an int >= 0 capping the decay at ``(1 + n) / (10 + n)``. Default
            None.
        start_step: int >= 0; before this step the average equals the weights. Default 0.
        dynamic_decay: bool; ramp the decay as ``(1 + s') / (10 + s')`` (0.1 at the first step).
            Default False.
        name: optional name.

    Example:
        >>> opt = MovingAverage(keras.optimizers.SGD(0.1), average_decay=0.999, dynamic_decay=True)
        >>> model.compile(optimizer=opt, loss="mse"); model.fit(x, y)
        >>> with opt.average_weights(model):
        ...     model.evaluate(x_val, y_val)
    """

    def __init__(self, optimizer, average_decay=0.99, num_updates=None, start_step=0, dynamic_decay=False,
                 name=None, **kwargs):
        super().__init__(optimizer, name=name, **kwargs)
        self.average_decay = checks.in_range("average_decay", average_decay, 0.0, 1.0)
        self.num_updates = None if num_updates is None else non_negative_int("num_updates", num_updates)
        self.start_step = non_negative_int("start_step", start_step)
        self.dynamic_decay = checks.boolean("dynamic_decay", dynamic_decay)

    def _wrapper_config(self):
        return {
            "average_decay": self.average_decay,
            "num_updates": self.num_updates,
            "start_step": self.start_step,
            "dynamic_decay": self.dynamic_decay,
        }

    @property
    def decay_cap(self):
        """``average_decay``, capped by ``num_updates`` as TFA does."""
        if self.num_updates is None:
            return self.average_decay
        return min(self.average_decay, (1.0 + self.num_updates) / (10.0 + self.num_updates))

    def _decay(self, step, dtype):
        decay = const(self.decay_cap, dtype)
        since = ops.subtract(ops.cast(step, dtype), const(float(self.start_step), dtype))
        if self.dynamic_decay:
            decay = ops.minimum(decay, ops.divide(ops.add(since, 1.0), ops.add(since, 10.0)))
        return ops.where(ops.less(since, 0.0), const(0.0, dtype), decay)

    def _new_average(self, average, value, step, dtype):
        decay = self._decay(step, dtype)
        return ops.subtract(average, ops.multiply(ops.subtract(1.0, decay), ops.subtract(average, value)))


@keras.saving.register_keras_serializable(package=PACKAGE)
class SWA(AveragedOptimizer):
    """Stochastic Weight Averaging around any optimizer: an equal-weight average of snapshots.

    After each step of the inner optimizer (``s`` = the 0-based index of that step), if
    ``s >= start_averaging`` and ``(s - start_averaging) % average_period == 0``, the weights ``w``
    after the step are added to the average::

        n = (s - start_averaging) // average_period          (snapshots taken so far)
        average <- (average * n + w) / (n + 1)

    so the first snapshot is taken at the step with index ``start_averaging`` (the
    ``start_averaging + 1``-th step), then every ``average_period`` steps. These are the semantics
    and arguments of TensorFlow Addons' ``tfa.optimizers.SWA``. One difference: TFA's average
    started at zero; here it starts as the weights at build time (so swapping in before the first
    snapshot gives the initial weights, not zeros). ``num_averaged`` tells how many snapshots the
    average holds.

    Reference: P. Izmailov, D. Podoprikhin, T. Garipov, D. Vetrov & A. G. Wilson, "Averaging
    Weights Leads to Wider Optima and Better Generalization", UAI 2018, arXiv:1803.05407
    (Algorithm 1, with a cyclical or constant learning rate; ``average_period`` is the cycle
    length c). If the model has BatchNormalization layers, recompute their statistics with the
    averaged weights (one pass over the training data in training mode), as the paper does.

    State: the inner optimizer's variables, then ``<variable path>_average`` per variable.

    Args:
        optimizer: the inner optimizer (instance or a name ``keras.optimizers.get`` resolves).
        start_averaging: int >= 0, the 0-based step index of the first snapshot. Default 0.
        average_period: int >= 1, steps between snapshots. Default 10.
        name: optional name.

    Example:
        >>> lr = keras_optim_zoo.schedules.TriangularCyclicalLearningRate(1e-3, 1e-2, step_size=50)
        >>> opt = SWA(keras.optimizers.SGD(lr), start_averaging=500, average_period=100)
        >>> model.compile(optimizer=opt, loss="mse")
        >>> model.fit(x, y, callbacks=[AverageWeightsCallback(validation_data=(x_val, y_val))])
    """

    def __init__(self, optimizer, start_averaging=0, average_period=10, name=None, **kwargs):
        super().__init__(optimizer, name=name, **kwargs)
        self.start_averaging = non_negative_int("start_averaging", start_averaging)
        self.average_period = positive_int("average_period", average_period)

    def _wrapper_config(self):
        return {"start_averaging": self.start_averaging, "average_period": self.average_period}

    @property
    def num_averaged(self):
        """How many snapshots the averages hold (from the inner step count)."""
        steps = int(ops.convert_to_numpy(self.iterations))
        if steps <= self.start_averaging:
            return 0
        return (steps - 1 - self.start_averaging) // self.average_period + 1

    def _updates_average(self, step):
        since = ops.subtract(step, self.start_averaging)
        return ops.logical_and(ops.greater_equal(since, 0), ops.equal(ops.mod(since, self.average_period), 0))

    def _new_average(self, average, value, step, dtype):
        since = ops.subtract(step, self.start_averaging)
        count = ops.cast(ops.floor_divide(ops.maximum(since, 0), self.average_period), dtype)
        return ops.divide(ops.add(ops.multiply(average, count), value), ops.add(count, 1.0))


def find_averaged_optimizer(optimizer):
    """The ``AveragedOptimizer`` in ``optimizer`` or among the optimizers it wraps, else None
    (looks through ``LossScaleOptimizer`` and other wrappers via ``inner_optimizer``)."""
    return find_optimizer(optimizer, AveragedOptimizer)


class AverageWeightsCallback(keras.callbacks.Callback):
    """At the end of ``fit``: evaluate and/or save the model with the averaged weights.

    For a model compiled with a ``MovingAverage`` or ``SWA`` optimizer (also inside a
    ``LossScaleOptimizer`` or another wrapper). When training ends (``on_train_end``, after the last
    epoch or an early stop), the callback

    1. swaps the averaged weights into the model (exactly, ``swap_average_weights``);
    2. if ``validation_data`` is given, runs ``model.evaluate`` on it and keeps the result in
       ``callback.results`` (a dict, e.g. ``{"loss": ..., "mae": ...}``); prints it if ``verbose``;
    3. if ``filepath`` is given, saves the model there (``model.save`` for ``.keras``,
       ``model.save_weights`` for ``.weights.h5``): the file holds the averaged weights (for
       inference and deployment; resuming training from it resumes from the averages);
    4. swaps the training weights back (bit-identical), unless ``keep_average=True``, in which case
       the model keeps the averaged weights (TFA's ``assign_average_vars``; the optimizer still
       holds the averages).

    Nothing happens during training: the callback only looks at the average when ``fit`` returns
    (``fit`` returns after ``on_train_end``, so ``model`` afterwards holds the training weights
    unless ``keep_average=True``).

    Args:
        validation_data: ``(x, y)``, ``(x, y, sample_weight)`` or a dataset, or None.
        filepath: where to save the averaged model, or None.
        keep_average: leave the averaged weights in the model. Default False.
        batch_size: ``batch_size`` for ``evaluate`` (arrays only).
        verbose: 0 (silent) or 1 (print the averaged-weights evaluation).

    Example:
        >>> callback = AverageWeightsCallback(validation_data=(x_val, y_val), filepath="swa.keras")
        >>> model.fit(x, y, epochs=10, callbacks=[callback])
        >>> callback.results        # evaluation with the averaged weights
    """

    def __init__(self, validation_data=None, filepath=None, keep_average=False, batch_size=None, verbose=0):
        super().__init__()
        self.validation_data = validation_data
        self.filepath = None if filepath is None else str(filepath)
        self.keep_average = checks.boolean("keep_average", keep_average)
        self.batch_size = batch_size
        self.verbose = verbose
        self.results = None

    def _optimizer(self):
        optimizer = find_averaged_optimizer(getattr(self.model, "optimizer", None))
        if optimizer is None:
            raise ValueError(
                "AverageWeightsCallback needs a model compiled with a MovingAverage or SWA optimizer "
                f"(keras_optim_zoo.wrappers); the model's optimizer is {self.model.optimizer!r}."
            )
        return optimizer

    def on_train_begin(self, logs=None):
        self._optimizer()  # fail early, not after hours of training

    def on_train_end(self, logs=None):
        optimizer = self._optimizer()
        if not optimizer.built:
            return
        optimizer.swap_average_weights(self.model)
        try:
            if self.validation_data is not None:
                self.results = self._evaluate()
                if self.verbose:
                    shown = " - ".join(f"{k}: {v:.4g}" for k, v in self.results.items())
                    print(f"Averaged weights ({type(optimizer).__name__}): {shown}")
            if self.filepath is not None:
                if self.filepath.endswith(".weights.h5"):
                    self.model.save_weights(self.filepath)
                else:
                    self.model.save(self.filepath)
        finally:
            optimizer.swap_average_weights(self.model)
        if self.keep_average:
            optimizer.assign_average_vars(self.model)

    def _evaluate(self):
        data = self.validation_data
        kwargs = {"verbose": 0, "return_dict": True}
        if isinstance(data, (tuple, list)):
            x, y = data[0], data[1] if len(data) > 1 else None
            sample_weight = data[2] if len(data) > 2 else None
            return self.model.evaluate(x, y, sample_weight=sample_weight, batch_size=self.batch_size, **kwargs)
        return self.model.evaluate(data, **kwargs)
