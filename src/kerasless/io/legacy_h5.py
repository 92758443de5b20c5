"""Legacy HDF5 model files (``model.save("m.h5")``) by Keras 3, tf.keras 2.x and Keras 2."""

from __future__ import annotations

import os

import numpy as np

from ..errors import ModelFileError
from . import hdf5, isolated
from .config import load_json, parse_model_config
from .limits import Limits
from .spec import ModelSpec


def _text(value, path: str = "", what: str = "attribute") -> str:
    if not isinstance(value, bytes):
        return str(value)
    try:
        return value.decode("utf8")
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"{path}: the {what} is not UTF-8 text (byte {exc.start})") from None


def read_legacy_h5(path: str, limits: Limits | None = None) -> ModelSpec:
    """A legacy ``.h5`` model file -> ModelSpec. Read by the built-in reader; files outside its subset by h5py in an
    isolated child process (io/isolated.py). Nothing outside the file is ever read."""
    limits = limits or Limits()
    image = read_bounded(path, limits)
    root = root_group(image, path, limits)
    spec, weights = _read(root, path)
    for layer in spec.layers:
        layer.weights = weights.get(layer.name, [])
    unknown = set(weights) - {layer.name for layer in spec.layers}
    if unknown:
        raise ModelFileError(f"{path}: weights stored for layers not in the config: {sorted(unknown)}")
    return spec


def read_bounded(path: str, limits: Limits) -> bytes:
    """The whole file, after checking its size against the limit."""
    try:
        with open(path, "rb") as f:
            limits.check(os.fstat(f.fileno()).st_size, path, "the file")
            return f.read()
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read the file ({exc.strerror or exc})") from None


def root_group(image: bytes, source: str, limits: Limits) -> hdf5.Group:
    """An HDF5 image's root group: the built-in reader, else h5py isolated in a child process."""
    try:
        return hdf5.read(image)
    except hdf5.Unsupported:
        return isolated.read(image, source, limits)


def _read(f: hdf5.Group, path: str):
    """(spec, weights) from the root group."""
    if "model_config" not in f.attrs:
        hint = " (a weights-only file: save the whole model)" if "layer_names" in f.attrs else ""
        raise ModelFileError(f"{path}: HDF5 file has no 'model_config' attribute{hint}")
    text = _text(f.attrs["model_config"], path, "model_config attribute")
    config = load_json(text, path, "the model_config attribute")
    version = _text(f.attrs.get("keras_version", "2"), path, "keras_version attribute")
    spec = parse_model_config(config, path, version)
    group = f["model_weights"] if "model_weights" in f else f
    if not isinstance(group, hdf5.Group):
        raise ModelFileError(f"{path}: 'model_weights' should be a group, the file has a dataset")
    return spec, _read_weights(group, path)


def _names(node: hdf5.Group, key: str, path: str, where: str) -> list[str]:
    """A list-of-names attribute (layer_names, weight_names) as strings; typed errors for anything else."""
    value = node.attrs.get(key, [])
    items = np.asarray(value, dtype=object).ravel().tolist() if not isinstance(value, (str, bytes)) else [value]
    try:
        return [_text(n) if isinstance(n, (str, bytes)) else _fail(n) for n in items]
    except (UnicodeDecodeError, TypeError):
        raise ModelFileError(f"{path}: {where} attribute {key!r} should be a list of names, got "
                             f"{str(value)[:80]}") from None


def _fail(value):
    raise TypeError(value)


def _read_weights(group: hdf5.Group, path: str) -> dict[str, list[tuple[str, np.ndarray]]]:
    """layer name -> [(weight name, array)] in ``weight_names`` order (= get_weights() order)."""
    out = {}
    for layer_name in _names(group, "layer_names", path, "the weights group's"):
        g = group[layer_name] if layer_name in group else None
        if not isinstance(g, hdf5.Group):
            raise ModelFileError(f"{path}: layer {layer_name!r} is listed in layer_names but has no weight group")
        arrays = []
        for wname in _names(g, "weight_names", path, f"layer {layer_name!r}'s"):
            w = g[wname] if wname in g else None
            if not isinstance(w, np.ndarray):
                raise ModelFileError(f"{path}: layer {layer_name!r} lists weight {wname!r} but the file lacks it")
            if w.dtype.kind not in "biuf":
                raise ModelFileError(f"{path}: layer {layer_name!r} weight {wname!r} has dtype {w.dtype}; "
                                     "weights must be numbers")
            arrays.append((wname.removesuffix(":0"), w))
        if arrays:
            out[layer_name] = arrays
    return out
