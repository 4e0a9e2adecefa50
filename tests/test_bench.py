"""Smoke test of ``python -m keras_optim_zoo bench --quick`` (benchmarks themselves never run in CI)."""

import json
import math

import pytest

from optimizer_table import ROWS

from keras_optim_zoo import cli


def test_bench_quick_writes_ratios_state_bytes_and_paths(tmp_path, capsys):
    out_json, out_png = tmp_path / "bench.json", tmp_path / "bench.png"
    code = cli.main(["bench", "--quick", "--optimizers", "zoo_adam,zoo_sgd", "--no-fit",
                     "--json", str(out_json), "--plot", str(out_png)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "copy bandwidth" in printed and "zoo/keras_default" in printed
    results = json.loads(out_json.read_text())
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert results["copy_bandwidth_bytes_per_s"] > 1e8
    cases = {(c["optimizer"], c["variables"]): c for c in results["cases"]}
    assert set(cases) == {("zoo_adam", 1), ("zoo_adam", 4), ("zoo_sgd", 1), ("zoo_sgd", 4)}
    # Adam keeps two float32 moments, SGD with momentum one: 8 and 4 bytes per parameter; a step
    # reads w, g and the slots and writes w and the slots.
    assert cases[("zoo_adam", 1)]["state_bytes_per_parameter"] == 8
    assert cases[("zoo_adam", 1)]["bytes_moved_per_parameter"] == 28
    assert cases[("zoo_sgd", 4)]["state_bytes_per_parameter"] == 4
    for case in cases.values():
        assert case["path"] == "fused"  # 200k parameters, 50k per variable: above the default fuse_min_size
        for key in ("zoo/keras_default", "zoo/keras_xla", "zoo_xla/keras_xla", "zoo/bound"):
            assert math.isfinite(case[key]) and case[key] > 0


def test_bench_rejects_unknown_optimizers(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["bench", "--quick", "--optimizers", "zoo_adamm"])
    assert exit_.value.code == 2
    assert "Did you mean 'zoo_adam'" in capsys.readouterr().err


def test_summary_table_marks_missed_targets():
    from keras_optim_zoo import bench

    case = {
        "optimizer": "zoo_adam", "parameters": 16_000_000, "variables": 1, "path": "fused",
        "seconds": {"zoo/default": 0.020, "keras/default": 0.050, "zoo/xla": 0.016, "keras/xla": 0.015},
        "zoo/keras_default": 0.4, "zoo_xla/keras_xla": 0.016 / 0.015, "state_bytes_per_parameter": 8.0,
    }
    other = {**case, "optimizer": "zoo_cocob", "variables": 256,
             "seconds": {"zoo/default": 0.010, "zoo/xla": 0.0095}, "state_bytes_per_parameter": 20.0}
    for key in ("zoo/keras_default", "zoo_xla/keras_xla"):
        other.pop(key)
    lines = bench.summary_table({"cases": [case, other], "fit": {"zoo_adam": {"zoo/keras": 0.97}},
                                 "fit_wide": {"zoo_adam": {"zoo/keras": 1.18}}})
    assert lines[2] == "| zoo_adam | 16M × 1 | fused | 1.33 ✗ | 0.40 | 1.07 ✗ | 8 | 0.97 ✗ | 1.18 |"
    assert lines[3] == "| zoo_cocob | 16M × 256 | fused | 1.05 | – | – | 20 | – | – |"


def test_fit_models_one_readable_one_fused():
    """The compare MLP is all readable path (the zoo runs the built-in's ops there); the wide MLP
    that fit is also timed on has both kernels on the fused path (where the optimizer matters)."""
    import keras_optim_zoo as koz
    from keras_optim_zoo import bench
    from keras_optim_zoo.data import make_mlp

    optimizer = koz.ZooAdam()
    small = make_mlp(0)
    assert not any(optimizer._fuses(v) for v in small.trainable_variables)
    wide = make_mlp(0, hidden_units=bench.WIDE_HIDDEN_UNITS)
    fused = [v.path for v in wide.trainable_variables if optimizer._fuses(v)]
    assert fused == ["digits_mlp/hidden/kernel", "digits_mlp/probabilities/kernel"]
    assert wide.count_params() == 64 * 4096 + 4096 + 4096 * 10 + 10


def test_production_fuse_threshold():
    """Variables of >= 32768 elements take the fused path by default; smaller ones the readable one
    (the measurement behind the number is in engine.policy.DEFAULT_FUSE_MIN_SIZE's comment); the
    threshold is an argument of the instance, saved in its config."""
    import keras
    import numpy as np

    import keras_optim_zoo as koz
    from keras_optim_zoo.engine import policy

    assert policy.DEFAULT_FUSE_MIN_SIZE == 1 << 15
    optimizer = koz.ZooAdam()
    assert optimizer.get_config()["fuse_min_size"] == 1 << 15
    assert optimizer._fuses(keras.Variable(np.zeros((128, 256))))
    assert not optimizer._fuses(keras.Variable(np.zeros((64, 511))))
    smaller = koz.ZooAdam.from_config({**optimizer.get_config(), "fuse_min_size": 64 * 511})
    assert smaller._fuses(keras.Variable(np.zeros((64, 511))))
    with pytest.raises(ValueError, match="fuse_min_size"):
        koz.ZooAdam(fuse_min_size=-1)
    with pytest.raises(TypeError, match="fuse_min_size"):
        koz.ZooAdam(fuse_min_size=1e4)


def test_every_builtin_twin_resolves_with_the_shared_arguments():
    from keras_optim_zoo import bench

    twins = bench.builtin_equivalents()
    assert set(twins) == {row.name for row in ROWS if row.builtin is not None}  # one source: the specs
    for name, (class_name, kwargs) in twins.items():
        zoo, twin = bench.make_optimizer(name)
        assert type(twin).__name__ == class_name, name
        for key, value in kwargs.items():
            assert getattr(twin, key) == getattr(zoo, key) == value
    zoo, twin = bench.make_optimizer("zoo_adam:amsgrad=True:state_dtype=bfloat16")
    assert twin.amsgrad and zoo.amsgrad and zoo.state_dtype == "bfloat16"  # the twin takes what it accepts


def test_fit_throughput_alternates_model_instances_and_reports_the_noise_gauge():
    from keras_optim_zoo import bench

    out = bench.fit_throughput("zoo_sgd", rounds=2, instances=2)
    assert set(out) == {"zoo", "keras", "zoo/keras"}
    assert out["zoo"] > 1 and out["keras"] > 1 and out["zoo/keras"] == out["zoo"] / out["keras"]
    # A/A: the built-in on both sides, so the ratio is pure machine noise.
    same = bench.fit_throughput("zoo_sgd", rounds=1, instances=1, builtin_only=True)
    assert 0.5 < same["zoo/keras"] < 2.0
    lines = bench.summary_table({"cases": [], "fit": {}, "fit_noise": 0.987})
    assert lines[-1].startswith("fit noise: the built-in Adam against itself, same protocol, gave 0.987")
