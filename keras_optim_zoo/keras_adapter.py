"""The one place where keras_optim_zoo overrides Keras optimizer internals.

Keras 3's ``Optimizer.apply`` runs private hooks in a fixed order (``_backend_apply_gradients`` ->
clipping -> ``_apply_weight_decay`` -> ``_backend_update_step`` -> ``update_step`` per variable).
The zoo overrides three of them, here and nowhere else, each for the reason given on it:

* ``apply`` - the step's context (``engine.context.StepContext``: the finite flag of
  ``skip_nonfinite``, ...) must exist before Keras runs its hooks, and a skipped step must take back
  the iteration Keras counts unconditionally;
* ``_backend_update_step`` - Keras's version loops over the variables calling
  ``update_step(gradient, variable, learning_rate)``, which cannot carry the context, run
  optimizer-wide state once per step, or update several variables in one XLA launch; ours hands the
  all-reduced gradients to the engine (``_run_step``);
* ``_apply_weight_decay`` - Keras calls it just before ``_backend_update_step``; inside a step the
  engine applies the decay itself (inside the fused launch where it can, with the step's learning
  rate), so here it does nothing; called on its own it decays the variables now, as Keras's does.

Everything else is read through the helpers below (``_index_of``, ``_built_variables``,
``update_each``, ``all_reduce_gradients``), so a Keras release that renames an internal breaks one
module. The context is handed from ``apply`` to the hooks Keras calls in one attribute holder
(``_runtime``), which Keras's attribute tracking and checkpoints do not see; nothing else about a
step lives on the optimizer.
"""

from __future__ import annotations

import re

import keras

from keras_optim_zoo import sparse


class Runtime:
    """Per-instance bookkeeping kept out of Keras's tracking (not saved, not a Keras variable):
    the context of the step being applied, compiled functions, and other caches (values an
    optimizer keeps between calls that are not optimizer state, e.g. schedule-free's weights
    before ``eval_mode``)."""

    def __init__(self):
        self.step_context = None
        self.compiled = {}
        self.caches = {}


def runtime(optimizer):
    """``optimizer``'s ``Runtime``, created on first use."""
    holder = optimizer.__dict__.get("_runtime")
    if holder is None:
        # Not a Keras variable, list or dict, nor a TF trackable: Keras and TF leave it untracked.
        holder = optimizer._runtime = Runtime()
    return holder


def compiled(optimizer, name, fn):
    """``fn`` compiled by XLA (``tf.function(jit_compile=True)``), made on first use and kept in
    ``optimizer``'s runtime under ``name``."""
    cache = runtime(optimizer).compiled
    if name not in cache:
        import tensorflow as tf

        cache[name] = tf.function(fn, jit_compile=True, autograph=False)
    return cache[name]


def compiled_or_none(optimizer, name):
    """The compiled function cached under ``name``, or None if it was never made."""
    return runtime(optimizer).compiled.get(name)


def find_optimizer(optimizer, cls):
    """The instance of ``cls`` that ``optimizer`` is or wraps (through ``LossScaleOptimizer`` and
    other wrappers, via ``inner_optimizer``), else None."""
    seen = set()
    while optimizer is not None and id(optimizer) not in seen:
        if isinstance(optimizer, cls):
            return optimizer
        seen.add(id(optimizer))
        optimizer = getattr(optimizer, "inner_optimizer", None)
    return None


def variable_name(variable):
    """A variable's path (Keras variables), else its name."""
    return getattr(variable, "path", None) or variable.name


def matches_any(variable, patterns):
    """Whether one of the regular expressions ``patterns`` is found (``re.search``) in the
    variable's path (``variable_name``)."""
    path = variable_name(variable)
    return any(re.search(pattern, path) for pattern in patterns)


class VariableAccess:
    """Reading Keras's variable bookkeeping, for optimizers and wrappers alike."""

    def _index_of(self, variable):
        """The position of ``variable`` (Keras or ``tf.Variable``) among the built variables."""
        return self._get_variable_index(variable)

    def _built_variables(self):
        """The variables the optimizer was built with, in order."""
        return list(self._trainable_variables)

    def update_each(self, fn, variables, *per_variable):
        """``fn(variable, *args_i)`` for each variable (``args_i``: the i-th entries of the lists
        ``per_variable``), directly, or under a ``tf.distribute`` strategy on every replica's copy
        (``merge_call`` + ``extended.update``, as Keras updates its variables)."""
        if keras.backend.backend() != "tensorflow":
            for i, variable in enumerate(variables):
                fn(variable, *(values[i] for values in per_variable))
            return
        import tensorflow as tf

        def update_all(distribution, tf_variables, *lists):
            for i, variable in enumerate(tf_variables):
                distribution.extended.update(variable, fn, args=tuple(values[i] for values in lists), group=False)

        tf.__internal__.distribute.interim.maybe_merge_call(
            update_all, self._distribution_strategy, [sparse._tf_variable(v) for v in variables], *per_variable
        )

    def all_reduce_gradients(self, grads, variables):
        """The gradients summed over replicas (TF, inside a replica context), else as given."""
        if keras.backend.backend() != "tensorflow":
            return list(grads)
        pairs = self._all_reduce_sum_gradients(list(zip(grads, [sparse._tf_variable(v) for v in variables])))
        return [g for g, _ in pairs]


class KerasAdapter(VariableAccess):
    """The zoo optimizers' side of Keras (mixed in before ``keras.optimizers.Optimizer``).

    The optimizer provides ``_open_step(grads) -> StepContext``, ``_close_step(context)``,
    ``_run_step(context, grads, variables, learning_rate)`` and ``_decay_now(context, variables)``.
    """

    def apply(self, grads, trainable_variables=None):
        """Keras's ``apply``, with the step's context made first (see the module docstring)."""
        if trainable_variables is not None:
            trainable_variables = list(trainable_variables)
            check_gradient_shapes(grads, trainable_variables)
        holder = runtime(self)
        context = self._open_step(grads)
        outer, holder.step_context = holder.step_context, context
        try:
            result = super().apply(grads, trainable_variables)
            self._close_step(context)
            return result
        finally:
            holder.step_context = outer

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        """The engine's step instead of Keras's per-variable loop (see the module docstring)."""
        context = runtime(self).step_context
        if context is None:  # called outside `apply`: a step without the finite check
            context = self._open_step(None)
        grads = self.all_reduce_gradients(grads, trainable_variables)
        self._run_step(context, grads, list(trainable_variables), learning_rate)

    def _apply_weight_decay(self, variables):
        """Inside a step: nothing (the engine decays); on its own: the decay, now."""
        if runtime(self).step_context is not None:
            return
        self._decay_now(self._open_step(None), list(variables))


class WrapperAdapter(VariableAccess):
    """The wrappers' side of Keras: ``apply`` runs the inner optimizer's step, then the wrapper's
    (``_apply_wrapped``); ``update_step`` is not how a wrapper steps."""

    def apply(self, grads, trainable_variables=None):
        """Keras's ``apply`` replaced (the wrapper has no update of its own; see ``_apply_wrapped``)."""
        return self._apply_wrapped(grads, trainable_variables)


class DecoupledDecayAdapter(VariableAccess):
    """``_apply_weight_decay`` of ``extend_with_decoupled_weight_decay``'s classes (around Keras
    built-ins): the decay with ``weight_decay_scaling`` (``weight_decay.decay_variables``)."""

    def _apply_weight_decay(self, variables):
        from keras_optim_zoo.weight_decay import decay_variables

        decay_variables(self, list(variables), learning_rate=self.learning_rate)


def check_gradient_shapes(grads, variables):
    """A ``ValueError`` naming the variable when a gradient's (static) shape does not fit it."""
    for grad, variable in zip(grads, variables):
        if grad is None:
            continue
        expected = tuple(variable.shape)
        if sparse.is_indexed_slices(grad):
            got, expected = tuple(grad.values.shape)[1:], expected[1:]
        else:
            got = tuple(getattr(grad, "shape", ()))
        known = len(got) == len(expected) and all(g is None or g == e for g, e in zip(got, expected))
        if not known:
            raise ValueError(
                f"The gradient for variable {variable_name(variable)!r} has shape {tuple(grad.shape)}, "
                f"which does not match the variable's shape {tuple(variable.shape)}."
            )
