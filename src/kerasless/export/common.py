"""Helpers every target shares: runtime blocks, float32 literals, identifiers, the portable weights file."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import numpy as np

from .plan import ExportError, Plan

WEIGHTS_FORMAT = "kerasless-weights-1"


BLOCK = re.compile(r"^\s*(?://|#)@(?:block (\w+)(?: needs ([\w ]+))?|end)$")


@functools.cache
def runtime_blocks(*paths: Path) -> dict[str, tuple[list[str], str]]:
    """{block: ([blocks it needs], source)} from the ``//@block NAME [needs A B]`` markers of hand-written runtime
    files (``#@block`` in Python, indented or not). A block runs to the next marker or ``//@end``; text before the
    first marker and after ``//@end`` is never copied."""
    blocks: dict[str, tuple[list[str], str]] = {}
    for path in paths:
        cur, lines = None, []
        for line in [*Path(path).read_text().splitlines(), "//@block _end"]:
            m = BLOCK.match(line)
            if not m:
                lines.append(line)
                continue
            if cur:
                if cur[0] in blocks:
                    raise ExportError(f"{path}: block {cur[0]!r} is defined twice")
                blocks[cur[0]] = (cur[1], "\n".join(lines).strip("\n"))
            cur, lines = ((m.group(1), (m.group(2) or "").split()) if m.group(1) else None), []
    return blocks


def runtime_source(paths, names, target: str, sep: str = "\n\n") -> str:
    """The blocks ``names`` and every block they need, in file order, joined by ``sep`` (a blank line)."""
    blocks = runtime_blocks(*paths)
    todo, seen = list(names), set()
    while todo:
        n = todo.pop()
        if n not in seen:
            if n not in blocks:
                raise ExportError(f"target {target!r}: the runtime has no block {n!r}")
            seen.add(n)
            todo += blocks[n][0]
    return sep.join(blocks[n][1].strip("\n") for n in blocks if n in seen)


def runtime_names(plan: Plan, stream: bool = False) -> set[str]:
    """The runtime blocks a plan uses: its kernels, ``act_<name>`` for its activations, ``<kernel>_stream``."""
    from .plan import RECURRENT_KERNELS

    names = {k for k in plan.kernels if k != "reshape"} | {f"act_{a}" for a in used_activations(plan)}
    if stream:
        names |= {f"{k}_stream" for k in plan.kernels if k in RECURRENT_KERNELS}
    return names


def float_literal(v) -> str:
    """Shortest decimal that round-trips to the same float32 (numpy's repr); 'inf', '-inf', 'nan' as such."""
    return str(np.float32(v))


def float_literals(array, suffix: str = "", special: dict | None = None) -> list[str]:
    """Literals for a flat float32 array; ``special`` maps 'inf', '-inf', 'nan' to target spellings."""
    special = special or {}
    out = []
    for v in np.asarray(array, np.float32).ravel():
        s = float_literal(v)
        out.append(special[s] if s in special else s + suffix)
    return out


def wrap(items: list[str], per_line: int = 8, indent: str = "    ") -> str:
    """Comma-separated items, ``per_line`` to a line."""
    lines = [indent + ", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return ",\n".join(lines)


def check_identifier(name: str) -> str:
    """``name`` if it is a valid C/JS/Java identifier (also used for file names), else an ExportError."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name or ""):
        raise ExportError(f"--name {name!r} must be an identifier: a letter or _, then letters, digits or _")
    return name


def sanitize(name: str) -> str:
    """A weight or layer name as an identifier fragment ('lstm/kernel' -> 'lstm_kernel')."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def weight_offsets(plan: Plan) -> dict[str, int]:
    """Byte offset of every weight array in the weights file (arrays in Plan.weights order, back to back)."""
    offsets, pos = {}, 0
    for key, w in plan.weights.items():
        offsets[key] = pos
        pos += w.size * 4
    return offsets


def write_weights_file(plan: Plan, out_dir: Path, name: str) -> list[Path]:
    """Write ``<name>.weights.bin`` (little-endian float32, arrays back to back) and ``<name>.weights.json``.

    The manifest lists ``{"name", "offset" (bytes), "shape", "dtype": "<f4"}`` per array.
    """
    out_dir = Path(out_dir)
    offsets = weight_offsets(plan)
    bin_path, json_path = out_dir / f"{name}.weights.bin", out_dir / f"{name}.weights.json"
    with open(bin_path, "wb") as f:
        f.writelines(np.ascontiguousarray(w, dtype="<f4").tobytes() for w in plan.weights.values())
    manifest = {
        "format": WEIGHTS_FORMAT, "model": plan.name, "byteorder": "little",
        "total_bytes": sum(w.size * 4 for w in plan.weights.values()),
        "arrays": [{"name": k, "offset": offsets[k], "shape": list(w.shape), "dtype": "<f4"}
                   for k, w in plan.weights.items()],
    }
    json_path.write_text(json.dumps(manifest, indent=1) + "\n")
    return [bin_path, json_path]


def read_weights_file(json_path) -> dict[str, np.ndarray]:
    """Read a weights file back through its manifest (for tests and other tools)."""
    json_path = Path(json_path)
    manifest = json.loads(json_path.read_text())
    blob = (json_path.parent / json_path.name.replace(".weights.json", ".weights.bin")).read_bytes()
    return {a["name"]: np.frombuffer(blob, a["dtype"], int(np.prod(a["shape"])), a["offset"]).reshape(a["shape"])
            for a in manifest["arrays"]}


def shape_comment(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def used_activations(plan: Plan) -> set[str]:
    """Activations the generated code references (a linear Dense needs none)."""
    used = set()
    for c in plan.calls:
        for key in ("activation", "recurrent_activation"):
            if key in c.params and not (c.kernel == "dense" and c.params[key] == "linear"):
                used.add(c.params[key])
    return used


def read_outputs(plan: Plan, batches, blob: bytes, target: str) -> tuple[list, float]:
    """Parse a driver's output file: per batch an int32 status + float32 outputs, then the self-test diff."""
    n_out, pos, ys = plan.buffers[plan.output].size, 0, []
    for x in batches:
        status = int(np.frombuffer(blob, "<i4", 1, pos)[0])
        count = x.shape[0] * n_out
        ys.append(np.frombuffer(blob, "<f4", count, pos + 4).reshape(x.shape[0], *plan.output_shape).copy())
        pos += 4 + 4 * count
        if status != 0:
            raise ExportError(f"target {target!r}: predict returned status {status}")
    return ys, float(np.frombuffer(blob, "<f4", 1, pos)[0])
