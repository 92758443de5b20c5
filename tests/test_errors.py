"""Bad files, unsafe files, unsupported layers/options and bad inputs: typed errors naming what was expected."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from builders import chain, rnn_model, rnn_weights

import kerasless
from kerasless import (
    InputError,
    KeraslessError,
    ModelFileError,
    UnsafeModelError,
    UnsupportedLayerError,
    UnsupportedOptionError,
)

FIX = Path(__file__).parent / "fixtures"
KERAS_FILE = FIX / "lstm_basic" / "k3" / "model.keras"
H5_FILE = FIX / "lstm_basic" / "tfk" / "model.h5"
PWNED = Path("/tmp/kerasless_pwned")


def _truncated(src: Path, tmp_path: Path, keep: float) -> Path:
    data = src.read_bytes()
    out = tmp_path / f"cut{src.suffix}"
    out.write_bytes(data[: int(len(data) * keep)])
    return out


def _rewrite_zip(tmp_path, drop=(), replace=None) -> Path:
    out = tmp_path / "edited.keras"
    with zipfile.ZipFile(KERAS_FILE) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.namelist():
            if item in drop:
                continue
            data = src.read(item)
            if replace and item in replace:
                data = replace[item](data)
            dst.writestr(item, data)
    return out


@pytest.mark.parametrize("make", [
    lambda t: t / "missing.keras",
    lambda t: t,  # a directory
    lambda t: (t / "text.keras").write_text("hello") and t / "text.keras",
    lambda t: (t / "empty.h5").write_bytes(b"") or t / "empty.h5",
    lambda t: _truncated(KERAS_FILE, t, 0.5),
    lambda t: _truncated(H5_FILE, t, 0.5),
    lambda t: _truncated(H5_FILE, t, 0.02),
    lambda t: _rewrite_zip(t, drop=("config.json",)),
    lambda t: _rewrite_zip(t, drop=("model.weights.h5",)),
    lambda t: _rewrite_zip(t, replace={"config.json": lambda d: d[:40]}),
    lambda t: _rewrite_zip(t, replace={"model.weights.h5": lambda d: d[: len(d) // 3]}),
], ids=["missing", "directory", "text", "empty", "keras-half", "h5-half", "h5-head", "no-config", "no-weights",
        "bad-json", "bad-weights"])
def test_bad_files_raise_model_file_error(tmp_path, make):
    path = make(tmp_path)
    with pytest.raises(ModelFileError) as err:
        kerasless.load(path)
    assert str(path) in str(err.value)


def test_weights_with_wrong_shapes_are_a_file_error(tmp_path):
    def swap_units(data):
        cfg = json.loads(data)
        cfg["config"]["layers"][1]["config"]["units"] += 1
        return json.dumps(cfg).encode()

    with pytest.raises(ModelFileError, match="expected weights of shapes"):
        kerasless.load(_rewrite_zip(tmp_path, replace={"config.json": swap_units}))


@pytest.mark.parametrize("name", sorted(p.name for p in (FIX / "_unsafe").iterdir() if p.suffix in (".keras", ".h5")))
def test_unsafe_files_are_refused_without_running_code(name):
    PWNED.unlink(missing_ok=True)
    with pytest.raises(UnsafeModelError) as err:
        kerasless.load(FIX / "_unsafe" / name)
    assert "never" in str(err.value)
    assert not PWNED.exists()


def test_unsafe_fixtures_exist():
    assert len(list((FIX / "_unsafe").glob("*lambda*"))) >= 3


def test_unknown_layer_lists_supported():
    with pytest.raises(UnsupportedLayerError, match="StringLookup.*supported: .*LSTM"):
        chain((4, 3), [("StringLookup", {"vocabulary": ["a"]}, [])])


@pytest.mark.parametrize("cls,option,value", [
    ("LSTM", "activation", "my_custom_act"),
    ("LSTM", "implementation", 3),
    ("GRU", "time_major", True),
    ("SimpleRNN", "some_future_option", 1),
    ("LSTM", "dtype", "mixed_float16"),
])
def test_unsupported_option_names_layer_option_value(cls, option, value):
    weights = rnn_weights(cls, 3, 2, np.random.default_rng(0))
    cfg = {"units": 3, option: value, **({"reset_after": True} if cls == "GRU" else {})}
    with pytest.raises(UnsupportedOptionError) as err:
        chain((4, 2), [(cls, cfg, weights)])
    assert "'l0'" in str(err.value) and option in str(err.value) and repr(value) in str(err.value)


@pytest.mark.parametrize("x,expect", [
    (np.zeros((2, 5, 2), np.float32), r"shape \(2, 5, 2\); expected \(batch, 4, 2\)"),
    (np.zeros((4, 2), np.float32), r"expected \(batch, 4, 2\)"),
    (np.zeros((0, 4, 2), np.float32), "empty"),
    (np.array([["a"]]), "dtype"),
    (np.zeros((1, 4, 2), np.complex64), "dtype"),
    ([[["x", 1]]], "dtype"),
])
def test_bad_inputs_state_the_expected_shape(x, expect):
    model = rnn_model("LSTM", 3, 2, 4, np.random.default_rng(0))
    with pytest.raises(InputError, match=expect):
        model.predict(x)


def test_embedding_ids_out_of_range():
    emb = [("embeddings", np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32))]
    model = chain((3,), [("Embedding", {"input_dim": 5, "output_dim": 2}, emb)])
    with pytest.raises(InputError, match=r"\[0, 5\)"):
        model.predict(np.array([[1, 2, 7]]))


def test_every_error_is_a_kerasless_error():
    for cls in (ModelFileError, UnsafeModelError, UnsupportedLayerError, UnsupportedOptionError, InputError):
        assert issubclass(cls, KeraslessError)


def test_loading_never_writes_next_to_the_model(tmp_path):
    shutil.copy(KERAS_FILE, tmp_path / "m.keras")
    kerasless.load(tmp_path / "m.keras").predict(np.zeros((1, 6, 3), np.float32))
    assert os.listdir(tmp_path) == ["m.keras"]
