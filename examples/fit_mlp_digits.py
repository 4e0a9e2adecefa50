"""Train a Keras model with ``compile(optimizer="zoo_adam")`` + ``fit``, then save and reload it.

What it shows
    * A zoo optimizer is used by its registered name exactly like a built-in one:
      ``model.compile(optimizer="zoo_adam", loss=..., metrics=["accuracy"])`` works once
      ``keras_optim_zoo`` has been imported (the import registers the names).
    * ``model.fit`` on scikit-learn's handwritten digits (offline; 64 -> 64 relu -> 10 softmax),
      then the test accuracy.
    * ``model.save("....keras")`` in a temporary directory and ``keras.models.load_model`` give back
      a model with identical predictions and the zoo optimizer, with its state (step count and
      moment slots), restored, so training can continue where it stopped.

How to run
    python examples/fit_mlp_digits.py                       # 15 epochs of zoo_adam
    python examples/fit_mlp_digits.py --quick               # 3 epochs, for tests
    python examples/fit_mlp_digits.py --optimizer zoo_nadam --epochs 10
"""

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_optim_zoo  # noqa: E402,F401  (registers "zoo_adam", "zoo_sgd", ... with Keras)
from keras_optim_zoo.data import load_digits_split, make_mlp  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--optimizer", default="zoo_adam",
                        help="registered optimizer name (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=15, help="epochs (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=32,
                        help="batch size (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the train/test split and the initial weights "
                             "(default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="3 epochs, for tests")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = 3

    x_train, x_test, y_train, y_test = load_digits_split(seed=args.seed)
    print(f"digits: {len(x_train)} training and {len(x_test)} test images of 8x8 pixels")

    model = make_mlp(seed=args.seed)
    model.compile(
        optimizer=args.optimizer,  # a string, resolved by Keras like "adam" would be
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    print(f"optimizer {args.optimizer!r} -> {type(model.optimizer).__name__}")
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
                        verbose=0)
    for epoch, (loss, accuracy) in enumerate(
        zip(history.history["loss"], history.history["accuracy"]), start=1
    ):
        print(f"epoch {epoch:3d}  loss {loss:.4f}  accuracy {accuracy:.4f}")

    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test loss {test_loss:.4f}")
    print(f"test accuracy {test_accuracy:.4f}")

    # Save to the native .keras format and load it back. Loading needs keras_optim_zoo imported
    # (done above) so that Keras can find the ZooAdam class recorded in the file.
    predictions = model.predict(x_test, verbose=0)
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "digits_mlp.keras")
        model.save(path)
        print(f"saved {os.path.basename(path)} ({os.path.getsize(path)} bytes)")
        reloaded = keras.models.load_model(path)
    reloaded_predictions = reloaded.predict(x_test, verbose=0)
    difference = float(np.max(np.abs(predictions - reloaded_predictions)))
    print(f"reloaded optimizer: {type(reloaded.optimizer).__name__}, "
          f"iterations {int(reloaded.optimizer.iterations.numpy())} "
          f"(original {int(model.optimizer.iterations.numpy())})")
    same_state = len(model.optimizer.variables) == len(reloaded.optimizer.variables) and all(
        np.array_equal(a.numpy(), b.numpy())
        for a, b in zip(model.optimizer.variables, reloaded.optimizer.variables)
    )
    print(f"optimizer state identical after reload: {same_state}")
    print(f"max |prediction difference| after reload: {difference:.3g}")
    print(f"reloaded predictions identical: {bool(np.array_equal(predictions, reloaded_predictions))}")
    return test_accuracy


if __name__ == "__main__":
    main()
