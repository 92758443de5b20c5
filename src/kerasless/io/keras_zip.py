"""Keras 3 ``.keras`` files: a zip of metadata.json, config.json and model.weights.h5 (or .npz)."""

from __future__ import annotations

import io
import json
import re
import zipfile

import numpy as np

from ..errors import ModelFileError
from .config import parse_model_config
from .spec import LayerSpec, ModelSpec

# Sub-objects holding a layer's weights, in get_weights() order; absent keys mean "own vars only".
CHILDREN = {
    "Bidirectional": ("forward_layer", "backward_layer"),
    "TimeDistributed": ("layer",),
    "LSTM": ("cell",),
    "GRU": ("cell",),
    "SimpleRNN": ("cell",),
    "MultiHeadAttention": ("query_dense", "key_dense", "value_dense", "output_dense"),
}
# Config key holding each child's own config (for recursing into its class).
CHILD_CONFIG = {"forward_layer": "layer", "backward_layer": "backward_layer", "layer": "layer"}


def snake_case(name: str) -> str:
    """Keras's naming.to_snake_case: the key a layer's weights are stored under."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def read_keras_zip(path: str) -> ModelSpec:
    try:
        zf = zipfile.ZipFile(path)
        names = set(zf.namelist())
        if "config.json" not in names:
            raise ModelFileError(f"{path}: .keras archive has no config.json")
        config = json.loads(zf.read("config.json"))
        meta = json.loads(zf.read("metadata.json")) if "metadata.json" in names else {}
        assets = {n[len("assets/"):]: zf.read(n) for n in names if n.startswith("assets/") and not n.endswith("/")}
        if "model.weights.h5" in names:
            weights = _read_h5_vars(zf.read("model.weights.h5"), path)
        elif "model.weights.npz" in names:
            weights = _read_npz_vars(zf.read("model.weights.npz"))
        else:
            raise ModelFileError(f"{path}: .keras archive has no model.weights.h5 (sharded weights are not supported)")
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, json.JSONDecodeError, ValueError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise ModelFileError(f"{path}: not a readable .keras archive ({type(exc).__name__}: {exc})") from None
    spec = parse_model_config(config, path, str(meta.get("keras_version", "3")))
    spec.assets = assets
    _attach(spec, weights, path)
    return spec


def _read_h5_vars(blob: bytes, path: str) -> dict[str, np.ndarray]:
    import h5py  # lazy: `import kerasless` stays light (h5py costs ~12 MB and tens of ms)

    out = {}
    try:
        with h5py.File(io.BytesIO(blob), "r") as f:
            f.visititems(lambda name, obj: out.__setitem__(name, np.asarray(obj[()])) if isinstance(obj, h5py.Dataset) else None)
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: model.weights.h5 inside the archive is unreadable ({exc})") from None
    return out


def _read_npz_vars(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        return {k.replace("\\", "/"): z[k] for k in z.files}


def _collect(store: dict, prefix: str, class_name: str, config: dict) -> list[tuple[str, np.ndarray]]:
    """Own vars then children's, recursively, in get_weights() order."""
    own = sorted(
        (int(k[len(prefix) + 6:]), k) for k in store if k.startswith(prefix + "/vars/") and k[len(prefix) + 6:].isdigit()
    )
    result = [(k, store[k]) for _, k in own]
    if class_name in ("Sequential", "Functional", "Model"):  # nested model: layers/<snake>[_N] per inner layer
        used: dict[str, int] = {}
        for layer in config.get("layers", []):
            key = _counted(used, snake_case(layer.get("class_name", "")))
            result += _collect(store, f"{prefix}/layers/{key}", layer.get("class_name", ""), layer.get("config", {}))
        return result
    if class_name == "RNN":
        cell = config.get("cell") or {}
        return result + _collect(store, f"{prefix}/cell", cell.get("class_name", ""), cell.get("config", {}))
    if class_name == "StackedRNNCells":
        used = {}
        for cell in config.get("cells", []):
            key = _counted(used, snake_case(cell.get("class_name", "")))
            result += _collect(store, f"{prefix}/cells/{key}", cell.get("class_name", ""), cell.get("config", {}))
        return result
    for child in CHILDREN.get(class_name, ()):
        sub = config.get(CHILD_CONFIG.get(child, ""), None)
        if child == "backward_layer" and not sub:
            sub = config.get("layer")
        sub_cls = sub.get("class_name", "") if isinstance(sub, dict) else ""
        sub_cfg = sub.get("config", {}) if isinstance(sub, dict) else {}
        result += _collect(store, f"{prefix}/{child}", sub_cls, sub_cfg)
    return result


def _counted(used: dict, key: str) -> str:
    used[key] = used.get(key, -1) + 1
    return f"{key}_{used[key]}" if used[key] else key


def _attach(spec: ModelSpec, store: dict, path: str) -> None:
    used: dict[str, int] = {}
    for layer in spec.layers:
        key = snake_case(layer.class_name)
        used[key] = used.get(key, -1) + 1
        if used[key]:
            key = f"{key}_{used[key]}"
        layer.weights = [(k, np.asarray(v)) for k, v in _collect(store, f"layers/{key}", layer.class_name, layer.config)]


__all__ = ["read_keras_zip", "LayerSpec"]
