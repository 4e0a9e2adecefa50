"""Step-time benchmark: zoo optimizers against the Keras built-ins, measured in the same run.

``python -m keras_optim_zoo bench`` times ``apply_gradients`` inside a ``tf.function`` on the
default path (``jit_compile=False``, what Keras's ``"auto"`` resolves to on a CPU and under
``tf.distribute``) and under XLA (``jit_compile=True``), for one large variable and for many
variables of the same total size. The zoo and built-in sides are interleaved step by step and the
median is reported, so machine noise hits both alike; results are ratios, never absolute claims.

It also reports optimizer-state bytes per parameter, the bandwidth bound of the step estimated from
a measured copy bandwidth (bytes the step must read and write / copy bandwidth), and ``fit``
throughput on the ``compare`` MLP (where every variable is small: the zoo runs the built-in's ops)
and, for optimizers with a built-in, on a wide MLP whose kernels take the fused path (JSON key
``fit_wide``). Benchmarks never run in CI (a smoke test runs ``--quick``).
"""

from __future__ import annotations

import json
import statistics
import time

import numpy as np

def builtin_equivalents():
    """``{zoo name: (class name in keras.optimizers, arguments used on both sides)}``, from the specs."""
    from keras_optim_zoo import registry

    return {
        name: (cls.spec.builtin, dict(cls.spec.builtin_arguments))
        for name, cls in registry.registered().items()
        if cls.spec.builtin
    }


def parse_size(text):
    """``"16M"`` -> 16_000_000, ``"250k"`` -> 250_000, ``"1000"`` -> 1000."""
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale != 1 else text) * scale)


def make_optimizer(spec, overrides=None):
    """The zoo optimizer ``spec`` (``"zoo_adam"`` or ``"zoo_adam:state_dtype=bfloat16"``) and its
    built-in twin (or ``None``); the twin gets the arguments it also accepts."""
    import inspect

    import keras

    import keras_optim_zoo as koz
    from keras_optim_zoo.registry import parse_spec

    name, spec_kwargs = parse_spec(spec)
    builtin, kwargs = builtin_equivalents().get(name, (None, {}))
    kwargs = {**kwargs, **spec_kwargs, **(overrides or {})}
    zoo = koz.get(name, **kwargs)
    twin = None
    if builtin:
        twin_class = getattr(keras.optimizers, builtin)
        accepted = inspect.signature(twin_class.__init__).parameters
        twin = twin_class(**{k: v for k, v in kwargs.items() if k in accepted})
    return zoo, twin


def _variables(total, count, seed):
    rng = np.random.default_rng(seed)
    per = total // count
    shapes = [(per,)] * count
    values = [rng.normal(size=s).astype("float32") for s in shapes]
    grads = [rng.normal(size=s).astype("float32") * 1e-3 for s in shapes]
    return values, grads


def _stepper(optimizer, values, grads, jit):
    import keras
    import tensorflow as tf

    variables = [keras.Variable(v) for v in values]
    tensors = [tf.constant(g) for g in grads]
    optimizer.build(variables)

    @tf.function(jit_compile=jit)
    def step():
        optimizer.apply_gradients(zip(tensors, variables))

    return step, variables


def state_bytes_per_parameter(optimizer, variables):
    """Bytes of per-variable optimizer state per parameter (scalars such as the step count excluded)."""
    params = sum(int(np.prod(v.shape)) for v in variables)
    state = sum(
        int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in optimizer.variables if len(v.shape) > 0
    )
    return state / params


def copy_bandwidth(num_floats=32_000_000, repeats=10):
    """Measured memory bandwidth in bytes/s: ``dst.assign_add(src)`` reads two buffers, writes one.

    (A plain ``dst.assign(src)`` can alias the buffer instead of copying it.)
    """
    import tensorflow as tf

    src = tf.Variable(tf.random.normal([num_floats]))
    dst = tf.Variable(tf.zeros([num_floats]))

    @tf.function
    def copy():
        dst.assign_add(src)

    copy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        copy()
        times.append(time.perf_counter() - start)
    return 3 * 4 * num_floats / statistics.median(times)


def bytes_moved_per_parameter(optimizer, variables):
    """Bytes one step must move per float32 parameter: read w, g and k slots; write w and k slots."""
    slots = state_bytes_per_parameter(optimizer, variables) / 4
    return 4 * ((2 + slots) + (1 + slots))


def time_steps(steppers, steps, warmup):
    """Median seconds per step of each stepper, the steppers interleaved step by step."""
    for step in steppers:
        for _ in range(warmup):
            step()
    samples = [[] for _ in steppers]
    for _ in range(steps):
        for i, step in enumerate(steppers):
            start = time.perf_counter()
            step()
            samples[i].append(time.perf_counter() - start)
    return [statistics.median(s) for s in samples]


def bench_case(name, total, count, steps, warmup, seed=0):
    """One (optimizer, size, layout) case: default and XLA paths, zoo and built-in."""
    values, grads = _variables(total, count, seed)
    zoo, twin = make_optimizer(name)
    sides = {"zoo": zoo}
    if twin is not None:
        sides["keras"] = twin
    steppers, labels, variables = [], [], None
    for jit in (False, True):
        for side in sides:
            optimizer = make_optimizer(name)[0 if side == "zoo" else 1]
            step, vs = _stepper(optimizer, values, grads, jit)
            variables = variables or (optimizer, vs)
            steppers.append(step)
            labels.append((side, "xla" if jit else "default"))
    seconds = dict(zip(labels, time_steps(steppers, steps, warmup)))
    optimizer, vs = variables
    result = {
        "optimizer": name,
        "parameters": total,
        "variables": count,
        "path": "fused" if getattr(optimizer, "_fuses", lambda v: False)(vs[0]) else "readable",
        "seconds": {f"{side}/{path}": t for (side, path), t in seconds.items()},
        "state_bytes_per_parameter": state_bytes_per_parameter(optimizer, vs),
        "bytes_moved_per_parameter": bytes_moved_per_parameter(optimizer, vs),
    }
    z = result["seconds"]
    if "keras/default" in z:
        result["zoo/keras_default"] = z["zoo/default"] / z["keras/default"]
        result["zoo/keras_xla"] = z["zoo/default"] / z["keras/xla"]
        result["zoo_xla/keras_xla"] = z["zoo/xla"] / z["keras/xla"]
    result["zoo/zoo_xla"] = z["zoo/default"] / z["zoo/xla"]
    return result


def fit_throughput(name, rounds=7, batch_size=32, instances=3, passes=4, builtin_only=False, hidden_units=64):
    """Training steps per second of ``fit`` on the ``compare`` MLP, zoo and built-in, same run.

    ``hidden_units``: the MLP's width (64: the ``compare`` MLP; ``WIDE_HIDDEN_UNITS``: the wide one).

    An epoch here is ``passes`` passes over the training images (4: 172 steps of 32), so that the
    per-epoch set-up of ``fit`` (about half of a one-pass epoch) weighs less than the steps. Each
    side trains ``instances`` models of its own (each with a new optimizer), traced and warmed
    up first; then ``rounds`` rounds of one epoch per model, in one order on even rounds and in the
    reverse order on odd ones. A side's throughput is its steps per epoch over the median of its
    ``instances * rounds`` epochs. Why: measured on a 2-core machine, the built-in against itself
    (``builtin_only=True``, both sides identical) with one model per side gave 0.96-1.01 over 25
    rounds, because one model instance can run a few per cent faster than an identical one; the
    median epoch of six identical models spread by +-1.5%. ``fit_noise`` reports that A/A ratio in
    the same run, so a zoo/keras ratio can be read against it.
    """
    import keras

    from keras_optim_zoo.data import load_digits_split, make_mlp

    x_train, _, y_train, _ = load_digits_split(seed=0)
    x_train, y_train = np.tile(x_train, (passes, 1)), np.tile(y_train, passes)
    entries = []
    for _ in range(instances):
        zoo, twin = make_optimizer(name)
        if builtin_only:
            zoo = make_optimizer(name)[1]
        for side, optimizer in (("zoo", zoo), ("keras", twin)):
            if optimizer is not None:
                model = make_mlp(0, hidden_units=hidden_units)
                model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
                model.fit(x_train, y_train, batch_size=batch_size, epochs=1, verbose=0)  # trace and warm up
                entries.append((side, model))
    seconds = {side: [] for side, _ in entries}
    for round_ in range(rounds):
        for side, model in entries if round_ % 2 == 0 else entries[::-1]:
            start = time.perf_counter()
            model.fit(x_train, y_train, batch_size=batch_size, epochs=1, verbose=0)
            seconds[side].append(time.perf_counter() - start)
    steps = int(np.ceil(len(x_train) / batch_size))
    out = {side: steps / statistics.median(times) for side, times in seconds.items()}
    if "keras" in out:
        out["zoo/keras"] = out["zoo"] / out["keras"]
    return out


#: The width of the second, wide MLP that ``fit`` is timed on (64 -> 4096 -> 10, 303k parameters):
#: its two kernels are large enough for the fused path (``policy.DEFAULT_FUSE_MIN_SIZE``), so the optimizer is
#: a real part of a step there. On the ``compare`` MLP (4.8k parameters) it is a few per cent of one,
#: and every variable takes the readable path: the zoo runs the built-in's ops, at its speed.
WIDE_HIDDEN_UNITS = 4096

#: The built-in whose fit is timed against itself to gauge the noise of the fit ratios.
FIT_NOISE_OPTIMIZER = "zoo_adam"


def fit_noise():
    """The A/A ratio of ``fit_throughput``: the built-in Adam against itself (two identical sides),
    same protocol. Its distance from 1 is what this machine's noise does to a zoo/keras ratio."""
    return fit_throughput(FIT_NOISE_OPTIMIZER, builtin_only=True)["zoo/keras"]


def run(names, sizes, layouts, steps, warmup, fit=True, report=print):
    bandwidth = copy_bandwidth()
    report(f"copy bandwidth: {bandwidth / 1e9:.1f} GB/s (dst.assign_add(src): two reads, one write)")
    results = {"copy_bandwidth_bytes_per_s": bandwidth, "cases": [], "fit": {}, "fit_wide": {}}
    if fit and any(name in builtin_equivalents() for name in names):
        results["fit_noise"] = fit_noise()
        _release_memory()
        report(f"fit noise (A/A: built-in Adam against itself, same protocol): {results['fit_noise']:.3f}")
    for name in names:
        for total in sizes:
            for count in layouts:
                case = _run_case(name, total, count, steps, warmup)
                case["bandwidth_bound_s"] = case["bytes_moved_per_parameter"] * total / bandwidth
                case["zoo/bound"] = case["seconds"]["zoo/default"] / case["bandwidth_bound_s"]
                case["zoo/bound_xla"] = _bound_ratio(case)
                results["cases"].append(case)
                report(format_case(case))
        if fit:
            results["fit"][name] = fit_throughput(name)
            _release_memory()
            report(f"  fit on the compare MLP: {format_fit(results['fit'][name])}")
            if name in builtin_equivalents():
                results["fit_wide"][name] = fit_throughput(name, hidden_units=WIDE_HIDDEN_UNITS)
                _release_memory()
                report(f"  fit on the wide MLP (64-{WIDE_HIDDEN_UNITS}-10): {format_fit(results['fit_wide'][name])}")
    return results


#: Cases with at least this many parameters run in a fresh process each.
ISOLATE_MIN_PARAMETERS = 1_000_000


def _run_case(name, total, count, steps, warmup):
    """``bench_case``, in a fresh process for large cases: a Keras built-in optimizer stepped in a
    ``tf.function`` is never freed (measured: its variables stay alive after ``clear_session()``
    and ``gc.collect()``), so ``bench --optimizers all`` at 16M parameters grew past 20 GB."""
    if total < ISOLATE_MIN_PARAMETERS:
        return bench_case(name, total, count, steps, warmup)
    import concurrent.futures
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(bench_case, name, total, count, steps, warmup).result()


def _release_memory():
    """Free what a finished ``fit`` measurement can free."""
    import gc

    import keras

    keras.backend.clear_session()
    gc.collect()


def format_case(case):
    s = case["seconds"]
    ms = "  ".join(f"{k} {v * 1e3:7.2f} ms" for k, v in s.items())
    ratios = "  ".join(
        f"{k} {case[k]:.2f}" for k in ("zoo/keras_default", "zoo/keras_xla", "zoo_xla/keras_xla", "zoo/bound") if k in case
    )
    return (
        f"{case['optimizer']:<14} {case['parameters'] / 1e6:6.2f}M params x {case['variables']:>3} vars "
        f"[{case['path']}]  {ms}  |  {ratios}  |  state {case['state_bytes_per_parameter']:.0f} B/param"
    )


def format_fit(fit):
    parts = [f"zoo {fit['zoo']:.0f} steps/s"]
    if "keras" in fit:
        parts.append(f"keras {fit['keras']:.0f} steps/s (zoo/keras {fit['zoo/keras']:.2f})")
    return ", ".join(parts)


#: The targets of the speed work, as (ratio key, comparison, bound, which cases), for the summary.
TARGETS = (
    ("zoo/bound_xla", "<=", 1.15, "every case: the default path against the fused bound"),
    ("zoo/keras_default", "<=", 0.6, "one variable, where a built-in exists"),
    ("zoo_xla/keras_xla", "<=", 1.05, "under jit_compile=True, where a built-in exists"),
)


def _bound_ratio(case):
    """Default-path step over the fused bound: the built-in under XLA where one exists, else the
    same algorithm's own step under XLA (measured in the same run)."""
    s = case["seconds"]
    return s["zoo/default"] / s.get("keras/xla", s["zoo/xla"])


def summary_table(results):
    """Markdown lines: one row per case with the target ratios (a mark where a target is missed)."""

    def cell(value, op, bound):
        if value is None:
            return "–"
        ok = value <= bound if op == "<=" else value >= bound
        return f"{value:.2f}" + ("" if ok else " ✗")

    lines = [
        "| optimizer | params × vars | path | default / fused bound (≤1.15) | default / keras default "
        "(≤0.6, 1 var) | XLA / keras XLA (≤1.05) | state B/param | fit zoo/keras (≥1.0) | "
        "fit zoo/keras, wide MLP |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case in results["cases"]:
        fit = results.get("fit", {}).get(case["optimizer"], {})
        wide = results.get("fit_wide", {}).get(case["optimizer"], {}).get("zoo/keras")
        one = case["variables"] == 1
        lines.append(
            f"| {case['optimizer']} | {case['parameters'] / 1e6:g}M × {case['variables']} | {case['path']} | "
            f"{cell(_bound_ratio(case), '<=', 1.15)} | "
            f"{cell(case.get('zoo/keras_default') if one else None, '<=', 0.6)} | "
            f"{cell(case.get('zoo_xla/keras_xla'), '<=', 1.05)} | {case['state_bytes_per_parameter']:.0f} | "
            f"{cell(fit.get('zoo/keras'), '>=', 1.0)} | {'–' if wide is None else f'{wide:.2f}'} |"
        )
    if results.get("fit_noise") is not None:
        lines.append("")
        lines.append(
            f"fit noise: the built-in Adam against itself, same protocol, gave {results['fit_noise']:.3f}; "
            "a fit ratio is only as exact as that."
        )
    return lines


def write_json(results, path):
    with open(path, "w") as f:
        json.dump(results, f, indent=2)


def plot(results, path):
    """A bar chart of zoo/built-in step-time ratios per case (1.0 = as fast as Keras)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = [c for c in results["cases"] if "zoo/keras_default" in c]
    if not cases:
        cases = results["cases"]
    labels = [f"{c['optimizer']}\n{c['parameters'] / 1e6:g}M x{c['variables']}" for c in cases]
    keys = [k for k in ("zoo/keras_default", "zoo/keras_xla", "zoo_xla/keras_xla", "zoo/bound") if k in cases[0]]
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(cases)), 4))
    width = 0.8 / max(1, len(keys))
    for i, key in enumerate(keys):
        ax.bar(np.arange(len(cases)) + i * width, [c.get(key, np.nan) for c in cases], width, label=key)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(np.arange(len(cases)) + width * (len(keys) - 1) / 2)
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylabel("step-time ratio (lower is faster)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def sparse_embedding_case(name, rows, width, touched, steps=10, warmup=2, seed=0):
    """Seconds per step for an ``IndexedSlices`` gradient touching ``touched`` rows of a
    ``rows x width`` table (the gradient of an ``Embedding`` lookup), under ``tf.function``."""
    import keras
    import tensorflow as tf

    import keras_optim_zoo as koz

    rng = np.random.default_rng(seed)
    table = keras.Variable(rng.normal(size=(rows, width)).astype("float32"))
    optimizer = koz.get(name) if name.startswith("zoo_") else keras.optimizers.get(name)
    optimizer.build([table])
    indices = tf.constant(rng.choice(rows, size=touched, replace=False).astype("int64"))
    values = tf.constant(rng.normal(size=(touched, width)).astype("float32"))
    gradient = tf.IndexedSlices(values, indices, tf.constant([rows, width], tf.int64))

    @tf.function
    def step():
        optimizer.apply_gradients([(gradient, table)])

    return time_steps([step], steps, warmup)[0]
