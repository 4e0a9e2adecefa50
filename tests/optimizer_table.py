"""THE table: every registered optimizer, the arguments it is tested with, and its NumPy reference.

Adding an optimizer means adding a row here; ``test_conformance.py`` fails for a registered
optimizer that has no row. Each row drives every table-driven check:

* ``variants``: hyper-parameter combinations checked against ``reference`` in float64 (the first
  one is the defaults); together they exercise every flag of the optimizer;
* ``builtin``, ``sparse`` and the Keras 2 twin come from the optimizer's spec
  (``keras_optim_zoo/spec.py``): the built-in with the same algorithm and defaults (step-for-step
  equality), what a ``tf.IndexedSlices`` gradient means (``"dense"``: the result equals the same
  gradient made dense; ``"lazy"``: only the touched rows and their state change, the built-in
  comparison then feeds dense gradients), and the optimizer in ``tf_keras.optimizers.legacy``
  reproducing Keras 2 arguments (``lr``, ``decay``, ``epsilon=None``);
* ``legacy_arguments``: the zoo arguments that match that Keras 2 optimizer;
* ``learning_rate``: a learning rate that moves the weights visibly in the parity tests;
* ``converge``: arguments that solve the small convex problem of the convergence test;
* ``invalid``: ``(kwargs, exception type, words the message must contain)`` on top of the checks
  every optimizer shares (learning rate, unknown arguments, Keras base arguments);
* ``reassociation``: how far (max abs) two float32 runs of the ``converge`` arguments may land
  apart on the small tanh network of ``tests/test_scale_out.py`` when they differ only in the
  rounding of the batch gradient (one device vs two replicas summing half-batch gradients).
  ``2e-6`` unless a row's measured sensitivity says otherwise; the row then gives its figures.
"""

from __future__ import annotations

import dataclasses
import os

import keras

import keras_optim_zoo as koz
import reference


@dataclasses.dataclass(frozen=True)
class Row:
    name: str
    cls: type
    reference: object
    variants: tuple
    legacy_arguments: dict = dataclasses.field(default_factory=dict)
    learning_rate: float = 0.01
    converge: dict = dataclasses.field(default_factory=dict)
    invalid: tuple = ()
    reassociation: float = 2e-6

    def __str__(self):
        return self.name

    # From the optimizer's spec (keras_optim_zoo/spec.py), not repeated here:
    @property
    def builtin(self):
        """The Keras built-in with the same algorithm and defaults (step-for-step equality), or None."""
        return self.cls.spec.builtin_class()

    @property
    def sparse(self):
        """``"dense"`` or ``"lazy"``: what a ``tf.IndexedSlices`` gradient means."""
        return self.cls.spec.sparse

    @property
    def legacy(self):
        """``(Keras 2 optimizer name, zoo arguments that match it)``, or None."""
        return (self.cls.spec.keras2, self.legacy_arguments) if self.cls.spec.keras2 else None


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
        legacy_arguments={"momentum": 0.9, "nesterov": True},
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
        legacy_arguments={"rho": 0.8, "momentum": 0.5, "centered": True},
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
        legacy_arguments={"initial_accumulator_value": 0.2},
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
        legacy_arguments={"rho": 0.9},
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
        variants=(
            {},
            {"amsgrad": True},
            {"cautious": True, "amsgrad": True},
            {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3},
        ),
        legacy_arguments={"amsgrad": True},
        converge={"learning_rate": 0.05},
        invalid=BETAS_INVALID + (({"amsgrad": "False"}, TypeError, ["amsgrad"]),),
    ),
    Row(
        "zoo_adamax",
        koz.ZooAdamax,
        reference.adamax,
        variants=({}, {"cautious": True, "beta_1": 0.5}, {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3}),
        legacy_arguments={"beta_1": 0.8},
        converge={"learning_rate": 0.05},
        invalid=BETAS_INVALID,
    ),
    Row(
        "zoo_nadam",
        koz.ZooNadam,
        reference.nadam,
        variants=(
            {},
            {"schedule_decay": 0.004},
            {"cautious": True, "schedule_decay": 0.004},
            {"beta_1": 0.5, "beta_2": 0.9, "schedule_decay": 0.1},
        ),
        # tf.keras 2's Nadam uses the paper's schedule (schedule_decay=0.004) and ignores `decay`.
        legacy_arguments={"schedule_decay": 0.004},
        converge={"learning_rate": 0.05},
        invalid=BETAS_INVALID + (({"schedule_decay": -0.004}, ValueError, ["schedule_decay"]),),
    ),
)

# Rows of the Adam family (moments, rectification, trust ratio, bounds).
ADAM_FAMILY_ROWS = (
    Row(
        "zoo_adamw",
        koz.ZooAdamW,
        reference.adamw,
        # The non-default decays are exactly representable in float32: with learning-rate scaling
        # Keras's decay step (the shared mechanism) casts weight_decay through float32 even for
        # float64 variables. The default 0.004 is not (see the report on weight_decay.py).
        variants=(
            {},
            {"weight_decay_scaling": "none"},
            {"amsgrad": True, "weight_decay": 0.03125},
            {"cautious": True, "weight_decay": 0.03125},
            {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3, "weight_decay": 0.0078125, "weight_decay_scaling": "none"},
        ),
        converge={"learning_rate": 0.05, "weight_decay": 0.0},
        invalid=BETAS_INVALID
        + (
            ({"weight_decay": None}, TypeError, ["weight_decay", "real number"]),
            ({"amsgrad": "False"}, TypeError, ["amsgrad"]),
            ({"weight_decay_scaling": "tfa"}, ValueError, ["weight_decay_scaling"]),
        ),
    ),
    Row(
        "zoo_lazy_adam",
        koz.ZooLazyAdam,
        reference.lazy_adam,
        # cautious: the mask's mean is over the whole variable, untouched rows counting as masked.
        variants=(
            {},
            {"amsgrad": True},
            {"cautious": True, "amsgrad": True},
            {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3},
        ),
        legacy_arguments={"amsgrad": True},
        converge={"learning_rate": 0.05},
        invalid=BETAS_INVALID + (({"amsgrad": 0}, TypeError, ["amsgrad"]),),
    ),
    Row(
        "zoo_radam",
        koz.ZooRAdam,
        reference.radam,
        # 40 steps: the un-rectified first steps (t <= 5, or t <= 4 with threshold 4) and after;
        # the last variant also runs through TFA's warm-up (6 steps), decay and hold (t > 30).
        variants=(
            {},
            {"amsgrad": True},
            {"degenerated_to_sgd": False, "sma_threshold": 4.0},
            {"cautious": True, "amsgrad": True},
            {"total_steps": 30, "warmup_proportion": 0.2, "min_lr": 0.001, "beta_1": 0.5, "epsilon": 1e-3},
        ),
        converge={"learning_rate": 0.05},
        invalid=BETAS_INVALID
        + (
            ({"sma_threshold": 3.0}, ValueError, ["sma_threshold", "[4, inf]"]),
            ({"degenerated_to_sgd": "no"}, TypeError, ["degenerated_to_sgd", "True or False"]),
            ({"total_steps": -1}, ValueError, ["total_steps", "integer >= 0"]),
            ({"total_steps": 1e4}, TypeError, ["total_steps", "integer"]),
            ({"warmup_proportion": 1.5}, ValueError, ["warmup_proportion", "[0, 1]"]),
            ({"min_lr": -1e-5}, ValueError, ["min_lr", "[0, inf]"]),
            ({"amsgrad": None}, TypeError, ["amsgrad"]),
        ),
    ),
    Row(
        "zoo_adabelief",
        koz.ZooAdaBelief,
        reference.adabelief,
        variants=(
            {},
            {"rectify": True},
            {"rectify": True, "amsgrad": True, "degenerated_to_sgd": False},
            {"cautious": True, "rectify": True},
            {"amsgrad": True, "epsilon": 1e-8, "beta_2": 0.99, "total_steps": 30, "min_lr": 0.001},
        ),
        converge={"learning_rate": 0.05},
        invalid=BETAS_INVALID
        + (
            ({"rectify": "yes"}, TypeError, ["rectify", "True or False"]),
            ({"sma_threshold": 0.0}, ValueError, ["sma_threshold", "[4, inf]"]),
            ({"total_steps": 2.5}, TypeError, ["total_steps", "integer"]),
            ({"warmup_proportion": -0.1}, ValueError, ["warmup_proportion", "[0, 1]"]),
        ),
    ),
    Row(
        "zoo_yogi",
        koz.ZooYogi,
        reference.yogi,
        variants=(
            {},
            {"bias_correction": False, "initial_accumulator_value": 0.0},
            {"l1_regularization_strength": 0.01, "l2_regularization_strength": 0.1},
            {"cautious": True, "l1_regularization_strength": 0.01, "l2_regularization_strength": 0.1},
            {"l2_regularization_strength": 0.1, "activation": "tanh", "beta_1": 0.5, "epsilon": 1e-6},
        ),
        converge={"learning_rate": 0.05},
        invalid=BETAS_INVALID
        + (
            ({"initial_accumulator_value": -1e-6}, ValueError, ["initial_accumulator_value", "[0, inf]"]),
            ({"l1_regularization_strength": -0.1}, ValueError, ["l1_regularization_strength", "[0, inf]"]),
            ({"l2_regularization_strength": -0.1}, ValueError, ["l2_regularization_strength", "[0, inf]"]),
            ({"activation": "relu"}, ValueError, ["activation", "sign", "tanh"]),
            ({"bias_correction": 1}, TypeError, ["bias_correction", "True or False"]),
        ),
    ),
    Row(
        "zoo_lamb",
        koz.ZooLamb,
        reference.lamb,
        # Keras-placed decays are exactly representable in float32 (see zoo_adamw).
        variants=(
            {},
            {"weight_decay": 0.01},
            {"weight_decay": 0.015625, "weight_decay_in_trust_ratio": False},
            {"cautious": True, "weight_decay": 0.01},
            {"weight_decay": 0.03125, "weight_decay_in_trust_ratio": False, "weight_decay_scaling": "none",
             "beta_1": 0.5, "epsilon": 1e-3},
        ),
        converge={"learning_rate": 0.05},
        invalid=BETAS_INVALID
        + (
            ({"exclude_from_layer_adaptation": ["bias", 3]}, TypeError, ["exclude_from_layer_adaptation", "list of strings"]),
            ({"exclude_from_layer_adaptation": ["bias("]}, ValueError, ["exclude_from_layer_adaptation", "bias("]),
            ({"weight_decay_in_trust_ratio": "no"}, TypeError, ["weight_decay_in_trust_ratio", "True or False"]),
            ({"weight_decay": 0.01, "weight_decay_scaling": "none"}, ValueError, ["weight_decay_scaling", "trust_ratio"]),
        ),
    ),
)

# Rows of the closed-form steps (proximal, Frank-Wolfe, coin betting), SGDW and NovoGrad.
CLOSED_FORM_AND_LAYERWISE_ROWS = (
    Row(
        "zoo_sgdw",
        koz.ZooSGDW,
        reference.sgdw,
        # Defaults: TFA's / the paper's scaling ("none"), so no Keras built-in has the same defaults.
        # With "learning_rate" scaling the weight decays are exactly representable in float32:
        # that decay step is Keras's, which casts weight_decay through float32 even for float64
        # variables (1e-4 would be off by 2.5e-9 relative, ~1e-11 on the weights after 40 steps).
        variants=(
            {},
            {"momentum": 0.9, "weight_decay": 0.0625, "weight_decay_scaling": "learning_rate"},
            {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
            {"momentum": 0.5, "nesterov": True, "weight_decay": 0.25, "weight_decay_scaling": "learning_rate"},
        ),
        learning_rate=0.05,
        converge={"learning_rate": 0.1, "momentum": 0.5},
        invalid=(
            ({"weight_decay": None}, TypeError, ["weight_decay", "ZooSGD"]),
            ({"momentum": 1.5}, ValueError, ["momentum", "[0, 1]"]),
            ({"nesterov": "yes"}, TypeError, ["nesterov", "True or False"]),
            ({"weight_decay_scaling": "tfa"}, ValueError, ["weight_decay_scaling"]),
        ),
    ),
    Row(
        "zoo_novograd",
        koz.ZooNovoGrad,
        reference.novograd,
        variants=(
            {},
            {"grad_averaging": True, "weight_decay": 0.1},
            {"amsgrad": True, "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3},
            {"amsgrad": True, "grad_averaging": True, "weight_decay": 0.01, "beta_2": 0.5},
        ),
        converge={"learning_rate": 0.05},
        invalid=BETAS_INVALID
        + (
            ({"grad_averaging": "yes"}, TypeError, ["grad_averaging", "True or False"]),
            ({"amsgrad": 1}, TypeError, ["amsgrad"]),
            ({"weight_decay": -0.1}, ValueError, ["weight_decay", "[0, inf]"]),
            ({"weight_decay_scaling": "none"}, ValueError, ["weight_decay_scaling", "NovoGrad"]),
        ),
    ),
    Row(
        "zoo_proximal_adagrad",
        koz.ZooProximalAdagrad,
        reference.proximal_adagrad,
        variants=(
            {},
            {"l1_regularization_strength": 0.05},
            {"l2_regularization_strength": 0.5},
            {"initial_accumulator_value": 0.5, "l1_regularization_strength": 0.01, "l2_regularization_strength": 0.1},
        ),
        # TF's sparse kernel: only the touched rows take the (proximal) step. With l1 = l2 = 0 this
        # is exactly the dense result; with l1/l2 > 0 a dense zero gradient would still shrink a row.
        learning_rate=0.1,
        converge={"learning_rate": 0.5},
        invalid=(
            ({"initial_accumulator_value": 0.0}, ValueError, ["initial_accumulator_value", "(0, inf]"]),
            ({"l1_regularization_strength": -0.1}, ValueError, ["l1_regularization_strength", "[0, inf]"]),
            ({"l2_regularization_strength": -1.0}, ValueError, ["l2_regularization_strength", "[0, inf]"]),
            ({"l1_regularization_strength": "0"}, TypeError, ["l1_regularization_strength", "real number"]),
        ),
    ),
    Row(
        "zoo_conditional_gradient",
        koz.ZooConditionalGradient,
        reference.conditional_gradient,
        # The nuclear variant is not last: tests/test_fused.py runs the last variant on the fused
        # (XLA) path, which the nuclear norm never takes (XLA's SVD is another algorithm).
        variants=({}, {"ord": "nuclear", "lambda_": 0.5}, {"lambda_": 2.0, "epsilon": 1e-3}),
        # Frank-Wolfe with a constant step size hovers around an interior minimiser; the classical
        # 2 / (t + 2) schedule converges, in a ball (radius 5) containing the least-squares optimum.
        converge={"learning_rate": keras.optimizers.schedules.InverseTimeDecay(1.0, 2, 1.0), "lambda_": 5.0},
        # Normalized steps of radius 5 from a step size of 1: the direction g / ||g|| carries the
        # rounding of a gradient whose sum cancels into weights of size ~5. Measured on the
        # MirroredStrategy check's problem, one device against 200 runs whose batch gradient is the
        # sum of two half-batch gradients of a random permutation: median 1.6e-6, max 4.3e-6
        # (oneDNN AVX-512 kernels), 2.0e-6 / 5.6e-6 (AVX2), 5.1e-6 / 1.6e-5 (oneDNN off, Eigen);
        # float32 vs float64 2.6e-6 to 7.2e-6 by kernel; the two replicas on another 2-core EPYC
        # gave 1.78e-5. 4x that:
        reassociation=7e-5,
        invalid=(
            ({"learning_rate": 1.5}, ValueError, ["learning_rate", "[0, 1]"]),
            ({"lambda_": -1.0}, ValueError, ["lambda_", "[0, inf]"]),
            ({"epsilon": -1e-7}, ValueError, ["epsilon"]),
            ({"ord": "inf"}, ValueError, ["ord", "fro", "nuclear"]),
        ),
    ),
    Row(
        "zoo_cocob",
        koz.ZooCOCOB,
        reference.cocob,
        variants=({}, {"alpha": 10.0}, {"alpha": 1.0, "epsilon": 1e-4}),
        learning_rate=1.0,  # ignored by COCOB (learning-rate free); 1.0 is its default
        # alpha=100 (default) deliberately takes small first steps: it solves the least-squares
        # problem in 400 steps but not the 12-step tape loop; alpha=10 does both.
        converge={"alpha": 10.0},
        invalid=(
            ({"alpha": 0.5}, ValueError, ["alpha", "[1, inf]"]),
            ({"epsilon": 0.0}, ValueError, ["epsilon", "(0, inf]"]),
            ({"alpha": "100"}, TypeError, ["alpha", "real number"]),
        ),
    ),
)

# Rows of optimizers built from wrappers (e.g. zoo_ranger = Lookahead(RAdam)).
WRAPPER_ROWS = (
    Row(
        "zoo_ranger",
        koz.ZooRanger,
        reference.ranger,
        # 40 steps: RAdam's un-rectified first steps, then rectified; 6 (default), 8, 13 or 40
        # synchronisations; a non-dyadic alpha (0.3) checks its float64 constant.
        variants=(
            {},
            {"sync_period": 5, "slow_step_size": 0.8, "amsgrad": True},
            {"sync_period": 3, "slow_step_size": 0.3, "degenerated_to_sgd": False, "sma_threshold": 4.0},
            {"cautious": True, "sync_period": 5},
            {"sync_period": 1, "beta_1": 0.9, "epsilon": 1e-7, "total_steps": 30, "warmup_proportion": 0.2},
        ),
        converge={"learning_rate": 0.1},
        invalid=BETAS_INVALID
        + (
            ({"sync_period": 0}, ValueError, ["sync_period", "integer >= 1"]),
            ({"sync_period": 2.5}, TypeError, ["sync_period", "integer"]),
            ({"slow_step_size": 1.5}, ValueError, ["slow_step_size", "[0, 1]"]),
            ({"slow_step_size": -0.1}, ValueError, ["slow_step_size", "[0, 1]"]),
        ),
    ),
)

# Rows of the sign methods, the trust-ratio SGD (LARS) and the learning-rate-free estimates.
SIGN_TRUST_RATIO_LR_FREE_ROWS = (
    Row(
        "zoo_lion",
        koz.ZooLion,
        reference.lion,
        # Keras-placed decay: exactly representable in float32 (see zoo_adamw).
        variants=(
            {},
            {"beta_1": 0.5, "beta_2": 0.9},
            {"cautious": True, "weight_decay": 0.03125},
            {"weight_decay": 0.03125, "beta_1": 1.0},
        ),
        converge={"learning_rate": 0.05},
        invalid=(
            ({"beta_1": 0.0}, ValueError, ["beta_1", "(0, 1]"]),
            ({"beta_2": 1.0}, ValueError, ["beta_2", "[0, 1)"]),
            ({"beta_2": "0.99"}, TypeError, ["beta_2", "real number"]),
        ),
    ),
    Row(
        "zoo_signsgd",
        koz.ZooSignSGD,
        reference.signsgd,
        variants=({}, {"momentum": 0.9}, {"momentum": 0.5, "weight_decay": 0.0625}),
        # Without momentum only the touched rows move (sign(0) = 0: exactly the dense result);
        # with momentum every row's average decays (made dense). Both equal the dense gradient.
        converge={"learning_rate": 0.05, "momentum": 0.5},
        invalid=(
            ({"momentum": 1.0}, ValueError, ["momentum", "[0, 1)"]),
            ({"momentum": -0.1}, ValueError, ["momentum", "[0, 1)"]),
            ({"momentum": "0.9"}, TypeError, ["momentum", "real number"]),
        ),
    ),
    Row(
        "zoo_tiger",
        koz.ZooTiger,
        reference.tiger,
        variants=({}, {"beta": 0.5}, {"beta": 0.9, "weight_decay": 0.0625}),
        converge={"learning_rate": 0.05, "beta": 0.9},
        invalid=(
            ({"beta": 1.0}, ValueError, ["beta", "[0, 1)"]),
            ({"beta": -0.5}, ValueError, ["beta", "[0, 1)"]),
            ({"beta": None}, TypeError, ["beta", "real number"]),
        ),
    ),
    Row(
        "zoo_lars",
        koz.ZooLARS,
        reference.lars,
        variants=(
            {},
            {"momentum": 0.0, "eta": 0.01},
            {"weight_decay": 0.01, "epsilon": 1e-3, "nesterov": True},
            {"weight_decay": 0.1, "momentum": 0.5, "eta": 0.02},
        ),
        learning_rate=1.0,
        converge={"learning_rate": 0.2, "eta": 0.2, "momentum": 0.5},
        invalid=(
            ({"momentum": 1.5}, ValueError, ["momentum", "[0, 1]"]),
            ({"eta": -0.001}, ValueError, ["eta", "[0, inf]"]),
            ({"epsilon": -1e-9}, ValueError, ["epsilon", "[0, inf]"]),
            ({"nesterov": "yes"}, TypeError, ["nesterov", "True or False"]),
            ({"exclude_from_layer_adaptation": ["bias", 3]}, TypeError, ["exclude_from_layer_adaptation", "list of strings"]),
            ({"weight_decay_scaling": "none"}, ValueError, ["weight_decay_scaling", "ZooLARS"]),
        ),
    ),
    # Prodigy / D-Adapt Adam: the step size d is one estimate for ALL variables. Their references
    # update every variable at once (``reference.prodigy.joint``); single-variable runs of the
    # table hold as they are, multi-variable ones need the joint hook (see the report / tests in
    # test_learning_rate_free.py). learning_rate multiplies d: 10 moves the weights visibly
    # within the 5 steps of the dtype check (larger rates amplify float16 rounding of w0 - w).
    Row(
        "zoo_prodigy",
        koz.ZooProdigy,
        reference.prodigy,
        variants=(
            {},
            {"use_bias_correction": True, "safeguard_warmup": True, "d_coef": 0.5, "d0": 1e-4},
            {"beta_1": 0.0, "beta_3": 0.9, "growth_rate": 1.5, "d0": 1e-4},
            {"weight_decay": 0.01, "epsilon": 1e-6, "beta_2": 0.99},
        ),
        learning_rate=10.0,
        converge={"d0": 1e-3},  # defaults solve least squares; d0 1e-3 also the 12-step tape loop
        invalid=(
            ({"beta_1": 1.0}, ValueError, ["beta_1", "[0, 1)"]),
            ({"beta_3": 1.5}, ValueError, ["beta_3", "[0, 1)"]),
            ({"d0": 0.0}, ValueError, ["d0", "(0, inf]"]),
            ({"d_coef": -1.0}, ValueError, ["d_coef", "[0, inf]"]),
            ({"growth_rate": 0.5}, ValueError, ["growth_rate", "[1, inf]"]),
            ({"epsilon": 0.0}, ValueError, ["epsilon", "(0, inf]"]),
            ({"safeguard_warmup": 1}, TypeError, ["safeguard_warmup", "True or False"]),
            ({"weight_decay_scaling": "none"}, ValueError, ["weight_decay_scaling", "ZooProdigy"]),
        ),
    ),
    Row(
        "zoo_dadapt_adam",
        koz.ZooDAdaptAdam,
        reference.dadapt_adam,
        variants=(
            {},
            {"use_bias_correction": True, "growth_rate": 1.5, "d0": 1e-5},
            {"weight_decay": 0.01, "beta_1": 0.5, "epsilon": 1e-6, "d0": 1e-4},
        ),
        learning_rate=10.0,
        # D-Adaptation starts slowly: defaults solve least squares in 400 steps, not fit's 16 steps.
        converge={"d0": 1e-2, "beta_1": 0.5, "growth_rate": 1.2},
        invalid=(
            ({"beta_2": 1.0}, ValueError, ["beta_2", "[0, 1)"]),
            ({"d0": -1e-6}, ValueError, ["d0", "(0, inf]"]),
            ({"growth_rate": 0.99}, ValueError, ["growth_rate", "[1, inf]"]),
            ({"epsilon": 0.0}, ValueError, ["epsilon", "(0, inf]"]),
            ({"use_bias_correction": "no"}, TypeError, ["use_bias_correction", "True or False"]),
            ({"weight_decay_scaling": "none"}, ValueError, ["weight_decay_scaling", "ZooDAdaptAdam"]),
        ),
    ),
)

ADAM_RELATIVE_ROWS = (
    Row(
        "zoo_adan",
        koz.ZooAdan,
        reference.adan,
        # The proximal decay (default form) and the decoupled one (no_prox), lr-scaled and not;
        # cautious masks the step before the proximal division.
        variants=(
            {},
            {"weight_decay": 0.25, "beta_1": 0.9, "epsilon": 1e-3},
            {"weight_decay": 0.25, "no_prox": True, "beta_2": 0.5, "beta_3": 0.9},
            {"cautious": True, "weight_decay": 0.125, "weight_decay_scaling": "none"},
        ),
        converge={"learning_rate": 0.05},
        invalid=BETAS_INVALID
        + (
            ({"beta_3": 1.0}, ValueError, ["beta_3", "[0, 1)"]),
            ({"no_prox": 1}, TypeError, ["no_prox", "True or False"]),
        ),
    ),
    Row(
        "zoo_ademamix",
        koz.ZooAdEMAMix,
        reference.ademamix,
        # Warm-ups of 25 steps end inside the 40 parity steps; beta_1 = 0 keeps no fast average.
        variants=(
            {},
            {"alpha": 5.0, "beta_3": 0.99, "beta_3_warmup": 25, "alpha_warmup": 25},
            {"cautious": True, "beta_1": 0.0, "beta_3_warmup": 10, "weight_decay": 0.125},
            {"alpha": 0.0, "beta_2": 0.9, "epsilon": 1e-3, "alpha_warmup": 1},
        ),
        converge={"learning_rate": 0.05},
        invalid=BETAS_INVALID
        + (
            ({"beta_3": 1.0}, ValueError, ["beta_3", "[0, 1)"]),
            ({"alpha": -1.0}, ValueError, ["alpha", "[0, inf]"]),
            ({"beta_3_warmup": 0}, ValueError, ["beta_3_warmup", ">= 1"]),
            ({"alpha_warmup": 10.0}, TypeError, ["alpha_warmup", "integer"]),
        ),
    ),
    Row(
        "zoo_adopt",
        koz.ZooADOPT,
        reference.adopt,
        variants=(
            {},
            {"clip_exponent": None, "beta_2": 0.999},
            {"cautious": True, "beta_1": 0.5},
            {"clip_exponent": 0.5, "epsilon": 1e-3, "weight_decay": 0.03125},
        ),
        converge={"learning_rate": 0.2},
        invalid=BETAS_INVALID
        + (
            ({"clip_exponent": 0.0}, ValueError, ["clip_exponent", "(0, inf]"]),
            ({"clip_exponent": "0.25"}, TypeError, ["clip_exponent", "real number"]),
        ),
    ),
    Row(
        "zoo_qhadam",
        koz.ZooQHAdam,
        reference.qhadam,
        variants=(
            {},
            {"nu_1": 1.0, "nu_2": 1.0, "beta_1": 0.9},
            {"cautious": True, "nu_2": 0.5},
            {"nu_1": 0.0, "epsilon": 1e-3, "weight_decay": 0.03125},
        ),
        converge={"learning_rate": 0.05},
        invalid=BETAS_INVALID
        + (
            ({"nu_1": 1.5}, ValueError, ["nu_1", "[0, 1]"]),
            ({"nu_2": -0.1}, ValueError, ["nu_2", "[0, 1]"]),
            ({"nu_1": "0.7"}, TypeError, ["nu_1", "real number"]),
        ),
    ),
    Row(
        "zoo_adabound",
        koz.ZooAdaBound,
        reference.adabound,
        # final_lr 0.02 with gamma 0.1 (bounds [0.8, 1.25] * final_lr by t = 40) makes both bounds
        # bind within the 40 parity steps; base_learning_rate 0.02 halves final_lr at lr 0.01.
        variants=(
            {},
            {"amsbound": True, "final_lr": 0.02, "gamma": 0.1},
            {"final_lr": 0.02, "gamma": 0.1, "base_learning_rate": 0.02, "beta_1": 0.5, "epsilon": 1e-3},
            {"cautious": True, "amsbound": True, "weight_decay": 0.0625, "final_lr": 0.02, "gamma": 0.05},
            {"weight_decay": 0.0078125, "weight_decay_scaling": "none", "amsbound": True, "final_lr": 0.02,
             "gamma": 0.1},
        ),
        converge={"learning_rate": 0.05},
        invalid=BETAS_INVALID
        + (
            ({"final_lr": -0.1}, ValueError, ["final_lr", "[0, inf]"]),
            ({"gamma": 0.0}, ValueError, ["gamma", "(0, 1)"]),
            ({"gamma": 1.0}, ValueError, ["gamma", "(0, 1)"]),
            ({"amsbound": "yes"}, TypeError, ["amsbound", "True or False"]),
            ({"base_learning_rate": -1e-3}, ValueError, ["base_learning_rate", "[0, inf]"]),
        ),
    ),
    Row(
        "zoo_madgrad",
        koz.ZooMADGRAD,
        reference.madgrad,
        variants=(
            {},
            {"momentum": 0.0},
            {"weight_decay": 0.1, "epsilon": 0.0},
            {"momentum": 0.0, "weight_decay": 0.05, "decouple_decay": True, "epsilon": 1e-3},
            {"weight_decay": 0.1, "decouple_decay": True, "momentum": 0.5},
        ),
        converge={"learning_rate": 0.01},
        invalid=(
            ({"momentum": 1.0}, ValueError, ["momentum", "[0, 1)"]),
            ({"momentum": -0.1}, ValueError, ["momentum", "[0, 1)"]),
            ({"epsilon": -1e-6}, ValueError, ["epsilon", "[0, inf]"]),
            ({"decouple_decay": "yes"}, TypeError, ["decouple_decay", "True or False"]),
            ({"weight_decay_scaling": "none"}, ValueError, ["weight_decay_scaling", "ZooMADGRAD"]),
            ({"cautious": True}, ValueError, ["cautious", "ZooMADGRAD"]),
        ),
    ),
)

PRECONDITIONED_AND_AVERAGING_ROWS = (
    # Schedule-free: the reference returns y (what the variables hold in training); x, eval_mode /
    # train_mode and the fit callback are checked in test_schedule_free.py. warmup_steps 50 keeps
    # the warm-up running through all 40 parity steps (lr_max grows every step).
    Row(
        "zoo_schedule_free_sgd",
        koz.ZooScheduleFreeSGD,
        reference.schedule_free_sgd,
        variants=(
            {},
            {"warmup_steps": 10, "r": 0.5, "weight_decay": 0.01},
            {"momentum": 0.5, "weight_lr_power": 0.0},
            {"warmup_steps": 50, "weight_lr_power": 1.5, "r": 1.0, "weight_decay": 0.1},
        ),
        learning_rate=0.1,
        converge={"learning_rate": 0.1},
        invalid=(
            ({"momentum": 0.0}, ValueError, ["momentum", "(0, 1)"]),
            ({"momentum": 1.0}, ValueError, ["momentum", "(0, 1)"]),
            ({"warmup_steps": -1}, ValueError, ["warmup_steps", ">= 0"]),
            ({"warmup_steps": 2.5}, TypeError, ["warmup_steps", "integer"]),
            ({"r": -1.0}, ValueError, ["r", "[0, 4]"]),
            ({"r": 5.0}, ValueError, ["r", "[0, 4]"]),
            ({"weight_lr_power": -0.5}, ValueError, ["weight_lr_power", "[0, 4]"]),
            ({"weight_decay_scaling": "none"}, ValueError, ["weight_decay_scaling", "ZooScheduleFreeSGD"]),
            ({"cautious": True}, ValueError, ["cautious", "ZooScheduleFreeSGD"]),
        ),
    ),
    Row(
        "zoo_schedule_free_adamw",
        koz.ZooScheduleFreeAdamW,
        reference.schedule_free_adamw,
        variants=(
            {},
            {"warmup_steps": 10, "r": 1.0, "weight_decay": 0.05},
            {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3, "weight_lr_power": 0.0},
            {"warmup_steps": 50, "weight_lr_power": 1.5, "beta_2": 0.0, "weight_decay": 0.1},
            {"inner_momentum": 0.9, "weight_decay": 0.05},
            {"inner_momentum": 0.5, "beta_1": 0.7, "warmup_steps": 5, "r": 2.0},
        ),
        converge={"learning_rate": 0.05},
        invalid=(
            ({"inner_momentum": 1.0}, ValueError, ["inner_momentum", "[0, 1)"]),
            ({"inner_momentum": -0.1}, ValueError, ["inner_momentum", "[0, 1)"]),
            ({"beta_1": 0.0}, ValueError, ["beta_1", "(0, 1)"]),
            ({"beta_1": 1.0}, ValueError, ["beta_1", "(0, 1)"]),
            ({"beta_2": 1.0}, ValueError, ["beta_2", "[0, 1)"]),
            ({"epsilon": -1e-8}, ValueError, ["epsilon", "[0, inf]"]),
            ({"warmup_steps": -1}, ValueError, ["warmup_steps", ">= 0"]),
            ({"r": "1"}, TypeError, ["r", "real number"]),
            ({"weight_decay_scaling": "none"}, ValueError, ["weight_decay_scaling", "ZooScheduleFreeAdamW"]),
        ),
    ),
    Row(
        "zoo_shampoo",
        koz.ZooShampoo,
        reference.shampoo,
        # Defaults (SGD grafting, Shampoo from the 6th step, preconditioners every step); then RMSprop-
        # normalized grafting with refreshes every 3 steps and plain momentum; then Adagrad grafting,
        # summed statistics, preconditioning from the first step and the (4, 5) variable's 5-wide dim
        # without a matrix (max_preconditioner_dim 4), with decoupled weight decay; then normalized
        # Adagrad grafting. (sqrt_n, sign grafting, is checked in test_preconditioned.py: the property
        # test draws denormal gradients, whose sign TensorFlow's flush-to-zero makes 0.)
        # beta_2 0.9 is paired with matrix_epsilon 1e-3: with 1e-6 the step-1 factor of a rank-4 5 x 5
        # Gram matrix has condition ~1e6 and eigh's rounding (~1e-16 * lambda_max) reaches 1e-11 in P.
        variants=(
            {},
            {"graft_type": "rmsprop_normalized", "beta_2": 0.9, "matrix_epsilon": 1e-3, "precondition_frequency": 3,
             "nesterov": False},
            {"graft_type": "adagrad", "beta_2": 1.0, "start_preconditioning_step": 0, "max_preconditioner_dim": 4,
             "weight_decay": 0.03125},
            {"graft_type": "adagrad_normalized", "beta_1": 0.5, "matrix_epsilon": 1e-3},
        ),
        # SGD grafting (the default); matrix_epsilon 1e-3 keeps the float32 factors well conditioned, so
        # that the MirroredStrategy check sees float32 reassociation only (6e-8; 6e-6 with 1e-6).
        converge={"learning_rate": 0.02, "matrix_epsilon": 1e-3},
        invalid=(
            ({"beta_1": 1.0}, ValueError, ["beta_1", "[0, 1)"]),
            ({"beta_2": 1.5}, ValueError, ["beta_2", "[0, 1]"]),
            ({"epsilon": -1e-10}, ValueError, ["epsilon", "[0, inf]"]),
            ({"matrix_epsilon": 0.0}, ValueError, ["matrix_epsilon", "(0, inf]"]),
            ({"start_preconditioning_step": -1}, ValueError, ["start_preconditioning_step", ">= 0"]),
            ({"precondition_frequency": 0}, ValueError, ["precondition_frequency", ">= 1"]),
            ({"precondition_frequency": 2.5}, TypeError, ["precondition_frequency", "integer"]),
            ({"max_preconditioner_dim": 0}, ValueError, ["max_preconditioner_dim", ">= 1"]),
            ({"graft_type": "adam"}, ValueError, ["graft_type", "rmsprop_normalized"]),
            ({"nesterov": "yes"}, TypeError, ["nesterov", "True or False"]),
            ({"cautious": True}, ValueError, ["cautious", "ZooShampoo"]),
        ),
    ),
    Row(
        "zoo_soap",
        koz.ZooSOAP,
        reference.soap,
        # 40 steps: the first only initializes; defaults refresh the basis at t = 11, 21, 31. Then
        # refreshes every 3 steps with its own shampoo_beta and normalized steps; then rotated rank-1
        # variables, the (4, 5) variable's 5-wide dim unrotated, no bias correction or decay; then a
        # refresh at every step. The sparse stream's first (4, 5) gradient has a zero row, so the
        # canonical basis of a repeated eigenvalue is exercised (see tests/reference/soap.py).
        variants=(
            {},
            {"precondition_frequency": 3, "shampoo_beta": 0.9, "normalize_grads": True, "beta_1": 0.9, "beta_2": 0.99},
            {"precondition_1d": True, "max_precond_dim": 4, "correct_bias": False, "weight_decay": 0.0,
             "epsilon": 1e-6},
            {"precondition_1d": True, "shampoo_beta": 0.5, "weight_decay": 0.05, "precondition_frequency": 1},
        ),
        converge={"learning_rate": 0.03, "weight_decay": 0.0},
        # SOAP's float32 steps move ~1e-5 relative under a 1e-7 change of the gradient (eigenvectors
        # of close eigenvalues). Measured on the MirroredStrategy check's problem, one device against
        # 200 runs whose batch gradient is the sum of two half-batch gradients of a random
        # permutation: median 1.2e-6, max 4.3e-6 (oneDNN AVX-512 kernels), 1.4e-6 / 4.5e-6 (AVX2),
        # 1.4e-6 / 5.7e-6 (oneDNN off). lr 0.03 had been chosen to pass 2e-6 on one CPU; 4x the
        # largest:
        reassociation=2.5e-5,
        invalid=(
            ({"beta_1": 1.0}, ValueError, ["beta_1", "[0, 1)"]),
            ({"beta_2": -0.1}, ValueError, ["beta_2", "[0, 1)"]),
            ({"shampoo_beta": 1.0}, ValueError, ["shampoo_beta", "1)"]),
            ({"epsilon": -1e-8}, ValueError, ["epsilon", "[0, inf]"]),
            ({"precondition_frequency": 0}, ValueError, ["precondition_frequency", ">= 1"]),
            ({"max_precond_dim": 10.5}, TypeError, ["max_precond_dim", "integer"]),
            ({"precondition_1d": 1}, TypeError, ["precondition_1d", "True or False"]),
            ({"normalize_grads": "no"}, TypeError, ["normalize_grads", "True or False"]),
            ({"correct_bias": None}, TypeError, ["correct_bias", "True or False"]),
            ({"weight_decay": None}, TypeError, ["weight_decay", "real number"]),
            ({"weight_decay_scaling": "none"}, ValueError, ["weight_decay_scaling", "ZooSOAP"]),
            ({"cautious": True}, ValueError, ["cautious", "ZooSOAP"]),
        ),
    ),
    Row(
        "zoo_sophia",
        koz.ZooSophia,
        reference.sophia,
        # The gradient path only (the Hessian hook is checked in test_sophia.py): h stays at
        # initial_hessian. Defaults: h = 0, every step lr * sign(m); then a preloaded h with clipped
        # and unclipped coordinates; then epsilon above rho * h.
        variants=(
            {},
            {"initial_hessian": 2.0, "rho": 0.5},
            {"beta_1": 0.5, "beta_2": 0.9, "rho": 1.0, "initial_hessian": 0.01, "epsilon": 0.1, "weight_decay": 0.0},
        ),
        converge={"learning_rate": 0.03, "weight_decay": 0.0},
        invalid=(
            ({"beta_1": 1.0}, ValueError, ["beta_1", "[0, 1)"]),
            ({"beta_2": -0.1}, ValueError, ["beta_2", "[0, 1)"]),
            ({"rho": -0.04}, ValueError, ["rho", "[0, inf]"]),
            ({"epsilon": 0.0}, ValueError, ["epsilon", "(0, inf]"]),
            ({"initial_hessian": -1.0}, ValueError, ["initial_hessian", "[0, inf]"]),
            ({"weight_decay": None}, TypeError, ["weight_decay", "real number"]),
            ({"rho": "0.04"}, TypeError, ["rho", "real number"]),
            ({"cautious": True}, ValueError, ["cautious", "ZooSophia"]),
        ),
    ),
)

ROWS = (
    CLASSIC_ROWS
    + ADAM_FAMILY_ROWS
    + CLOSED_FORM_AND_LAYERWISE_ROWS
    + WRAPPER_ROWS
    + SIGN_TRUST_RATIO_LR_FREE_ROWS
    + ADAM_RELATIVE_ROWS
    + PRECONDITIONED_AND_AVERAGING_ROWS
)

ROWS_BY_NAME = {row.name: row for row in ROWS}

#: The rows of CI's oldest-Keras step (``.ci/run``: TensorFlow 2.18 / Keras 3.10, the lower bounds
#: pyproject claims), which sets ``ZOO_OLDEST_SUBSET=1``: then ``conftest.py`` deselects every test
#: parametrized by another row, and tests that loop over rows take ``rows_under_test()``. The seven
#: with a Keras built-in twin (step-for-step equality with that Keras's own optimizers), and from
#: each group of the table the rows whose machinery the others share:
#: AdamW and LAMB (decoupled decay, trust ratio; built-in twins), NovoGrad (per-variable scalar
#: slots, its own decay), Ranger (a composition with the Lookahead wrapper), Lion (sign update;
#: built-in twin) and Prodigy (an optimizer-wide estimate advanced once per step, as D-Adaptation),
#: Adan (per-variable choices, a hook after the step), schedule-free AdamW (per-step state, train /
#: eval weights), SOAP (per-dim matrices, eigendecompositions also under XLA: Shampoo's machinery;
#: Shampoo itself costs as much, for little more) and Sophia (Hessian slots). The step also
#: restores every row's saved state (tests/test_saved_state.py).
OLDEST_SUBSET = (
    "zoo_sgd", "zoo_rmsprop", "zoo_adagrad", "zoo_adadelta", "zoo_adam", "zoo_adamax", "zoo_nadam",
    "zoo_adamw", "zoo_lamb", "zoo_novograd", "zoo_ranger", "zoo_lion", "zoo_prodigy", "zoo_adan",
    "zoo_schedule_free_adamw", "zoo_soap", "zoo_sophia",
)
#: The groups of the table (each has rows in ``OLDEST_SUBSET``; the first one all of its rows).
GROUPS = (
    CLASSIC_ROWS,
    ADAM_FAMILY_ROWS,
    CLOSED_FORM_AND_LAYERWISE_ROWS,
    WRAPPER_ROWS,
    SIGN_TRUST_RATIO_LR_FREE_ROWS,
    ADAM_RELATIVE_ROWS,
    PRECONDITIONED_AND_AVERAGING_ROWS,
)


def oldest_subset_only():
    """Whether the environment asks for ``OLDEST_SUBSET`` only (``ZOO_OLDEST_SUBSET=1``)."""
    value = os.environ.get("ZOO_OLDEST_SUBSET", "")
    if value not in ("", "0", "1"):
        raise ValueError(f"ZOO_OLDEST_SUBSET must be 1 (the oldest-Keras subset) or 0 / unset, got {value!r}")
    return value == "1"


def rows_under_test():
    """``ROWS``, or under ``ZOO_OLDEST_SUBSET=1`` the rows of ``OLDEST_SUBSET`` (in table order)."""
    if oldest_subset_only():
        return tuple(row for row in ROWS if row.name in OLDEST_SUBSET)
    return ROWS


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
