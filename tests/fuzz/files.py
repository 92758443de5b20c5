"""Families of damaged files: HDF5 bytes, zip damage, config type confusion, unsafe payloads, special paths."""

from __future__ import annotations

import base64
import copy
import io
import json
import marshal
import os
import zipfile
import zlib
from functools import cache

import numpy as np

from . import mutators as m
from .corpus import PWNED, UNSAFE, Ctx, fixtures


# -- h5-bytes: bit flips, overwrites, 0xFF/zero runs, truncations of .h5 and of model.weights.h5 in .keras --------
def h5_bytes(ctx: Ctx) -> dict:
    rng = ctx.rng
    fx = rng.choice(fixtures("keras") if rng.random() < 0.4 else fixtures("h5"))
    src = fx.path.read_bytes()
    image = dict(m.read_entries(src))["model.weights.h5"] if fx.kind == "keras" else src
    op = rng.choices(["flip", "flip-head", "random", "ff", "zero", "truncate"], [20, 20, 15, 20, 10, 15])[0]
    if op in ("flip", "flip-head"):
        head = image[:4096] if op == "flip-head" else image
        mutated, note = m.flip_bits(head, rng, rng.choice([1, 1, 2, 4, 8]))
        image = mutated + image[len(head):]
    elif op == "truncate":
        image, note = m.truncate(image, rng)
    else:
        fill = {"random": None, "ff": 0xFF, "zero": 0}[op]
        image, note = m.overwrite(image, rng, fill, rng.choice([1, 4, 8, 16, 32, 128, 256]))
    if fx.kind == "keras":
        return ctx.case(fx, f"{op} model.weights.h5: {note}", m.rezip(src, {"model.weights.h5": image}))
    return ctx.case(fx, f"{op}: {note}", image)


# -- zip damage ---------------------------------------------------------------------------------------------------
ZIP_OPS = {"recompress": 8, "method-id": 8, "encrypted": 6, "version": 5, "bomb": 6, "lying-bomb": 4,
           "traversal": 8, "duplicate": 7, "truncate": 8, "damage-cd": 10, "damage-local": 8, "eocd": 8,
           "prefix": 4, "nested-zip": 2, "huge-extra": 3, "crc": 4, "npz": 8}


def zip_damage(ctx: Ctx) -> dict:
    rng = ctx.rng
    fx = rng.choice(fixtures("keras"))
    src = fx.path.read_bytes()
    entries = m.read_entries(src)
    names = [n for n, _ in entries]
    op = rng.choices(list(ZIP_OPS), list(ZIP_OPS.values()))[0]
    victim = rng.choice(names)
    if op == "recompress":  # a zip Keras's zipfile reads: must give Keras's answer
        method = rng.choice([zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA, 0])
        z64 = rng.random() < 0.3
        data = m.write_zip([m.Entry(n, d, method, zip64=z64) for n, d in entries])
        return ctx.case(fx, f"recompress method {method} zip64={z64}", data, expect="result", ref="fixture")
    if op == "prefix":
        pre = bytes(rng.randrange(256) for _ in range(rng.choice([1, 100, 4096])))
        return ctx.case(fx, f"{len(pre)} bytes before the zip", pre + src, name="model.keras", ref="fixture")
    if op in ("method-id", "encrypted", "version"):
        method = rng.choice([1, 6, 9, 93, 95, 98, 99, 0xFFFF])
        flags = 1 if op == "encrypted" else rng.choice([0, 0x40, 0x2000]) if op == "version" else 0
        version = rng.choice([0, 45, 63, 64, 0xFFFF]) if op == "version" else 20
        where = rng.choice(["both", "cd", "local"])
        out = []
        for n, d in entries:
            e = m.Entry(n, d)
            if n == victim:
                if op == "method-id":
                    e.method = method
                e.flags |= flags
                e.version = version
            out.append(e)
        data = m.write_zip(out)
        if where != "both":  # restore the other copy of the header fields: CD and local header disagree
            data = _only_one_header(data, victim, src, entries, where)
        expect = "refuse" if op != "version" and where != "local" else "any"
        what = {"method-id": f"method {method}", "encrypted": "encryption flag", "version": f"version {version}"}[op]
        return ctx.case(fx, f"{what} on {victim} ({where})", data, expect=expect,
                        ref="fixture" if op == "version" else None)
    if op in ("bomb", "lying-bomb"):
        size = rng.choice([1 << 30, 3 << 30]) if op == "bomb" else 1 << 30
        target = rng.choice(["config.json", "model.weights.h5", "metadata.json", "assets/vocab.txt"])
        raw = m.deflated_zeros(size)
        declared = size if op == "bomb" else rng.choice([10, 1000, 1 << 20])
        bomb = m.Entry(target, b"", zipfile.ZIP_DEFLATED, raw=raw, usize=declared, crc=0 if op == "lying-bomb"
                       else _zero_crc(size))
        out = [m.Entry(n, d) for n, d in entries if n != target] + [bomb]
        expect = "any" if target.startswith("assets/") else "refuse"
        return ctx.case(fx, f"{op} {target}: {size >> 20} MiB declared as {declared}", m.write_zip(out),
                        expect=expect)
    if op == "traversal":
        name = rng.choice(["../{t}", "../../{t}", "/tmp/{t}", "assets/../../{t}", "..\\{t}", "C:/{t}", "./../{t}"])
        name = name.format(t=ctx.token)
        out = [m.Entry(n, d) for n, d in entries]
        if rng.random() < 0.3:  # the config itself under a traversal name: no config.json left
            out = [m.Entry(name.replace(ctx.token, "config.json"), d) if n == "config.json" else m.Entry(n, d)
                   for n, d in entries]
        else:
            out.append(m.Entry(name, b"pwned"))
        watch = [str(ctx.run_dir / ctx.token), str(ctx.run_dir.parent / ctx.token), f"/tmp/{ctx.token}",
                 str(ctx.dir.parent / ctx.token)]
        return ctx.case(fx, f"entry named {name!r}", m.write_zip(out), watch=[PWNED] + watch)
    if op == "duplicate":
        evil = rng.choice([b"{}", b"[]", _lambda_config(fx), b"garbage"])
        dup = rng.choice(["config.json", "model.weights.h5", "metadata.json"])
        out = [m.Entry(n, d) for n, d in entries]
        out.insert(0 if rng.random() < 0.5 else len(out), m.Entry(dup, evil))
        return ctx.case(fx, f"duplicate {dup}", m.write_zip(out), expect="refuse")
    if op == "truncate":
        data, note = m.truncate(src, rng)
        return ctx.case(fx, note, data, name="model.keras", expect="refuse" if len(data) < len(src) else "any")
    if op == "crc":
        out = [m.Entry(n, d, crc=rng.randrange(1 << 32) if n == victim else None) for n, d in entries]
        return ctx.case(fx, f"wrong CRC-32 on {victim}", m.write_zip(out), expect="refuse")
    if op == "npz":
        return _npz(ctx, fx, src)
    if op == "nested-zip":
        return ctx.case(fx, "model.weights.h5 is itself a zip", m.rezip(src, {"model.weights.h5": src}),
                        expect="refuse")
    if op == "huge-extra":
        out = [m.Entry(n, d, extra=b"\xfe\xca" + (65531).to_bytes(2, "little") + bytes(65531) if n == victim
                       else b"") for n, d in entries]
        return ctx.case(fx, f"64 KiB extra field on {victim}", m.write_zip(out), ref="fixture")
    # byte damage in the central directory, local headers or end record
    data = bytearray(m.write_zip([m.Entry(n, d) for n, d in entries]))
    cd = data.find(b"PK\x01\x02")
    eocd = data.rfind(b"PK\x05\x06")
    if op == "damage-cd":
        region = (cd, eocd)
    elif op == "eocd":
        region = (eocd, len(data))
    else:
        starts = [i for i in range(len(data)) if data[i:i + 4] == b"PK\x03\x04"]
        s = rng.choice(starts)
        region = (s, s + 30)
    for _ in range(rng.choice([1, 2, 4])):
        pos = rng.randrange(*region)
        data[pos] = rng.choice([0, 0xFF, rng.randrange(256), data[pos] ^ (1 << rng.randrange(8))])
    return ctx.case(fx, f"{op} bytes in {region}", bytes(data), name="model.keras")


NPZ_KINDS = ["clean", "shape-lie", "unicode", "object", "fortran", "truncated", "bad-magic", "header-junk",
             "big-endian", "float64", "deflated"]


def _npz(ctx: Ctx, fx, src: bytes) -> dict:
    """model.weights.npz (what Keras's npz weights hold: one <path>/vars/<i>.npy each) in place of the .h5."""
    import h5py

    rng = ctx.rng
    while True:  # a fixture with weights
        with h5py.File(io.BytesIO(dict(m.read_entries(src))["model.weights.h5"]), "r") as f:
            arrays = {n: f[n][()] for n in m.datasets(f)}
        if arrays:
            break
        fx = rng.choice(fixtures("keras"))
        src = fx.path.read_bytes()
    kind = rng.choice(NPZ_KINDS)
    victim = rng.choice(sorted(arrays)) if arrays else None
    members = []
    for name, a in sorted(arrays.items()):
        buf = io.BytesIO()
        if name == victim and kind in ("unicode", "object", "fortran", "big-endian", "float64"):
            a = {"unicode": a.astype(str), "object": a.astype(object), "fortran": np.asfortranarray(a),
                 "big-endian": a.astype(">f4"), "float64": a.astype("<f8")}[kind]
        np.save(buf, a, allow_pickle=True)
        data = buf.getvalue()
        if name == victim and kind == "shape-lie":
            data = data.replace(str(a.shape).encode(), b"(1000000, 1000000)".ljust(len(str(a.shape))), 1)
        elif name == victim and kind == "truncated":
            data = data[:rng.randrange(len(data))]
        elif name == victim and kind == "bad-magic":
            data = b"\x93NUMPZ" + data[6:]
        elif name == victim and kind == "header-junk":
            data = data[:10] + b"{'descr': __import__('os').system('true'), 'shape': ()}".ljust(len(data) - 10)[
                :len(data) - 10]
        members.append(m.Entry(name + ".npy", data, zipfile.ZIP_DEFLATED if kind == "deflated" else 0))
    entries = [m.Entry(n, d) for n, d in m.read_entries(src) if n != "model.weights.h5"]
    data = m.write_zip(entries + [m.Entry("model.weights.npz", m.write_zip(members))])
    good = kind in ("clean", "fortran", "big-endian", "float64", "deflated")
    return ctx.case(fx, f"npz {kind} {victim or ''}".strip(), data, expect="any" if good else "refuse",
                    ref="fixture" if good else None)


def _only_one_header(data: bytes, victim: str, src: bytes, entries, where: str) -> bytes:
    """Undo the edit in the other header copy (CD or local) of ``victim``: the two disagree."""
    clean = m.write_zip([m.Entry(n, d) for n, d in entries])
    b = bytearray(data)
    name = victim.encode()
    if where == "cd":  # restore the local header
        at = clean.find(b"PK\x03\x04" + b"", 0)
        while at >= 0 and clean[at + 30:at + 30 + len(name)] != name:
            at = clean.find(b"PK\x03\x04", at + 4)
        b[at:at + 30] = clean[at:at + 30]
    else:  # restore the central directory entry
        at = clean.find(b"PK\x01\x02")
        while at >= 0 and clean[at + 46:at + 46 + len(name)] != name:
            at = clean.find(b"PK\x01\x02", at + 4)
        b[at:at + 46] = clean[at:at + 46]
    return bytes(b)


@cache
def _zero_crc(n: int) -> int:
    crc, block = 0, bytes(1 << 24)
    for _ in range(n >> 24):
        crc = zlib.crc32(block, crc)
    return crc


# -- config type confusion ----------------------------------------------------------------------------------------
def config(ctx: Ctx) -> dict:
    rng = ctx.rng
    where = rng.choices(["config.json", "metadata.json", "model_config"], [55, 10, 35])[0]
    fx = rng.choice(fixtures("h5" if where == "model_config" else "keras"))
    src = fx.path.read_bytes()
    n = rng.choice([1, 1, 1, 2, 3])
    sizes = rng.random() < 0.5 and where != "metadata.json"  # a targeted key, else any node
    if where == "model_config":
        cfg = m.h5_config(src)
        cfg, note = (sizes and m.confuse_sizes(cfg, rng)) or m.confuse(cfg, rng, n)
        text = m.json_text(cfg)
        return ctx.case(fx, f"model_config: {note}", m.rewrite_h5(src, lambda g: g.attrs.__setitem__(
            "model_config", text)))
    entries = dict(m.read_entries(src))
    cfg = json.loads(entries[where])
    cfg, note = (sizes and m.confuse_sizes(cfg, rng)) or m.confuse(cfg, rng, n)
    if not json.loads(entries[where]) or rng.random() < 0.05:  # the whole document replaced
        cfg, note = rng.choice(m.CONFUSERS), "whole document"
        note = f"whole document = {m._short(cfg)}"
    return ctx.case(fx, f"{where}: {note}", m.rezip(src, {where: m.json_text(cfg).encode()}))


# -- unsafe payloads: must be refused, never executed -------------------------------------------------------------
UNSAFE_FILES = sorted(p for p in UNSAFE.glob("*") if p.suffix in (".keras", ".h5"))


def _payload_code(path: str) -> str:
    code = compile(f"lambda x: (open({path!r}, 'w').close(), x)[1]", "<payload>", "eval")
    return base64.b64encode(marshal.dumps(code.co_consts[0])).decode()


def _lambda_config(fx) -> bytes:
    cfg = json.loads(dict(m.read_entries(fx.path.read_bytes()))["config.json"])
    layer = cfg["config"]["layers"][-1]
    layer.update({"class_name": "Lambda", "module": "keras.layers", "registered_name": None})
    layer["config"] = {"name": layer["config"].get("name", "l"), "function": {
        "class_name": "__lambda__", "config": {"code": _payload_code(PWNED), "defaults": None, "closure": None}}}
    return json.dumps(cfg).encode()


def _payloads(pwned: str):
    sys_call = {"module": "os", "class_name": "system", "config": {"command": f"touch {pwned}"},
                "registered_name": "os>system"}
    lam = {"class_name": "__lambda__", "config": {"code": _payload_code(pwned), "defaults": None, "closure": None}}
    return {  # name -> (edit of one layer dict, must it be refused)
        "lambda-layer": (lambda layer: layer.update(class_name="Lambda", config={
            "name": layer["config"].get("name"), "function": lam}), True),
        "os.system-layer": (lambda layer: layer.update(sys_call), True),
        "activation-os.system": (lambda layer: layer["config"].__setitem__("activation", sys_call), True),
        "activation-lambda": (lambda layer: layer["config"].__setitem__("activation", lam), True),
        "activation-eval": (lambda layer: layer["config"].__setitem__("activation", "eval"), True),
        "registered-main": (lambda layer: layer.update(registered_name="__main__>Evil", module="__main__"), False),
        "reduce-key": (lambda layer: layer["config"].__setitem__(
            "__reduce__", ["os.system", [f"touch {pwned}"]]), False),
        "initializer-os.system": (lambda layer: layer["config"].__setitem__("kernel_initializer", sys_call), False),
        "custom-class": (lambda layer: layer.update(class_name="Evil>Layer", module="evil"), True),
    }


def unsafe(ctx: Ctx) -> dict:
    rng = ctx.rng
    pwned = str(ctx.run_dir / f"pwned-{ctx.token}")
    if ctx.k < len(UNSAFE_FILES):
        case = ctx.case(None, f"unsafe fixture {UNSAFE_FILES[ctx.k].name}", expect="refuse")
        case["path"] = str(UNSAFE_FILES[ctx.k])
        return case
    kind = rng.choice(["config", "model_config", "npz-pickle", "top-level"])
    fx = rng.choice(fixtures("h5" if kind == "model_config" else "keras"))
    src = fx.path.read_bytes()
    watch = {"watch": [PWNED, pwned]}
    if kind == "npz-pickle":  # an object array: loading it with allow_pickle would run __reduce__
        npz = io.BytesIO()
        np.savez(npz, **{"layers/dense/vars/0": np.array([_Pwn(pwned)], dtype=object)})
        entries = [(n, d) for n, d in m.read_entries(src) if n != "model.weights.h5"]
        return ctx.case(fx, "model.weights.npz holding a pickled object", m.write_zip(
            [m.Entry(n, d) for n, d in entries] + [m.Entry("model.weights.npz", npz.getvalue())]),
            expect="refuse", **watch)
    cfg = m.h5_config(src) if kind == "model_config" else json.loads(dict(m.read_entries(src))["config.json"])
    if kind == "top-level":
        cfg = copy.deepcopy(cfg)
        cfg.update(class_name="EvilModel", module="__main__", registered_name="EvilModel")
        note, refuse = "subclassed top-level model", True
    else:
        name, (edit, refuse) = rng.choice(sorted(_payloads(pwned).items()))
        layers = [la for la in cfg["config"]["layers"] if la.get("class_name") != "InputLayer"] or \
            cfg["config"]["layers"]
        edit(rng.choice(layers))
        note = name
    text = json.dumps(cfg)
    if kind == "model_config":
        data = m.rewrite_h5(src, lambda g: g.attrs.__setitem__("model_config", text))
    else:
        data = m.rezip(src, {"config.json": text.encode()})
    return ctx.case(fx, f"{kind}: {note}", data, expect="refuse" if refuse else "any", **watch)


class _Pwn:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


# -- special paths ------------------------------------------------------------------------------------------------
SPECIAL = ["fifo", "/dev/zero", "/dev/urandom", "/dev/null", "directory", "empty", "missing", "symlink",
           "symlink-loop", "dangling-symlink", "nul-in-path", "bytes-path", "pathlib", "long-name", "keras-as-h5",
           "h5-as-keras", "/proc/self/environ", "/proc/self/mem", "/proc/self/maps"]


def special(ctx: Ctx) -> dict:
    what = SPECIAL[ctx.k % len(SPECIAL)]
    fx = fixtures("keras")[0]
    h5 = fixtures("h5")[0]
    p = ctx.dir / "model.keras"
    ref, expect, extra = None, "refuse", {}
    if what == "fifo":
        os.mkfifo(p)
    elif what.startswith("/"):
        p = what
    elif what == "directory":
        p.mkdir()
    elif what == "empty":
        p.write_bytes(b"")
    elif what == "missing":
        pass
    elif what in ("symlink", "bytes-path", "pathlib"):
        p.symlink_to(fx.path)
        ref, expect = "fixture", "result"
        extra = {"path_type": {"symlink": "str", "bytes-path": "bytes", "pathlib": "pathlib"}[what]}
    elif what == "symlink-loop":
        p.symlink_to(p)
    elif what == "dangling-symlink":
        p.symlink_to(ctx.dir / "nowhere")
    elif what == "nul-in-path":
        p = str(p) + "\0x"
    elif what == "long-name":
        p = ctx.dir / ("x" * 300)
    elif what == "keras-as-h5":
        p = ctx.dir / "model.h5"
        p.write_bytes(fx.path.read_bytes())
        ref, expect = "fixture", "result"
    elif what == "h5-as-keras":
        p.write_bytes(h5.path.read_bytes())
        ref, expect = "fixture", "result"
        fx = h5
    case = ctx.case(fx, f"path is {what}", ref=ref, expect=expect, **extra)
    case["path"] = str(p)
    return case
