"""Every script in examples/ runs with ``--quick`` and prints the result it promises.

The three scripts are started together (they are independent processes) to keep the file fast;
each test then reads one script's output.
"""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = ("gradient_tape_linear_regression.py", "fit_mlp_digits.py",
           "batch_vs_minibatch_vs_sgd.py", "sophia_gradient_tape.py")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
TIMEOUT = 240


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("examples")  # the scripts must not need the repository as cwd
    processes = {
        script: subprocess.Popen(
            [sys.executable, str(EXAMPLES / script), "--quick"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=cwd,
        )
        for script in SCRIPTS
    }
    results = {}
    try:
        for script, process in processes.items():
            stdout, stderr = process.communicate(timeout=TIMEOUT)
            results[script] = (process.returncode, stdout, stderr)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
    return results


def _run(outputs, script):
    code, stdout, stderr = outputs[script]
    assert code == 0, f"{script} failed:\n{stdout}\n{stderr[-3000:]}"
    return stdout


def test_examples_are_documented():
    for path in EXAMPLES.glob("*.py"):  # every script in examples/ says what it is
        assert ast.get_docstring(ast.parse(path.read_text())), path.name
    for script in SCRIPTS:
        docstring = ast.get_docstring(ast.parse((EXAMPLES / script).read_text()))
        assert docstring and "What it shows" in docstring and "How to run" in docstring, script
        assert f"python examples/{script}" in docstring, script


def test_gradient_tape_linear_regression_learns_w_3_b_2(outputs):
    out = _run(outputs, "gradient_tape_linear_regression.py")
    assert "optimizer: zoo_sgd (ZooSGD)" in out
    match = re.search(r"learned w = (-?[\d.]+), b = (-?[\d.]+)", out)
    assert match, out
    w, b = map(float, match.groups())
    assert abs(w - 3.0) < 0.1 and abs(b - 2.0) < 0.1, (w, b)
    losses = [float(v) for v in re.findall(r"^step\s+\d+\s+loss ([\d.]+)", out, re.M)]
    assert len(losses) >= 5 and losses[-1] < 0.05 * losses[0]


def test_fit_mlp_digits_trains_saves_and_reloads(outputs):
    out = _run(outputs, "fit_mlp_digits.py")
    assert "optimizer 'zoo_adam' -> ZooAdam" in out
    accuracy = float(re.search(r"^test accuracy ([\d.]+)$", out, re.M).group(1))
    assert accuracy > 0.8, out  # chance is 0.1; ~0.89 after the 3 quick epochs
    assert "reloaded optimizer: ZooAdam" in out
    iterations = re.search(r"iterations (\d+) \(original (\d+)\)", out)
    assert iterations and iterations.group(1) == iterations.group(2) != "0"
    assert "optimizer state identical after reload: True" in out
    assert "reloaded predictions identical: True" in out


def test_batch_vs_minibatch_vs_sgd_shows_the_trade_off(outputs):
    out = _run(outputs, "batch_vs_minibatch_vs_sgd.py")
    rows = [line.split() for line in out.splitlines() if re.fullmatch(r"\s*\d+(\s+[\d.]+){3}", line)]
    assert [int(row[0]) for row in rows] == list(range(6))  # epochs 0..5 of --quick
    assert rows[0][1] == rows[0][2] == rows[0][3]  # the same initial weights for all three
    match = re.search(
        r"final loss: full-batch ([\d.]+)\s+mini-batch ([\d.]+)\s+stochastic ([\d.]+)", out
    )
    assert match, out
    full, mini, stochastic = map(float, match.groups())
    assert full > 1.0  # 5 updates in 5 epochs: still far from the solution
    assert mini < 0.05 and stochastic < 0.05  # near the noise variance 0.01
    assert "Trade-off" in out


def test_sophia_gradient_tape_feeds_the_hessian_every_10_steps(outputs):
    out = _run(outputs, "sophia_gradient_tape.py")
    assert "optimizer: zoo_sophia (ZooSophia)" in out
    with_hessian, without = out.split("no Hessian updates")
    assert "steps 129  hessian updates 12" in with_hessian  # 3 epochs of 43 steps, k = 10
    assert "steps 129  hessian updates 0" in without
    unclipped = [float(v) for v in re.findall(r"unclipped ([\d.]+)", with_hessian)]
    assert len(unclipped) == 3 and 0.05 < unclipped[-1] < 0.9, unclipped  # h is active
    assert all(float(v) == 0.0 for v in re.findall(r"unclipped ([\d.]+)", without))  # sign steps
    match = re.search(r"final test accuracy: Sophia-G ([\d.]+), without Hessian updates ([\d.]+)", out)
    assert match and float(match.group(1)) > 0.85 and float(match.group(2)) > 0.85, out
