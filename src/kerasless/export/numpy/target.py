"""NumPy target: ``<name>_numpy.py`` (one readable script importing only NumPy) + ``<name>_weights.npz``.

The script holds the runtime.py functions the model uses (the layer equations spelled out) and a ``predict(x)``
that walks the plan's calls as plain NumPy lines; ``self_test()`` checks the embedded test vector.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from .. import common
from ..common import check_identifier, float_literal, shape_comment
from ..plan import RECURRENT_KERNELS, ExportError, Plan
from . import package

NAME = "numpy"
RUNTIME = Path(__file__).with_name("runtime.py")
TEST_KEYS = ("__test_x", "__test_y")
MERGES = {"concat": "np.concatenate([{a}, {b}], axis=-1)", "sum": "{a} + {b}", "mul": "{a} * {b}",
          "ave": "({a} + {b}) / F(2)"}


def _wrap(line: str, width: int = 110) -> str:
    """Break a long ``lhs = f(a, b, ...)`` line after commas, continuation lines aligned under the call."""
    if len(line) <= width or "(" not in line:
        return line
    start = line.index("(") + 1
    parts, cur = [], line[:start]
    for piece in line[start:].split(", "):
        if len(cur) + len(piece) + 2 > width and cur.strip():
            parts.append(cur.rstrip())
            cur = " " * start
        cur += piece + ", "
    parts.append(cur[:-2])
    return "\n".join(parts)


class _Gen:
    def __init__(self, plan: Plan, name: str):
        self.plan, self.name = plan, name
        self.needed: set[str] = set()

    def w(self, c, role) -> str:
        return f'W["{c.weights[role]}"]' if role in c.weights else "None"

    def act(self, name) -> str:
        self.needed.add(f"act_{name}")
        return name

    def call(self, c) -> list[str]:
        p, x, y = c.params, c.inputs[0], c.output
        shapes = f"{shape_comment(self.plan.buffers[x].shape)} -> {shape_comment(self.plan.buffers[y].shape)}"
        head = f"    # {c.layer} ({c.layer_class}): {c.kernel} {shapes}"
        k = c.kernel
        if k == "dense":
            self.needed.add("dense")
            body = [f"{y} = dense({x}, {self.w(c, 'W')}, {self.w(c, 'b')}, activation={self.act(p['activation'])})"]
        elif k in RECURRENT_KERNELS:
            self.needed.add(k)
            xin = x if p["seqs"] == 1 else f"{x}.reshape(-1, {p['steps']}, {p['input_dim']})"
            args = [xin, self.w(c, "W"), self.w(c, "U"), self.w(c, "b")]
            if k == "gru":
                args.append(self.w(c, "br"))
            args.append(f"activation={self.act(p['activation'])}")
            if "recurrent_activation" in p:
                args.append(f"recurrent_activation={self.act(p['recurrent_activation'])}")
            if k == "gru":
                args.append(f"reset_after={p['reset_after']}")
            if c.mask:
                args.append(f"mask={c.mask}")
            args += [f"{key}=True" for key in ("go_backwards", "return_sequences", "zero_output_for_mask") if p[key]]
            if c.state:
                args.append(f'initial_state=STATE["{c.state}"]')
            lhs = f'{y}, STATE["{c.state}"]' if c.state else f"{y}, _"
            body = [f"{lhs} = {k}(" + ", ".join(args) + ")"]
            if p["seqs"] > 1:
                body.append(f"{y} = {y}.reshape(-1, {', '.join(map(str, self.plan.buffers[y].shape))})")
        elif k == "embedding":
            self.needed.add("embedding")
            body = [f"{y} = embedding({x}, {self.w(c, 'E')})"]
        elif k == "mask_tokens":
            body = [f"{y} = {x} != 0  # (batch, steps) bool: token id 0 masks its step"]
        elif k == "mask_values":
            body = [f"{y} = np.any({x} != F({float_literal(p['value'])}), axis=-1)  # (batch, steps) bool"]
        elif k == "apply_mask":
            body = [f"{y} = {x} * {c.inputs[1]}[..., None].astype(F)  # masked steps become 0"]
        elif k == "activation":
            body = [f"{y} = {self.act(p['activation'])}({x})"]
        elif k == "reverse_time":
            body = [f"{y} = {x}[:, ::-1]  # back to input time order"]
        elif k == "merge":
            body = [f"{y} = " + MERGES[p["mode"]].format(a=x, b=c.inputs[1])]
        elif k == "permute":
            body = [f"{y} = np.transpose({x}, (0, {', '.join(str(d + 1) for d in p['dims'])}))"]
        elif k == "repeat":
            body = [f"{y} = np.repeat({x}[:, None], {p['n']}, axis=1)"]
        elif k == "reshape":
            body = [f"{y} = {x}.reshape(-1, {', '.join(map(str, p['shape']))})"]
        else:
            raise ExportError(f"layer {c.layer!r}: kernel {k!r} has no NumPy implementation (target 'numpy')")
        return [head] + [_wrap("    " + line) for line in body]

    def script(self) -> str:
        p, n = self.plan, self.name
        calls = [line for c in p.calls for line in self.call(c)]
        runtime = common.runtime_source([RUNTIME], self.needed, NAME, sep="\n\n\n")
        uses_math = "math." in runtime
        in_shape = ", ".join(map(str, p.input_shape))
        states = [b.name for b in p.buffers.values() if b.kind == "state"]
        token = f"; token ids in [0, {p.input_vocab}) as floats" if p.input_vocab else ""
        out = [f'"""{n}_numpy.py: Keras model {p.name!r} exported by kerasless (target numpy). Generated code.', "",
               f"Input  x: float32 (batch, {in_shape}){token}",
               f"Output y: float32 (batch, {', '.join(map(str, p.output_shape))})", "",
               f"    import {n}_numpy", f"    y = {n}_numpy.predict(x)",
               f"    {n}_numpy.self_test()  # max abs diff on the test vector stored in {n}_weights.npz",
               '"""', ""]
        out += (["import math"] if uses_math else []) + ["import os", "", "import numpy as np", "", "F = np.float32",
                f'_NPZ = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "{n}_weights.npz"))',
                f"W = {{k: _NPZ[k] for k in _NPZ.files if k not in {TEST_KEYS!r}}}  # Keras layout, float32", "", ""]
        out += [runtime, "", ""]
        out += ["", f"STATE = {{{', '.join(f'{s!r}: None' for s in states)}}}  # recurrent states carried between calls",
                "", "", "def reset_states():", '    """Forget the states carried between predict calls."""',
                "    for key in STATE:", "        STATE[key] = None", "", ""]
        out_shape = ", ".join(map(str, p.output_shape))
        out += ["def predict(x):", f'    """x: float32 (batch, {in_shape}) -> y: float32 (batch, {out_shape})."""',
                "    x = np.asarray(x, dtype=F)",
                f"    if x.shape[1:] != {tuple(p.input_shape)!r}:",
                f'        raise ValueError(f"expected input (batch, {in_shape}), got {{x.shape}}")']
        if p.fixed_batch:
            out += [f"    if x.shape[0] != {p.fixed_batch}:",
                    f'        raise ValueError("stateful model: batch must be {p.fixed_batch}")']
        out += calls + [f"    return {p.output}", "", ""]
        out += ["def self_test():", '    """Max abs difference between predict(test x) and the stored expected output."""',
                "    reset_states()", f'    y = predict(_NPZ["{TEST_KEYS[0]}"])', "    reset_states()",
                f'    return float(np.max(np.abs(y.astype(np.float64) - _NPZ["{TEST_KEYS[1]}"])))', ""]
        return "\n".join(out)


def write(plan: Plan, out_dir, name: str = "model", weights_file: bool = False) -> list[Path]:
    """Write ``<name>_numpy.py``, ``<name>_weights.npz`` (weights are always a separate file here), README.md."""
    check_identifier(name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    script, npz = out_dir / f"{name}_numpy.py", out_dir / f"{name}_weights.npz"
    script.write_text(_Gen(plan, name).script())
    arrays = dict(plan.weights)
    arrays.update({TEST_KEYS[0]: plan.test_x, TEST_KEYS[1]: plan.test_y})
    np.savez(npz, **arrays)
    (out_dir / "README.md").write_text(package.readme(plan, name))
    return [script, npz, out_dir / "README.md"]


def load_module(out_dir, name: str = "model"):
    """Import a generated script under a unique module name."""
    path = Path(out_dir) / f"{name}_numpy.py"
    mod_name = f"_kerasless_export_{name}_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(mod_name, None)
    return module


def run(plan: Plan, out_dir, name: str, batches: list, weights_file=False) -> tuple[list, float]:
    """Import the generated script and call predict on consecutive batches, then self_test()."""
    module = load_module(out_dir, name)
    module.reset_states()
    ys = [np.asarray(module.predict(x)) for x in batches]
    return ys, module.self_test()
