"""The command line of keras_optim_zoo: ``python -m keras_optim_zoo <command>`` (or ``keras-optim-zoo``).

Commands:

``list``
    Print every registered optimizer name and its one-line summary.
``compare``
    Train the same small MLP on scikit-learn's handwritten digits (offline) once per optimizer,
    from identical initial weights and with identical shuffling, then print a results table and
    write a PNG of the per-epoch training loss and test accuracy curves (and optionally a JSON file).
    Names starting with ``zoo_`` are this package's optimizers; any other name is resolved by
    ``keras.optimizers.get``, so ``--optimizers zoo_adam,adam`` compares the zoo Adam with the
    built-in one side by side.

Adding a command means writing an ``_add_<name>_arguments(parser)``
and a ``_run_<name>(args)`` function and adding one row to ``COMMANDS``; ``main`` needs no change.

matplotlib is imported only when a plot is written, and no display is needed (Agg canvas).
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import sys
import time
from typing import Callable, NamedTuple

#: The optimizers ``compare`` trains when ``--optimizers`` is not given: the seven classic ones.
DEFAULT_OPTIMIZERS = (
    "zoo_sgd",
    "zoo_rmsprop",
    "zoo_adagrad",
    "zoo_adadelta",
    "zoo_adam",
    "zoo_adamax",
    "zoo_nadam",
)
DEFAULT_EPOCHS = 20
DEFAULT_BATCH_SIZE = 32
DEFAULT_SEED = 0
DEFAULT_PLOT = "compare.png"

#: Built-in Keras optimizer classes that ``keras.optimizers.get`` cannot build from a bare name.
_NOT_BY_NAME = ("Optimizer", "LossScaleOptimizer", "MultiOptimizer")


class UsageError(ValueError):
    """A bad command-line value; reported argparse style (usage, message, exit code 2)."""


# --------------------------------------------------------------------------------------------------
# Optimizer names
# --------------------------------------------------------------------------------------------------


def builtin_optimizer_names():
    """Lower-case names of the built-in Keras optimizers that ``keras.optimizers.get`` accepts."""
    import keras

    names = []
    for attr, obj in vars(keras.optimizers).items():
        if (
            isinstance(obj, type)
            and issubclass(obj, keras.optimizers.Optimizer)
            and attr not in _NOT_BY_NAME
        ):
            try:
                keras.optimizers.get(attr.lower())
            except Exception:  # noqa: BLE001 - a class that cannot be built from its name alone
                continue
            names.append(attr.lower())
    return sorted(names)


def _unknown_name_message(name):
    import keras_optim_zoo as koz

    zoo = list(koz.list_optimizers())
    builtin = builtin_optimizer_names()
    key = str(name).strip().lower()
    close = difflib.get_close_matches(key, zoo + builtin, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return (
        f"Unknown optimizer {name!r}.{hint} Zoo optimizers: {', '.join(zoo)}; "
        f"Keras built-ins: {', '.join(builtin)}."
    )


def resolve_optimizer(name, learning_rate=None):
    """A new optimizer for ``name``: ``zoo_*`` names via ``koz.get``, others via Keras.

    Args:
        name: a zoo name (``"zoo_adam"``) or anything ``keras.optimizers.get`` accepts (``"adam"``),
            optionally with arguments: ``"zoo_adam:state_dtype=bfloat16:amsgrad=True"``.
        learning_rate: optional float overriding the optimizer's default learning rate.

    Raises:
        ValueError: unknown name; the message suggests close names ("Did you mean ...?").
    """
    import keras

    import keras_optim_zoo as koz
    from keras_optim_zoo.registry import parse_spec

    name, kwargs = parse_spec(name)
    if learning_rate is not None:
        kwargs["learning_rate"] = float(learning_rate)
    if name in koz.list_optimizers() or str(name).lower().startswith("zoo_"):
        return koz.get(name, **kwargs)  # its ValueError already says "Did you mean ...?"
    try:
        optimizer = keras.optimizers.get(name)
    except Exception as error:  # noqa: BLE001 - Keras raises ValueError or KeyError here
        raise ValueError(_unknown_name_message(name)) from error
    if kwargs:
        config = optimizer.get_config()
        config.update(kwargs)
        optimizer = type(optimizer).from_config(config)
    return optimizer


def _learning_rate_of(optimizer):
    value = optimizer.get_config().get("learning_rate")
    try:
        return float(value)
    except (TypeError, ValueError):  # a schedule: report its description, not a number
        return value


# --------------------------------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------------------------------


def _finite_or_none(value):
    return value if isinstance(value, float) and math.isfinite(value) else None


def _evaluate(model, x, y):
    """``(mean sparse categorical cross-entropy, accuracy)`` of ``model`` on ``(x, y)``."""
    import keras
    import numpy as np

    probabilities = model(x, training=False)
    loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, probabilities))
    predicted = np.argmax(keras.ops.convert_to_numpy(probabilities), axis=-1)
    return float(keras.ops.convert_to_numpy(loss)), float(np.mean(predicted == y))


def train_one(name, optimizer, initial_weights, data, *, epochs, batch_size, seed, emit,
              name_width=14):
    """Train a fresh MLP holding ``initial_weights`` with ``optimizer``; returns a result dict.

    The training examples are reshuffled every epoch by a ``tf.data`` shuffle seeded with ``seed``,
    so every optimizer sees the same sequence of batches. (``fit(x, y, shuffle=True)`` after
    ``keras.utils.set_random_seed`` would repeat one permutation in every epoch with the TensorFlow
    backend, and it is also slower here.) After each epoch the loss on the whole training set and
    the test loss and accuracy are measured; epoch 0 is the initial model, so every curve starts
    from the same point.
    """
    import keras
    import tensorflow as tf

    from keras_optim_zoo.data import make_mlp

    x_train, x_test, y_train, y_test = data
    keras.utils.set_random_seed(seed)  # any other randomness (none in this MLP) repeats too
    batches = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
    )
    every = max(1, epochs // 4)
    history = {"epoch": [], "train_loss": [], "test_loss": [], "test_accuracy": []}

    def record(epoch):
        train_loss, _ = _evaluate(model, x_train, y_train)
        test_loss, test_accuracy = _evaluate(model, x_test, y_test)
        for key, value in zip(history, (epoch, train_loss, test_loss, test_accuracy), strict=True):
            history[key].append(value)
        if epoch and (epoch % every == 0 or epoch == epochs):
            emit(
                f"  {name:<{name_width}}  epoch {epoch:>{len(str(epochs))}}/{epochs}"
                f"  train loss {train_loss:.4f}  test accuracy {test_accuracy:.4f}"
            )

    start = time.perf_counter()
    model = make_mlp(seed)
    model.set_weights(initial_weights)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    record(0)
    model.fit(batches, epochs=epochs, shuffle=False, verbose=0, callbacks=[  # shuffled above
        keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: record(epoch + 1)),
    ])
    seconds = time.perf_counter() - start
    return {
        "optimizer": name,
        "class": f"{type(optimizer).__module__}.{type(optimizer).__name__}",
        "learning_rate": _learning_rate_of(optimizer),
        "train_loss": history["train_loss"][-1],
        "test_loss": history["test_loss"][-1],
        "test_accuracy": history["test_accuracy"][-1],
        "seconds": seconds,
        "history": history,
    }


def format_table(results):
    """The results as an aligned text table, one row per optimizer."""
    headers = ("optimizer", "train loss", "test loss", "test acc", "seconds")
    rows = [
        (
            r["optimizer"],
            f"{r['train_loss']:.4f}",
            f"{r['test_loss']:.4f}",
            f"{r['test_accuracy']:.4f}",
            f"{r['seconds']:.1f}",
        )
        for r in results
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    lines = [
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths))
        )
        for row in (headers, *rows)
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def plot_curves(results, path, title=None):
    """Write a PNG: per-epoch training loss (left, log scale) and test accuracy (right).

    One line per optimizer. A zoo optimizer and the Keras built-in of the same algorithm share a
    colour; the zoo line is solid and the built-in one dashed, so identical curves stay visible.
    Uses the Agg canvas directly: no display and no change to pyplot's global backend.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(12, 4.8), layout="constrained")
    FigureCanvasAgg(figure)
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    colours = {}
    cycle = [f"C{i}" for i in range(10)]
    for result in results:
        name = result["optimizer"]
        algorithm = name.lower().removeprefix("zoo_")
        colour = colours.setdefault(algorithm, cycle[len(colours) % len(cycle)])
        style = "-" if name.lower().startswith("zoo_") else "--"
        history = result["history"]
        for axes, key in ((loss_axes, "train_loss"), (accuracy_axes, "test_accuracy")):
            axes.plot(history["epoch"], history[key], style, color=colour, label=name, linewidth=1.8)
    loss_axes.set(xlabel="epoch", ylabel="training loss (cross-entropy)", yscale="log",
                  title="Training loss")
    accuracy_axes.set(xlabel="epoch", ylabel="test accuracy", ylim=(0.0, 1.0),
                      title="Test accuracy")
    for axes in (loss_axes, accuracy_axes):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize="small")
    if title:
        figure.suptitle(title)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path


def _parse_names(text):
    names = [part.strip() for part in str(text).split(",") if part.strip()]
    if not names:
        raise UsageError("--optimizers needs at least one optimizer name.")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UsageError(f"--optimizers lists {', '.join(map(repr, duplicates))} more than once.")
    return names


def _run_compare(args):
    import keras

    from keras_optim_zoo.data import load_digits_split, make_mlp

    names = _parse_names(args.optimizers)
    optimizers = {}
    for name in names:  # every name is checked before any training starts
        try:
            optimizers[name] = resolve_optimizer(name, args.learning_rate)
        except (ValueError, TypeError) as error:
            raise UsageError(str(error)) from error

    def emit(line):
        if not args.quiet:
            print(line, flush=True)

    data = load_digits_split(seed=args.seed)
    x_train, x_test = data[0], data[1]
    initial_weights = make_mlp(args.seed).get_weights()  # built once, copied into every model
    emit(
        f"Training a 64-64-10 MLP on the digits ({len(x_train)} train / {len(x_test)} test images)"
        f" with {len(names)} optimizer(s): {args.epochs} epochs, batch size {args.batch_size},"
        f" seed {args.seed}, learning rate "
        f"{'each optimizer default' if args.learning_rate is None else args.learning_rate}."
    )
    results = []
    name_width = max(len(name) for name in names)
    total_start = time.perf_counter()
    for index, name in enumerate(names, start=1):
        optimizer = optimizers[name]
        learning_rate = _learning_rate_of(optimizer)
        if isinstance(learning_rate, float):
            learning_rate = f"{learning_rate:.4g}"
        emit(f"[{index}/{len(names)}] {name} ({type(optimizer).__name__}, "
             f"learning_rate={learning_rate})")
        result = train_one(
            name, optimizer, initial_weights, data,
            epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, emit=emit,
            name_width=name_width,
        )
        emit(f"  {name:<{name_width}}  done in {result['seconds']:.1f} s")
        results.append(result)
    total_seconds = time.perf_counter() - total_start

    print()
    print(format_table(results))
    print(f"({len(names)} optimizer(s) in {total_seconds:.1f} s; train loss is the full training set"
          " loss after the last epoch)", flush=True)
    if args.plot:
        title = (f"digits MLP, {args.epochs} epochs, batch size {args.batch_size}, "
                 f"seed {args.seed}, keras {keras.__version__}")
        plot_curves(results, args.plot, title=title)
        print(f"Plot written to {args.plot}", flush=True)
    if args.json:
        document = {
            "settings": {
                "optimizers": names,
                "epochs": args.epochs,
                "batch_size": args.batch_size,
                "learning_rate": args.learning_rate,
                "seed": args.seed,
                "train_size": len(x_train),
                "test_size": len(x_test),
                "keras_version": keras.__version__,
                "backend": keras.backend.backend(),
            },
            "total_seconds": total_seconds,
            "results": _json_safe(results),
        }
        directory = os.path.dirname(os.path.abspath(args.json))
        os.makedirs(directory, exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, allow_nan=False)
            handle.write("\n")
        print(f"Results written to {args.json}", flush=True)
    return 0


def _json_safe(value):
    """``value`` with non-finite floats (a diverged run) replaced by ``None`` (strict JSON)."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, float):
        return _finite_or_none(value)
    return value


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _add_compare_arguments(parser):
    parser.add_argument(
        "--optimizers", default=",".join(DEFAULT_OPTIMIZERS), metavar="NAMES",
        help="comma-separated optimizer names; zoo_* names are keras_optim_zoo optimizers, any "
             "other name is passed to keras.optimizers.get (e.g. 'zoo_adam,adam' compares the zoo "
             "Adam with the built-in one). Default: the seven classic zoo optimizers, "
             + ", ".join(DEFAULT_OPTIMIZERS).replace("%", "%%"),
    )
    parser.add_argument("--epochs", type=_positive_int, default=DEFAULT_EPOCHS, metavar="N",
                        help="training epochs per optimizer. Default: %(default)s")
    parser.add_argument("--batch-size", type=_positive_int, default=DEFAULT_BATCH_SIZE,
                        metavar="N", help="mini-batch size. Default: %(default)s")
    parser.add_argument(
        "--learning-rate", type=_positive_float, default=None, metavar="LR",
        help="learning rate used for every optimizer. Default: each optimizer's own default "
             "(e.g. 0.01 for SGD, 0.001 for Adam, RMSprop, Adagrad, Adadelta, Adamax, Nadam)",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED,
        help="seed of the train/test split, the initial weights and the shuffling; the same seed "
             "gives the same numbers. Default: %(default)s",
    )
    parser.add_argument(
        "--plot", default=DEFAULT_PLOT, metavar="PATH",
        help="where to write the PNG of the loss and accuracy curves; an empty string ('') writes "
             "no plot. Default: %(default)s",
    )
    parser.add_argument("--json", default=None, metavar="PATH",
                        help="also write the settings, results and per-epoch histories as JSON to "
                             "PATH. Default: not written")
    parser.add_argument("--quiet", action="store_true",
                        help="do not print progress lines; the results table and the paths "
                             "written are still printed. Default: off")


# --------------------------------------------------------------------------------------------------
# list
# --------------------------------------------------------------------------------------------------


def _add_list_arguments(parser):
    parser.add_argument(
        "--markdown", action="store_true",
        help="print README's table of the optimizers (name, class, summary) instead",
    )


def _run_list(args):
    import keras_optim_zoo as koz
    from keras_optim_zoo import registry

    if args.markdown:
        print(registry.markdown_table())
        return 0
    optimizers = koz.list_optimizers()
    width = max((len(name) for name in optimizers), default=0)
    for name, summary in optimizers.items():
        print(f"{name:<{width}}  {summary}")
    return 0


def _add_bench_arguments(parser):
    parser.add_argument(
        "--optimizers", metavar="NAMES", default="zoo_adam,zoo_sgd,zoo_rmsprop,zoo_adagrad,zoo_nadam",
        help="comma-separated zoo optimizer names, optionally with arguments (name:arg=value, e.g. "
             "zoo_adam:state_dtype=bfloat16), or 'all' for every registered optimizer; each is timed against its Keras built-in where one "
             "exists (zoo_sgd with momentum=0.9 on both sides; arguments the built-in also takes are "
             "given to it too). Default: %(default)s",
    )
    parser.add_argument(
        "--sizes", default="1M,16M",
        help="total parameter counts, comma-separated, with k/M suffixes. Default: %(default)s",
    )
    parser.add_argument(
        "--variables", default="1,256",
        help="how many variables the parameters are split into, comma-separated. Default: %(default)s",
    )
    parser.add_argument("--steps", type=int, default=20, help="timed steps per case (median). Default: 20")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first. Default: 3")
    parser.add_argument("--no-fit", action="store_true",
                        help="skip the fit-throughput measurements (the compare MLP, and the wide MLP for optimizers with a built-in)")
    parser.add_argument("--json", metavar="PATH", default="bench.json",
                        help="where to write all results as JSON ('' for none). Default: bench.json")
    parser.add_argument("--plot", metavar="PATH", default="bench.png",
                        help="where to write the ratio chart ('' for none). Default: bench.png")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and few steps (a smoke run, not a measurement)")


def _run_bench(args):
    import keras_optim_zoo as koz
    from keras_optim_zoo import bench
    from keras_optim_zoo.registry import parse_spec

    names = list(koz.list_optimizers()) if args.optimizers == "all" else _parse_names(args.optimizers)
    for name in names:
        try:
            koz.optimizer_class(parse_spec(name)[0])
        except ValueError as error:
            raise UsageError(str(error)) from error
    try:
        sizes = [bench.parse_size(s) for s in args.sizes.split(",")]
        layouts = [int(v) for v in args.variables.split(",")]
    except ValueError as error:
        raise UsageError(f"--sizes / --variables: {error}") from error
    steps, warmup = args.steps, args.warmup
    if args.quick:
        sizes, layouts, steps, warmup = [200_000], [1, 4], 3, 1
    print("Step time per optimizer: zoo and Keras built-in, default path (jit_compile=False) and XLA, "
          "interleaved, median; ratios < 1 mean the zoo is faster.", flush=True)
    results = bench.run(names, sizes, layouts, steps, warmup, fit=not args.no_fit,
                        report=lambda line: print(line, flush=True))
    print("\nSummary against the targets (✗: missed; markdown):")
    for line in bench.summary_table(results):
        print(line)
    if args.json:
        bench.write_json(results, args.json)
        print(f"JSON written to {args.json}")
    if args.plot:
        bench.plot(results, args.plot)
        print(f"Plot written to {args.plot}")
    return 0


# --------------------------------------------------------------------------------------------------
# The parser and main
# --------------------------------------------------------------------------------------------------


class Command(NamedTuple):
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


#: The subcommands, in the order ``--help`` shows them.
COMMANDS = {
    "list": Command(
        help="list the registered optimizers with a one-line summary each",
        description="Print every registered optimizer name (usable as "
                    "model.compile(optimizer=NAME) and keras.optimizers.get(NAME)) and its "
                    "one-line summary.",
        add_arguments=_add_list_arguments,
        run=_run_list,
    ),
    "compare": Command(
        help="train the same MLP on the digits data with several optimizers and compare them",
        description="Train the same small MLP (64 -> 64 relu -> 10 softmax) on scikit-learn's "
                    "handwritten digits (offline, pixels scaled to [0, 1], fixed stratified 75/25 "
                    "split) once per optimizer, from identical initial weights and with identical "
                    "shuffling. Prints progress, then a table (optimizer, final train loss, test "
                    "loss, test accuracy, seconds), and writes a PNG of the per-epoch training "
                    "loss and test accuracy curves.",
        add_arguments=_add_compare_arguments,
        run=_run_compare,
    ),
    "bench": Command(
        help="time optimizer steps against the Keras built-ins (ratios measured in one run)",
        description="Time apply_gradients for each optimizer and, where one exists, its Keras "
                    "built-in, on the default path (jit_compile=False) and with XLA, for one large "
                    "variable and for many; print the ratios, the bandwidth bound estimated from a "
                    "measured copy bandwidth, the optimizer-state bytes per parameter, fit "
                    "throughput on the compare MLP, and which path (fused or readable) each took; "
                    "write JSON and a PNG chart.",
        add_arguments=_add_bench_arguments,
        run=_run_bench,
    ),
}

_EPILOG = """examples:
  %(prog)s list
  %(prog)s compare
  %(prog)s compare --optimizers zoo_adam,adam --epochs 5 --json results.json
  %(prog)s compare --optimizers zoo_sgd,zoo_nadam --learning-rate 0.05 --plot sgd_vs_nadam.png
"""


def build_parser(prog=None):
    """The ``argparse`` parser of the command line (one subparser per entry of ``COMMANDS``)."""
    import keras_optim_zoo as koz

    parser = argparse.ArgumentParser(
        prog=prog,
        description="keras_optim_zoo: optimizers for Keras 3. List them, or compare them on a "
                    "small offline data set.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {koz.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                       title="commands")
    for name, command in COMMANDS.items():
        subparser = subparsers.add_parser(name, help=command.help, description=command.description)
        command.add_arguments(subparser)
        subparser.set_defaults(_run=command.run, _parser=subparser)
    return parser


def main(argv=None, prog=None):
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit code.

    Bad values (e.g. an unknown optimizer name) print the usage and the error on stderr and raise
    ``SystemExit(2)``, as argparse does.
    """
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        return args._run(args)
    except UsageError as error:
        args._parser.error(str(error))  # exits with status 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
