"""The pure-NumPy HDF5 and zip readers (cold start without h5py/zipfile) against h5py/zipfile, and their fallbacks."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

import kerasless
from kerasless.io import hdf5, keras_zip, legacy_h5
from kerasless.io.limits import Limits

FIX = Path(__file__).parent / "fixtures"
KERAS_FILES = sorted(FIX.rglob("*.keras"))
H5_FILES = sorted(FIX.rglob("*.h5"))
KERAS_FILE = FIX / "lstm_basic" / "k3" / "model.keras"
H5_FILE = FIX / "lstm_basic" / "tfk" / "model.h5"


def _ids(paths):  # without the ".keras" suffix, so `pytest -k "not keras"` (no TensorFlow) still runs them
    return [str(p.relative_to(FIX).with_suffix("")) for p in paths]


def _weights_blob(path: Path) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return zf.read("model.weights.h5")


def _h5py_tree(blob: bytes) -> tuple[dict, dict]:
    """(dataset path -> array, group path -> attrs) as h5py reads them."""
    arrays, attrs = {}, {}
    with h5py.File(io.BytesIO(blob), "r") as f:
        attrs[""] = dict(f.attrs)
        f.visititems(lambda name, obj: arrays.__setitem__(name, np.asarray(obj[()])) if isinstance(obj, h5py.Dataset)
                     else attrs.__setitem__(name, dict(obj.attrs)))
    return arrays, attrs


def _pure_attrs(group: hdf5.Group, prefix: str = "") -> dict:
    out = {prefix.rstrip("/"): group.attrs}
    for name, node in dict.items(group):
        if isinstance(node, hdf5.Group):
            out.update(_pure_attrs(node, f"{prefix}{name}/"))
    return out


def _identical(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        if a.dtype == object:
            return a.shape == b.shape and a.tolist() == b.tolist()
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    return a == b


def assert_same_as_h5py(blob: bytes):
    arrays, attrs = _h5py_tree(blob)
    root = hdf5.read(blob)
    pure_arrays, pure_attrs = hdf5.datasets(root), _pure_attrs(root)
    assert sorted(pure_arrays) == sorted(arrays)
    for name, a in arrays.items():
        assert _identical(pure_arrays[name], a), name
    assert sorted(pure_attrs) == sorted(attrs)
    for group, values in attrs.items():
        assert sorted(pure_attrs[group]) == sorted(values), group
        for key, value in values.items():
            assert _identical(pure_attrs[group][key], value), (group, key)


@pytest.mark.parametrize("path", KERAS_FILES, ids=_ids(KERAS_FILES))
def test_zipped_weights_same_as_h5py(path):
    assert_same_as_h5py(_weights_blob(path))


@pytest.mark.parametrize("path", H5_FILES, ids=_ids(H5_FILES))
def test_legacy_h5_same_as_h5py(path):
    assert_same_as_h5py(path.read_bytes())


@pytest.mark.parametrize("path", KERAS_FILES, ids=_ids(KERAS_FILES))
def test_zip_members_same_as_zipfile(path):
    data = path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        members = keras_zip._stored_members(io.BytesIO(data), len(data))
        assert {n: data[s:s + z] for n, (s, z, _) in members.items()} == {n: zf.read(n) for n in zf.namelist()}


# -- fallbacks: outside the subset -> h5py (isolated in a child process) / zipfile, same results -----------------------------------------------
def _rewrite_weights(src: bytes, **create) -> bytes:
    """The same HDF5 tree re-written with h5py dataset options (e.g. gzip chunks) or file options (libver)."""
    out = io.BytesIO()
    libver = create.pop("libver", None)
    with h5py.File(io.BytesIO(src), "r") as f, h5py.File(out, "w", libver=libver) as g:
        def copy(name, obj):
            if isinstance(obj, h5py.Dataset):
                extra = create if obj.shape else {}
                g.create_dataset(name, data=obj[()], **extra)
            else:
                g.require_group(name)
            g[name].attrs.update(dict(obj.attrs))
        g.attrs.update(dict(f.attrs))
        f.visititems(copy)
    return out.getvalue()


def _rezip(tmp_path: Path, weights: bytes | None = None, compression=zipfile.ZIP_STORED) -> Path:
    out = tmp_path / "rewritten.keras"
    with zipfile.ZipFile(KERAS_FILE) as src, zipfile.ZipFile(out, "w", compression) as dst:
        for name in src.namelist():
            dst.writestr(name, weights if name == "model.weights.h5" and weights is not None else src.read(name))
    return out


def _x(path: Path) -> np.ndarray:
    return np.load(path.parent / "x.npy")


@pytest.mark.parametrize("options", [{"compression": "gzip", "chunks": True}, {"libver": "latest"}, {"chunks": True}],
                         ids=["gzip", "libver-latest", "chunked"])
def test_zipped_weights_fall_back_to_h5py(tmp_path, options):
    blob = _rewrite_weights(_weights_blob(KERAS_FILE), **options)
    with pytest.raises(hdf5.Unsupported):
        hdf5.read(blob)
    assert {k: v.tobytes() for k, v in hdf5.datasets(legacy_h5.root_group(blob, "x", Limits())).items()} == \
        {k: v.tobytes() for k, v in hdf5.datasets(hdf5.read(_weights_blob(KERAS_FILE))).items()}
    expected = kerasless.load(KERAS_FILE).predict(_x(KERAS_FILE))
    np.testing.assert_array_equal(kerasless.load(_rezip(tmp_path, blob)).predict(_x(KERAS_FILE)), expected)


def test_deflated_archive_falls_back_to_zipfile(tmp_path):
    path = _rezip(tmp_path, compression=zipfile.ZIP_DEFLATED)
    assert keras_zip._stored_members(io.BytesIO(path.read_bytes()), path.stat().st_size) is None
    expected = kerasless.load(KERAS_FILE).predict(_x(KERAS_FILE))
    np.testing.assert_array_equal(kerasless.load(path).predict(_x(KERAS_FILE)), expected)


def test_legacy_h5_falls_back_to_h5py(tmp_path):
    path = tmp_path / "latest.h5"
    path.write_bytes(_rewrite_weights(H5_FILE.read_bytes(), libver="latest"))
    with pytest.raises(hdf5.Unsupported):
        hdf5.read(path.read_bytes())
    np.testing.assert_array_equal(kerasless.load(path).predict(_x(H5_FILE)), kerasless.load(H5_FILE).predict(_x(H5_FILE)))


# -- damaged files: the pure readers never hang or crash; the outcome is exactly (isolated) h5py's ----------------------------
def _outcome(path: Path):
    try:
        model = kerasless.load(path)
    except Exception as exc:  # noqa: BLE001  (the same outcome, whatever it is)
        return (type(exc).__name__, str(exc).split(" (")[0])  # h5py's details vary with its history in a process
    return ("ok", [(name, w.dtype, w.tobytes()) for layer in model.spec.layers for name, w in layer.weights])


def _damaged(blob: bytes, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    data = bytearray(blob)
    if seed % 3 == 0:
        return bytes(data[: int(rng.integers(0, len(data)))])  # truncated
    for pos in rng.integers(0, len(data) if seed % 3 == 1 else 2048, size=int(rng.integers(1, 8))):
        data[pos] = int(rng.integers(0, 256))  # anywhere / in the superblock, headers and B-trees at the start
    return bytes(data)


@pytest.mark.parametrize("seed", range(30))
def test_damaged_zipped_weights_same_outcome_as_h5py(tmp_path, monkeypatch, seed):
    path = _rezip(tmp_path, _damaged(_weights_blob(KERAS_FILE), seed))
    pure = _outcome(path)
    monkeypatch.setattr(hdf5, "read", lambda blob: (_ for _ in ()).throw(hdf5.Unsupported("off")))
    assert pure == _outcome(path)


@pytest.mark.parametrize("seed", range(30))
def test_damaged_legacy_h5_same_outcome_as_h5py(tmp_path, monkeypatch, seed):
    path = tmp_path / "damaged.h5"
    path.write_bytes(_damaged(H5_FILE.read_bytes(), seed))
    pure = _outcome(path)
    monkeypatch.setattr(hdf5, "read", lambda blob: (_ for _ in ()).throw(hdf5.Unsupported("off")))
    assert pure == _outcome(path)


@pytest.mark.parametrize("seed", range(30))
def test_damaged_zip_same_outcome_as_zipfile(tmp_path, monkeypatch, seed):
    path = tmp_path / "damaged.keras"
    path.write_bytes(_damaged(KERAS_FILE.read_bytes()[::-1], seed)[::-1])  # damage the end: central directory
    pure = _outcome(path)
    monkeypatch.setattr(keras_zip, "_stored_members", lambda f, size: None)
    assert pure == _outcome(path)


# -- cold start ---------------------------------------------------------------------------------------------------
HEAVY = ("h5py", "zipfile", "pathlib", "subprocess", "dataclasses", "kerasless.explain", "kerasless.export")


@pytest.mark.parametrize("path", [KERAS_FILE, H5_FILE], ids=["zip", "h5"])
def test_load_and_predict_import_nothing_heavy(path):
    """Cold start: import + load + first predict pulls in none of these (each costs milliseconds)."""
    code = ("import sys, numpy as np, kerasless; "
            f"kerasless.load({str(path)!r}).predict(np.load({str(path.parent / 'x.npy')!r})); "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
