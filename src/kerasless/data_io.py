"""Arrays in and out of the command line: .npy, .npz, .json, .csv and JSON on stdin, with typed errors that name the
file and the formats accepted (never numpy's pickle advice)."""

from __future__ import annotations

import io
import json
import math
import sys
import zipfile
from pathlib import Path

import numpy as np

from .errors import InputError

READS = ".npy, .npz, .json, .csv, or - for JSON on stdin"
WRITES = ".npy, .npz, .json or .csv"


def _fail(path, why: str) -> InputError:
    return InputError(f"{path}: {why} (kerasless reads {READS})")


def read_input(path: str, model):
    """The input for ``model.predict`` from a file: one array, or a list in ``model.input_names`` order.

    Formats: ``.npy``; ``.npz`` (arrays named like the inputs, the only array, or ``x``); ``.json`` (a nested list shaped
    ``(batch, *input_shape)``, ``{"instances": [...]}`` as TF Serving takes, ``{"inputs": ...}``, or an object keyed
    by input name); ``.csv`` (one sample per row, the input flattened in C order; a header row allowed); ``-``:
    JSON on stdin.
    """
    names = list(model.input_names)
    if path == "-":
        return _from_json(sys.stdin.read(), "<stdin>", names)
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".npy", ".npz", ".json", ".csv"):
        raise _fail(path, f"unknown input format {suffix or '(no extension)'!r}")
    if not p.is_file():
        raise _fail(path, "no such file" if not p.exists() else "not a file")
    if suffix == ".npy":
        return _npy(p)
    if suffix == ".npz":
        return _npz(p, names)
    if suffix == ".json":
        return _from_json(p.read_bytes(), path, names)
    return _csv(p, model)


def _magic(p: Path, magic: bytes, kind: str) -> None:
    with open(p, "rb") as f:
        if f.read(len(magic)) != magic:
            raise _fail(p, f"is not a {kind} file")


def _npy(p: Path) -> np.ndarray:
    _magic(p, b"\x93NUMPY", ".npy")
    try:
        return np.load(p, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc):
            raise _fail(p, "holds Python objects, not numbers; save a numeric array with numpy.save") from None
        raise _fail(p, f"is not a readable .npy file ({exc})") from None
    except (OSError, EOFError) as exc:
        raise _fail(p, f"is not a readable .npy file ({exc})") from None


def _npz(p: Path, names: list[str]):
    _magic(p, b"PK", ".npz (zip)")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as exc:
        if "pickle" in str(exc):
            raise _fail(p, "holds Python objects, not numbers") from None
        raise _fail(p, f"is not a readable .npz file ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise _fail(p, f"is not a readable .npz file ({exc})") from None
    if all(n in arrays for n in names):
        return arrays[names[0]] if len(names) == 1 else [arrays[n] for n in names]
    if len(names) == 1 and len(arrays) == 1:
        return next(iter(arrays.values()))
    if len(names) == 1 and "x" in arrays:  # the usual name of an input array (np.savez(f, x=..., y=...))
        return arrays["x"]
    raise _fail(p, f"has arrays {sorted(arrays)}; name them after the model's inputs {names}"
                   + (" (or x, or store a single array)" if len(names) == 1 else ""))


def _from_json(text, where, names: list[str]):
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _fail(where, f"is not valid JSON ({str(exc)[:80]})") from None
    if isinstance(data, dict):
        if "instances" in data or "inputs" in data:  # TF Serving's row and columnar formats
            data = data.get("instances", data.get("inputs"))
            if isinstance(data, list) and data and isinstance(data[0], dict):  # rows of {input name: sample}
                data = {n: [row.get(n) for row in data] for n in names}
        if isinstance(data, dict):
            missing = [n for n in names if n not in data]
            if missing:
                raise _fail(where, f"an object should be keyed by the model's input names {names}; missing "
                                   f"{missing}")
            arrays = [_numbers(data[n], where, n) for n in names]
            return arrays[0] if len(names) == 1 else arrays
    if len(names) > 1:
        if isinstance(data, list) and len(data) == len(names):  # a list with one nested list per input
            return [_numbers(d, where, n) for d, n in zip(data, names)]
        raise _fail(where, f"the model has inputs {names}: give an object keyed by them")
    return _numbers(data, where, names[0])


def _numbers(data, where, name: str) -> np.ndarray:
    try:
        a = np.array(data, dtype=np.float32)
    except (ValueError, TypeError):
        raise _fail(where, f"input {name!r} should be a nested list of numbers with one shape "
                           "(batch, *input_shape)") from None
    if a.ndim == 0:
        raise _fail(where, f"input {name!r} is a single number; expected a batch (batch, *input_shape)")
    return a


def _csv(p: Path, model) -> np.ndarray:
    if len(model.input_names) > 1:
        raise _fail(p, f"a .csv holds one input; the model has {model.input_names}: use .npz or .json")
    text = p.read_text(errors="replace")
    rows = [line for line in text.splitlines() if line.strip()]
    if rows and not _numeric(rows[0]):
        rows = rows[1:]  # a header row
    if not rows:
        raise _fail(p, "has no rows of numbers")
    try:
        a = np.loadtxt(io.StringIO("\n".join(rows)), delimiter=",", dtype=np.float32, ndmin=2)
    except ValueError as exc:
        raise _fail(p, f"is not a CSV of numbers, one sample per row ({str(exc)[:80]})") from None
    shape = list(model.input_shape[1:])
    if shape.count(None) > 1:
        raise _fail(p, f"the input shape {tuple(model.input_shape)} has several free dims: use .npy or .json")
    known = math.prod(d for d in shape if d is not None)
    if None in shape:
        if a.shape[1] % known:
            raise _fail(p, f"rows have {a.shape[1]} values, not a multiple of {known}")
        shape[shape.index(None)] = a.shape[1] // known
    if a.shape[1] != math.prod(shape):
        raise _fail(p, f"rows have {a.shape[1]} values; the input {tuple(shape)} flattened has {math.prod(shape)}")
    return a.reshape(a.shape[0], *shape)


def _numeric(line: str) -> bool:
    try:
        [float(v) for v in line.split(",")]
    except ValueError:
        return False
    return True


# -- outputs ---------------------------------------------------------------------------------------------------------
def _as_list(y, names):
    return (list(y), list(names)) if isinstance(y, list) else ([y], list(names)[:1])


def to_json(y, names) -> str:
    """One output -> its nested list; several -> an object keyed by output name."""
    ys, names = _as_list(y, names)
    if len(ys) == 1:
        return json.dumps(ys[0].tolist())
    return json.dumps({n: a.tolist() for n, a in zip(_unique(names), ys)})


def _unique(names):
    seen: dict = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, -1) + 1
        out.append(n if not seen[n] else f"{n}_{seen[n]}")
    return out


def check_out(path: str, suffixes=(".npy", ".npz", ".json", ".csv")) -> Path:
    """An output file name that can be written: not a folder, a known extension, in a folder that exists (an
    existing file is overwritten)."""
    p = Path(path)
    words = ", ".join(suffixes)
    if p.is_dir():
        raise InputError(f"{path}: is a directory; give a file name ending in {words}")
    if p.suffix.lower() not in suffixes:
        raise InputError(f"{path}: unknown output format {p.suffix.lower() or '(no extension)'!r}; expected {words}")
    if not p.parent.is_dir():
        raise InputError(f"{path}: the folder {p.parent} does not exist")
    return p


def write_output(path: str, y, names) -> str:
    """Write predict's output by extension; returns a line saying what was written."""
    p = check_out(path)
    suffix = p.suffix.lower()
    ys, names = _as_list(y, names)
    if len(ys) > 1 and suffix in (".npy", ".csv"):
        raise InputError(f"--out {path}: the model has {len(ys)} outputs {names}; write them to .npz or .json")
    if suffix == ".npy":
        np.save(p, ys[0])
    elif suffix == ".npz":
        np.savez(p, **dict(zip(_unique(names), ys)))
    elif suffix == ".json":
        p.write_text(to_json(y, names) + "\n")
    else:
        np.savetxt(p, ys[0].reshape(ys[0].shape[0], -1), delimiter=",", fmt="%.9g")
    return f"wrote {path}: " + ", ".join(f"shape {a.shape}" for a in ys) + ", float32"
