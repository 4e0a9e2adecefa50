"""The small, offline data set and model shared by the CLI, the examples and the notebooks.

The data are the 8x8 handwritten digits that scikit-learn ships with its wheel
(``sklearn.datasets.load_digits``: 1,797 images, 10 classes), so nothing is downloaded. The model
is a one-hidden-layer MLP (64 -> 64 relu -> 10 softmax) whose initial weights depend only on
``seed``.

    >>> from keras_optim_zoo.data import load_digits_split, make_mlp
    >>> x_train, x_test, y_train, y_test = load_digits_split()
    >>> model = make_mlp(seed=0)

scikit-learn is imported inside :func:`load_digits_split` only, so importing this module is cheap.
"""

from __future__ import annotations

import numpy as np

#: Number of input features (8x8 pixels) and of classes of the digits data set.
N_FEATURES = 64
N_CLASSES = 10
#: Pixel intensities of ``load_digits`` are integers in [0, 16].
_PIXEL_MAX = 16.0


def load_digits_split(seed=0, test_size=0.25):
    """The digits data set, pixels scaled to [0, 1], split into train and test parts.

    The split is stratified (every class keeps its share in both parts) and fixed by ``seed``.

    Args:
        seed: int, the ``random_state`` of the split. Default 0.
        test_size: float in (0, 1), the fraction held out for testing. Default 0.25
            (1,347 training and 450 test images).

    Returns:
        ``(x_train, x_test, y_train, y_test)``: ``float32`` arrays of shape ``(n, 64)`` with values
        in [0, 1], and ``int64`` label arrays of shape ``(n,)`` with values 0-9.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0.0 < float(test_size) < 1.0:
        raise ValueError(f"test_size must be in (0, 1); received {test_size!r}.")
    x, y = load_digits(return_X_y=True)
    x = (x / _PIXEL_MAX).astype(np.float32)
    y = y.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_size, random_state=seed, stratify=y
    )
    return x_train, x_test, y_train, y_test


def make_mlp(seed=0, hidden_units=64):
    """A new, uncompiled MLP for the digits: 64 inputs -> ``hidden_units`` relu -> 10 softmax.

    The initial weights are drawn from seeded Glorot-uniform initializers (biases are zero), so two
    calls with the same ``seed`` return models with identical weights, whatever the global random
    state.
    """
    import keras

    seed = int(seed)
    return keras.Sequential(
        [
            keras.Input(shape=(N_FEATURES,), name="pixels"),
            keras.layers.Dense(
                hidden_units,
                activation="relu",
                kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
                name="hidden",
            ),
            keras.layers.Dense(
                N_CLASSES,
                activation="softmax",
                kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1),
                name="probabilities",
            ),
        ],
        name="digits_mlp",
    )
