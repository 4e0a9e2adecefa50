"""Linear regression with a hand-written ``tf.GradientTape`` training loop and a zoo optimizer.

What it shows
    The classic low-level TensorFlow tutorial, with a keras_optim_zoo optimizer in place of the
    built-in one: data ``y = 3x + 2 + noise`` are generated in code, the weight ``w`` and bias ``b``
    are two ``keras.Variable`` scalars, and every step

    1. records the forward pass ``y_hat = w * x + b`` and the mean squared error on a tape,
    2. asks the tape for ``d loss / d w`` and ``d loss / d b``,
    3. calls ``optimizer.apply_gradients(zip(grads, [w, b]))``.

    The optimizer is chosen by name exactly like a built-in one (``koz.get("zoo_sgd", ...)``; any
    ``zoo_*`` name works, and Keras names such as ``"sgd"`` too, for comparison). It prints the loss
    while training and ends with the learned ``w`` and ``b``, which come out close to 3 and 2.

How to run
    python examples/gradient_tape_linear_regression.py                 # zoo_sgd, momentum 0.9
    python examples/gradient_tape_linear_regression.py --quick         # fewer samples and steps
    python examples/gradient_tape_linear_regression.py --optimizer zoo_adam --learning-rate 0.1
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_optim_zoo as koz  # noqa: E402

TRUE_W, TRUE_B = 3.0, 2.0


def make_optimizer(name, learning_rate, momentum):
    """``zoo_*`` names through ``koz.get``, other names through ``keras.optimizers.get``."""
    kwargs = {"learning_rate": learning_rate}
    if name in ("zoo_sgd", "sgd"):
        kwargs["momentum"] = momentum
    if name.startswith("zoo_"):
        return koz.get(name, **kwargs)
    return keras.optimizers.get({"class_name": name, "config": kwargs})


def make_data(n, noise, seed):
    """``n`` points ``x`` uniform in [-1, 1] and ``y = 3 x + 2 + N(0, noise^2)``, as float32."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=n).astype("float32")
    y = (TRUE_W * x + TRUE_B + rng.normal(0.0, noise, size=n)).astype("float32")
    return tf.constant(x), tf.constant(y)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--optimizer", default="zoo_sgd",
                        help="optimizer name (default: %(default)s)")
    parser.add_argument("--learning-rate", type=float, default=0.05,
                        help="learning rate (default: %(default)s)")
    parser.add_argument("--momentum", type=float, default=0.9,
                        help="momentum, used by zoo_sgd/sgd only (default: %(default)s)")
    parser.add_argument("--samples", type=int, default=1000,
                        help="number of data points (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=300,
                        help="training steps, one full batch each (default: %(default)s)")
    parser.add_argument("--noise", type=float, default=0.1,
                        help="standard deviation of the noise (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="200 samples and 150 steps, for tests")
    args = parser.parse_args(argv)
    if args.quick:
        args.samples, args.steps = 200, 150

    x, y = make_data(args.samples, args.noise, args.seed)

    # The model's parameters: plain scalar variables, deliberately started far from (3, 2).
    w = keras.Variable(0.0, name="w")
    b = keras.Variable(0.0, name="b")
    optimizer = make_optimizer(args.optimizer, args.learning_rate, args.momentum)
    print(f"optimizer: {args.optimizer} ({type(optimizer).__name__}), "
          f"learning_rate={args.learning_rate}, {args.samples} samples, {args.steps} steps")

    @tf.function  # optional: the loop below works eagerly too, only more slowly
    def train_step(x, y):
        with tf.GradientTape() as tape:
            y_hat = w * x + b
            loss = tf.reduce_mean(tf.square(y_hat - y))
        grads = tape.gradient(loss, [w, b])
        optimizer.apply_gradients(zip(grads, [w, b]))
        return loss

    report_every = max(1, args.steps // 10)
    for step in range(1, args.steps + 1):
        loss = train_step(x, y)
        if step == 1 or step % report_every == 0:
            print(f"step {step:4d}  loss {float(loss):.5f}  w {float(w.numpy()):.4f}  "
                  f"b {float(b.numpy()):.4f}")

    learned_w, learned_b = float(w.numpy()), float(b.numpy())
    final_loss = float(tf.reduce_mean(tf.square(learned_w * x + learned_b - y)))
    print(f"final loss {final_loss:.5f} (noise variance {args.noise ** 2:.5f})")
    print(f"learned w = {learned_w:.4f}, b = {learned_b:.4f}  (true w = {TRUE_W}, b = {TRUE_B})")
    return learned_w, learned_b


if __name__ == "__main__":
    main()
