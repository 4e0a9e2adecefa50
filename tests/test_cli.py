"""The command line: ``python -m keras_optim_zoo list`` and ``compare``.

One subprocess checks the ``python -m`` entry point (``list``); ``compare`` runs once in-process
with tiny settings (module fixture) and every assertion about its output reads that one run.
"""

import contextlib
import io
import json
import math
import os
import re
import subprocess
import sys

import pytest

import keras_optim_zoo as koz
from keras_optim_zoo import cli

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
COMPARED = ("zoo_sgd", "zoo_adam", "adam")
EPOCHS = 2
COMPARE_OPTIONS = ("--optimizers", "--epochs", "--batch-size", "--learning-rate", "--seed",
                   "--plot", "--json", "--quiet")


def test_list_through_python_m():
    completed = subprocess.run(
        [sys.executable, "-m", "keras_optim_zoo", "list"],
        capture_output=True, text=True, env=ENV, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    registered = koz.list_optimizers()
    assert len(lines) == len(registered)
    for line, (name, summary) in zip(lines, registered.items()):
        assert line.split()[0] == name
        assert line.endswith(summary)
    for name in cli.DEFAULT_OPTIMIZERS:
        assert name in registered


@pytest.fixture(scope="module")
def compare_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("compare")
    plot, results = directory / "curves.png", directory / "results.json"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = cli.main([
            "compare", "--optimizers", ",".join(COMPARED), "--epochs", str(EPOCHS),
            "--plot", str(plot), "--json", str(results),
        ])
    document = json.loads(results.read_text())
    return {"code": code, "stdout": stdout.getvalue(), "plot": plot, "json": document}


def _table_rows(stdout):
    """``{optimizer: [train loss, test loss, test acc, seconds]}`` parsed from the table."""
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["optimizer"])
    assert lines[header].split() == ["optimizer", "train", "loss", "test", "loss", "test", "acc",
                                     "seconds"]
    assert set(lines[header + 1].replace(" ", "")) == {"-"}
    rows = {}
    for line in lines[header + 2:]:
        cells = line.split()
        if len(cells) != 5 or not re.fullmatch(r"[\w.-]+", cells[0]):
            break
        rows[cells[0]] = [float(cell) for cell in cells[1:]]
    return rows


def test_compare_succeeds_and_prints_progress_and_table(compare_run):
    assert compare_run["code"] == 0
    out = compare_run["stdout"]
    for index, name in enumerate(COMPARED, start=1):
        assert f"[{index}/{len(COMPARED)}] {name}" in out
        assert re.search(rf"{name}\s+epoch {EPOCHS}/{EPOCHS}\s+train loss", out)
    rows = _table_rows(out)
    assert list(rows) == list(COMPARED)
    by_name = {r["optimizer"]: r for r in compare_run["json"]["results"]}
    for name, (train_loss, test_loss, test_accuracy, seconds) in rows.items():
        assert train_loss == pytest.approx(by_name[name]["train_loss"], abs=1e-4)
        assert test_loss == pytest.approx(by_name[name]["test_loss"], abs=1e-4)
        assert test_accuracy == pytest.approx(by_name[name]["test_accuracy"], abs=1e-4)
        assert seconds > 0
    assert f"Plot written to {compare_run['plot']}" in out


def test_compare_writes_a_png(compare_run):
    content = compare_run["plot"].read_bytes()
    assert content.startswith(PNG_MAGIC)
    assert len(content) > 10_000  # two panels with curves, not an empty canvas


def test_compare_json_is_complete_and_finite(compare_run):
    document = compare_run["json"]
    assert document["settings"]["optimizers"] == list(COMPARED)
    assert document["settings"]["epochs"] == EPOCHS
    assert [r["optimizer"] for r in document["results"]] == list(COMPARED)
    for result in document["results"]:
        for key in ("train_loss", "test_loss", "test_accuracy", "seconds", "learning_rate"):
            assert isinstance(result[key], float) and math.isfinite(result[key]), (result, key)
        assert 0.0 <= result["test_accuracy"] <= 1.0
        history = result["history"]
        assert history["epoch"] == list(range(EPOCHS + 1))
        for key in ("train_loss", "test_loss", "test_accuracy"):
            assert len(history[key]) == EPOCHS + 1
            assert all(math.isfinite(v) for v in history[key])
        assert history["train_loss"][-1] == result["train_loss"]
    by_name = {r["optimizer"]: r for r in document["results"]}
    assert by_name["zoo_adam"]["class"].endswith("ZooAdam")
    assert by_name["adam"]["class"].endswith(".Adam")
    assert by_name["zoo_sgd"]["learning_rate"] == pytest.approx(0.01)
    assert by_name["zoo_adam"]["learning_rate"] == pytest.approx(0.001)


def test_compare_every_optimizer_starts_from_the_same_weights(compare_run):
    initial = {r["optimizer"]: r["history"]["train_loss"][0] for r in compare_run["json"]["results"]}
    assert len(set(initial.values())) == 1, initial
    assert initial["adam"] == pytest.approx(math.log(10), rel=0.1)  # ~uniform 10-class guess


def test_compare_zoo_adam_learns(compare_run):
    by_name = {r["optimizer"]: r for r in compare_run["json"]["results"]}
    adam = by_name["zoo_adam"]
    assert adam["test_accuracy"] > 0.5  # 10 classes: chance is 0.1; observed ~0.8 after 2 epochs
    assert adam["train_loss"] < 0.6 * adam["history"]["train_loss"][0]


def test_compare_zoo_adam_equals_keras_adam(compare_run):
    by_name = {r["optimizer"]: r for r in compare_run["json"]["results"]}
    zoo, builtin = by_name["zoo_adam"], by_name["adam"]
    for key in ("train_loss", "test_loss", "test_accuracy"):
        assert abs(zoo[key] - builtin[key]) <= 1e-6, key
        for a, b in zip(zoo["history"][key], builtin["history"][key], strict=True):
            assert abs(a - b) <= 1e-6, key


@pytest.mark.parametrize(
    ("names", "suggestion"),
    [("zoo_sgd,zoo_adm", "zoo_adam"), ("adm", "adam"), ("zoo_nadm,adam", "zoo_nadam")],
)
def test_compare_unknown_optimizer_exits_2_with_did_you_mean(names, suggestion, capsys, tmp_path):
    with pytest.raises(SystemExit) as raised:
        cli.main(["compare", "--optimizers", names, "--epochs", "1",
                  "--plot", str(tmp_path / "never.png")])
    assert raised.value.code == 2
    captured = capsys.readouterr()
    assert "did you mean" in captured.err.lower()
    assert repr(suggestion) in captured.err
    assert "usage:" in captured.err
    assert captured.out == ""  # nothing was trained
    assert not (tmp_path / "never.png").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["compare", "--epochs", "0"],
        ["compare", "--batch-size", "-1"],
        ["compare", "--learning-rate", "nan"],
        ["compare", "--optimizers", "adam,adam"],
        ["compare", "--optimizers", ","],
        ["frobnicate"],
        [],
    ],
)
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as raised:
        cli.main(argv)
    assert raised.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_help_exits_0_and_documents_every_option(capsys):
    with pytest.raises(SystemExit) as raised:
        cli.main(["--help"])
    assert raised.value.code == 0
    top = capsys.readouterr().out
    assert "list" in top and "compare" in top

    with pytest.raises(SystemExit) as raised:
        cli.main(["compare", "--help"])
    assert raised.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # undo argparse's line wrapping
    for option in COMPARE_OPTIONS:
        assert option in text, option
    for default in ("Default: 20", "Default: 32", "Default: 0", "Default: compare.png",
                    ", ".join(cli.DEFAULT_OPTIMIZERS)):
        assert default in text, default


def test_resolve_optimizer_zoo_builtin_and_learning_rate_override():
    zoo = cli.resolve_optimizer("zoo_adam")
    builtin = cli.resolve_optimizer("adam")
    assert type(zoo) is koz.optimizer_class("zoo_adam")
    assert type(builtin).__name__ == "Adam"
    assert float(zoo.get_config()["learning_rate"]) == pytest.approx(0.001)
    for name in ("zoo_sgd", "sgd", "zoo_rmsprop", "rmsprop"):
        optimizer = cli.resolve_optimizer(name, learning_rate=0.05)
        assert float(optimizer.get_config()["learning_rate"]) == pytest.approx(0.05), name
    with pytest.raises(ValueError, match="Did you mean"):
        cli.resolve_optimizer("rmsprob")
