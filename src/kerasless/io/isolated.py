"""h5py, isolated: HDF5 files outside the built-in reader's subset are read by h5py in a child process.

libhdf5 is a C parser that crashes or loops forever on some crafted files, and follows external storage, external
links and virtual datasets to other files. So it never reads a model file inside the caller's process: a child
(io/_h5_child.py) gets the file's bytes on stdin, runs under a memory cap, refuses anything that points outside
the file, and sends back plain arrays; a crash, a hang (timeout) or a refusal becomes a ModelFileError.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from ..errors import ModelFileError
from . import hdf5
from .limits import Limits

_CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_h5_child.py")
_BASE_MEMORY = 768 << 20  # the child's own interpreter, NumPy and h5py (~150 MB of address space) with room


def read(image: bytes, source: str, limits: Limits) -> hdf5.Group:
    """An HDF5 file image -> the same Group tree hdf5.read gives, read by h5py in an isolated child process."""
    import subprocess  # lazy: files the built-in reader reads never pay for it (cold start)

    cap = _BASE_MEMORY + 3 * limits.max_bytes
    env = {**os.environ, "HDF5_PLUGIN_PRELOAD": "::", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "HDF5_USE_FILE_LOCKING": "FALSE"}
    env.pop("HDF5_PLUGIN_PATH", None)
    cmd = [sys.executable, *(["-P"] if sys.version_info >= (3, 11) else []), _CHILD,
           str(limits.max_bytes), str(limits.max_ratio), str(cap)]
    try:
        proc = subprocess.run(cmd, input=image, capture_output=True, timeout=limits.timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise ModelFileError(f"{source}: HDF5 did not finish reading the file in {limits.timeout:g} s (a malformed "
                             "file can make libhdf5 loop); refused") from None
    except OSError as exc:
        raise ModelFileError(f"{source}: could not start the isolated HDF5 reader ({exc})") from None
    if proc.returncode < 0:
        raise ModelFileError(f"{source}: libhdf5 crashed reading the file (signal {-proc.returncode}); the file is "
                             "malformed. (It ran in a separate process: nothing else was affected.)")
    if proc.returncode != 0:
        reason = proc.stderr.decode("utf8", "replace").strip().splitlines()
        raise ModelFileError(f"{source}: {reason[-1] if reason else f'HDF5 reader failed ({proc.returncode})'}")
    head, _, blob = proc.stdout.partition(b"\n")
    try:
        return _rebuild(json.loads(head), memoryview(bytearray(blob)), [0])
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{source}: the isolated HDF5 reader sent an unreadable answer ({exc})") from None


def _rebuild(node: dict, blob: memoryview, pos: list) -> hdf5.Group:
    group = hdf5.Group({k: _attr(v) for k, v in node["attrs"].items()})
    for name, child in node["children"].items():
        if "dataset" in child:
            d = child["dataset"]
            dtype, shape, n = np.dtype(d["dtype"]), tuple(d["shape"]), d["nbytes"]
            if pos[0] + n > len(blob):
                raise ValueError("dataset bytes missing")
            value = np.frombuffer(blob[pos[0]:pos[0] + n], dtype).reshape(shape)  # writable: a bytearray
            pos[0] += n
        else:
            value = _rebuild(child, blob, pos)
        dict.__setitem__(group, name, value)
    return group


def _attr(v: dict):
    if "s" in v:
        return v["s"]
    if "strings" in v:
        return np.array(v["strings"], dtype=object).reshape(v["shape"])
    arr = np.array(v["numbers"]).reshape(v["shape"])
    return arr[()] if arr.ndim == 0 else arr
