"""Shared test set-up: quiet TensorFlow, deterministic seeds, small helpers."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# --------------------------------------------------------------------------- CI's oldest-Keras step
def _oldest_subset_only():
    """``optimizer_table.oldest_subset_only()``, importing the table (Keras, the package) only when
    ``ZOO_OLDEST_SUBSET`` is set: the JAX module configures JAX before its first import."""
    if os.environ.get("ZOO_OLDEST_SUBSET", "") in ("", "0"):
        return False
    from optimizer_table import oldest_subset_only

    return oldest_subset_only()


def pytest_report_header(config):
    if _oldest_subset_only():
        from optimizer_table import OLDEST_SUBSET

        return f"ZOO_OLDEST_SUBSET=1: the table-driven tests of {len(OLDEST_SUBSET)} rows: " + ", ".join(OLDEST_SUBSET)
    return None


def pytest_collection_modifyitems(config, items):
    """Under ``ZOO_OLDEST_SUBSET=1``, deselect the tests parametrized by a row outside
    ``optimizer_table.OLDEST_SUBSET`` (pytest reports them as deselected)."""
    if not _oldest_subset_only():
        return
    from optimizer_table import OLDEST_SUBSET, Row

    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        row = callspec.params.get("row") if callspec else None
        (drop if isinstance(row, Row) and row.name not in OLDEST_SUBSET else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
