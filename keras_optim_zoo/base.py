"""``ZooOptimizer``: the shared base of every keras_optim_zoo optimizer.

What lives here, once, so that each algorithm module holds only its own update:

* **argument handling** – the Keras base arguments are passed through; unknown arguments raise a
  ``TypeError`` naming them; the Keras 2 spellings used by old tutorials (``lr=``, ``decay=``,
  ``epsilon=None``) are translated with a ``DeprecationWarning`` (see ``_translate_keras2``);
* **state** – per-variable slots declared by ``_slot_specs()`` and created in ``build``; optimizer-wide
  per-step state advanced once per step by ``_advance_step_state(context, grads, variables)``;
* **the step** – ``keras_adapter`` hands each step to ``_run_step`` with its ``StepContext``
  (``engine/context.py``: step number, learning rate, finite flag, per-variable decisions); for
  each variable the engine reads it and its slots, calls the algorithm's pure function
  ``_update(context, gradient, variable, slots)`` and writes the results back (the readable path,
  or the same compiled by XLA: the fused path, ``engine/policy.py``);
* **sparse gradients** – ``tf.IndexedSlices`` have duplicate indices summed first; then either the
  touched rows only are updated (``_lazy_sparse()`` is True: only for algorithms in which a zero
  gradient leaves a row and its state unchanged, so the result equals the dense one exactly) or the
  gradient is made dense (every other algorithm, as Keras does).
"""

from __future__ import annotations

import inspect
import warnings

import keras
from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo import precision
from keras_optim_zoo import sparse
from keras_optim_zoo.engine import policy
from keras_optim_zoo.engine.context import StepContext
from keras_optim_zoo.keras_adapter import KerasAdapter, compiled, compiled_or_none, variable_name
from keras_optim_zoo.moments import cautious
from keras_optim_zoo.weight_decay import check_weight_decay_scaling, decay_variables, decoupled_decay

#: Keyword arguments of ``keras.optimizers.Optimizer`` that every zoo optimizer passes through.
KERAS_BASE_KWARGS = (
    "weight_decay",
    "clipnorm",
    "clipvalue",
    "global_clipnorm",
    "use_ema",
    "ema_momentum",
    "ema_overwrite_frequency",
    "loss_scale_factor",
    "gradient_accumulation_steps",
    "name",
)

#: Keyword arguments every zoo optimizer adds to the Keras ones.
ZOO_BASE_KWARGS = (
    "weight_decay_scaling",
    "skip_nonfinite",
    "fused",
    "fuse_min_size",
    "cautious",
    "state_dtype",
    "state_rounding",
)


#: ``epsilon=None`` meant this in Keras 2 (``keras.backend.epsilon()``).
KERAS2_DEFAULT_EPSILON = 1e-7


def _warn_keras2(message):
    warnings.warn(message, DeprecationWarning, stacklevel=4)


def keras2_epsilon():
    """``epsilon=None``: the Keras 2 spelling of 1e-7 (with a DeprecationWarning)."""
    _warn_keras2("`epsilon=None` is deprecated (Keras 2); it means epsilon=1e-7.")
    return KERAS2_DEFAULT_EPSILON


def _translate_keras2(cls, learning_rate, kwargs):
    """Translate Keras 2 arguments; returns ``(learning_rate, decay, kwargs_without_them)``."""
    kwargs = dict(kwargs)
    if "lr" in kwargs:
        lr = kwargs.pop("lr")
        default = inspect.signature(cls.__init__).parameters["learning_rate"].default
        if learning_rate is not default and learning_rate != default:
            raise TypeError(
                f"{cls.__name__} got both `lr` and `learning_rate`; `lr` is the Keras 2 name of "
                "`learning_rate`, pass only `learning_rate`."
            )
        _warn_keras2(f"{cls.__name__}: `lr` is deprecated, use `learning_rate` (same meaning).")
        learning_rate = lr
    decay = kwargs.pop("decay", None)
    if decay is not None:
        decay = checks.non_negative("decay", decay)
        if decay:
            _warn_keras2(
                f"{cls.__name__}: `decay` is deprecated (Keras 2). It is applied as Keras 2 did, "
                "lr_t = learning_rate / (1 + decay * iterations); prefer "
                "`keras.optimizers.schedules.InverseTimeDecay(learning_rate, 1, decay)`."
            )
    check_unknown_arguments(cls, kwargs)
    return learning_rate, decay or 0.0, kwargs


def check_unknown_arguments(cls, kwargs, also_known=()):
    """A ``TypeError`` naming the arguments of ``kwargs`` that neither ``cls.__init__`` nor the Keras
    and zoo base arguments (nor ``also_known``) accept, and listing the valid ones."""
    unknown = sorted(set(kwargs) - set(KERAS_BASE_KWARGS) - set(ZOO_BASE_KWARGS) - set(also_known))
    if unknown:
        own = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs")]
        valid = own + [p for p in KERAS_BASE_KWARGS + ZOO_BASE_KWARGS if p not in own]
        raise TypeError(
            f"{cls.__name__} got unexpected keyword argument(s) {', '.join(map(repr, unknown))}. "
            f"Valid arguments: {', '.join(valid)}."
        )


def _all_finite(grads):
    """A boolean tensor: every gradient entry is finite, on every replica."""
    flags = []
    for grad in grads:
        if grad is None:
            continue
        values = grad.values if sparse.is_indexed_slices(grad) else grad
        flags.append(ops.all(ops.isfinite(values)))
    finite = ops.all(ops.stack(flags)) if flags else ops.convert_to_tensor(True)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            # Every replica must take the same decision, or the mirrored copies would diverge.
            bad = context.all_reduce(tf.distribute.ReduceOp.SUM, 1.0 - tf.cast(finite, tf.float32))
            finite = bad < 0.5
    return finite


def _tf_handles(slots):
    """``{slot name: slot}`` as ``tf.Variable`` handles, to pass to a compiled step."""
    return {name: sparse._tf_variable(slot) for name, slot in slots.items()}


def _check_learning_rate(learning_rate):
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule) or callable(
        learning_rate
    ):
        return learning_rate
    return checks.non_negative("learning_rate", learning_rate)


def _check_base_kwargs(kwargs):
    checks.non_negative_or_none("weight_decay", kwargs.get("weight_decay"))
    for name in ("clipnorm", "clipvalue", "global_clipnorm", "loss_scale_factor"):
        checks.positive_or_none(name, kwargs.get(name))


class ZooOptimizer(KerasAdapter, keras.optimizers.Optimizer):
    """Base class of the zoo optimizers; see the module docstring for what it provides.

    A subclass implements:

    * ``__init__``: its own hyper-parameters, checked with ``keras_optim_zoo.checks``, every one
      stored under its argument name and listed in ``_config_keys`` (so ``get_config`` has them);
    * ``_slot_specs()``: ``[(slot_name, initializer), ...]``, the per-variable state (shaped like
      the variable; an entry ``(slot_name, initializer, shape)`` gives the slot that shape instead,
      e.g. ``()`` for one scalar per variable; the lazy sparse path passes such a slot whole);
    * ``_update(context, gradient, variable, slots)``: a pure function of tensors returning
      ``(u, {slot_name: new_value})``, ``u`` the direction of the step ``w <- w - u`` (or, where
      ``_step_kind()`` says ``"new_value"``, the new weights) (``context.learning_rate``, ``context.step()``,
      ``context.choices``: see ``engine/context.py``); it must work element-wise on rows so that
      the lazy sparse path can call it on gathered rows;
    * optionally ``_lazy_sparse()``, ``_decoupled_decay()`` (False where the algorithm carries its
      own weight decay) and ``_build_step_state`` / ``_advance_step_state``.
    """

    #: Hyper-parameter attribute names added to ``get_config`` (each is a constructor argument).
    _config_keys = ()

    #: Slots kept in the variable's dtype whatever ``state_dtype`` says: copies of (or offsets from)
    #: the weights, e.g. the initial weights (a bfloat16 copy would move them), and the sums behind
    #: an optimizer-wide step-size estimate (Prodigy's ``s``), whose rounding every step amplifies.
    _full_precision_slots = ()

    #: Whether ``cautious=True`` is accepted (see ``moments.cautious``); the update must be a
    #: momentum step ``w <- w - u`` for the mask to mean what the paper means.
    _supports_cautious = False

    def __init__(self, learning_rate, **kwargs):
        learning_rate, decay, kwargs = _translate_keras2(type(self), learning_rate, kwargs)
        learning_rate = _check_learning_rate(learning_rate)
        _check_base_kwargs(kwargs)
        weight_decay_scaling = check_weight_decay_scaling(kwargs.pop("weight_decay_scaling", "learning_rate"))
        skip_nonfinite = checks.boolean("skip_nonfinite", kwargs.pop("skip_nonfinite", False))
        fused = checks.boolean("fused", kwargs.pop("fused", True))
        fuse_min_size = policy.check_fuse_min_size(kwargs.pop("fuse_min_size", policy.DEFAULT_FUSE_MIN_SIZE))
        cautious = checks.boolean("cautious", kwargs.pop("cautious", False))
        state_dtype = precision.check_state_dtype(kwargs.pop("state_dtype", None))
        state_rounding = precision.check_state_rounding(kwargs.pop("state_rounding", "nearest"))
        if cautious and not self._supports_cautious:
            raise ValueError(
                f"`cautious=True` is not available for {type(self).__name__}: it masks a momentum "
                "update, and is offered by the Adam-family and Lion optimizers."
            )
        if skip_nonfinite:
            for name in ("gradient_accumulation_steps", "use_ema"):
                if kwargs.get(name):
                    raise ValueError(
                        f"`skip_nonfinite=True` cannot be combined with `{name}` (a skipped step "
                        "would still move the accumulators / the moving average)."
                    )
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.weight_decay_scaling = weight_decay_scaling
        self.skip_nonfinite = skip_nonfinite
        self.fused = fused
        self.fuse_min_size = fuse_min_size
        self.cautious = cautious
        self.state_dtype = state_dtype
        self.state_rounding = state_rounding
        self.decay = decay

    # ------------------------------------------------------------------ arguments and config
    @staticmethod
    def _epsilon(epsilon):
        """Check ``epsilon``; ``None`` is the Keras 2 spelling of 1e-7."""
        if epsilon is None:
            return keras2_epsilon()
        return checks.non_negative("epsilon", epsilon)

    def __init_subclass__(cls, **kwargs):
        """A class whose own ``spec`` declares its hyperparameters gets its constructor, its
        ``get_config`` keys and its docstring's "Args" section from them (``spec.py``)."""
        super().__init_subclass__(**kwargs)
        spec = cls.__dict__.get("spec")
        if spec is None or spec.hyperparameters is None:
            return
        if "__init__" in cls.__dict__:
            raise TypeError(f"{cls.__name__} declares its hyperparameters in its spec: it must not write __init__.")
        from keras_optim_zoo import spec as specs

        cls.__init__ = specs.constructor(cls, spec, ZooOptimizer.__init__)
        cls._config_keys = tuple(h.name for h in spec.hyperparameters if not h.keras_base)
        if cls.__doc__ and "\n    Args:\n" not in cls.__doc__:
            doc, example, rest = cls.__doc__.rstrip().partition("\n    Example:")
            cls.__doc__ = doc.rstrip() + "\n\n" + specs.args_section(spec) + "\n" + (example + rest if example else "") + "\n"

    def _check_arguments(self):
        """Checks across arguments, after a spec-made constructor stored them (none by default)."""

    def get_config(self):
        config = super().get_config()
        config["weight_decay_scaling"] = self.weight_decay_scaling
        config.update({key: getattr(self, key) for key in self._config_keys})
        config["skip_nonfinite"] = self.skip_nonfinite
        config["fused"] = self.fused
        config["fuse_min_size"] = self.fuse_min_size
        if self._supports_cautious:
            config["cautious"] = self.cautious
        config["state_dtype"] = self.state_dtype
        config["state_rounding"] = self.state_rounding
        if self.decay:
            config["decay"] = self.decay
        return config

    # ------------------------------------------------------------------ learning rate
    def _step_learning_rate(self, learning_rate):
        """The learning rate a step uses: Keras 2's ``decay`` acts on it (update and weight decay),
        while ``optimizer.learning_rate`` keeps reporting the base value, as ``optimizer.lr`` did
        in Keras 2 (so callbacks such as ReduceLROnPlateau keep working on the base value)."""
        return self._keras2_decayed(learning_rate) if self.decay else learning_rate

    def _keras2_decayed(self, learning_rate):
        learning_rate = ops.convert_to_tensor(learning_rate)
        step = ops.cast(self._iterations, learning_rate.dtype)
        return learning_rate / (1.0 + ops.cast(self.decay, learning_rate.dtype) * step)

    @property
    def current_learning_rate(self):
        """The learning rate the next step will use (schedule and Keras 2 ``decay`` applied)."""
        return self._step_learning_rate(self.learning_rate)

    # ------------------------------------------------------------------ state
    def _slot_specs(self):
        """``[(slot_name, initializer), ...]`` created for every trainable variable.

        An entry ``(slot_name, initializer, shape)`` creates the slot with ``shape`` (e.g. ``()``)
        instead of the variable's shape, in the dtype the update is computed in (float32 for 16-bit
        variables: such slots hold reductions, e.g. a squared norm, that overflow float16).
        """
        return []

    def _add_shaped_slot(self, variable, name, initializer, shape, dtype=None):
        """A slot of ``shape`` for ``variable``, named as ``add_variable_from_reference`` names them
        (``dtype``: the update's compute dtype unless given)."""
        if self._overwrite_variable_with_gradient(variable):
            return None
        prefix = getattr(variable, "path", None) or str(variable.name).replace(":", "_")
        return self.add_variable(
            shape=shape,
            initializer=initializer,
            dtype=dtype or self.compute_dtype(variable.dtype),
            name=f"{prefix.replace('/', '_')}_{name}",
        )

    def _lazy_sparse(self):
        """True if a zero gradient leaves a row and its slots unchanged (exact lazy update)."""
        return False

    def build(self, var_list):
        if self.built:
            return
        for variable in var_list:
            dtype = keras.backend.standardize_dtype(variable.dtype)
            if "float" not in dtype:
                raise TypeError(
                    f"{type(self).__name__} can only update floating-point variables; variable "
                    f"{variable_name(variable)!r} has dtype {dtype}. "
                    "Pass only trainable float variables (e.g. model.trainable_variables)."
                )
            if getattr(variable, "trainable", True) is False:
                raise ValueError(
                    f"{type(self).__name__} was given the non-trainable variable "
                    f"{variable_name(variable)!r}. Pass model.trainable_variables, not model.variables."
                )
        super().build(var_list)
        specs = self._slot_specs()
        self._slot_names = [spec[0] for spec in specs]
        like = [spec for spec in specs if len(spec) == 2]  # shaped like the variable
        self._slots = {name: [] for name, _ in like}
        for variable in var_list:  # interleaved per variable, as Keras's add_optimizer_variables
            for name, init in like:
                if self._overwrite_variable_with_gradient(variable):
                    slot = None
                elif self.state_dtype is None or name in self._full_precision_slots:
                    slot = self.add_variable_from_reference(variable, name=name, initializer=init)
                else:  # stored in state_dtype (precision.py), computed in compute_dtype
                    slot = self._add_shaped_slot(variable, name, init, tuple(variable.shape), self.state_dtype)
                self._slots[name].append(slot)
        self._shaped_slot_names = {spec[0] for spec in specs if len(spec) == 3}
        for name, initializer, shape in (spec for spec in specs if len(spec) == 3):
            self._slots[name] = [self._add_shaped_slot(v, name, initializer, shape) for v in var_list]
        self._build_step_state(var_list)
        if self.skip_nonfinite:
            self._skipped_steps = self.add_variable(
                shape=(), initializer="zeros", dtype="int64", aggregation="only_first_replica", name="skipped_steps"
            )

    # ------------------------------------------------------------------ non-finite gradients
    @property
    def skipped_steps(self):
        """How many steps ``skip_nonfinite=True`` skipped (always 0 without the option)."""
        return self._skipped_steps if self.skip_nonfinite and self.built else 0

    def _open_step(self, grads):
        """The context of a step (``keras_adapter``): with ``skip_nonfinite=True`` and gradients,
        the flag "every gradient is finite, on every replica"; a step with any NaN/Inf gradient
        then changes nothing (weights, slots, optimizer-wide state, iteration count) except
        ``skipped_steps``."""
        finite = _all_finite(grads) if self.skip_nonfinite and grads is not None else None
        return StepContext(iterations=self.iterations, finite=finite)

    def _close_step(self, context):
        """After Keras's ``apply``: Keras advanced the iteration count unconditionally, so a
        skipped step is taken back and counted."""
        if context.finite is None:
            return
        skipped = 1 - ops.cast(context.finite, "int64")
        self._iterations.assign_sub(ops.cast(skipped, self._iterations.dtype))
        self._skipped_steps.assign_add(skipped)

    def _assign_state(self, context, variable, value):
        """Assign optimizer-wide per-step state (honours ``skip_nonfinite``)."""
        self.assign(variable, context.keep_if_skipped(value, variable))

    def _build_step_state(self, var_list):
        """Create optimizer-wide per-step state (``self.add_variable``); none by default."""

    def _advance_step_state(self, context, grads, variables):
        """Advance optimizer-wide state once per step, before the variables are updated (the
        gradients are all-reduced); returns the gradients the updates use (default: as given)."""
        return grads

    def _step_state_dtype(self, var_list):
        """float64 if any variable is float64, else float32 (never a 16-bit type for state)."""
        dtypes = {keras.backend.standardize_dtype(v.dtype) for v in var_list}
        return "float64" if "float64" in dtypes else "float32"

    def get_slot(self, variable, name):
        """The optimizer state ``name`` (e.g. ``"momentum"``) kept for ``variable``."""
        return self._slots[name][self._index_of(variable)]

    # ------------------------------------------------------------------ weight decay
    def _decoupled_decay(self):
        """Whether the shared decoupled weight decay (``weight_decay.py``) applies. False where the
        algorithm's own step carries its weight decay (e.g. inside a trust ratio, proximal)."""
        return True

    def _decay_now(self, context, variables):
        """The decoupled decay of ``variables``, op by op, now (a lone ``_apply_weight_decay``)."""
        if self._decoupled_decay():
            decay_variables(self, variables, self._step_learning_rate(self.learning_rate), context.finite)

    def _kernel_decay(self, grads, variables):
        """Indices of the variables whose decoupled decay runs inside their fused update (one pass
        over the weights instead of two): the TF fused path (``_fuses``), a non-zero ``weight_decay``."""
        if not (self._decoupled_decay() and self.weight_decay):
            return frozenset()
        return frozenset(self._index_of(v) for g, v in zip(grads, variables) if self._decays_in_kernel(g, v))

    def _decays_in_kernel(self, gradient, variable):
        """Whether ``variable``'s decoupled decay runs inside its fused update: a dense gradient,
        the fused path, a float32/float64 variable (16-bit ones decay in their own dtype, op by
        op, as Keras does) and not excluded from weight decay."""
        dtype = keras.backend.standardize_dtype(variable.dtype)
        return (
            gradient is not None
            and not sparse.is_indexed_slices(gradient)
            and dtype in ("float32", "float64")
            and self._fuses(variable)
            and self._use_weight_decay(variable)
        )

    # ------------------------------------------------------------------ the step
    def _run_step(self, context, grads, variables, learning_rate):
        """One step over ``variables`` (gradients all-reduced; see ``keras_adapter``): the
        decoupled decay of the variables that do not decay inside their fused update, the
        optimizer-wide state, the fused launch of the large dense variables, then the rest one by
        one."""
        context = context.replace(learning_rate=self._step_learning_rate(learning_rate))
        inside = self._kernel_decay(grads, variables)
        if self._decoupled_decay():
            rest = [v for v in variables if self._index_of(v) not in inside]
            decay_variables(self, rest, context.learning_rate, context.finite)
        grads = self._advance_step_state(context, grads, variables)
        if self._groups():
            grads, variables = self._grouped_fused_step(context, grads, variables, inside)
        if grads:

            def update(variable, gradient):
                self._update_variable(context, gradient, variable, inside)

            self.update_each(update, variables, grads)

    @staticmethod
    def compute_dtype(variable_dtype):
        """The dtype the update is computed in: float32 for 16-bit variables, else their own.

        Keras's built-ins compute in the variable's dtype; in bfloat16, 0.999 rounds to 1, so Adam's
        step size ``sqrt(1 - beta_2^t)`` is 0 and Nadam's ``v / (1 - beta_2^t)`` is NaN. The zoo
        computes 16-bit updates in float32 and rounds the results once, when they are stored.
        """
        dtype = keras.backend.standardize_dtype(variable_dtype)
        return "float32" if dtype in ("float16", "bfloat16") else dtype

    def _choices(self, variable):
        """Hashable Python decisions ``_update`` makes per variable (e.g. whether it is excluded
        from weight decay), given to it as ``context.choices``; None by default."""
        return None

    def update_step(self, gradient, variable, learning_rate):
        """Keras's per-variable step, for direct calls (Keras's own loop is replaced by the engine,
        ``keras_adapter``): the update of one variable, without weight decay, as Keras's."""
        context = self._open_step(None).replace(learning_rate=learning_rate)
        self._update_variable(context, gradient, variable, frozenset())

    def _update_variable(self, context, gradient, variable, kernel_decay):
        if 0 in tuple(variable.shape):
            # Nothing to update (and keras.ops.add treats a (0, n) operand as a bias and fails).
            return
        dtype = self.compute_dtype(variable.dtype)
        index = self._index_of(variable)
        context = context.for_variable(dtype, self._choices(variable), decay=index in kernel_decay)
        slots = self._variable_slots(variable)
        if sparse.is_indexed_slices(gradient):
            gradient = sparse.cast_values(gradient, dtype)
            if self._lazy_sparse():
                self._update_rows(context, sparse.deduplicate(gradient), variable, slots)
                return
            gradient = sparse.to_dense(gradient, ops.shape(variable)[0])
        gradient = ops.cast(gradient, dtype)
        if self._fuses(variable):
            self._fused_dense_step(context, gradient, variable, slots)
        else:
            self._dense_step(context, gradient, variable, slots)

    # ------------------------------------------------------------------ dense step: readable and fused
    def _fuses(self, variable):
        """Whether ``variable`` takes the fused path (TF backend, ``fused=True``, large enough)."""
        if not self.fused or not self._fusable() or keras.backend.backend() != "tensorflow":
            return False
        return policy.is_large(variable, self.fuse_min_size)

    def _groups(self):
        """Whether the variables that take the fused path are updated together, in ONE XLA launch
        per step (``_grouped_fused_step``): on the TF backend, with ``fused=True``, outside
        ``tf.distribute`` (there each replica's variables are updated one at a time through
        ``distribution.extended.update``, and each large one gets its own launch instead)."""
        if not self.fused or not self._fusable() or keras.backend.backend() != "tensorflow":
            return False
        import tensorflow as tf

        return not tf.distribute.has_strategy()

    def _grouped_fused_step(self, context, grads, trainable_variables, kernel_decay):
        """Update every variable of the step that takes the fused path in one XLA-compiled launch.

        Measured (16M parameters in 256 variables, 2-core CPU): one launch instead of 256 brings
        the default-path Adam step to the built-in's ``jit_compile=True`` time; small variables are
        left out, because inside a training step a launch costs more than their op-by-op update
        (``fuse_min_size``). Each variable's update is the readable ``_dense_step``, as on the
        per-variable fused path; ``tests/test_fused.py`` checks both against the readable path.
        Returns the ``(grads, variables)`` left to the per-variable paths (sparse gradients, small
        variables).
        """
        grouped, rest = [], []
        for gradient, variable in zip(grads, trainable_variables):
            dense = not sparse.is_indexed_slices(gradient)
            (grouped if dense and self._fuses(variable) else rest).append((gradient, variable))
        if not grouped:
            return grads, trainable_variables
        import tensorflow as tf

        def step(gradients, variables, slots, choices, decays, learning_rate, finite):
            outer = StepContext(iterations=self.iterations, learning_rate=learning_rate, finite=finite)
            for gradient, variable, var_slots, var_choices, decay in zip(gradients, variables, slots, choices, decays):
                dtype = self.compute_dtype(variable.dtype)
                step_context = outer.for_variable(dtype, var_choices, decay)
                self._dense_step(step_context, ops.cast(gradient, dtype), variable, var_slots)

        compiled(self, "group_step", step)(
            [gradient for gradient, _ in grouped],
            [sparse._tf_variable(variable) for _, variable in grouped],
            [self._tf_slots(variable) for _, variable in grouped],
            tuple(self._choices(variable) for _, variable in grouped),  # Python values: part of the trace
            tuple(self._index_of(variable) in kernel_decay for _, variable in grouped),
            # A Keras variable (the learning rate) cannot be a tf.function argument inside a graph:
            # keras.ops.convert_to_tensor returns the variable itself.
            tf.convert_to_tensor(sparse._tf_variable(context.learning_rate)),
            context.finite,
        )
        return [gradient for gradient, _ in rest], [variable for _, variable in rest]

    @property
    def _group_step(self):
        """The compiled grouped step (None until a step used it)."""
        return compiled_or_none(self, "group_step")

    @property
    def _fused_step(self):
        """The compiled per-variable fused step (None until a step used it)."""
        return compiled_or_none(self, "fused_step")

    def _variable_slots(self, variable):
        """``{slot name: slot}`` of ``variable``."""
        index = self._index_of(variable)
        return {name: self._slots[name][index] for name in self._slot_names}

    def _tf_slots(self, variable):
        """``_variable_slots`` as ``tf.Variable`` handles, to pass to a compiled step (one trace
        serves every variable of the same shape and dtype)."""
        return _tf_handles(self._variable_slots(variable))

    def _fusable(self):
        """False where XLA would compute the update by a different algorithm (e.g. an SVD)."""
        return True

    def _fused_dense_step(self, context, gradient, variable, slots):
        """The readable ``_dense_step`` compiled by XLA into one fused kernel per variable.

        The variable and its slots are passed as ``tf.Variable`` handles, so one trace serves every
        variable of the same shape, dtype and choices. Checked against the readable path by
        ``tests/test_fused.py``.
        """

        def step(gradient, variable, slots, learning_rate, finite, choices, decay):
            # Tensors reach the compiled function as arguments (a tensor captured from outside
            # would be fixed at trace time); variables are read inside it. `choices` and `decay`
            # are Python values (one trace per value).
            outer = StepContext(iterations=self.iterations, learning_rate=learning_rate, finite=finite)
            self._dense_step(outer.for_variable(gradient.dtype, choices, decay), gradient, variable, slots)

        compiled(self, "fused_step", step)(
            gradient,
            sparse._tf_variable(variable),
            _tf_handles(slots),
            context.learning_rate,
            context.finite,
            context.choices,
            context.decay,
        )

    def _dense_step(self, context, gradient, variable, slots):
        """The readable path: ``_update`` on tensors, results assigned (``skip_nonfinite`` honoured).

        ``context.decay``: apply the shared decoupled weight decay first (the fused path's
        ``_decays_in_kernel``; elsewhere ``_run_step`` has done it already).
        """
        dtype = gradient.dtype
        original = old_variable = ops.cast(variable, dtype)
        if context.decay:
            old_variable = decoupled_decay(
                old_variable, self.weight_decay, self.weight_decay_scaling, context.learning_rate
            )
        old_slots = {name: ops.cast(slot, dtype) for name, slot in slots.items()}
        result, new_slots = self._update(context, gradient, old_variable, old_slots)
        new_variable = self._new_weights(context, gradient, old_variable, result)
        # `assign` casts back to the dtype of the variable / slot.
        for name, value in new_slots.items():
            value = context.keep_if_skipped(value, old_slots[name])
            self.assign(slots[name], self._round_slot(value, variable, name))
        self.assign(variable, context.keep_if_skipped(new_variable, original))

    def _round_slot(self, value, variable, name):
        """The new value of ``variable``'s slot ``name``, ready to store: with
        ``state_rounding="stochastic"`` and a bfloat16 slot, stochastically rounded
        (``precision.py``); else as is (``assign`` rounds to nearest).

        The random bits depend on the step, the slot name and the element, not on which variable
        it is: a fused trace serves every variable of one shape, and must draw what the readable
        path draws.
        """
        slot_dtype = self.state_dtype or keras.backend.standardize_dtype(variable.dtype)
        if self.state_rounding != "stochastic" or slot_dtype != "bfloat16":
            return value
        if name in self._shaped_slot_names or (self.state_dtype and name in self._full_precision_slots):
            return value  # stored in the compute dtype / the variable's dtype
        return precision.stochastic_round_to_bfloat16(value, self.iterations, self._slot_names.index(name) + 1)

    def _update_rows(self, context, gradient, variable, slots):
        """Lazy sparse step: the algorithm on the touched rows only, scattered back."""
        indices = gradient.indices
        dtype = gradient.dtype

        def rows(v):
            return ops.cast(sparse.gather_rows(v, indices), dtype)

        shaped = self._shaped_slot_names  # not shaped like the variable: passed and stored whole
        old_rows = rows(variable)
        old_slot_rows = {
            name: ops.cast(slot, dtype) if name in shaped else rows(slot) for name, slot in slots.items()
        }
        result, new_slot_rows = self._update(context, gradient.values, old_rows, old_slot_rows)
        new_rows = self._new_weights(context, gradient.values, old_rows, result, size=policy.size(variable))
        for name, value in new_slot_rows.items():
            value = self._round_slot(context.keep_if_skipped(value, old_slot_rows[name]), variable, name)
            self.assign(slots[name], value if name in shaped else sparse.rows_update(value, indices, slots[name]))
        new_rows = context.keep_if_skipped(new_rows, old_rows)
        self.assign(variable, sparse.rows_update(new_rows, indices, variable))

    def _step_kind(self):
        """What ``_update`` returns first: ``"direction"`` (default), the step ``u`` of
        ``w <- w - u``; or ``"new_value"``, the new weights themselves, for an algorithm whose step
        is a closed form for them (a proximal or dual-averaging step, an interpolation): the
        engine then stores them as computed, and never rounds them through ``w - (w - w_new)``."""
        return "direction"

    def _new_weights(self, context, gradient, old_variable, result, size=None):
        """The weights after the step from ``_update``'s ``result`` (``_step_kind``): with
        ``cautious=True`` the direction is masked where it disagrees with the gradient
        (``moments.cautious``; for a new value, the displacement ``old - new`` is); then
        ``_finish_step``. ``size``: the variable's element count when these are some of its rows."""
        if self._step_kind() == "direction":
            direction = cautious(result, gradient, size) if self.cautious else result
            new_variable = ops.subtract(old_variable, direction)
        elif self.cautious:
            new_variable = ops.subtract(old_variable, cautious(ops.subtract(old_variable, result), gradient, size))
        else:
            new_variable = result
        return self._finish_step(context, new_variable)

    def _finish_step(self, context, new_variable):
        """The weights after the step, after the cautious mask: identity by default. An optimizer
        whose weight decay acts on the result of the step (Adan's proximal decay) does it here, so
        that ``cautious=True`` masks the step alone, on every path (readable, fused, rows)."""
        return new_variable

    def _update(self, context, gradient, variable, slots):
        raise NotImplementedError(f"{type(self).__name__} must implement _update().")
