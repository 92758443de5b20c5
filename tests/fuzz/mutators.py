"""Mutations: raw bytes, zip archives (a raw writer, so headers can lie), HDF5 rewrites with h5py, JSON configs.

Everything here runs in the fuzz parent on the committed (trusted) fixtures; only the workers read the results.
"""

from __future__ import annotations

import copy
import io
import json
import math
import random
import struct
import zipfile
import zlib

import h5py
import numpy as np

CANARY = np.float32(-4242.4242)  # no fixture holds it: seeing it in weights or outputs means a read outside the file


# -- bytes --------------------------------------------------------------------------------------------------------
def flip_bits(data: bytes, rng: random.Random, n: int) -> tuple[bytes, str]:
    b = bytearray(data)
    spots = [(rng.randrange(len(b)), rng.randrange(8)) for _ in range(n)]
    for pos, bit in spots:
        b[pos] ^= 1 << bit
    return bytes(b), "flip " + ",".join(f"{p}.{bit}" for p, bit in spots[:8])


def overwrite(data: bytes, rng: random.Random, fill: int | None, length: int) -> tuple[bytes, str]:
    """``length`` bytes at a random offset: all ``fill`` (0xFF runs, zero runs) or random bytes when None."""
    b = bytearray(data)
    pos = rng.randrange(len(b))
    chunk = bytes([fill]) * length if fill is not None else bytes(rng.randrange(256) for _ in range(length))
    b[pos:pos + length] = chunk[:len(b) - pos]
    return bytes(b), f"overwrite {pos}+{length} with {'random' if fill is None else hex(fill)}"


def truncate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    cut = rng.choice([rng.randrange(len(data)), rng.randrange(min(len(data), 4096)), len(data) - rng.randrange(1, 64)])
    return data[:cut], f"truncate to {cut} of {len(data)}"


# -- zip ----------------------------------------------------------------------------------------------------------
class Entry:
    """One zip member as written: ``raw`` are the bytes stored (already compressed); the header fields can lie."""

    def __init__(self, name, data: bytes = b"", method: int = 0, raw: bytes | None = None, usize=None, crc=None,
                 flags: int = 0, version: int = 20, extra: bytes = b"", zip64: bool = False):
        self.name = name.encode("utf8") if isinstance(name, str) else name
        self.method, self.flags, self.version, self.extra, self.zip64 = method, flags, version, extra, zip64
        self.raw = raw if raw is not None else compress(data, method)
        self.usize = len(data) if usize is None else usize
        self.crc = zlib.crc32(data) if crc is None else crc
        self.flags |= 0x800 if not self.name.isascii() else 0


def compress(data: bytes, method: int) -> bytes:
    if method == zipfile.ZIP_DEFLATED:
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush()
    if method in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", method) as z:
            z.writestr("x", data)
        info = zipfile.ZipFile(buf).infolist()[0]
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        return buf.getvalue()[start:start + info.compress_size]
    return data  # stored, or a method id nobody implements: the bytes as they are


def write_zip(entries: list[Entry], prefix: bytes = b"", comment: bytes = b"", cd_patch=None) -> bytes:
    """A zip image from ``entries`` (in order, duplicates allowed); zip64 extras where an entry asks or sizes need."""
    out = bytearray(prefix)
    central = bytearray()
    for e in entries:
        offset = len(out)
        big = e.zip64 or e.usize >= 0xFFFFFFFF or len(e.raw) >= 0xFFFFFFFF
        csize, usize = (0xFFFFFFFF, 0xFFFFFFFF) if big else (len(e.raw), e.usize)
        x64 = struct.pack("<HHQQ", 1, 16, e.usize, len(e.raw)) if big else b""
        version = max(e.version, 45) if big and e.version == 20 else e.version
        out += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", version, e.flags, e.method, 0, 0x21, e.crc, csize, usize,
                           len(e.name), len(x64 + e.extra)) + e.name + x64 + e.extra + e.raw
        x64c = struct.pack("<HHQQQ", 1, 24, e.usize, len(e.raw), offset) if big else b""
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, version, e.flags, e.method, 0, 0x21, e.crc,
                               csize, usize, len(e.name), len(x64c + e.extra), 0, 0, 0, 0,
                               0xFFFFFFFF if big else offset) + e.name + x64c + e.extra
    if cd_patch:
        central = cd_patch(central)
    cd_off = len(out)
    out += central
    n = len(entries)
    if any(e.zip64 or e.usize >= 0xFFFFFFFF for e in entries):  # zip64 end records
        z64 = len(out)
        out += struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, n, n, len(central), cd_off)
        out += struct.pack("<4sIQI", b"PK\x06\x07", 0, z64, 1)
    out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, n, n, len(central), cd_off, len(comment)) + comment
    return bytes(out)


def read_entries(keras_file: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(keras_file)) as z:
        return [(i.filename, z.read(i)) for i in z.infolist()]


def rezip(keras_file: bytes, replace: dict | None = None, extra=(), method: int = 0) -> bytes:
    """The archive rewritten (stored unless ``method``), entries replaced by name, ``extra`` (name, data) appended."""
    entries = [Entry(n, (replace or {}).get(n, d), method) for n, d in read_entries(keras_file)]
    return write_zip(entries + [Entry(n, d, method) for n, d in extra])


_BOMBS: dict[int, bytes] = {}


def deflated_zeros(nbytes: int) -> bytes:
    """Raw deflate of ``nbytes`` zero bytes (computed once per size: ~1 s a GiB)."""
    if nbytes not in _BOMBS:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        block, parts = bytes(1 << 24), []
        for _ in range(nbytes >> 24):
            parts.append(c.compress(block))
        _BOMBS[nbytes] = b"".join(parts) + c.flush()
    return _BOMBS[nbytes]


# -- HDF5 (h5py on trusted fixtures) -----------------------------------------------------------------------------
def rewrite_h5(image: bytes, edit) -> bytes:
    """The HDF5 image copied with h5py, then ``edit(file)`` applied."""
    out = io.BytesIO()
    with h5py.File(io.BytesIO(image), "r") as f, h5py.File(out, "w") as g:
        for k, v in f.attrs.items():
            g.attrs[k] = v
        for name in f:
            f.copy(f[name], g, name=name)
        edit(g)
    return out.getvalue()


def datasets(g: h5py.File) -> list[str]:
    found: list[str] = []
    g.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) else None)
    return found


def groups(g: h5py.File) -> list[str]:
    found: list[str] = []
    g.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Group) else None)
    return found


def h5_config(image: bytes) -> dict | None:
    with h5py.File(io.BytesIO(image), "r") as f:
        cfg = f.attrs.get("model_config")
    return None if cfg is None else json.loads(cfg.decode() if isinstance(cfg, bytes) else cfg)


def canary_file(path, shape=(1 << 14,)) -> None:
    """A raw file full of CANARY floats (external storage points here)."""
    path.write_bytes(np.full(shape, CANARY, np.float32).tobytes())


def canary_h5(path, shape) -> None:
    with h5py.File(path, "w") as c:
        c["data"] = np.full(shape, CANARY, np.float32)


# -- JSON ---------------------------------------------------------------------------------------------------------
BIGINT, DEEP_LIST, DEEP_DICT = "\x00bigint\x00", "\x00deep-list\x00", "\x00deep-dict\x00"
CONFUSERS = [0, -1, 1.5, 2 ** 63, 10 ** 30, math.nan, math.inf, -math.inf, "", "x", "relu", "__main__", [], [1, 2],
             [[None]], {}, {"class_name": 5}, {"config": None}, None, True, False, BIGINT, DEEP_LIST, DEEP_DICT,
             "A" * 100_000, [None] * 64, {"class_name": "Dense", "config": {}}, -2 ** 31]


# Config keys that size arrays, index axes or drive loops: the likeliest to reach arithmetic unchecked.
SIZE_KEYS = {"units", "batch_shape", "batch_input_shape", "n", "pool_size", "strides", "padding", "dilation_rate",
             "kernel_size", "filters", "num_heads", "key_dim", "value_dim", "rate", "target_shape", "dims", "cropping",
             "size", "axis", "input_dim", "output_dim", "momentum", "epsilon", "depth_multiplier", "groups",
             "return_sequences", "return_state", "go_backwards", "stateful", "merge_mode", "mask_value", "mask_zero",
             "data_format", "reset_after", "implementation", "use_bias", "unit_forget_bias", "output_shape",
             "keepdims", "normalize", "use_scale", "score_mode", "dropout", "negative_slope", "max_value", "threshold",
             "alpha", "center", "scale", "inbound_nodes", "input_layers", "output_layers", "layers", "cell", "cells"}
SIZE_VALUES = [0, -1, -2, 10 ** 9, 2 ** 31, 10 ** 18, 1.5, math.nan, True, None, [], [0], [-1], [10 ** 9],
               [10 ** 9, 10 ** 9], [0, 0], "3", "same", "causal", "valid ", "channels_first", {}, [None], [1, 2, 3, 4, 5]]


def confuse_sizes(config: dict, rng: random.Random) -> tuple[dict, str] | None:
    """One size/axis/flag key set to a value that is wrong for it (None when the config has none)."""
    paths = [p for p in json_nodes(config) if isinstance(p[-1], str) and p[-1] in SIZE_KEYS]
    if not paths:
        return None
    path = rng.choice(paths)
    new = copy.deepcopy(rng.choice(SIZE_VALUES))
    json_set(config, path, new)
    return config, f"{'/'.join(map(str, path))}={_short(new)}"


def json_nodes(value, path=()) -> list[tuple]:
    """Every (path) to a value in a JSON tree, the root excluded."""
    out = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        out.append(path + (k,))
        out.extend(json_nodes(v, path + (k,)))
    return out


def json_set(value, path: tuple, new, delete: bool = False):
    node = value
    for k in path[:-1]:
        node = node[k]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = new


def json_text(value, depth: int = 1000) -> str:
    """json.dumps, then the sentinels expanded: a 5000-digit integer, lists or objects nested ``depth`` deep."""
    text = json.dumps(value)
    text = text.replace(json.dumps(BIGINT), "9" * 5000)
    text = text.replace(json.dumps(DEEP_LIST), "[" * depth + "1" + "]" * depth)
    return text.replace(json.dumps(DEEP_DICT), '{"a": ' * depth + "1" + "}" * depth)


def confuse(config: dict, rng: random.Random, n: int) -> tuple[dict, str]:
    """``n`` random nodes replaced by wrong-typed values (or deleted)."""
    notes = []
    for _ in range(n):
        nodes = json_nodes(config)
        if not nodes:
            break
        path = rng.choice(nodes)
        if rng.random() < 0.15:
            json_set(config, path, None, delete=True)
            notes.append(f"del {'/'.join(map(str, path))}")
        else:
            new = copy.deepcopy(rng.choice(CONFUSERS))  # never share (and later mutate) one object
            json_set(config, path, new)
            notes.append(f"{'/'.join(map(str, path))}={_short(new)}")
    return config, "; ".join(notes)


def _short(v) -> str:
    text = {BIGINT: "<5000 digits>", DEEP_LIST: "<[]x1000>", DEEP_DICT: "<{}x1000>"}.get(v) if isinstance(v, str) \
        else None
    return text or (repr(v)[:40])
