"""Keras 3 ``.keras`` files: a zip of metadata.json, config.json and model.weights.h5 (or .npz)."""

from __future__ import annotations

import io
import math
import re
import struct
import tokenize
import zlib
from collections.abc import Mapping

import numpy as np

from ..errors import ModelFileError
from . import hdf5
from .config import load_json, parse_model_config
from .legacy_h5 import root_group
from .limits import Limits
from .spec import LayerSpec, ModelSpec

# Sub-objects holding a layer's weights, in get_weights() order; absent keys mean "own vars only".
CHILDREN = {
    "Bidirectional": ("forward_layer", "backward_layer"),
    "TimeDistributed": ("layer",),
    "LSTM": ("cell",),
    "GRU": ("cell",),
    "SimpleRNN": ("cell",),
    "ConvLSTM1D": ("cell",),
    "ConvLSTM2D": ("cell",),
    "ConvLSTM3D": ("cell",),
    "MultiHeadAttention": ("query_dense", "key_dense", "value_dense", "output_dense"),
}
# Config key holding each child's own config (for recursing into its class).
CHILD_CONFIG = {"forward_layer": "layer", "backward_layer": "backward_layer", "layer": "layer"}


def snake_case(name: str) -> str:
    """Keras's naming.to_snake_case: the key a layer's weights are stored under."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def read_keras_zip(path: str, limits: Limits | None = None) -> ModelSpec:
    """A ``.keras`` archive -> ModelSpec. Reads config.json, metadata.json and the weights, each entry only after its
    declared size is checked; assets/ stay in the file until something looks one up (a vocabulary)."""
    limits = limits or Limits()
    try:
        with open(path, "rb") as f:
            config, meta, weights, assets = _contents(Archive(f, path, limits), path, limits)
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    version = meta.get("keras_version", "3")
    spec = parse_model_config(config, path, version if isinstance(version, str) else "3")
    spec.assets = Assets(path, assets, limits)
    _attach(spec, weights, path)
    return spec


def _contents(archive: Archive, path: str, limits: Limits):
    names = archive.names
    if "config.json" not in names:
        raise ModelFileError(f"{path}: .keras archive has no config.json")
    config = load_json(archive.read("config.json"), path, "config.json")
    meta = load_json(archive.read("metadata.json"), path, "metadata.json") if "metadata.json" in names else {}
    if "model.weights.h5" in names:
        weights = hdf5.datasets(root_group(archive.read("model.weights.h5"), f"{path}: model.weights.h5", limits))
    elif "model.weights.npz" in names:
        weights = _read_npz_vars(archive.read("model.weights.npz"), f"{path}: model.weights.npz", limits)
    else:
        raise ModelFileError(f"{path}: .keras archive has no model.weights.h5 (sharded weights are not supported)")
    assets = sorted(n[len("assets/"):] for n in names if n.startswith("assets/") and not n.endswith("/"))
    return config, meta, weights, assets


class Assets(Mapping):
    """The archive's assets/ entries by name, each read from the file only when looked up."""

    def __init__(self, path: str, names: list[str], limits: Limits):
        self.path, self._names, self.limits = path, names, limits

    def __getitem__(self, name: str) -> bytes:
        if name not in self._names:
            raise KeyError(name)
        try:
            with open(self.path, "rb") as f:
                return Archive(f, self.path, self.limits).read(f"assets/{name}")
        except OSError as exc:
            raise ModelFileError(f"{self.path}: cannot read assets/{name} ({exc.strerror or exc})") from None

    def __contains__(self, name) -> bool:
        return name in self._names

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


ZIP_METHODS = {0: "stored", 8: "deflate", 12: "bzip2", 14: "lzma"}


class Archive:
    """A zip's entries: ``names``, and ``read(name)`` with its declared size checked before anything is read or
    inflated. ``f`` is an open binary file; only the central directory and the entries read are loaded."""

    def __init__(self, f, source: str, limits: Limits):
        self.f, self.source, self.limits = f, source, limits
        self.size = f.seek(0, 2)
        limits.check(self.size, source, "the file")
        self.stored = _stored_members(f, self.size)  # name -> (offset, size, crc): as Keras writes, no zipfile
        if self.stored is not None:
            self.names = set(self.stored)
            return
        import zipfile  # lazy: only archives _stored_members leaves to it pay for its import (~15 ms)

        try:
            self.zip = zipfile.ZipFile(f)
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, struct.error,
                RuntimeError, UnicodeDecodeError) as exc:  # RuntimeError: also an unsupported "version needed"
            raise ModelFileError(f"{source}: not a readable zip archive ({type(exc).__name__}: {exc})") from None
        self.infos = {i.filename: i for i in infos}
        if len(self.infos) != len(infos):
            seen: set = set()
            dup = sorted({i.filename for i in infos if i.filename in seen or seen.add(i.filename)})
            raise ModelFileError(f"{source}: the archive holds several entries named {dup[:3]} (ambiguous)")
        self.names = set(self.infos)

    def read(self, name: str) -> bytes:
        where = f"zip entry {name!r}"
        if self.stored is not None:
            start, size, crc = self.stored[name]
            self.limits.check(size, self.source, where)
            self.f.seek(start)
            data = self.f.read(size)
            if len(data) != size or zlib.crc32(data) != crc:
                raise ModelFileError(f"{self.source}: {where} is damaged (size or CRC-32 does not match)")
            return data
        info = self.infos[name]
        if info.flag_bits & 0x1:
            raise ModelFileError(f"{self.source}: {where} is encrypted")
        if info.compress_type not in ZIP_METHODS:
            raise ModelFileError(f"{self.source}: {where} uses compression method {info.compress_type}; "
                                 f"supported: {', '.join(ZIP_METHODS.values())}")
        self.limits.check_ratio(info.file_size, info.compress_size, self.source, where)
        import lzma
        import zipfile

        try:
            with self.zip.open(info) as f:
                data = f.read(info.file_size + 1)  # never more than declared, whatever the stream holds
        except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, RuntimeError,
                ValueError) as exc:  # RuntimeError: encrypted entries and unknown compression methods too
            raise ModelFileError(f"{self.source}: {where} is damaged ({type(exc).__name__}: {exc})") from None
        if len(data) != info.file_size:
            raise ModelFileError(f"{self.source}: {where} holds {len(data)} bytes, its header says {info.file_size}")
        return data


def _stored_members(f, size: int) -> dict[str, tuple[int, int, int]] | None:
    """name -> (data offset, size, CRC-32) of a zip as Keras writes it (stored, no zip64, no encryption, unique
    names), from its central directory, without the zipfile import; None for any other or damaged archive
    (Archive then uses zipfile). Entry data is not read here."""
    tail_at = max(0, size - 65557)
    f.seek(tail_at)
    tail = f.read()
    end = tail.rfind(b"PK\x05\x06")  # end of central directory record
    if end < 0:
        return None
    try:
        disk, cd_disk, _, count, cd_size, cd_off, _ = struct.unpack_from("<4H2IH", tail, end + 4)
        if disk or cd_disk or cd_off + cd_size > tail_at + end:
            return None
        f.seek(cd_off)
        cd = f.read(cd_size)
        members, pos = {}, 0
        for _ in range(count):  # central directory entries
            if cd[pos:pos + 4] != b"PK\x01\x02":
                return None
            flags, method, crc, csize, usize, nlen, elen, clen, local = struct.unpack_from("<8xHH4xIIIHHH8xI", cd, pos)
            raw = cd[pos + 46:pos + 46 + nlen]
            if flags & 0x1 or method != 0 or csize != usize or not (flags & 0x800 or raw.isascii()):
                return None
            f.seek(local)
            head = f.read(30)
            if len(head) != 30 or head[:4] != b"PK\x03\x04":
                return None
            start = local + 30 + sum(struct.unpack_from("<HH", head, 26))
            name = raw.decode("utf8")
            if start + csize > size or name in members:
                return None
            members[name] = (start, csize, crc)
            pos += 46 + nlen + elen + clen
    except (struct.error, UnicodeDecodeError):
        return None
    return members


def _read_npz_vars(blob: bytes, source: str, limits: Limits) -> dict[str, np.ndarray]:
    """model.weights.npz: each .npy header checked (numeric dtype, size matching the bytes) before allocating."""
    archive = Archive(io.BytesIO(blob), source, limits)
    out = {}
    for name in sorted(archive.names):
        data = archive.read(name)
        key = name.removesuffix(".npy").replace("\\", "/")
        try:
            f = io.BytesIO(data)
            version = np.lib.format.read_magic(f)
            shape, fortran, dtype = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                                     else np.lib.format.read_array_header_2_0(f))
        except (ValueError, SyntaxError, TypeError, KeyError, RecursionError, tokenize.TokenError) as exc:
            raise ModelFileError(f"{source}: {name!r} is not a .npy array ({type(exc).__name__}: {exc})") from None
        if dtype.kind not in "biuf" or dtype.fields:
            raise ModelFileError(f"{source}: {name!r} has dtype {dtype}; weights must be numbers")
        count = math.prod(shape)
        if count * dtype.itemsize != len(data) - f.tell():
            raise ModelFileError(f"{source}: {name!r} declares shape {shape} ({count * dtype.itemsize:,} bytes) but "
                                 f"holds {len(data) - f.tell():,}")
        arr = np.frombuffer(data, dtype, count, f.tell())
        out[key] = arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)
    return out


def _child(value) -> tuple[str, dict]:
    """(class_name, config) of a nested layer config; empty for anything that is not one (a damaged config is
    refused later, when the layer is built)."""
    if not isinstance(value, dict):
        return "", {}
    cls, cfg = value.get("class_name", ""), value.get("config", {})
    return (cls if isinstance(cls, str) else ""), (cfg if isinstance(cfg, dict) else {})


def _collect(store: dict, prefix: str, class_name: str, config: dict) -> list[tuple[str, np.ndarray]]:
    """Own vars then children's, recursively, in get_weights() order."""
    own = sorted(
        (int(k[len(prefix) + 6:]), k) for k in store if k.startswith(prefix + "/vars/") and k[len(prefix) + 6:].isdigit()
    )
    result = [(k, store[k]) for _, k in own]
    listed = {"Sequential": "layers", "Functional": "layers", "Model": "layers", "StackedRNNCells": "cells"}
    if class_name in listed:  # nested model: layers/<snake>[_N] per inner layer; stacked cells: cells/<snake>[_N]
        used: dict[str, int] = {}
        children = config.get(listed[class_name], [])
        for cls, cfg in map(_child, children if isinstance(children, list) else []):
            key = _counted(used, snake_case(cls))
            result += _collect(store, f"{prefix}/{listed[class_name]}/{key}", cls, cfg)
        return result
    if class_name == "RNN":
        return result + _collect(store, f"{prefix}/cell", *_child(config.get("cell")))
    for child in CHILDREN.get(class_name, ()):
        sub = config.get(CHILD_CONFIG.get(child, ""), None)
        if child == "backward_layer" and not sub:
            sub = config.get("layer")
        result += _collect(store, f"{prefix}/{child}", *_child(sub))
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
        layer.weights = _collect(store, f"layers/{key}", layer.class_name, layer.config)
        for name, value in layer.weights:
            if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf" or value.dtype.fields:
                raise ModelFileError(f"{path}: layer {layer.name!r} weight {name!r} has dtype "
                                     f"{getattr(value, 'dtype', type(value).__name__)}; weights must be numbers")


__all__ = ["read_keras_zip", "LayerSpec"]
