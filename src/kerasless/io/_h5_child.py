"""Run by io/isolated.py in a child process: read an HDF5 image with h5py, under a memory cap, and write its tree.

Standalone on purpose (imports neither kerasless nor anything but the standard library, NumPy and h5py), so the
child needs nothing from the parent's import path. Input: the file image on stdin; argv: max_bytes, max_ratio,
memory cap in bytes. Output on stdout: a JSON header line (groups, attributes, dataset dtypes/shapes/offsets)
followed by the concatenated raw dataset bytes. A file that asks for anything outside itself (external storage,
external or soft links, virtual datasets), a filter other than HDF5's built-in deflate/shuffle/fletcher32, a
non-numeric dataset, or more data than the limits allow is refused before any of its data is read: exit code 3
with the reason on stderr.
"""

import io
import json
import sys

REFUSED = 3
FILTERS = {1: "deflate", 2: "shuffle", 3: "fletcher32"}  # built into libhdf5; no plugin is ever loaded


class Refused(Exception):
    pass


def main() -> int:
    max_bytes, max_ratio, cap = (int(a) for a in sys.argv[1:4])
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if cap:
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (ImportError, ValueError, OSError):
        pass  # no resource module (Windows) or a lower hard limit already: the parent's timeout still holds
    image = sys.stdin.buffer.read()
    import h5py
    import numpy as np

    state = {"total": 0, "seen": set()}
    chunks = []

    def attr_value(obj, key):
        value = obj.attrs[key]
        if isinstance(value, bytes):
            return {"s": value.decode("utf8")}
        if isinstance(value, str):
            return {"s": value}
        arr = np.asarray(value)
        if arr.dtype.kind in "SUO":
            items = [v.decode("utf8") if isinstance(v, bytes) else v for v in arr.ravel().tolist()]
            if not all(isinstance(v, str) for v in items):
                raise Refused(f"attribute {key!r} of {obj.name} holds {arr.dtype} values, not strings")
            return {"strings": items, "shape": list(arr.shape)}
        if arr.dtype.kind not in "biuf":
            raise Refused(f"attribute {key!r} of {obj.name} has dtype {arr.dtype}")
        return {"numbers": arr.ravel().tolist(), "shape": list(arr.shape)}

    def dataset(ds):
        where = ds.name
        if ds.is_virtual:
            raise Refused(f"dataset {where} is a virtual dataset (it reads other files)")
        if ds.external:
            raise Refused(f"dataset {where} keeps its data in external files {[e[0] for e in ds.external]}")
        plist = ds.id.get_create_plist()
        filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
        odd = [f for f in filters if f not in FILTERS]
        if odd:
            raise Refused(f"dataset {where} uses HDF5 filter(s) {odd}; only deflate, shuffle and fletcher32")
        dtype = ds.dtype
        if dtype.kind not in "biuf" or dtype.itemsize not in (1, 2, 4, 8) or dtype.fields:
            raise Refused(f"dataset {where} has dtype {dtype}; weights must be numbers")
        nbytes = int(np.prod(ds.shape, dtype=object)) * dtype.itemsize if ds.shape is not None else 0
        stored = ds.id.get_storage_size()
        if nbytes > max_bytes or state["total"] + nbytes > max_bytes:
            raise Refused(f"dataset {where} declares shape {ds.shape} ({nbytes} bytes): over the limit of "
                          f"{max_bytes} bytes (KERASLESS_MAX_BYTES)")
        if not filters and nbytes and stored != nbytes:
            raise Refused(f"dataset {where} declares {nbytes} bytes of data but stores {stored}")
        if filters and nbytes > max(max_ratio * stored, 1 << 20):
            raise Refused(f"dataset {where} declares {nbytes} bytes from {stored} compressed bytes (ratio over "
                          f"{max_ratio})")
        state["total"] += nbytes
        data = np.ascontiguousarray(ds[()]).astype(dtype.newbyteorder("<"), copy=False)
        chunks.append(data.tobytes())
        return {"dtype": data.dtype.str, "shape": list(data.shape), "nbytes": data.nbytes}

    def group(g, depth):
        if depth > 64:
            raise Refused(f"groups nested deeper than 64 at {g.name}")
        addr = h5py.h5o.get_info(g.id).addr
        if addr in state["seen"]:
            raise Refused(f"group {g.name} is reached twice (a cycle of hard links)")
        state["seen"].add(addr)
        node = {"attrs": {k: attr_value(g, k) for k in g.attrs}, "children": {}}
        for name in g:
            link = g.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise Refused(f"{g.name}/{name} is an external link to {link.filename!r}")
            if isinstance(link, h5py.SoftLink):
                raise Refused(f"{g.name}/{name} is a soft link to {link.path!r}")
            obj = g[name]
            if isinstance(obj, h5py.Group):
                node["children"][name] = group(obj, depth + 1)
            elif isinstance(obj, h5py.Dataset):
                node["children"][name] = {"dataset": dataset(obj),
                                          "attrs": {k: attr_value(obj, k) for k in obj.attrs}}
            else:
                raise Refused(f"{g.name}/{name} is a {type(obj).__name__}, not a group or dataset")
        return node

    try:
        with h5py.File(io.BytesIO(image), "r") as f:
            tree = group(f, 0)
    except Refused as exc:
        sys.stderr.write(str(exc))
        return REFUSED
    except MemoryError:
        sys.stderr.write(f"reading it needs more memory than the cap of {cap} bytes")
        return REFUSED
    except Exception as exc:  # h5py/HDF5 on a damaged file: OSError, KeyError, ValueError, RuntimeError, ...
        sys.stderr.write(f"not a readable HDF5 file ({type(exc).__name__}: {str(exc)[:200]})")
        return REFUSED
    out = sys.stdout.buffer
    out.write(json.dumps(tree).encode("utf8") + b"\n")
    for chunk in chunks:
        out.write(chunk)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
