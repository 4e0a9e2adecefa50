"""``OptimizerSpec``: what each optimizer declares once, next to its update.

Every registered optimizer class carries ``spec = OptimizerSpec(...)``. From the specs come the
registry (``registry.register`` reads the name), ``list_optimizers()`` and README's table (the
summary; the class docstring must start with it), ``bench``'s built-in twins and the test table's
twin, Keras 2 and sparse columns (``tests/optimizer_table.py`` reads them from here).
"""

from __future__ import annotations

import dataclasses

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

    def __post_init__(self):
        if not self.name.startswith("zoo_"):
            raise ValueError(f"Zoo optimizer names start with 'zoo_'; received {self.name!r}.")
        if self.sparse not in SPARSE_SEMANTICS:
            raise ValueError(f"OptimizerSpec.sparse must be one of {SPARSE_SEMANTICS}; received {self.sparse!r}.")
        if not self.summary or "\n" in self.summary or not self.summary.endswith("."):
            raise ValueError(f"OptimizerSpec.summary must be one sentence on one line; received {self.summary!r}.")

    def builtin_class(self):
        """The Keras built-in twin's class (``keras.optimizers.<builtin>``), or None."""
        if self.builtin is None:
            return None
        import keras

        return getattr(keras.optimizers, self.builtin)
