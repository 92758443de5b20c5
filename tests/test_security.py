"""Untrusted model files (issue 11 regressions): nothing read outside the file, no crash or hang of the caller, bounded
memory, typed errors naming the file. Each defect found by the fuzzing has one line here; tests/fuzz covers families."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

import kerasless
from kerasless import InputError, KeraslessError, ModelFileError

FIX = Path(__file__).parent / "fixtures"
KERAS_FILE = FIX / "lstm_basic" / "k3" / "model.keras"
K3_H5 = FIX / "lstm_basic" / "k3" / "model.h5"
TFK_H5 = FIX / "lstm_basic" / "tfk" / "model.h5"
CANARY_VALUE = np.float32(1234.5678)


@pytest.fixture
def canary(tmp_path):
    """A file full of a float32 pattern no model holds: it must never become weights."""
    path = tmp_path / "canary.bin"
    path.write_bytes(np.full(1 << 16, CANARY_VALUE, np.float32).tobytes())
    return path


def assert_refused(path: Path, match: str | None = None, **kw) -> ModelFileError:
    with pytest.raises(ModelFileError, match=match) as err:
        kerasless.load(path, **kw)
    assert str(path) in str(err.value)
    return err.value


# -- HDF5 pointing outside the file ---------------------------------------------------------------------------------
def _rewrite_h5(src: bytes, edit) -> bytes:
    """The HDF5 image copied with h5py, then ``edit(file)`` applied (replace a dataset, add a link ...)."""
    out = io.BytesIO()
    with h5py.File(io.BytesIO(src), "r") as f, h5py.File(out, "w") as g:
        for k, v in f.attrs.items():
            g.attrs[k] = v
        for name in f:
            f.copy(f[name], g, name=name)
        edit(g)
    return out.getvalue()


def _kernel_path(g: h5py.File) -> str:
    found = []
    g.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) and o.ndim == 2 else None)
    return found[0]


def _external(canary):
    def edit(g):
        name = _kernel_path(g)
        shape = g[name].shape
        del g[name]
        g.create_dataset(name, shape, "<f4", external=[(str(canary), 0, int(np.prod(shape)) * 4)])
    return edit


def _virtual(canary):
    def edit(g):
        name = _kernel_path(g)
        shape = g[name].shape
        del g[name]
        src = canary.with_suffix(".h5")
        with h5py.File(src, "w") as c:
            c["data"] = np.full(shape, CANARY_VALUE, np.float32)
        layout = h5py.VirtualLayout(shape, "<f4")
        layout[...] = h5py.VirtualSource(str(src), "data", shape)
        g.create_virtual_dataset(name, layout)
    return edit


def _external_link(canary):
    def edit(g):
        name = _kernel_path(g)
        del g[name]
        src = canary.with_suffix(".link.h5")
        with h5py.File(src, "w") as c:
            c["data"] = np.full((8, 8), CANARY_VALUE, np.float32)
        g[name] = h5py.ExternalLink(str(src), "data")
    return edit


@pytest.mark.parametrize("how", [_external, _virtual, _external_link], ids=["external-storage", "vds", "external-link"])
@pytest.mark.parametrize("where", ["legacy-h5", "keras-weights"])
def test_hdf5_that_points_outside_the_file_is_refused(tmp_path, canary, how, where):
    if where == "legacy-h5":
        path = tmp_path / "m.h5"
        path.write_bytes(_rewrite_h5(TFK_H5.read_bytes(), how(canary)))
    else:
        path = _rezip(tmp_path, {"model.weights.h5": lambda d: _rewrite_h5(d, how(canary))})
    err = assert_refused(path, "external|virtual")
    assert str(CANARY_VALUE) not in str(err)


# -- libhdf5 crashing or looping: isolated, typed -------------------------------------------------------------------
def test_a_file_that_crashes_libhdf5_is_a_typed_error(tmp_path):
    data = bytearray(K3_H5.read_bytes())
    data[1009] ^= 0x02  # a flag bit of model_config's datatype message: h5py segfaults reading the attribute
    path = tmp_path / "segv.h5"
    path.write_bytes(data)
    assert_refused(path, "crashed")


def test_a_file_that_makes_libhdf5_loop_is_a_typed_error(tmp_path, monkeypatch):
    data = bytearray(K3_H5.read_bytes())
    data[3840:3968] = b"\xff" * 128  # inside the global heap holding model_config: h5py spins forever
    path = tmp_path / "hang.h5"
    path.write_bytes(data)
    monkeypatch.setenv("KERASLESS_H5PY_TIMEOUT", "2")
    assert_refused(path, "did not finish")


# -- bounded memory -------------------------------------------------------------------------------------------------
def _rezip(tmp_path: Path, replace=None, extra=None, compression=zipfile.ZIP_STORED, src=KERAS_FILE) -> Path:
    out = tmp_path / "edited.keras"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", compression) as zout:
        for name in zin.namelist():
            data = zin.read(name)
            zout.writestr(name, replace[name](data) if replace and name in replace else data)
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    return out


def _bomb(tmp_path, entry: str, nbytes: int) -> Path:
    out = tmp_path / "bomb.keras"
    with zipfile.ZipFile(KERAS_FILE) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in zin.namelist():
            if name != entry:
                zout.writestr(name, zin.read(name))
        with zout.open(entry, "w", force_zip64=True) as f:
            block = b"\0" * (1 << 24)
            for _ in range(nbytes // len(block)):
                f.write(block)
    return out


@pytest.mark.parametrize("entry", ["config.json", "model.weights.h5", "metadata.json"])
def test_zip_bombs_are_refused_before_inflating(tmp_path, entry):
    assert_refused(_bomb(tmp_path, entry, 256 << 20), "decompression bomb")


def test_zip_entries_over_the_limit_are_refused(tmp_path):
    assert_refused(_rezip(tmp_path), "over the limit", max_bytes=1000)


def test_assets_are_read_only_when_used(tmp_path):
    import tracemalloc

    path = _rezip(tmp_path, extra={"assets/big.bin": b"\1" * (64 << 20)})
    tracemalloc.start()
    model = kerasless.load(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 << 20, f"load peaked at {peak:,} bytes with a 64 MB asset it does not use"
    assert "big.bin" in model.spec.assets and len(model.spec.assets["big.bin"]) == 64 << 20


def _huge_dataset(g: h5py.File, chunked: bool) -> None:
    name = _kernel_path(g)
    del g[name]
    if chunked:
        g.create_dataset(name, (10**6, 10**5), "<f4", chunks=(1000, 1000), compression="gzip")
    else:
        g.create_dataset(name, (10**6, 10**6), "<f4")  # contiguous, never written: nothing stored


@pytest.mark.parametrize("chunked", [True, False], ids=["gzip-chunks", "unallocated"])
def test_huge_declared_shapes_are_refused_before_allocating(tmp_path, chunked):
    path = tmp_path / "huge.h5"
    path.write_bytes(_rewrite_h5(TFK_H5.read_bytes(), lambda g: _huge_dataset(g, chunked)))
    assert path.stat().st_size < 1 << 20
    assert_refused(path, "over the limit|stores|ratio")


def test_npy_header_is_checked_before_allocating(tmp_path):
    arr = io.BytesIO()
    np.save(arr, np.zeros((2, 2), np.float32))
    fake = arr.getvalue().replace(b"(2, 2)", b"(1000000, 1000000)".ljust(6))
    npz = io.BytesIO()
    with zipfile.ZipFile(npz, "w") as z:
        z.writestr("layers/lstm/cell/vars/0.npy", fake)
    path = _rezip(tmp_path, extra={"model.weights.npz": npz.getvalue()})
    with zipfile.ZipFile(path) as z:  # drop the .h5 weights so the .npz is read
        entries = {n: z.read(n) for n in z.namelist() if n != "model.weights.h5"}
    with zipfile.ZipFile(path, "w") as z:
        for n, d in entries.items():
            z.writestr(n, d)
    assert_refused(path, "declares shape")


def test_predict_memory_stays_bounded_at_any_batch_size():
    import tracemalloc

    model = kerasless.load(FIX / "lstm_seq_dense" / "k3" / "model.keras")
    x = np.random.default_rng(0).normal(size=(8192, *model.input_shape[1:])).astype(np.float32)
    model.predict(x[:8])
    tracemalloc.start()
    y = model.predict(x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2 * y.nbytes + (8 << 20), f"predict peaked at {peak:,} bytes for {y.nbytes:,} bytes of output"
    np.testing.assert_array_equal(y, model.predict(x, batch_size=len(x)))


# -- typed errors for damaged zips and wrong-typed configs -----------------------------------------------------------
def _edit_config(edit):
    def apply(data):
        cfg = json.loads(data)
        edit(cfg)
        return json.dumps(cfg).encode()
    return apply


def _layer(cfg, i=1):
    return cfg["config"]["layers"][i]


CONFIG_EDITS = {
    "class-name-dict": lambda c: _layer(c).__setitem__("class_name", {"a": 1}),
    "layer-name-list": lambda c: _layer(c)["config"].__setitem__("name", ["x"]),
    "layer-config-number": lambda c: _layer(c).__setitem__("config", 5),
    "dtype-config-5": lambda c: _layer(c)["config"].__setitem__("dtype", {"config": 5}),
    "missing-units": lambda c: _layer(c)["config"].pop("units"),
    "units-string": lambda c: _layer(c)["config"].__setitem__("units", "7"),
    "batch-shape-nan": lambda c: _layer(c, 0)["config"].__setitem__("batch_shape", [None, float("nan"), 3]),
    "model-name-list": lambda c: c["config"].__setitem__("name", [1]),
    "layers-not-list": lambda c: c["config"].__setitem__("layers", {"a": 1}),
}


@pytest.mark.parametrize("edit", CONFIG_EDITS.values(), ids=CONFIG_EDITS.keys())
def test_wrong_typed_config_values_are_typed_errors(tmp_path, edit):
    path = _rezip(tmp_path, {"config.json": _edit_config(edit)})
    with pytest.raises(KeraslessError) as err:
        kerasless.load(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("data", [b"42", b"[1, 2]", b"[" * 5000 + b"]" * 5000, b"{\"a\": " * 200 + b"1" + b"}" * 200],
                         ids=["number", "list", "deep-list", "deep-object"])
@pytest.mark.parametrize("entry", ["config.json", "metadata.json"])
def test_bad_json_is_a_typed_error(tmp_path, entry, data):
    assert_refused(_rezip(tmp_path, {entry: lambda _: data}), "JSON|nests")


def test_nan_tensor_reference_is_a_typed_error(tmp_path):
    src = FIX / "two_input_concat" / "k3" / "model.keras"
    def edit(c):
        c["config"]["output_layers"][1] = float("nan")
    assert_refused(_rezip(tmp_path, {"config.json": _edit_config(edit)}, src=src), "tensor reference")


def test_output_that_no_layer_produces_is_refused_at_load(tmp_path):
    src = FIX / "two_input_concat" / "k3" / "model.keras"
    def edit(c):
        c["config"]["output_layers"][2] = 7
    assert_refused(_rezip(tmp_path, {"config.json": _edit_config(edit)}, src=src), "produces")


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA], ids=["bzip2", "lzma"])
def test_other_compression_methods_load(tmp_path, method):
    x = np.load(KERAS_FILE.parent / "x.npy")
    np.testing.assert_array_equal(kerasless.load(_rezip(tmp_path, compression=method)).predict(x),
                                  kerasless.load(KERAS_FILE).predict(x))


@pytest.mark.parametrize("patch", ["method-99", "encrypted", "duplicate", "deflate-garbage"])
def test_damaged_zip_entries_are_typed_errors(tmp_path, patch):
    path = _rezip(tmp_path, compression=zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    cd = data.rfind(b"PK\x01\x02", 0, data.rfind(b"PK\x05\x06"))  # the last central directory entry
    with zipfile.ZipFile(path) as z:
        last = z.infolist()[-1]
    if patch == "method-99":
        data[cd + 10:cd + 12] = (99).to_bytes(2, "little")
        data[last.header_offset + 8:last.header_offset + 10] = (99).to_bytes(2, "little")
    elif patch == "encrypted":
        data[cd + 8] |= 1
        data[last.header_offset + 6] |= 1
    elif patch == "duplicate":
        path = _rezip(tmp_path, extra={"config.json": b"{}"})
        data = bytearray(path.read_bytes())
    else:
        start = last.header_offset + 30 + len(last.filename) + len(last.extra)
        data[start:start + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))
    assert_refused(path)


def test_a_layer_group_replaced_by_a_dataset_is_a_typed_error(tmp_path):
    def edit(g):
        del g["model_weights/lstm"]
        g["model_weights/lstm"] = np.zeros(3, np.float32)
    path = tmp_path / "m.h5"
    path.write_bytes(_rewrite_h5(TFK_H5.read_bytes(), edit))
    assert_refused(path, "no weight group")


@pytest.mark.parametrize("dtype", [np.dtype([("a", "<f4"), ("b", "<i4")]), h5py.string_dtype(), h5py.ref_dtype],
                         ids=["compound", "vlen-string", "reference"])
def test_non_numeric_weights_are_typed_errors(tmp_path, dtype):
    def edit(g):
        name = _kernel_path(g)
        del g[name]
        g.create_dataset(name, (3,), dtype)
    path = tmp_path / "m.h5"
    path.write_bytes(_rewrite_h5(TFK_H5.read_bytes(), edit))
    assert_refused(path, "dtype")


def test_zero_sized_kernel_is_refused_at_load(tmp_path):
    def edit(g):
        name = _kernel_path(g)
        cols = g[name].shape[1]
        del g[name]
        g[name] = np.zeros((0, cols), np.float32)
    path = tmp_path / "m.h5"
    path.write_bytes(_rewrite_h5(TFK_H5.read_bytes(), edit))
    assert_refused(path, "empty shape")


def test_inputs_with_different_batch_sizes_are_an_input_error():
    model = kerasless.load(FIX / "two_input_concat" / "k3" / "model.keras")
    xs = [np.zeros((n, *s[1:]), np.float32) for n, s in zip((2, 3), model.input_shapes)]
    with pytest.raises(InputError, match="same batch size"):
        model.predict(xs)


# -- fuzz findings (tests/fuzz) -------------------------------------------------------------------------------------
def _functional(name: str) -> Path:
    return FIX / name / "k3" / "model.keras"


FUZZ_CONFIG_EDITS = {  # (fixture, edit, error class, message)
    "functional-body-list": ("two_input_concat", lambda c: c.__setitem__("config", c["config"]["layers"]),
                             ModelFileError, "functional model's config"),
    "unknown-activation": ("lstm_basic", lambda c: _layer(c)["config"].__setitem__("activation", "nope"),
                           kerasless.UnsupportedOptionError, "nope"),
    "cell-config-number": ("rnn_cells", lambda c: _layer(c)["config"].__setitem__("cell", 5), KeraslessError, "cell"),
    "repeat-vector-huge": ("repeat_vector", lambda c: _layer(c, 2)["config"].__setitem__("n", 10**9),
                           ModelFileError, "over the limit"),
}


@pytest.mark.parametrize("case", FUZZ_CONFIG_EDITS.values(), ids=FUZZ_CONFIG_EDITS.keys())
def test_fuzzed_configs_are_typed_errors_naming_the_file(tmp_path, case):
    fixture, edit, error, match = case
    path = _rezip(tmp_path, {"config.json": _edit_config(edit)}, src=_functional(fixture))
    with pytest.raises(error, match=match) as err:
        kerasless.load(path)
    assert str(path) in str(err.value)


def test_non_utf8_model_config_is_a_typed_error(tmp_path):
    def edit(g):
        g.attrs["model_config"] = np.bytes_(b"\xff\xfe{}")
    path = tmp_path / "m.h5"
    path.write_bytes(_rewrite_h5(TFK_H5.read_bytes(), edit))
    assert_refused(path, "UTF-8")


def test_string_weights_in_a_keras_zip_are_typed_errors(tmp_path):
    def edit(data):
        def swap(g):
            name = _kernel_path(g)
            del g[name]
            g.create_dataset(name, (3,), h5py.string_dtype())
        return _rewrite_h5(data, swap)
    assert_refused(_rezip(tmp_path, {"model.weights.h5": edit}), "weights must be numbers")


def test_unsupported_zip_version_is_a_typed_error(tmp_path):
    path = _rezip(tmp_path, compression=zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    cd = data.find(b"PK\x01\x02")
    data[cd + 6:cd + 8] = (99).to_bytes(2, "little")  # "version needed to extract": 9.9
    path.write_bytes(bytes(data))
    assert_refused(path, "zip")


def test_damaged_npy_header_is_a_typed_error(tmp_path):
    arr = io.BytesIO()
    np.save(arr, np.zeros((2, 2), np.float32))
    fake = arr.getvalue().replace(b"(2, 2)", b"((2, 2")  # unclosed bracket: tokenize.TokenError inside NumPy
    npz = io.BytesIO()
    with zipfile.ZipFile(npz, "w") as z:
        z.writestr("layers/lstm/cell/vars/0.npy", fake)
    path = _rezip(tmp_path, extra={"model.weights.npz": npz.getvalue()})
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist() if n != "model.weights.h5"}
    with zipfile.ZipFile(path, "w") as z:
        for n, d in entries.items():
            z.writestr(n, d)
    assert_refused(path, "not a .npy array")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    import os

    path = tmp_path / "model.keras"
    os.mkfifo(path)
    assert_refused(path, "not a regular file")


@pytest.mark.parametrize("wrap", ["list", "tuple", "dict"])
def test_one_input_model_takes_its_input_wrapped_like_keras(wrap):
    model = kerasless.load(KERAS_FILE)
    x = np.load(KERAS_FILE.parent / "x.npy")
    inputs = {"list": [x], "tuple": (x,), "dict": {model.input_names[0]: x}}[wrap]
    np.testing.assert_array_equal(model.predict(inputs), model.predict(x))


def test_a_call_argument_left_at_its_default_none_is_accepted(tmp_path):
    """tf_keras may record ``constants=None`` on a Bidirectional call: None is the default, not an option."""
    src = FIX / "bidir_none_state" / "tfk"

    def edit(g):
        cfg = json.loads(g.attrs["model_config"])
        cfg["config"]["layers"][1]["inbound_nodes"][0][0][3] = {"constants": None, "initial_state": None}
        g.attrs["model_config"] = json.dumps(cfg)
    path = tmp_path / "m.h5"
    path.write_bytes(_rewrite_h5((src / "model.h5").read_bytes(), edit))
    x = np.load(src / "x.npy")
    for got, want in zip(kerasless.load(path).predict(x), kerasless.load(src / "model.h5").predict(x)):
        np.testing.assert_array_equal(got, want)


def test_predict_on_a_huge_broadcast_input_is_a_typed_error():
    """A zero-byte broadcast view declaring 10^9 rows: refused before anything that size is allocated."""
    model = kerasless.load(KERAS_FILE)
    x = np.broadcast_to(np.zeros((1, *model.input_shape[1:]), np.float64), (10**9, *model.input_shape[1:]))
    with pytest.raises(InputError, match="over the limit"):
        model.predict(x)


def _reshaped_weight(tmp_path, fixture: str, layer: str, index: int, shape) -> Path:
    src = FIX / fixture / "k3" / "model.keras"

    def edit(data):
        def swap(g):
            name = f"layers/{layer}/vars/{index}"
            value = np.resize(g[name][()], shape).astype(np.float32)
            del g[name]
            g[name] = value
        return _rewrite_h5(data, swap)
    return _rezip(tmp_path, {"model.weights.h5": edit}, src=src)


@pytest.mark.parametrize("fixture,layer,index,shape", [
    ("einsum_dense", "einsum_dense_2", 1, (1, 3)),  # bias (2, 3) for bias_axes "de"
    ("layernorm_rms", "layer_normalization", 0, (5,)),  # gamma (4,)
], ids=["einsum-bias", "layernorm-gamma"])
def test_weights_of_the_wrong_shape_are_refused_at_load(tmp_path, fixture, layer, index, shape):
    assert_refused(_reshaped_weight(tmp_path, fixture, layer, index, shape), "shape")


@pytest.mark.parametrize("fixture,layer,index,shape", [
    ("rms_norm", "rms_normalization", 0, (7,)),  # scale (6,)
    ("stacked_cells", "rnn/cell/cells/gru_cell", 0, (3, 9)),  # the second cell's kernel (4, 9)
], ids=["rms-scale", "stacked-cell-kernel"])
def test_more_weights_of_the_wrong_shape_are_refused_at_load(tmp_path, fixture, layer, index, shape):
    assert_refused(_reshaped_weight(tmp_path, fixture, layer, index, shape), "shape|takes")
