"""MultiWorkerMirroredStrategy with two worker processes on localhost (CI step 3).

Marked ``multiprocess``: the main test command skips it (see pyproject's addopts); CI runs
``python -m pytest -q -m multiprocess`` as a separate step.
"""

import os
import socket
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.multiprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "multi_worker_training.py")


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_match_one_process(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    single = subprocess.run(
        [sys.executable, SCRIPT, "--out", str(tmp_path / "single.npz")], env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    workers = ",".join(f"localhost:{port}" for port in _free_ports(2))
    processes = [
        subprocess.Popen(
            [sys.executable, SCRIPT, "--workers", workers, "--index", str(i), "--out", str(tmp_path / f"w{i}.npz")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=300) for p in processes]
    finally:
        for p in processes:
            p.kill()
    for p, (out, err) in zip(processes, outputs):
        assert p.returncode == 0, err[-3000:]
        assert "on 2 replica(s)" in out
    reference = np.load(tmp_path / "single.npz")
    names = {key.split("/")[0] for key in reference.files}
    assert names == {
        "zoo_sgd", "zoo_adam", "zoo_nadam", "zoo_adagrad", "zoo_rmsprop", "zoo_lamb", "zoo_novograd",
        "zoo_prodigy", "zoo_cocob", "zoo_lion", "zoo_ranger",
    }
    for i in range(2):
        got = np.load(tmp_path / f"w{i}.npz")
        for key in reference.files:
            if key.endswith("iterations"):
                assert int(got[key]) == int(reference[key]) == 8
            else:
                # Summing two half-batch gradients instead of one batch: float32 reassociation.
                np.testing.assert_allclose(got[key], reference[key], rtol=1e-5, atol=2e-6, err_msg=key)
