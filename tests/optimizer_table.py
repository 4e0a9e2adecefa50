"""THE table: every registered optimizer, the arguments it is tested with, and its NumPy reference.

Adding an optimizer means adding a row here; ``test_conformance.py`` fails for a registered
optimizer that has no row. Each row drives every table-driven check:

* ``variants``: hyper-parameter combinations checked against ``reference`` in float64 (the first
  one is the defaults); together they exercise every flag of the optimizer;
* ``builtin``: the Keras built-in with the same algorithm and defaults (step-for-step equality),
  or ``None``;
* ``sparse``: what a ``tf.IndexedSlices`` gradient means: ``"dense"`` (the result equals the same
  gradient made dense) or ``"lazy"`` (only the touched rows and their state change, e.g. LazyAdam;
  the built-in comparison then feeds it dense gradients);
* ``legacy``: the name of the Keras 2 optimizer in ``tf_keras.optimizers.legacy`` reproducing
  Keras 2 arguments (``lr``, ``decay``, ``epsilon=None``), with the zoo arguments that match it;
* ``learning_rate``: a learning rate that moves the weights visibly in the parity tests;
* ``converge``: arguments that solve the small convex problem of the convergence test;
* ``invalid``: ``(kwargs, exception type, words the message must contain)`` on top of the checks
  every optimizer shares (learning rate, unknown arguments, Keras base arguments).
"""

from __future__ import annotations

import dataclasses

import keras

import keras_optim_zoo as koz
import reference


@dataclasses.dataclass(frozen=True)
class Row:
    name: str
    cls: type
    reference: object
    variants: tuple
    builtin: type | None = None
    sparse: str = "dense"
    legacy: tuple | None = None
    learning_rate: float = 0.01
    converge: dict = dataclasses.field(default_factory=dict)
    invalid: tuple = ()

    def __str__(self):
        return self.name


BETAS_INVALID = (
    ({"beta_1": 1.0}, ValueError, ["beta_1", "[0, 1)"]),
    ({"beta_2": -0.1}, ValueError, ["beta_2", "[0, 1)"]),
    ({"epsilon": -1e-8}, ValueError, ["epsilon", "[0, inf]"]),
    ({"beta_1": "0.9"}, TypeError, ["beta_1", "real number"]),
)

CLASSIC_ROWS = (
    Row(
        "zoo_sgd",
        koz.ZooSGD,
        reference.sgd,
        variants=({}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True}, {"momentum": 1.0}),
        builtin=keras.optimizers.SGD,
        legacy=("SGD", {"momentum": 0.9, "nesterov": True}),
        converge={"learning_rate": 0.1, "momentum": 0.5},
        invalid=(
            ({"momentum": 1.5}, ValueError, ["momentum", "[0, 1]"]),
            ({"momentum": -0.1}, ValueError, ["momentum", "[0, 1]"]),
            ({"nesterov": "yes"}, TypeError, ["nesterov", "True or False"]),
        ),
    ),
    Row(
        "zoo_rmsprop",
        koz.ZooRMSprop,
        reference.rmsprop,
        variants=(
            {},
            {"momentum": 0.5},
            {"centered": True},
            {"centered": True, "momentum": 0.5, "rho": 0.8, "epsilon": 1e-5},
        ),
        builtin=keras.optimizers.RMSprop,
        legacy=("RMSprop", {"rho": 0.8, "momentum": 0.5, "centered": True}),
        converge={"learning_rate": 0.02},
        invalid=(
            ({"rho": 1.0}, ValueError, ["rho", "[0, 1)"]),
            ({"rho": -0.5}, ValueError, ["rho", "[0, 1)"]),
            ({"momentum": 2.0}, ValueError, ["momentum", "[0, 1]"]),
            ({"epsilon": -1.0}, ValueError, ["epsilon"]),
            ({"centered": 1}, TypeError, ["centered"]),
        ),
    ),
    Row(
        "zoo_adagrad",
        koz.ZooAdagrad,
        reference.adagrad,
        variants=({}, {"initial_accumulator_value": 0.0, "epsilon": 1e-3}),
        builtin=keras.optimizers.Adagrad,
        legacy=("Adagrad", {"initial_accumulator_value": 0.2}),
        learning_rate=0.1,
        converge={"learning_rate": 0.5},
        invalid=(
            ({"initial_accumulator_value": -0.1}, ValueError, ["initial_accumulator_value"]),
            ({"epsilon": -1e-7}, ValueError, ["epsilon"]),
        ),
    ),
    Row(
        "zoo_adadelta",
        koz.ZooAdadelta,
        reference.adadelta,
        variants=({}, {"rho": 0.9, "epsilon": 1e-6}),
        builtin=keras.optimizers.Adadelta,
        legacy=("Adadelta", {"rho": 0.9}),
        learning_rate=1.0,
        converge={"learning_rate": 1.0, "epsilon": 1e-4},
        invalid=(
            ({"rho": 1.0}, ValueError, ["rho", "[0, 1)"]),
            ({"epsilon": float("nan")}, ValueError, ["epsilon", "finite"]),
        ),
    ),
    Row(
        "zoo_adam",
        koz.ZooAdam,
        reference.adam,
        variants=({}, {"amsgrad": True}, {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3}),
        builtin=keras.optimizers.Adam,
        legacy=("Adam", {"amsgrad": True}),
        converge={"learning_rate": 0.05},
        invalid=BETAS_INVALID + (({"amsgrad": "False"}, TypeError, ["amsgrad"]),),
    ),
    Row(
        "zoo_adamax",
        koz.ZooAdamax,
        reference.adamax,
        variants=({}, {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3}),
        builtin=keras.optimizers.Adamax,
        legacy=("Adamax", {"beta_1": 0.8}),
        converge={"learning_rate": 0.05},
        invalid=BETAS_INVALID,
    ),
    Row(
        "zoo_nadam",
        koz.ZooNadam,
        reference.nadam,
        variants=({}, {"schedule_decay": 0.004}, {"beta_1": 0.5, "beta_2": 0.9, "schedule_decay": 0.1}),
        builtin=keras.optimizers.Nadam,
        # tf.keras 2's Nadam uses the paper's schedule (schedule_decay=0.004) and ignores `decay`.
        legacy=("Nadam", {"schedule_decay": 0.004}),
        converge={"learning_rate": 0.05},
        invalid=BETAS_INVALID + (({"schedule_decay": -0.004}, ValueError, ["schedule_decay"]),),
    ),
)

# Rows of the Adam-family optimizers added for the TensorFlow Addons successor set (issue 4).
ADAM_FAMILY_ROWS = (
    # <adam-family rows: add here>
)

# Rows of the other TensorFlow Addons successors (issue 4).
TFA_OTHER_ROWS = (
    # <other tfa rows: add here>
)

# Rows of optimizers built from wrappers (e.g. zoo_ranger = Lookahead(RAdam)).
WRAPPER_ROWS = (
    # <wrapper rows: add here>
)

ROWS = CLASSIC_ROWS + ADAM_FAMILY_ROWS + TFA_OTHER_ROWS + WRAPPER_ROWS

ROWS_BY_NAME = {row.name: row for row in ROWS}

#: Checks every optimizer shares: (kwargs, exception type, words the message must contain).
COMMON_INVALID = (
    ({"learning_rate": -0.1}, ValueError, ["learning_rate", "[0, inf]"]),
    ({"learning_rate": float("inf")}, ValueError, ["learning_rate", "finite"]),
    ({"learning_rate": "fast"}, TypeError, ["learning_rate", "real number"]),
    ({"weight_decay": -1e-4}, ValueError, ["weight_decay"]),
    ({"clipnorm": 0.0}, ValueError, ["clipnorm", "(0, inf]"]),
    ({"learning_rat": 0.1}, TypeError, ["learning_rat", "unexpected"]),
    ({"decay": -0.5}, ValueError, ["decay"]),
)


def variant_cases():
    """``(row, variant)`` pairs with readable ids, for ``pytest.mark.parametrize``."""
    import pytest

    return [
        pytest.param(row, variant, id=f"{row.name}-{_variant_id(variant)}")
        for row in ROWS
        for variant in row.variants
    ]


def _variant_id(variant):
    return ",".join(f"{k}={v}" for k, v in variant.items()) or "defaults"
