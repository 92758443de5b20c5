"""The command line: a thin table over the API, clean errors (exit 2, no traceback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kerasless.cli import main

FIX = Path(__file__).parent / "fixtures" / "lstm_basic" / "k3"


def test_predict_writes_keras_output(tmp_path):
    out = tmp_path / "y.npy"
    assert main(["predict", str(FIX / "model.keras"), str(FIX / "x.npy"), "--out", str(out)]) == 0
    np.testing.assert_allclose(np.load(out), np.load(FIX / "y.npy"), atol=1e-5)


def test_predict_prints(capsys):
    assert main(["predict", str(FIX / "model.h5"), str(FIX / "x.npy")]) == 0
    assert "[[" in capsys.readouterr().out


def test_summary(capsys):
    assert main(["summary", str(FIX / "model.keras")]) == 0
    out = capsys.readouterr().out
    assert "LSTM" in out and "Total params" in out


@pytest.mark.parametrize("argv,message", [
    (["summary", "/nonexistent.keras"], "no such file"),
    (["predict", str(FIX / "model.keras"), str(FIX / "model.keras")], "error"),
])
def test_errors_exit_2_without_traceback(argv, message):
    proc = subprocess.run([sys.executable, "-m", "kerasless", *argv], capture_output=True, text=True)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_predict_wrong_shape_is_clean(tmp_path):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((2, 3), np.float32))
    proc = subprocess.run([sys.executable, "-m", "kerasless", "predict", str(FIX / "model.keras"), str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "expected (batch, 6, 3)" in proc.stderr and "Traceback" not in proc.stderr
