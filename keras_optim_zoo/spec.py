"""``OptimizerSpec``: what each optimizer declares once, next to its update.

Every registered optimizer class carries ``spec = OptimizerSpec(...)``. From the specs come the
registry (``registry.register`` reads the name), ``list_optimizers()`` and README's table (the
summary; the class docstring must start with it), ``bench``'s built-in twins and the test table's
twin, Keras 2 and sparse columns (``tests/optimizer_table.py`` reads them from here).

A spec that declares its ``hyperparameters`` (each with its default, check and meaning) and its
default ``learning_rate`` also gives the class its constructor (signature, argument checks, in
that order for positional use), its ``get_config`` keys and the "Args" section of its docstring
(``ZooOptimizer.__init_subclass__``): each hyperparameter is written once.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from typing import Any, Callable

from keras_optim_zoo import checks


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
    """One constructor argument: its default, its check (``check(name, value)`` returns the value
    to store or raises a ``TypeError``/``ValueError`` naming the argument and the valid range), the
    valid range as text and its meaning (both for the docstring and the documentation pages)."""

    name: str
    default: Any
    check: Callable[[str, Any], Any]
    valid: str
    doc: str = ""
    #: A Keras base argument given its own default here (e.g. AdamW's ``weight_decay``): checked,
    #: then passed to ``keras.optimizers.Optimizer`` (which stores it), not stored again.
    keras_base: bool = False

    def line(self):
        """Its line in the docstring's "Args" section."""
        meaning = f" {self.doc[:1].upper()}{self.doc[1:].rstrip('.')}." if self.doc else ""
        return f"{self.name}: {self.valid}.{meaning} Default {self.default!r}."


def beta(name, default, doc=""):
    """A decay rate of a moving average, in ``[0, 1)``."""
    return Hyperparameter(name, default, checks.beta, "float in [0, 1)", doc)


def real(name, default, low=-math.inf, high=math.inf, *, low_open=False, high_open=False, doc=""):
    """A real number in the given interval."""

    def check(n, value):
        return checks.in_range(n, value, low, high, low_open=low_open, high_open=high_open)

    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    return Hyperparameter(name, default, check, f"float in {interval}", doc)


def boolean(name, default, doc=""):
    return Hyperparameter(name, default, checks.boolean, "bool", doc)


def integer(name, default, minimum=0, doc=""):
    def check(n, value):
        return checks.integer(n, value, minimum)

    return Hyperparameter(name, default, check, f"int >= {minimum}", doc)


def epsilon(default=1e-7, doc="added to the denominator"):
    """A non-negative epsilon; ``None`` is the Keras 2 spelling of 1e-7 (with a DeprecationWarning)."""

    def check(n, value):
        from keras_optim_zoo.base import ZooOptimizer  # the base imports this module

        return ZooOptimizer._epsilon(value)

    return Hyperparameter("epsilon", default, check, "float >= 0 (``None``: Keras 2's 1e-7)", doc)


def non_negative_or_none(name, default, doc=""):
    return Hyperparameter(name, default, checks.non_negative_or_none, "float >= 0 or ``None``", doc)


def keras_weight_decay(default, doc="decoupled weight decay (see ``weight_decay_scaling``)"):
    """Keras's ``weight_decay`` with a default of its own and ``None`` rejected."""
    return Hyperparameter("weight_decay", default, checks.non_negative, "float >= 0", doc, keras_base=True)


def constructor(cls, spec, base_init):
    """The ``__init__`` a spec with hyperparameters gives ``cls``: bind the arguments to the spec's
    signature, run ``base_init(self, learning_rate, **keras_kwargs)`` (the shared base), check and
    store each hyperparameter, then ``self._check_arguments()`` for checks across arguments."""
    P = inspect.Parameter
    parameters = [P("self", P.POSITIONAL_OR_KEYWORD), P("learning_rate", P.POSITIONAL_OR_KEYWORD, default=spec.learning_rate)]
    parameters += [P(h.name, P.POSITIONAL_OR_KEYWORD, default=h.default) for h in spec.hyperparameters]
    parameters.append(P("kwargs", P.VAR_KEYWORD))
    signature = inspect.Signature(parameters)

    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        extra = values.pop("kwargs")
        keras_kwargs = {h.name: h.check(h.name, values[h.name]) for h in spec.hyperparameters if h.keras_base}
        base_init(self, values["learning_rate"], **keras_kwargs, **extra)
        for h in spec.hyperparameters:
            if not h.keras_base:
                setattr(self, h.name, h.check(h.name, values[h.name]))
        self._check_arguments()

    __init__.__signature__ = signature
    __init__.__qualname__ = f"{cls.__name__}.__init__"
    __init__.__doc__ = f"``{cls.__name__}``'s constructor, made from its spec (see the class docstring)."
    return __init__


def args_section(spec, indent="    "):
    """The docstring's "Args" section for ``spec``."""
    lines = [f"{indent}Args:", f"{indent}    learning_rate: float >= 0, schedule or callable. Default {spec.learning_rate!r}."]
    lines += [f"{indent}    {h.line()}" for h in spec.hyperparameters]
    lines.append(
        f"{indent}    **kwargs: the Keras base optimizer arguments (``weight_decay``, ``clipnorm``, ...) "
        "and the zoo's (``weight_decay_scaling``, ``skip_nonfinite``, ``fused``, ``fuse_min_size``, "
        "``cautious``, ``state_dtype``, ``state_rounding``)."
    )
    return "\n".join(lines)

#: What a ``tf.IndexedSlices`` gradient means for an optimizer.
SPARSE_SEMANTICS = ("dense", "lazy")


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
    #: The registered name (``"zoo_adam"``): ``model.compile(optimizer=name)``.
    name: str
    #: One line: the first line of the class docstring, ``list_optimizers()`` and README's table.
    summary: str
    #: The family it belongs to (e.g. ``"adam"``, ``"sign"``, ``"learning-rate-free"``).
    family: str
    #: The paper (authors, year, arXiv id or venue).
    paper: str = ""
    #: The class name in ``keras.optimizers`` with the same algorithm and defaults, or None.
    builtin: str | None = None
    #: Arguments both sides take when they are compared (tests, ``bench``), e.g. SGD's momentum.
    builtin_arguments: dict = dataclasses.field(default_factory=dict)
    #: The Keras 2 optimizer in ``tf_keras.optimizers.legacy`` whose ``lr``/``decay``/``epsilon=None``
    #: arguments it reproduces, or None.
    keras2: str | None = None
    #: ``"dense"``: a sparse gradient gives the result of the same gradient made dense; ``"lazy"``:
    #: only the touched rows and their state change.
    sparse: str = "dense"
    #: The constructor's default learning rate, with ``hyperparameters`` (both or neither).
    learning_rate: float | None = None
    #: The constructor arguments in order (``Hyperparameter``), or None where the class still
    #: writes its own ``__init__``.
    hyperparameters: tuple | None = None

    def __post_init__(self):
        if not self.name.startswith("zoo_"):
            raise ValueError(f"Zoo optimizer names start with 'zoo_'; received {self.name!r}.")
        if self.sparse not in SPARSE_SEMANTICS:
            raise ValueError(f"OptimizerSpec.sparse must be one of {SPARSE_SEMANTICS}; received {self.sparse!r}.")
        if not self.summary or "\n" in self.summary or not self.summary.endswith("."):
            raise ValueError(f"OptimizerSpec.summary must be one sentence on one line; received {self.summary!r}.")
        if (self.hyperparameters is None) != (self.learning_rate is None):
            raise ValueError("OptimizerSpec: give `learning_rate` and `hyperparameters` together.")

    def builtin_class(self):
        """The Keras built-in twin's class (``keras.optimizers.<builtin>``), or None."""
        if self.builtin is None:
            return None
        import keras

        return getattr(keras.optimizers, self.builtin)
