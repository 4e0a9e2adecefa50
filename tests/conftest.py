"""Shared test set-up: quiet TensorFlow, deterministic seeds, small helpers."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


#: What the fused-path tests use as the fuse threshold: small test shapes (e.g. (48, 32)) take the
#: fused path, so they check the mechanism whatever the production threshold (base.FUSE_MIN_SIZE).
TEST_FUSE_MIN_SIZE = 1024


@pytest.fixture
def fuse_small_variables(monkeypatch):
    from keras_optim_zoo import base

    monkeypatch.setattr(base, "FUSE_MIN_SIZE", TEST_FUSE_MIN_SIZE)
