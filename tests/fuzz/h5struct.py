"""HDF5 files rebuilt with h5py: storage outside the file (a canary), huge declared shapes, cycles, odd dtypes,
filters and layouts; in legacy .h5 files and in the model.weights.h5 of .keras archives."""

from __future__ import annotations

import h5py
import numpy as np

from . import mutators as m
from .corpus import Ctx, fixtures

# op -> (weight, expect, compare with the fixture's y when it loads)
OPS = {
    "external": (8, "refuse", False), "vds": (8, "refuse", False), "external-link": (8, "refuse", False),
    "external-link-group": (4, "refuse", False), "soft-link": (4, "any", True), "soft-link-dangling": (3, "any", False),
    "cycle": (5, "any", False), "huge-contiguous": (8, "refuse", False), "huge-chunked": (6, "refuse", False),
    "huge-int8": (4, "refuse", False), "dtype": (10, "any", False), "big-endian": (4, "any", True),
    "float64": (3, "any", True), "gzip": (4, "any", True), "shuffle-fletcher": (3, "any", True),
    "lzf": (2, "any", True), "scaleoffset": (2, "any", False), "group-for-dataset": (3, "any", False),
    "dataset-for-group": (3, "any", False), "scalar": (3, "any", False), "empty": (3, "refuse", False),
    "userblock": (2, "any", True), "config-attr-type": (4, "any", False), "weight-names": (4, "any", False),
    "reshape": (24, "refuse", False), "missing": (5, "refuse", False), "extra": (3, "any", False),
}
DTYPES = {"vlen-str": h5py.string_dtype(), "fixed-str": np.dtype("S8"), "compound": np.dtype([("a", "<f4"), ("b", "<i4")]),
          "reference": h5py.ref_dtype, "enum": h5py.enum_dtype({"a": 0, "b": 1}, basetype="i1"), "bool": np.bool_,
          "complex": np.complex64, "float16": np.float16, "int32": np.int32, "opaque": np.dtype("V4"),
          "vlen-float": h5py.vlen_dtype(np.float32), "array": np.dtype(("<f4", (2,)))}


def generate(ctx: Ctx) -> dict:
    rng = ctx.rng
    op = rng.choices(list(OPS), [w for w, _, _ in OPS.values()])[0]
    _, expect, compare = OPS[op]
    while True:  # a fixture with weights (a model of Dot/Reshape layers stores none)
        fx = rng.choice(fixtures("keras") if rng.random() < 0.5 else fixtures("h5"))
        src = fx.path.read_bytes()
        image = dict(m.read_entries(src))["model.weights.h5"] if fx.kind == "keras" else src
        notes: list[str] = []
        if op == "userblock":
            image = _with_userblock(image)
            break
        image = m.rewrite_h5(image, _edit(op, ctx, notes))
        if notes:
            break
    data = m.rezip(src, {"model.weights.h5": image}) if fx.kind == "keras" else image
    where = "model.weights.h5" if fx.kind == "keras" else "h5"
    return ctx.case(fx, f"{op} ({where}) {' '.join(notes)}".strip(), data, expect=expect,
                    ref="fixture" if compare else None)


def _pick(g: h5py.File, ctx: Ctx, ndim: int | None = None) -> str:
    names = [n for n in m.datasets(g) if ndim is None or g[n].ndim == ndim] or m.datasets(g)
    return ctx.rng.choice(names)


def _edit(op: str, ctx: Ctx, notes: list):
    rng = ctx.rng

    def edit(g: h5py.File):
        if not m.datasets(g):
            return
        name = _pick(g, ctx, 2 if op.startswith("huge") else None)
        ds = g[name]
        shape, data = ds.shape, ds[()]
        notes.append(name)
        if op == "external":
            canary = ctx.dir / "canary.bin"
            m.canary_file(canary, (max(int(np.prod(shape)), 1),))
            del g[name]
            g.create_dataset(name, shape, "<f4", external=[(str(canary), 0, max(int(np.prod(shape)), 1) * 4)])
        elif op in ("vds", "external-link", "external-link-group"):
            canary = ctx.dir / "canary.h5"
            m.canary_h5(canary, shape)
            if op == "vds":
                del g[name]
                layout = h5py.VirtualLayout(shape, "<f4")
                layout[...] = h5py.VirtualSource(str(canary), "data", shape)
                g.create_virtual_dataset(name, layout)
            elif op == "external-link":
                del g[name]
                g[name] = h5py.ExternalLink(str(canary), "data")
            else:  # a whole weight group from another file
                parent = name.rsplit("/", 1)[0]
                with h5py.File(canary, "a") as c:
                    c.create_group("grp")[name.rsplit("/", 1)[1]] = np.full(shape, m.CANARY, np.float32)
                del g[parent]
                g[parent] = h5py.ExternalLink(str(canary), "grp")
        elif op == "soft-link":
            others = [n for n in m.datasets(g) if n != name and g[n].shape == shape]
            target = rng.choice(others) if others else name + "_orig"
            if not others:
                g.move(name, target)
            else:
                del g[name]
            g[name] = h5py.SoftLink("/" + target)
        elif op == "soft-link-dangling":
            del g[name]
            g[name] = h5py.SoftLink(rng.choice(["/nowhere", "/" + name, "../../etc/passwd"]))
        elif op == "cycle":
            groups = m.groups(g)
            where = rng.choice(groups) if groups else ""
            target = rng.choice(["/", where.rsplit("/", 1)[0] or "/", where or "/"])
            g[(where + "/" if where else "") + "loop"] = g[target]
            notes.append(f"{where}/loop -> {target}")
        elif op.startswith("huge"):
            n = rng.choice([10 ** 9, 10 ** 10, 10 ** 11, 10 ** 12])
            big = (n // 1000, 1000)
            del g[name]
            if op == "huge-contiguous":
                g.create_dataset(name, big, "<f4")
            elif op == "huge-chunked":
                g.create_dataset(name, big, "<f4", chunks=(1000, 1000), compression="gzip")
            else:
                g.create_dataset(name, big, rng.choice(["i1", "u1"]))
            notes.append(f"shape {big}")
        elif op == "dtype":
            key = rng.choice(sorted(DTYPES))
            notes.append(key)
            del g[name]
            g.create_dataset(name, shape, DTYPES[key])
        elif op == "big-endian":
            del g[name]
            g.create_dataset(name, data=data.astype(">f4"))
        elif op == "float64":
            del g[name]
            g.create_dataset(name, data=data.astype("<f8"))
        elif op in ("gzip", "shuffle-fletcher", "lzf", "scaleoffset"):
            kw = {"gzip": {"compression": "gzip", "compression_opts": rng.randrange(10)},
                  "shuffle-fletcher": {"compression": "gzip", "shuffle": True, "fletcher32": True},
                  "lzf": {"compression": "lzf"}, "scaleoffset": {"scaleoffset": 3}}[op]
            del g[name]
            if data.ndim:
                g.create_dataset(name, data=data, chunks=True, **kw)
            else:
                g.create_dataset(name, data=data)
        elif op == "reshape":  # the wrong shape for the layer: Keras refuses at load
            if data.ndim == 2 and shape[0] != shape[1]:
                new = rng.choice([data.T, data[:-1] if shape[0] > 1 else data.reshape(-1), np.vstack([data, data[:1]])])
            elif data.ndim:
                new = rng.choice([np.concatenate([data.reshape(-1), data.reshape(-1)[:1]]), data.reshape(1, -1, 1)])
            else:
                new = np.zeros(2, data.dtype)
            notes.append(f"{shape} -> {new.shape}")
            del g[name]
            g[name] = new
        elif op == "missing":
            del g[name]
        elif op == "extra":
            g[name.rsplit("/", 1)[0] + "/extra" if "/" in name else "extra"] = np.zeros(3, np.float32)
        elif op == "group-for-dataset":
            del g[name]
            g.create_group(name)
        elif op == "dataset-for-group":
            parent = name.rsplit("/", 1)[0]
            del g[parent]
            g[parent] = np.zeros(3, np.float32)
        elif op == "scalar":
            del g[name]
            g[name] = np.float32(1.0)
        elif op == "empty":
            del g[name]
            g[name] = np.zeros((0,) + shape[1:], np.float32)
        elif op == "config-attr-type":
            key = "model_config" if "model_config" in g.attrs else name
            value = g.attrs.get("model_config")
            kind = rng.choice(["int", "float-array", "fixed-bytes", "vlen-bytes", "empty"])
            notes.append(f"model_config as {kind}")
            if key != "model_config" or kind == "int":
                g.attrs["model_config"] = 5
            elif kind == "float-array":
                g.attrs["model_config"] = np.arange(4, dtype=np.float32)
            elif kind == "fixed-bytes":
                text = value.encode() if isinstance(value, str) else value
                g.attrs.create("model_config", np.bytes_(text))
            elif kind == "vlen-bytes":
                text = value.encode() if isinstance(value, str) else value
                g.attrs.create("model_config", text, dtype=h5py.string_dtype("ascii"))
            else:
                g.attrs["model_config"] = ""
        elif op == "weight-names":
            owners = [o for o in m.groups(g) if "weight_names" in g[o].attrs] or [""]
            owner = rng.choice(owners)
            if owner:
                names = list(g[owner].attrs["weight_names"])
                kind = rng.choice(["missing", "duplicate", "traversal", "empty", "int"])
                notes.append(f"{owner} weight_names {kind}")
                new = {"missing": names + [b"nope:0"], "duplicate": names + names[:1],
                       "traversal": [b"../../" + (n if isinstance(n, bytes) else n.encode()) for n in names],
                       "empty": [], "int": None}[kind]
                if new is None:
                    g[owner].attrs["weight_names"] = np.arange(len(names))
                else:
                    g[owner].attrs["weight_names"] = np.array(new, dtype="S")
    return edit


def _with_userblock(image: bytes) -> bytes:
    import io

    out = io.BytesIO()
    with h5py.File(io.BytesIO(image), "r") as f, h5py.File(out, "w", userblock_size=512) as g:
        for k, v in f.attrs.items():
            g.attrs[k] = v
        for name in f:
            f.copy(f[name], g, name=name)
    return out.getvalue()
