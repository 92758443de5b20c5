"""Legacy HDF5 model files (``model.save("m.h5")``) by Keras 3, tf.keras 2.x and Keras 2."""

from __future__ import annotations

import json

import numpy as np

from ..errors import ModelFileError
from . import hdf5
from .config import load_json, parse_model_config
from .spec import ModelSpec


def _text(value) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def read_legacy_h5(path: str) -> ModelSpec:
    try:
        root = _pure_root(path)
        if root is not None:
            spec, weights = _read(root, path)
        else:
            import h5py  # lazy: only files outside the pure reader's subset pay for it

            with h5py.File(path, "r") as f:
                spec, weights = _read(f, path)
    except ModelFileError:
        raise
    except (OSError, KeyError, ValueError, RuntimeError, OverflowError) as exc:  # h5py on damaged files
        raise ModelFileError(f"{path}: not a readable Keras HDF5 model ({type(exc).__name__}: {exc})") from None
    for layer in spec.layers:
        layer.weights = weights.get(layer.name, [])
    unknown = set(weights) - {layer.name for layer in spec.layers}
    if unknown:
        raise ModelFileError(f"{path}: weights stored for layers not in the config: {sorted(unknown)}")
    return spec


def _pure_root(path: str) -> hdf5.Group | None:
    """The file read without h5py, or None when it is outside hdf5's subset (or damaged) and h5py must read it."""
    try:
        with open(path, "rb") as f:
            return hdf5.read(f.read())
    except (OSError, hdf5.Unsupported):
        return None


def _read(f, path: str):
    """(spec, weights) from the root group, an h5py File or an hdf5.Group (same interface)."""
    if "model_config" not in f.attrs:
        hint = " (a weights-only file: save the whole model)" if "layer_names" in f.attrs else ""
        raise ModelFileError(f"{path}: HDF5 file has no 'model_config' attribute{hint}")
    config = load_json(_text(f.attrs["model_config"]), path, "the model_config attribute")
    version = _text(f.attrs.get("keras_version", "2"))
    spec = parse_model_config(config, path, version)
    group = f["model_weights"] if "model_weights" in f else f
    return spec, _read_weights(group, path)


def _read_weights(group, path: str) -> dict[str, list[tuple[str, np.ndarray]]]:
    """layer name -> [(weight name, array)] in ``weight_names`` order (= get_weights() order)."""
    out = {}
    for layer_name in (_text(n) for n in group.attrs.get("layer_names", [])):
        if layer_name not in group:
            raise ModelFileError(f"{path}: layer {layer_name!r} is listed in layer_names but has no weight group")
        g = group[layer_name]
        arrays = []
        for wname in (_text(n) for n in g.attrs.get("weight_names", [])):
            if wname not in g:
                raise ModelFileError(f"{path}: layer {layer_name!r} lists weight {wname!r} but the file lacks it")
            arrays.append((wname.removesuffix(":0"), np.asarray(g[wname][()])))
        if arrays:
            out[layer_name] = arrays
    return out
