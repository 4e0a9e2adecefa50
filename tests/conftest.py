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


# --------------------------------------------------------------------------- CI's oldest-Keras step
def pytest_report_header(config):
    from optimizer_table import OLDEST_SUBSET, oldest_subset_only

    if oldest_subset_only():
        return f"ZOO_OLDEST_SUBSET=1: the table-driven tests of {len(OLDEST_SUBSET)} rows: " + ", ".join(OLDEST_SUBSET)
    return None


def pytest_collection_modifyitems(config, items):
    """Under ``ZOO_OLDEST_SUBSET=1``, deselect the tests parametrized by a row outside
    ``optimizer_table.OLDEST_SUBSET`` (pytest reports them as deselected)."""
    from optimizer_table import OLDEST_SUBSET, Row, oldest_subset_only

    if not oldest_subset_only():
        return
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        row = callspec.params.get("row") if callspec else None
        (drop if isinstance(row, Row) and row.name not in OLDEST_SUBSET else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
