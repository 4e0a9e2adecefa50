"""``StepContext``: what one optimizer step knows, made once per ``apply`` and passed explicitly.

The algorithm functions (``_update``, the optimizer-wide ``_advance_step_state``) receive it as an
argument; nothing about the step being taken is kept in attributes of the optimizer. One context
serves the whole step (``learning_rate`` in the dtype the step state is computed in); the engine
derives a per-variable context from it (``for_variable``: the learning rate cast to the variable's
compute dtype, the variable's Python decisions, whether its decoupled decay runs inside its
update).
"""

from __future__ import annotations

import dataclasses

from keras import ops


@dataclasses.dataclass(frozen=True)
class StepContext:
    #: The optimizer's step counter (a variable; Keras increments it after the update): read
    #: where it is used, so that a compiled update reads it inside its own launch.
    iterations: object
    #: The learning rate of this step (schedule and Keras 2 ``decay`` applied); per variable, in its
    #: compute dtype. ``None`` outside a step (e.g. while building).
    learning_rate: object = None
    #: ``skip_nonfinite=True``: a boolean tensor, every gradient of the step finite (on every
    #: replica). ``None`` when the option is off: nothing is kept back.
    finite: object = None
    #: Per variable: the dtype its update is computed in (``None`` for the optimizer-wide context).
    dtype: str | None = None
    #: Per variable: the optimizer's hashable Python decisions for it (``_choices``), or ``None``.
    choices: object = None
    #: Per variable: the shared decoupled weight decay runs inside its update (the fused launch).
    decay: bool = False

    def step(self, dtype=None):
        """The 1-based number of the step being taken, in ``dtype`` (default: the context's)."""
        return ops.cast(self.iterations + 1, dtype or self.dtype)

    def keep_if_skipped(self, new_value, old_value):
        """``new_value``, or ``old_value`` when this step is being skipped (``skip_nonfinite``)."""
        if self.finite is None:
            return new_value
        return ops.where(self.finite, new_value, ops.cast(old_value, new_value.dtype))

    def for_variable(self, dtype, choices=None, decay=False):
        """The context of one variable's update: the learning rate cast to ``dtype``."""
        return dataclasses.replace(
            self, learning_rate=ops.cast(self.learning_rate, dtype), dtype=dtype, choices=choices, decay=decay
        )

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)
