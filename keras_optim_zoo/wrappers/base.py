"""``OptimizerWrapper``: the shared base of the optimizers that wrap another optimizer.

A wrapper owns an inner optimizer (any ``keras.optimizers.Optimizer``: a Keras built-in, a zoo
optimizer, even another wrapper or a ``LossScaleOptimizer``) and adds per-variable state of its own
(Lookahead's slow weights, the averages of MovingAverage and SWA). What lives here, once:

* **the inner optimizer** – an instance, or anything ``keras.optimizers.get`` resolves (a name such
  as ``"adam"`` or ``"zoo_adam"``, a serialized config);
* **delegation** – ``learning_rate`` (readable and assignable, so ``ReduceLROnPlateau`` and
  ``LearningRateScheduler`` work), ``iterations``, ``scale_loss``, ``loss_scale_factor``,
  ``finalize_variable_values`` and ``exclude_from_weight_decay`` are the inner optimizer's;
* **state** – ``variables`` is the inner optimizer's variables followed by the wrapper's own
  (the wrapper keeps no iteration counter or learning rate of its own);
* **the step** – ``apply`` reads the inner step count, lets the inner optimizer take its step, then
  calls ``_after_inner_step`` with the variables that received a gradient. A step that the inner
  optimizer did not take (``skip_nonfinite=True`` with a NaN gradient, a gradient-accumulation
  micro-step, a ``LossScaleOptimizer`` skipping an overflow) leaves its step count unchanged, which
  the wrappers use to leave their own state unchanged too;
* **tf.distribute** – per-variable updates run through ``merge_call`` + ``extended.update`` as
  Keras's own optimizers do, so the wrappers work under ``MirroredStrategy``;
* **config** – ``{"name", "optimizer": <serialized inner optimizer>, <own arguments>}``;
  ``from_config`` deserializes the inner optimizer (custom objects honoured).

Nothing here imports TensorFlow unless the backend is TensorFlow.
"""

from __future__ import annotations

import copy

import keras
from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.base import ZooOptimizer
from keras_optim_zoo.engine import policy
from keras_optim_zoo.keras_adapter import WrapperAdapter, find_optimizer  # noqa: F401  (re-exported)
from keras_optim_zoo.moments import const  # noqa: F401  (re-exported for the wrappers)

#: Keras base arguments a wrapper does not take (they belong to the inner optimizer). Their default
#: values are accepted silently, so that a config written by Keras's generic code still loads.
_BASE_DEFAULTS = {
    "learning_rate": None,
    "weight_decay": None,
    "clipnorm": None,
    "clipvalue": None,
    "global_clipnorm": None,
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}


def resolve_optimizer(optimizer, wrapper_name):
    """An optimizer instance from an instance, a name (``"adam"``, ``"zoo_adam"``) or a config."""
    if isinstance(optimizer, keras.optimizers.Optimizer):
        return optimizer
    if isinstance(optimizer, (str, dict)):
        resolved = keras.optimizers.get(optimizer)
        if isinstance(resolved, keras.optimizers.Optimizer):
            return resolved
    raise TypeError(
        f"{wrapper_name} wraps a Keras optimizer: pass a `keras.optimizers.Optimizer` instance or a "
        f"name that `keras.optimizers.get` knows (e.g. 'adam', 'zoo_adam'); received "
        f"optimizer={optimizer!r} of type {type(optimizer).__name__}."
    )


def positive_int(name, value):
    """An ``int >= 1`` (see ``keras_optim_zoo.checks.integer``)."""
    return checks.integer(name, value, 1)


def non_negative_int(name, value):
    """An ``int >= 0`` (see ``keras_optim_zoo.checks.integer``)."""
    return checks.integer(name, value, 0)


#: The update dtype rule and exact constants are the optimizers' own (one definition each).
compute_dtype = ZooOptimizer.compute_dtype


def _copy_value_into(state, variable):
    """Set the new state variable ``state`` to ``variable``'s current value, once.

    On TensorFlow the copy runs in ``tf.init_scope()``: when the optimizer is built inside a
    ``tf.function`` (also with ``jit_compile=True``) it happens eagerly, at build time, instead of
    becoming an op of the traced step. (An initializer reading the variable is not an option there:
    TensorFlow cannot lift a large captured initial value out of an XLA-compiled function.)
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.init_scope():
            source = variable.value if isinstance(variable, keras.Variable) else variable
            state.value.assign(tf.cast(source, state.value.dtype))
        return
    state.assign(ops.cast(ops.copy(variable), state.dtype))


def _is_empty(variable):
    return 0 in tuple(variable.shape)


def inner_argument(name, settable=False):
    """A property reporting the inner optimizer's argument ``name`` as the wrapper's own (for a
    composite such as ``ZooRanger``, whose config is its inner optimizer's). ``settable``: also set
    on the inner optimizer; the Keras base constructor sets these before the inner optimizer
    exists (ignored then)."""

    def getter(self):
        inner = self.__dict__.get("inner_optimizer")
        return None if inner is None else getattr(inner, name)

    def setter(self, value):
        inner = self.__dict__.get("inner_optimizer")
        if inner is not None:
            setattr(inner, name, value)

    return property(getter, setter if settable else None, doc=f"The inner optimizer's ``{name}``.")


class OptimizerWrapper(WrapperAdapter, keras.optimizers.Optimizer):
    """Base class of the wrappers; see the module docstring.

    A subclass implements ``_build_state(var_list)`` (create its per-variable state, e.g. with
    ``self.add_state_like(var_list, "slow")``), ``_after_inner_step(variables, before, after)``
    (update it after the inner optimizer's step; ``before``/``after`` are the inner step counts) and
    ``_wrapper_config()`` (its own constructor arguments).
    """

    def __init__(self, optimizer, name=None, **kwargs):
        # The wrapper's own execution policy (engine.policy): None follows the inner optimizer.
        fuse_min_size = kwargs.pop("fuse_min_size", None)
        fuse_min_size = None if fuse_min_size is None else policy.check_fuse_min_size(fuse_min_size)
        for key, value in kwargs.items():
            if key not in _BASE_DEFAULTS:
                raise TypeError(
                    f"{type(self).__name__} got an unexpected keyword argument {key!r}."
                )
            if value != _BASE_DEFAULTS[key]:
                raise ValueError(
                    f"{type(self).__name__} does not take `{key}`: set it on the inner optimizer, "
                    f"e.g. {type(self).__name__}(keras.optimizers.Adam({key}=...))."
                )
        inner = resolve_optimizer(optimizer, type(self).__name__)
        super().__init__(learning_rate=0.0, name=name)
        self._fuse_min_size = fuse_min_size
        self.inner_optimizer = inner
        # The wrapper steps with the inner optimizer's counter and learning rate. The base class
        # made its own (unused) ones; they are left out of `variables` (untracking them would
        # mutate a list TensorFlow's checkpointing requires to be append-only).
        self._unused_variables = (self._iterations, self._learning_rate)

    # ------------------------------------------------------------------ delegation
    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self.inner_optimizer.learning_rate = learning_rate

    @property
    def fuse_min_size(self):
        """The wrapper's ``fuse_min_size`` if it was given one, else its inner optimizer's (through
        any nesting; the default around a Keras built-in)."""
        if self._fuse_min_size is not None:
            return self._fuse_min_size
        return policy.fuse_min_size_of(self.inner_optimizer)

    @property
    def iterations(self):
        """The inner optimizer's step count (steps it skipped are not counted)."""
        return self.inner_optimizer.iterations

    @property
    def loss_scale_factor(self):
        inner = self.__dict__.get("inner_optimizer")
        return None if inner is None else inner.loss_scale_factor

    @loss_scale_factor.setter
    def loss_scale_factor(self, value):
        # Set by the base constructor (None) before the inner optimizer exists, and by
        # LossScaleOptimizer (None) when it wraps this wrapper.
        inner = self.__dict__.get("inner_optimizer")
        if inner is not None:
            inner.loss_scale_factor = value

    def scale_loss(self, loss):
        return self.inner_optimizer.scale_loss(loss)

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        self.inner_optimizer.exclude_from_weight_decay(var_list=var_list, var_names=var_names)

    @property
    def variables(self):
        """The inner optimizer's variables, then the wrapper's own state."""
        unused = self.__dict__.get("_unused_variables", ())
        own = [v for v in self._variables if not any(v is u for u in unused)]
        return self.inner_optimizer.variables + own

    # ------------------------------------------------------------------ state
    def build(self, var_list):
        if self.built:
            return
        var_list = list(var_list)
        if not self.inner_optimizer.built:
            self.inner_optimizer.build(var_list)
        super().build(var_list)
        self._build_state(var_list)

    def _build_state(self, var_list):
        """Create the wrapper's own state; none by default."""

    def add_state_like(self, var_list, name, from_value=False):
        """One variable per entry of ``var_list`` named ``<variable path>_<name>``, shaped and typed
        like it; zeros, or (``from_value=True``) a copy of the variable's current value. ``None``
        for variables Keras overwrites with their gradient (float8 scales)."""
        state = []
        for variable in var_list:
            if self._overwrite_variable_with_gradient(variable):
                state.append(None)
                continue
            copy = self.add_variable_from_reference(variable, name=name, initializer="zeros")
            if from_value:
                _copy_value_into(copy, variable)
            state.append(copy)
        return state

    # ------------------------------------------------------------------ the step
    def _apply_wrapped(self, grads, trainable_variables=None):
        """``apply``: the inner optimizer's step, then the wrapper's (``_after_inner_step``)."""
        grads = list(grads)
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer must already be built "
                    "on a list of variables. Call `optimizer.build(trainable_variables)` first."
                )
            trainable_variables = self._built_variables()
        else:
            trainable_variables = list(trainable_variables)
            if not self.built:
                with keras.name_scope(self.name, caller=self):
                    self.build(trainable_variables)
                self.built = True
            self._check_variables_are_known(trainable_variables)
        if not grads:
            return
        before = ops.copy(self.inner_optimizer.iterations)  # a value, not the variable
        self.inner_optimizer.apply(grads, trainable_variables)
        after = ops.copy(self.inner_optimizer.iterations)
        updated = [
            v
            for g, v in zip(grads, trainable_variables)
            if g is not None and not _is_empty(v) and not self._overwrite_variable_with_gradient(v)
        ]
        if updated:
            with keras.name_scope(self.name, caller=self):
                self._after_inner_step(updated, before, after)

    def _after_inner_step(self, variables, before, after):
        """Update the wrapper's state after the inner step (``before``/``after``: step counts)."""

    def update_step(self, gradient, variable, learning_rate):
        raise NotImplementedError(
            f"{type(self).__name__} applies gradients through its inner optimizer; call "
            "`apply_gradients` / `apply`, not `update_step`."
        )

    def for_each_variable(self, fn, variables, *args):
        """Call ``fn(variable, *args)`` for each variable: directly, or under a ``tf.distribute``
        strategy on every replica's copy (``update_each``, as Keras's optimizers update their
        slots). ``fn`` finds its state with ``self._index_of`` and writes with ``self.assign``."""
        variables = list(variables)
        self.update_each(fn, variables, *([arg] * len(variables) for arg in args))

    def assign_if(self, pred, targets, values):
        """Assign ``values()`` (a list of tensors) to ``targets`` (variables) where the scalar
        ``pred`` holds; otherwise leave them as they are.

        Made for rare events (Lookahead's synchronisation, one step in ``sync_period``; an SWA
        snapshot); MovingAverage's every-step update goes through it too (measured no slower). On the
        TF backend, for targets of at least ``fuse_min_size`` elements (``engine.policy``: the
        wrapper's own argument if given, else the inner optimizer's, the default around a Keras
        built-in), it is a ``tf.cond``: a
        step where ``pred`` is false reads and writes nothing. Elsewhere it is the
        select ``ops.where(pred, value, old)``, which touches every target every step (op by op, a
        few full passes over each) but costs less than a ``tf.cond`` for small variables, and is the
        form the JAX backend needs (Keras's JAX optimizers avoid assignments inside ``lax.cond``).
        Both forms give the same values (``tests/test_wrappers.py`` checks them bit for bit).
        """
        min_size = self.fuse_min_size
        if keras.backend.backend() == "tensorflow" and all(policy.is_large(t, min_size) for t in targets):
            import tensorflow as tf

            def assign():
                for target, value in zip(targets, values()):
                    self.assign(target, value)

            tf.cond(ops.convert_to_tensor(pred), assign, lambda: None)
            return
        for target, value in zip(targets, values()):
            self.assign(target, ops.where(pred, value, ops.cast(target, value.dtype)))

    def state_for(self, state, variable):
        """The entry of the per-variable list ``state`` that belongs to ``variable``."""
        return state[self._index_of(variable)]

    # ------------------------------------------------------------------ config
    def _wrapper_config(self):
        return {}

    def get_config(self):
        return {
            "name": self.name,
            "optimizer": keras.optimizers.serialize(self.inner_optimizer),
            **self._wrapper_config(),
            **({} if self._fuse_min_size is None else {"fuse_min_size": self._fuse_min_size}),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = copy.deepcopy(config)  # keras.optimizers.deserialize edits the dict it is given
        optimizer = keras.optimizers.deserialize(config.pop("optimizer"), custom_objects=custom_objects)
        return cls(optimizer, **config)
