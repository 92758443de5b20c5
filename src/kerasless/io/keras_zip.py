"""Keras 3 ``.keras`` files: a zip of metadata.json, config.json and model.weights.h5 (or .npz)."""

from __future__ import annotations

import io
import json
import re
import struct
import zlib

import numpy as np

from ..errors import ModelFileError
from . import hdf5
from .config import load_json, parse_model_config
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
        with open(path, "rb") as f:
            members = _stored_members(f.read())
        if members is not None:
            config, meta, assets, weights = _contents(set(members), members.__getitem__, path)
        else:
            import zipfile  # lazy: only archives _stored_members leaves to it pay for its import (~15 ms)

            try:
                zf = zipfile.ZipFile(path)
                config, meta, assets, weights = _contents(set(zf.namelist()), zf.read, path)
            except zipfile.BadZipFile as exc:
                raise ModelFileError(f"{path}: not a readable .keras archive ({type(exc).__name__}: {exc})") from None
    except (EOFError, OSError, KeyError, json.JSONDecodeError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a readable .keras archive ({type(exc).__name__}: {exc})") from None
    spec = parse_model_config(config, path, str(meta.get("keras_version", "3")))
    spec.assets = assets
    _attach(spec, weights, path)
    return spec


def _contents(names: set, read, path: str) -> tuple[dict, dict, dict, dict]:
    """config, metadata, assets and weights of an archive, given its member names and read(name) -> bytes."""
    if "config.json" not in names:
        raise ModelFileError(f"{path}: .keras archive has no config.json")
    config = load_json(read("config.json"), path, "config.json")
    meta = load_json(read("metadata.json"), path, "metadata.json") if "metadata.json" in names else {}
    assets = {n[len("assets/"):]: read(n) for n in names if n.startswith("assets/") and not n.endswith("/")}
    if "model.weights.h5" in names:
        weights = _read_h5_vars(read("model.weights.h5"), path)
    elif "model.weights.npz" in names:
        weights = _read_npz_vars(read("model.weights.npz"))
    else:
        raise ModelFileError(f"{path}: .keras archive has no model.weights.h5 (sharded weights are not supported)")
    return config, meta, assets, weights


def _stored_members(data: bytes) -> dict[str, bytes] | None:
    """name -> bytes of a zip as Keras writes it (stored, no zip64, no encryption), read without the zipfile
    import; None for any other or damaged archive (zipfile then reads it, or raises as before)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65557))  # end of central directory record
    if end < 0:
        return None
    try:
        disk, cd_disk, _, count, cd_size, cd_off, _ = struct.unpack_from("<4H2IH", data, end + 4)
        if disk or cd_disk or cd_off + cd_size > end:
            return None
        members, pos = {}, cd_off
        for _ in range(count):  # central directory entries
            if data[pos:pos + 4] != b"PK\x01\x02":
                return None
            flags, method, crc, size, usize, nlen, elen, clen, local = struct.unpack_from("<8xHH4xIIIHHH8xI", data, pos)
            raw = data[pos + 46:pos + 46 + nlen]
            if flags & 0x1 or method != 0 or size != usize or not (flags & 0x800 or raw.isascii()):
                return None
            if data[local:local + 4] != b"PK\x03\x04":
                return None
            start = local + 30 + sum(struct.unpack_from("<HH", data, local + 26))
            body = data[start:start + size]
            if len(body) != size or zlib.crc32(body) != crc:
                return None
            members[raw.decode("utf8")] = body
            pos += 46 + nlen + elen + clen
    except (struct.error, UnicodeDecodeError):
        return None
    return members


def _read_h5_vars(blob: bytes, path: str) -> dict[str, np.ndarray]:
    try:
        return hdf5.datasets(hdf5.read(blob))
    except hdf5.Unsupported:
        pass  # outside the pure reader's subset (or damaged): h5py reads it, or raises as before
    import h5py  # lazy: `import kerasless` stays light (h5py costs ~12 MB and tens of ms)

    out = {}
    try:
        with h5py.File(io.BytesIO(blob), "r") as f:
            f.visititems(lambda name, obj: out.__setitem__(name, np.asarray(obj[()])) if isinstance(obj, h5py.Dataset) else None)
    except (OSError, ValueError, RuntimeError, OverflowError) as exc:  # h5py on damaged files raises all of these
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
