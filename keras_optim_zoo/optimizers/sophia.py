"""Sophia: clipped momentum preconditioned by an EMA of a diagonal Hessian estimate.

The optimizer (``ZooSophia``, ``"zoo_sophia"``) takes gradients like any Keras optimizer. Its
curvature ``h`` is fed separately, every k steps, through ``optimizer.update_hessian(estimates)``;
the estimates are computed by the helpers of this module from a ``tf.GradientTape``:

* ``sophia_gnb_estimate(model, x)`` - Gauss-Newton-Bartlett (Sophia-G): ``B * g_hat ** 2`` with
  ``g_hat`` the gradient of the mean loss on labels sampled from the model itself;
* ``hutchinson_estimate(loss_fn, variables)`` - Hutchinson (Sophia-H): ``u * (H u)``, ``u ~ N(0, I)``;
* ``SophiaHessianCallback(data)`` - does it for ``model.fit`` every ``update_period`` steps.

Without any Hessian update ``h`` stays at ``initial_hessian`` (0 by default) and every step is a
clipped sign of the momentum, ``w <- w - lr * sign(m)``, as with the official code.
"""

from __future__ import annotations

import numbers

import keras
import numpy as np
from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo import sparse
from keras_optim_zoo.base import ZooOptimizer
from keras_optim_zoo.moments import const, constant_initializer, weighted_average
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec
from keras_optim_zoo.keras_adapter import find_optimizer

__all__ = ["ZooSophia", "sophia_gnb_estimate", "hutchinson_estimate", "SophiaHessianCallback"]

LIKELIHOODS = ("categorical", "binary", "gaussian")
PROBES = ("normal", "rademacher")


@register
class ZooSophia(ZooOptimizer):
    """Sophia(-G): clipped momentum divided by a moving average of a diagonal Hessian estimate.

    Update (``g`` gradient, ``lr`` learning rate, ``wd`` weight_decay; ``m_0 = 0``,
    ``h_0 = initial_hessian``)::

        w <- w - lr * wd * w                                 (decoupled decay, first, as Keras)
        m <- beta_1 * m + (1 - beta_1) * g                   (no bias correction)
        w <- w - lr * clip(m / max(rho * h, epsilon), -1, 1)

    and, whenever ``optimizer.update_hessian(h_hat)`` is called (every k = 10 steps in the paper),
    with ``h_hat`` a diagonal Hessian estimate (e.g. from ``sophia_gnb_estimate`` or
    ``hutchinson_estimate``)::

        h <- beta_2 * h + (1 - beta_2) * h_hat

    Reference: H. Liu, Z. Li, D. Hall, P. Liang & T. Ma, "Sophia: A Scalable Stochastic Second-order
    Optimizer for Language Model Pre-training", 2023, arXiv:2305.14342 (Algorithm 3); official code
    ``Liuhong99/Sophia`` (``SophiaG``), whose defaults are used here: lr 1e-4, betas
    (0.965, 0.99), rho 0.04, weight decay 0.1 (decoupled, scaled by the learning rate).

    Conventions (read this when porting settings):

    * **h is the paper's estimate, batch-size factor included.** The official ``SophiaG`` keeps
      the EMA of the *squared* sampled gradient ``g_hat ** 2`` and multiplies by the batch size at
      every step: ``ratio = |m| / (rho * bs * h + 1e-15)`` with ``optimizer.step(bs=...)``
      (``bs`` = tokens per step). Here the factor is part of the estimate, as in the paper's GNB
      estimator ``h_hat = B * g_hat ** 2`` (``sophia_gnb_estimate`` multiplies by ``B``, the number
      of sampled labels, or by its ``batch_size=`` argument), so the optimizer has no ``bs``
      argument and ``rho`` means the same number as the official ``rho``: official
      ``(rho, bs)`` == zoo ``rho`` with estimates from ``sophia_gnb_estimate(..., batch_size=bs)``
      (or ``update_hessian([bs * g ** 2 ...])``).
    * **Denominator.** ``max(rho * h, epsilon)`` (the paper's form) instead of the official
      ``rho * bs * h + 1e-15``: the same step wherever ``rho * h`` is not within ~1e-15 of 0, and
      correct for the negative entries a Hutchinson estimate can have (the official sum would
      flip the sign of the step there; the official ``SophiaH`` uses ``relu(h)``, which gives the
      same clipped step as ``max``).
    * The first version of the paper wrote ``clip(m / max(h, eps), rho)`` with ``lr / rho``; the
      official README notes it is the same update up to this re-parameterization.
    * **No Hessian updates** (plain ``model.compile("zoo_sophia").fit``): ``h`` stays at
      ``initial_hessian``; with the default 0 every coordinate is clipped, ``w <- w - lr *
      sign(m)`` (sign-momentum, as the official code before its first ``update_hessian``).
      ``SophiaHessianCallback`` adds the estimates to ``fit``.
    * ``initial_hessian`` (not in the official code, which starts from 0) sets ``h_0``: a prior
      curvature, so that early steps are ``lr * m / (rho * h_0)`` where that is below ``lr``.
    * ``unclipped_fraction()`` is the official "win rate" (share of coordinates with
      ``|m| < rho * h``); the README advises tuning ``rho`` to keep it within 0.1-0.5.
    * Sparse gradients are made dense (``m`` decays on every row, as in the official code).

    Args:
        learning_rate: float >= 0, schedule or callable. Default 1e-4.
        beta_1: float in [0, 1): decay rate of the momentum ``m``. Default 0.965.
        beta_2: float in [0, 1): decay rate of the Hessian average ``h`` (used by
            ``update_hessian`` only). Default 0.99.
        rho: float >= 0: the clipping scale (the paper's gamma). Default 0.04.
        epsilon: float > 0: lower bound of the denominator. Default 1e-15 (official code).
        weight_decay: float >= 0: decoupled weight decay. Default 0.1.
        initial_hessian: float >= 0: the value ``h`` starts from. Default 0.
        **kwargs: the Keras base optimizer arguments.

    Example:
        >>> opt = keras_optim_zoo.ZooSophia(learning_rate=3e-4, rho=0.04)
        >>> ...  # every 10 steps of a GradientTape loop:
        >>> opt.update_hessian(keras_optim_zoo.sophia_gnb_estimate(model, x_batch), model.trainable_variables)
        >>> # or with fit:
        >>> model.compile(optimizer=opt, loss=...); model.fit(x, y, callbacks=[SophiaHessianCallback(x)])
    """

    spec = OptimizerSpec(
        name="zoo_sophia",
        summary='Sophia(-G): clipped momentum divided by a moving average of a diagonal Hessian estimate.',
        family="second-order",
        paper='H. Liu, Z. Li, D. Hall, P. Liang & T. Ma, "Sophia: A Scalable Stochastic Second-order Optimizer for Language Model Pre-training", 2023, arXiv:2305.14342 (Algorithm 3)',
    )

    _config_keys = ("beta_1", "beta_2", "rho", "epsilon", "initial_hessian")

    def __init__(self, learning_rate=1e-4, beta_1=0.965, beta_2=0.99, rho=0.04, epsilon=1e-15,
                 weight_decay=0.1, initial_hessian=0.0, **kwargs):
        weight_decay = checks.non_negative("weight_decay", weight_decay)
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.beta_1 = checks.beta("beta_1", beta_1)
        self.beta_2 = checks.beta("beta_2", beta_2)
        self.rho = checks.non_negative("rho", rho)
        self.epsilon = checks.in_range("epsilon", epsilon, 0.0, float("inf"), low_open=True)
        self.initial_hessian = checks.non_negative("initial_hessian", initial_hessian)

    def _slot_specs(self):
        hessian = constant_initializer(self.initial_hessian) if self.initial_hessian else "zeros"
        return [("momentum", "zeros"), ("hessian", hessian)]

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        dtype = variable.dtype
        m = weighted_average(slots["momentum"], gradient, const(self.beta_1, dtype))
        denominator = ops.maximum(ops.multiply(const(self.rho, dtype), slots["hessian"]), const(self.epsilon, dtype))
        ratio = ops.clip(ops.divide(m, denominator), -1.0, 1.0)
        return ops.multiply(learning_rate, ratio), {"momentum": m}

    # ------------------------------------------------------------------ the Hessian hook
    def update_hessian(self, hessian_estimates, variables=None):
        """Fold diagonal Hessian estimates into ``h``: ``h <- beta_2 * h + (1 - beta_2) * h_hat``.

        Args:
            hessian_estimates: one estimate per variable (shaped like it; ``None`` leaves that
                variable's ``h`` unchanged; a ``tf.IndexedSlices`` is made dense), e.g. the list
                returned by ``sophia_gnb_estimate`` or ``hutchinson_estimate``.
            variables: the variables, in the same order; default: the variables the optimizer was
                built with (``model.trainable_variables`` for a compiled model). Given before the
                first step, they build the optimizer.

        Works eagerly, inside ``tf.function`` (also ``jit_compile=True``) and, on TensorFlow,
        under ``tf.distribute`` (called in replica context, the replicas' estimates are averaged
        first, so every copy of ``h`` stays equal). On JAX, call it eagerly (outside ``jit``).
        The step counter does not move.
        """
        estimates = list(hessian_estimates)
        if variables is not None:
            variables = list(variables)
            self._check_estimate_count(estimates, variables)
        variables = self._hessian_variables(variables)
        self._check_estimate_count(estimates, variables)
        pairs = []
        for estimate, variable in zip(estimates, variables):
            if estimate is None or 0 in tuple(variable.shape):
                continue
            if sparse.is_indexed_slices(estimate):
                estimate = sparse.to_dense(estimate, ops.shape(variable)[0])
            if tuple(estimate.shape) != tuple(variable.shape):
                raise ValueError(
                    f"The Hessian estimate for variable {getattr(variable, 'path', variable.name)!r} has "
                    f"shape {tuple(estimate.shape)}, which does not match the variable's shape "
                    f"{tuple(variable.shape)}."
                )
            pairs.append((ops.cast(estimate, self.compute_dtype(variable.dtype)), variable))
        if not pairs:
            return
        if keras.backend.backend() == "tensorflow":
            self._update_hessian_tf(pairs)
        else:
            for estimate, variable in pairs:
                self._fold_hessian(self.get_slot(variable, "hessian"), estimate)

    @staticmethod
    def _check_estimate_count(estimates, variables):
        if len(estimates) != len(variables):
            raise ValueError(
                f"update_hessian got {len(estimates)} estimates for {len(variables)} variables; pass "
                "one estimate (or None) per variable, in the order of `variables`."
            )

    def _hessian_variables(self, variables):
        if variables is None:
            if not self.built:
                raise ValueError(
                    "update_hessian was called before the optimizer was built and without "
                    "`variables`: pass `variables` (e.g. model.trainable_variables) or take a step first."
                )
            return list(self._built_variables())
        variables = list(variables)
        if not self.built:
            self.build(variables)
        for variable in variables:
            try:
                self._index_of(variable)
            except KeyError:
                raise ValueError(
                    f"update_hessian: variable {getattr(variable, 'path', variable.name)!r} is not one "
                    "of the variables the optimizer was built with."
                ) from None
        return variables

    def _fold_hessian(self, hessian, estimate):
        dtype = estimate.dtype
        new = weighted_average(ops.cast(hessian, dtype), estimate, const(self.beta_2, dtype))
        self.assign(hessian, new)

    def _update_hessian_tf(self, pairs):
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        estimates = [estimate for estimate, _ in pairs]
        if context is not None and context.num_replicas_in_sync > 1:
            estimates = context.all_reduce(tf.distribute.ReduceOp.MEAN, estimates)
        slots = [self.get_slot(variable, "hessian") for _, variable in pairs]
        self.update_each(self._fold_hessian, slots, list(estimates))

    def unclipped_fraction(self):
        """The share of coordinates whose step is not clipped, ``mean(|m| < rho * h)`` over all
        variables (the official code's ``train/win_rate``; 0 before any Hessian update)."""
        if not self.built:
            raise ValueError("unclipped_fraction: the optimizer has no state before it is built.")
        count, total = 0.0, 0
        for m, h in zip(self._slots["momentum"], self._slots["hessian"]):
            if m is None:
                continue
            dtype = self.compute_dtype(m.dtype)
            threshold = ops.multiply(const(self.rho, dtype), ops.cast(h, dtype))
            count = ops.add(count, ops.sum(ops.cast(ops.less(ops.abs(ops.cast(m, dtype)), threshold), "float32")))
            total += int(np.prod(m.shape))
        return ops.divide(count, float(max(total, 1)))


# --------------------------------------------------------------------------- estimators
def _require_tensorflow(helper):
    if keras.backend.backend() != "tensorflow":
        raise NotImplementedError(
            f"{helper} computes its estimate with tf.GradientTape (TensorFlow backend). On JAX, "
            "compute it with jax.grad / jax.jvp on model.stateless_call and pass the result to "
            "optimizer.update_hessian(estimates, variables) - GNB: B * jax.grad(sampled_loss)(params) ** 2; "
            "Hutchinson: u * jax.jvp(jax.grad(loss), (params,), (u,))[1]."
        )
    import tensorflow as tf

    return tf


def _seed_for(seed, index):
    """``seed`` for one draw: a ``SeedGenerator`` advances, an int becomes a distinct int per draw."""
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return int(seed) + index
    return seed


def _check_seed(seed):
    if seed is None or isinstance(seed, keras.random.SeedGenerator):
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return int(seed)
    raise TypeError(
        f"Argument `seed` must be None, an int or a keras.random.SeedGenerator; received seed={seed!r} "
        f"of type {type(seed).__name__}."
    )


def _dense(gradient, variable):
    if gradient is None:
        return None
    if sparse.is_indexed_slices(gradient):
        return sparse.to_dense(gradient, ops.shape(variable)[0])
    return gradient


def _sampled_nll(outputs, likelihood, from_logits, seed):
    """The mean negative log-likelihood of labels sampled from the model's own ``outputs`` (labels
    held constant), and the number of sampled terms it averages."""
    dtype = ZooOptimizer.compute_dtype(outputs.dtype)  # 16-bit outputs in float32, else their own
    outputs = ops.cast(outputs, dtype)
    if likelihood == "categorical":
        classes = outputs.shape[-1]
        logits = outputs if from_logits else ops.log(ops.maximum(outputs, 1e-30))
        logits = ops.reshape(logits, (-1, classes))
        labels = ops.stop_gradient(keras.random.categorical(logits, 1, dtype="int32", seed=seed))
        log_probs = ops.log_softmax(logits, axis=-1)
        nll = ops.negative(ops.take_along_axis(log_probs, labels, axis=-1))
    elif likelihood == "binary":
        logits = outputs if from_logits else ops.log(ops.maximum(outputs, 1e-30)) - ops.log(
            ops.maximum(1.0 - outputs, 1e-30)
        )
        uniform = keras.random.uniform(ops.shape(logits), dtype=dtype, seed=seed)
        labels = ops.stop_gradient(ops.cast(ops.less(uniform, ops.sigmoid(logits)), dtype))
        # -log p(y) for y ~ Bernoulli(sigmoid(logits)), computed stably from the logits.
        nll = ops.subtract(ops.softplus(logits), ops.multiply(labels, logits))
    else:  # gaussian: unit-variance Gaussian likelihood, NLL = 0.5 * (f - y)^2 + const
        noise = keras.random.normal(ops.shape(outputs), dtype=dtype, seed=seed)
        labels = ops.stop_gradient(ops.add(outputs, noise))
        nll = ops.multiply(0.5, ops.square(ops.subtract(outputs, labels)))
    return ops.mean(nll), ops.size(nll)


def sophia_gnb_estimate(model, x, *, from_logits=True, likelihood="categorical", batch_size=None,
                        seed=None, training=False, variables=None):
    """The Gauss-Newton-Bartlett diagonal Hessian estimate of Sophia-G (TensorFlow backend).

    With ``f = model(x)``, labels ``y_hat`` sampled from the model's own predictive distribution
    and held constant (no gradient through the sampling), and ``B`` sampled terms in the mean::

        g_hat = d/dw [ (1/B) sum_b -log p(y_hat_b | f_b) ]
        h_hat = B * g_hat * g_hat

    (Liu et al. 2023, arXiv:2305.14342, Algorithm 2: ``E[h_hat]`` is the diagonal of the
    Gauss-Newton matrix of the mean loss, which is PSD.) Pass the result to
    ``ZooSophia.update_hessian(h_hat, variables)``.

    Args:
        model: a Keras model (or any callable layer) mapping ``x`` to its outputs.
        x: one batch of inputs.
        from_logits: whether the outputs are logits (default, as in the official GPT-2 code) or
            probabilities (``softmax``/``sigmoid`` outputs, e.g. ``keras_optim_zoo.data.make_mlp``).
        likelihood: the distribution the model's outputs parameterize, i.e. the loss it is trained
            with: ``"categorical"`` (softmax cross-entropy over the last axis; one label per
            position, so ``B`` = number of positions, e.g. batch x sequence length),
            ``"binary"`` (sigmoid cross-entropy; one Bernoulli label per output element) or
            ``"gaussian"`` (``0.5 * (f - y) ** 2``, unit variance; ``y = f + N(0, 1)``; one label per
            output element). The sampled loss has no regularization terms (``model.losses``).
        batch_size: ``B`` (int >= 1); default: the number of sampled labels. The official code's
            ``bs`` (tokens per step) goes here when porting its settings.
        seed: ``None``, an int (the same labels at every call with the same inputs) or a
            ``keras.random.SeedGenerator`` (fresh labels at every call).
        training: the ``training`` flag of the forward pass. Default False: no dropout noise and no
            BatchNormalization statistics updates; True reproduces the training forward pass.
        variables: the variables to estimate for; default ``model.trainable_variables``.

    Returns:
        A list with one estimate per variable (``None`` where the loss does not depend on it).
    """
    tf = _require_tensorflow("sophia_gnb_estimate")
    likelihood = checks.one_of("likelihood", likelihood, LIKELIHOODS)
    from_logits = checks.boolean("from_logits", from_logits)
    training = checks.boolean("training", training)
    if batch_size is not None:
        batch_size = checks.integer("batch_size", batch_size, 1)
    seed = _check_seed(seed)
    variables = list(model.trainable_variables if variables is None else variables)
    with tf.GradientTape() as tape:
        outputs = model(x, training=training)
        loss, count = _sampled_nll(outputs, likelihood, from_logits, seed)
    grads = tape.gradient(loss, variables)
    estimates = []
    for grad, variable in zip(grads, variables):
        grad = _dense(grad, variable)
        if grad is None:
            estimates.append(None)
            continue
        factor = const(float(batch_size), grad.dtype) if batch_size else ops.cast(count, grad.dtype)
        estimates.append(ops.multiply(factor, ops.square(grad)))
    return estimates


def hutchinson_estimate(loss_fn, variables, seed=None, distribution="normal"):
    """Hutchinson's diagonal Hessian estimate ``u * (H u)`` of Sophia-H (TensorFlow backend).

    ``H`` is the Hessian of ``loss_fn()`` with respect to ``variables`` and ``u`` a random probe,
    ``u ~ N(0, I)`` (the paper's Algorithm 1) or Rademacher (+-1; lower variance). ``E[u * Hu]`` is
    the Hessian diagonal; single estimates can be negative (``ZooSophia``'s ``max(rho * h, eps)``
    then clips those coordinates). ``H u`` is a Hessian-vector product computed by
    double-backward: the gradient of ``<grad loss, u>`` (two nested ``tf.GradientTape``s), so it
    costs about two backward passes. Works eagerly and inside ``tf.function``.

    On JAX this helper raises ``NotImplementedError``: compute
    ``u * jax.jvp(jax.grad(loss), (params,), (u,))[1]`` (forward-over-backward) yourself and pass
    it to ``update_hessian``.

    Args:
        loss_fn: a callable with no arguments returning the scalar loss (it reads ``variables``).
        variables: the variables.
        seed: ``None``, an int (the same probe at every call) or a ``keras.random.SeedGenerator``
            (a new probe at every call).
        distribution: ``"normal"`` (default) or ``"rademacher"``.

    Returns:
        A list with one estimate per variable (zeros where the loss does not depend on it).
    """
    tf = _require_tensorflow("hutchinson_estimate")
    distribution = checks.one_of("distribution", distribution, PROBES)
    seed = _check_seed(seed)
    variables = list(variables)
    probes = []
    for i, variable in enumerate(variables):
        dtype = ZooOptimizer.compute_dtype(variable.dtype)
        if distribution == "normal":
            probe = keras.random.normal(tuple(variable.shape), dtype=dtype, seed=_seed_for(seed, i))
        else:
            bits = keras.random.randint(tuple(variable.shape), 0, 2, seed=_seed_for(seed, i))
            probe = ops.cast(ops.subtract(ops.multiply(bits, 2), 1), dtype)
        probes.append(probe)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            loss = loss_fn()
        grads = inner.gradient(loss, variables)
        dot = tf.add_n(
            [
                tf.reduce_sum(tf.cast(_dense(g, v), u.dtype) * u)
                for g, v, u in zip(grads, variables, probes)
                if g is not None
            ]
            or [tf.constant(0.0)]
        )
    hessian_probes = outer.gradient(dot, variables)
    estimates = []
    for hu, u, variable in zip(hessian_probes, probes, variables):
        hu = _dense(hu, variable)
        estimates.append(ops.zeros_like(u) if hu is None else ops.multiply(u, ops.cast(hu, u.dtype)))
    return estimates



# --------------------------------------------------------------------------- fit callback
def find_sophia(optimizer):
    """The ``ZooSophia`` in ``optimizer`` or among the optimizers it wraps (``inner_optimizer``)."""
    return find_optimizer(optimizer, ZooSophia)


class SophiaHessianCallback(keras.callbacks.Callback):
    """Refresh ``ZooSophia``'s Hessian estimate during ``fit``, every ``update_period`` steps.

    After every ``update_period``-th optimizer step (the official training loop's ``hess_interval``:
    after steps k, 2k, ...), one batch is taken from ``data``, ``sophia_gnb_estimate`` (or, with
    ``estimator="hutchinson"``, ``hutchinson_estimate`` of the model's compiled loss on that batch,
    which then needs labels) is computed and fed to ``optimizer.update_hessian``. The optimizer may
    be wrapped (Lookahead, LossScaleOptimizer, ...). TensorFlow backend; the estimate is computed in
    a ``tf.function`` traced once.

    Args:
        data: where the batches come from: an array (or a dict of arrays, or an ``(x, y)`` tuple of
            arrays), from which ``batch_size`` random rows are drawn each time, or any iterable of
            batches (``tf.data.Dataset``, generator factory...; ``x`` or ``(x, y, ...)`` elements),
            cycled.
        update_period: int >= 1, k. Default 10 (the paper's and official code's).
        batch_size: rows drawn from array ``data``. Default 32.
        estimator: ``"gnb"`` (default) or ``"hutchinson"``.
        seed: int seed of the row draws and of the sampled labels / probes. Default 0.
        **estimate_kwargs: passed to ``sophia_gnb_estimate`` (``from_logits``, ``likelihood``,
            ``batch_size`` is ``gnb_batch_size`` here, ``training``) or ``hutchinson_estimate``
            (``distribution``).
    """

    def __init__(self, data, update_period=10, batch_size=32, estimator="gnb", seed=0, **estimate_kwargs):
        super().__init__()
        self.update_period = checks.integer("update_period", update_period, 1)
        self.batch_size = checks.integer("batch_size", batch_size, 1)
        self.estimator = checks.one_of("estimator", estimator, ("gnb", "hutchinson"))
        self.seed = checks.integer("seed", seed, 0)
        allowed = {"gnb": ("from_logits", "likelihood", "gnb_batch_size", "training"),
                   "hutchinson": ("distribution",)}[self.estimator]
        unknown = sorted(set(estimate_kwargs) - set(allowed))
        if unknown:
            raise TypeError(
                f"SophiaHessianCallback(estimator={estimator!r}) got unexpected keyword argument(s) "
                f"{', '.join(map(repr, unknown))}; valid: {', '.join(allowed)}."
            )
        self.estimate_kwargs = dict(estimate_kwargs)
        self._data = data
        self._arrays = _as_arrays(data)
        self._iterator = None
        self._rng = np.random.default_rng(self.seed)
        self._seed_generator = None
        self._estimate_fn = None
        self.updates = 0

    def _next_batch(self):
        if self._arrays is not None:
            size = _first_dim(self._arrays)
            rows = np.sort(self._rng.choice(size, size=min(self.batch_size, size), replace=False))
            return keras.tree.map_structure(lambda a: np.asarray(a)[rows], self._arrays)
        if self._iterator is None:
            self._iterator = iter(self._data)
        try:
            return next(self._iterator)
        except StopIteration:
            self._iterator = iter(self._data)
            return next(self._iterator)

    def _estimate(self, batch):
        import tensorflow as tf

        if self._seed_generator is None:
            self._seed_generator = keras.random.SeedGenerator(self.seed)
        model = self.model
        if self.estimator == "gnb":
            x = batch[0] if isinstance(batch, tuple) else batch
            kwargs = dict(self.estimate_kwargs)
            if "gnb_batch_size" in kwargs:
                kwargs["batch_size"] = kwargs.pop("gnb_batch_size")

            def compute(x):
                return sophia_gnb_estimate(model, x, seed=self._seed_generator, **kwargs)

            args = (x,)
        else:
            if not isinstance(batch, tuple) or len(batch) < 2:
                raise ValueError(
                    "SophiaHessianCallback(estimator='hutchinson') needs (x, y) batches: it "
                    "differentiates the model's compiled loss."
                )
            x, y = batch[0], batch[1]

            def compute(x, y):
                def loss_fn():
                    return model.compute_loss(x=x, y=y, y_pred=model(x, training=False))

                return hutchinson_estimate(
                    loss_fn, model.trainable_variables, seed=self._seed_generator, **self.estimate_kwargs
                )

            args = (x, y)
        if self._estimate_fn is None:
            self._estimate_fn = tf.function(compute, reduce_retracing=True)
        return self._estimate_fn(*args)

    def on_train_batch_end(self, batch, logs=None):
        optimizer = find_sophia(self.model.optimizer)
        if optimizer is None:
            raise ValueError(
                "SophiaHessianCallback needs a ZooSophia optimizer (possibly wrapped); the model was "
                f"compiled with {type(self.model.optimizer).__name__}."
            )
        step = int(ops.convert_to_numpy(optimizer.iterations))
        if step == 0 or step % self.update_period or step == getattr(self, "_last_step", None):
            return
        self._last_step = step
        batch = self._next_batch()
        if isinstance(batch, list):
            batch = tuple(batch)
        estimates = self._estimate(batch)
        optimizer.update_hessian(estimates, self.model.trainable_variables)
        self.updates += 1


def _as_arrays(data):
    """``data`` as a structure of arrays to draw rows from, or ``None`` for an iterable of batches."""
    if hasattr(data, "shape") and hasattr(data, "__len__"):
        return data
    if isinstance(data, dict) and data and all(hasattr(v, "shape") for v in data.values()):
        return data
    if isinstance(data, tuple) and data and all(hasattr(v, "shape") or isinstance(v, dict) for v in data):
        return tuple(data)
    return None


def _first_dim(structure):
    return int(np.shape(keras.tree.flatten(structure)[0])[0])
