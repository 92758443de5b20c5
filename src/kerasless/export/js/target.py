"""JS target: ``<name>.js`` (a dependency-free ES module), ``<name>.d.ts`` and ``package.json``.

The module inlines the blocks of the hand-written ``runtime.js`` its plan uses, the weights (float32 literals in
one Float32Array, or ``<name>.weights.bin`` + ``.json`` loaded by ``await load()``), one test vector, and exports
``predict(x, batch)``, ``selfTest()``, ``reset()``/``resetStates()`` and ``createStream(batch = 1)`` (one timestep
per ``step``, like ``kerasless.stream``; throws an Error naming the reason for plans that cannot stream).
Runs in Node >= 18 and browsers.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .. import common
from ..common import (
    check_identifier,
    float_literals,
    shape_comment,
    weight_offsets,
    wrap,
    write_weights_file,
)
from ..emit import emit_call, record_fields
from ..plan import RECURRENT_KERNELS, ExportError, Plan
from ..stream import stream_plan
from . import package

NAME = "js"
HERE = Path(__file__).parent
RUNTIME = HERE / "runtime.js"
DRIVER = HERE / "driver.mjs"
SPECIAL = {"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}
RECORD = {"activation": "act", "recurrent_activation": "ract"}  # record fields runtime.js names differently
RNN_FN = {"lstm": ("klLstm", 2), "gru": ("klGru", 1), "simple_rnn": ("klSimpleRnn", 1)}


def runtime_blocks() -> dict[str, tuple[list[str], str]]:
    """{block name: ([needed blocks], source)} of runtime.js (``//@block NAME [needs A B]`` markers)."""
    return common.runtime_blocks(RUNTIME)


def _runtime_source(names: set[str]) -> str:
    return re.sub(r"^export ", "", common.runtime_source([RUNTIME], names, "js"), flags=re.MULTILINE)


def _camel(key: str, upper: bool = False) -> str:
    """input_dim -> inputDim (upper: InputDim)."""
    parts = key.split("_")
    head = parts[0].capitalize() if upper else parts[0]
    return head + "".join(q.capitalize() for q in parts[1:])


def _floats(array) -> str:
    return wrap(float_literals(array, "", SPECIAL), per_line=10, indent="  ")


class _Gen:
    def __init__(self, plan: Plan, name: str, weights_file: bool):
        self.plan, self.name, self.weights_file = plan, name, weights_file
        self.w = {k: f"W{i}" for i, k in enumerate(plan.weights)}
        sp = stream_plan(plan)  # per-step (call, params), or None and the reason
        self.stream = None if isinstance(sp, str) else [(c, c.params) for c in sp.calls]
        self.step_size, self.refusal = (0, sp) if isinstance(sp, str) else (sp.step_in, None)

    def buf(self, name: str) -> str:
        s = self.plan.storage(name)
        return "x" if s == self.plan.input else f"ws.{s}"

    def act(self, name: str, nullable: bool = False) -> str:
        return "null" if nullable and name == "linear" else f"act_{name}"

    # -- the call list: the shared emitter (emit.py) over this syntax -----------------------------------------
    indent, batch, none = "  ", "batch", "null"

    def rnn_params(self, c) -> str:
        return "{" + ", ".join(f"{RECORD.get(k) or _camel(k)}: {v}" for k, v in record_fields(c, self)) + "}"

    def call(self, c, stream: bool) -> list[str]:
        return emit_call(self.plan, c, self, stream, NAME)

    @staticmethod
    def comment(text: str) -> str:
        return f"// {text}"

    @staticmethod
    def function(kernel: str) -> str:
        return "kl" + _camel(kernel, upper=True)

    def statement(self, c, fn: str, args: list, status: bool) -> list[str]:
        return [f"  {fn}({', '.join(args)});"]  # a bad token id throws

    def weight(self, c, role: str) -> str:
        return self.w[c.weights[role]] if role in c.weights else "null"

    @staticmethod
    def literal(kind: str, value):
        if kind == "float":
            return float_literals([value], "", SPECIAL)[0]
        if kind == "bool":
            return str(bool(value)).lower()
        if kind == "enum":
            return json.dumps(value)
        if kind == "ints":
            return str(list(value))
        return None if kind == "rank" else str(value)

    def recurrent(self, c, stream: bool) -> list[str]:
        b, mask, key = self.buf, self.buf(c.mask) if c.mask else "null", ("s_" if stream else "c_") + c.output
        if stream:
            state, prev = f"carry.{key}.state", f"carry.{key}.prev"
        else:
            state, prev = (f"STATE.{c.state}" if c.state else "null"), "null"
        return [f"  {RNN_FN[c.kernel][0]}(P.{key}, {b(c.inputs[0])}, {mask}, {b(c.output)}, {state}, {prev}, batch);"]

    def sizes(self, stream: bool) -> dict[str, int]:
        p, steps = self.plan, self.plan.input_shape[0] if self.plan.input_shape else 1
        timed, out = {p.input}, {}
        calls = self.stream if stream else [(c, c.params) for c in p.calls]
        for c, params in calls:
            if stream and (c.inputs[0] in timed and (c.kernel not in RECURRENT_KERNELS or params["return_sequences"])):
                timed.add(c.output)
            s = p.storage(c.output)
            if s != p.input and p.buffers[s].kind in ("data", "mask") and c.kernel != "reshape":
                size = p.buffers[s].size
                out[s] = size // steps if stream and c.output in timed else size
        return out

    def workspace(self, fn: str, sizes: dict[str, int]) -> list[str]:
        fields = ", ".join(f"{k}: new Float32Array(batch * {v})" for k, v in sizes.items())
        return [f"function {fn}(batch) {{", f"  return {{batch{', ' if fields else ''}{fields}}};", "}"]

    # -- the module -------------------------------------------------------------------------------------------
    def module(self) -> str:
        p, n = self.plan, self.name
        blocks = common.runtime_names(p) | {"max_diff"} | ({"load_blob"} if self.weights_file else set())
        in_shape, out_shape = list(p.input_shape), list(p.output_shape)
        token = f"; token ids in [0, {p.input_vocab}) as float values" if p.input_vocab else ""
        usage = ("await load(); " if self.weights_file else "")
        out = [(f"// {n}.js: Keras model {p.name!r} ({Path(p.source).name}, Keras {p.keras_version}) exported by "
               "kerasless (target js)."),
               "// Generated: regenerate instead of editing. An ES module with no dependencies (Node >= 18, browsers).",
               (f"//   Input  x: Float32Array of batch * {p.buffers[p.input].size} floats, (batch, "
               f"{', '.join(map(str, in_shape))}) C order{token}"),
               (f"//   Output y: Float32Array of batch * {p.buffers[p.output].size} floats, (batch, "
               f"{', '.join(map(str, out_shape))})"),
               f"//   import {{ predict, selfTest }} from \"./{n}.js\"; {usage}const y = predict(x, batch);",
               "// Math runs in float64 and is stored as float32: outputs match kerasless predict within 1e-5.",
               "/* eslint-disable camelcase, no-unused-vars */", "",
               f"export const INPUT_SHAPE = Object.freeze({json.dumps(in_shape)}); // per sample",
               f"export const OUTPUT_SHAPE = Object.freeze({json.dumps(out_shape)}); // per sample",
               f"export const INPUT_SIZE = {p.buffers[p.input].size};",
               f"export const OUTPUT_SIZE = {p.buffers[p.output].size};",
               f"export const FIXED_BATCH = {p.fixed_batch or 'null'}; // stateful models accept only this batch",
               f"export const INPUT_VOCAB = {p.input_vocab or 'null'}; // Embedding input: token ids in [0, vocab)",
               f"export const CAN_STREAM = {str(self.stream is not None).lower()};",
               f"export const STREAM_REFUSAL = {json.dumps(self.refusal)};", "",
               "// ---- runtime (the runtime.js blocks this model uses) ----",
               _runtime_source(blocks | ({"rnn"} if self.stream else set())), ""]
        out += self.weights() + self.test_vector() + self.states()
        out += self.predict() + self.stream_api() + self.self_test()
        return "\n".join(out) + "\n"

    def weights(self) -> list[str]:
        p = self.plan
        offsets = {k: v // 4 for k, v in weight_offsets(p).items()}
        total = sum(w.size for w in p.weights.values())
        out = ["// ---- weights (Keras layout, row-major, float32) ----",
               "let " + ", ".join(f"{v} = null" for v in self.w.values()) + ";" if self.w else "",
               "let P = null; // recurrent call parameters, bound with the weights",
               "function bind(blob) {"]
        for k, w in p.weights.items():
            out.append(f"  {self.w[k]} = blob.subarray({offsets[k]}, {offsets[k] + w.size}); // {k} "
                       f"{shape_comment(w.shape)}")
        rnn = [f"    c_{c.output}: {self.rnn_params(c)}," for c in p.calls if c.kernel in RECURRENT_KERNELS]
        rnn += [f"    s_{c.output}: {self.rnn_params(c)}," for c, _ in self.stream or [] if c.kernel in RECURRENT_KERNELS]
        out += ["  P = {", *rnn, "  };", "}", ""]
        if self.weights_file:
            out += [f"const WEIGHTS_FLOATS = {total};", "",
                    f"/** Load {self.name}.weights.bin (little-endian float32, described by {self.name}.weights.json):",
                    " *  a path or file: URL in Node (fs), a URL in browsers (fetch). Defaults to the file beside this",
                    " *  module. Must complete before predict(). */",
                    "export async function load(source) {",
                    f"  bind(await klLoadBlob(source ?? new URL(\"./{self.name}.weights.bin\", import.meta.url), "
                    "WEIGHTS_FLOATS));", "}", ""]
        else:
            flat = np.concatenate([w.ravel() for w in p.weights.values()]) if p.weights else np.zeros(0, np.float32)
            out += ["const WEIGHTS = new Float32Array([", _floats(flat), "]);", "bind(WEIGHTS);", "",
                    "/** Weights are embedded in this module: nothing to load (kept for API symmetry). */",
                    "export async function load() {}", ""]
        return out

    def test_vector(self) -> list[str]:
        p = self.plan
        return ["// ---- test vector: kerasless predict(TEST_X) == TEST_Y ----",
                f"const TEST_BATCH = {p.test_x.shape[0]};",
                "const TEST_X = new Float32Array([", _floats(p.test_x), "]);",
                "const TEST_Y = new Float32Array([", _floats(p.test_y), "]);", ""]

    def states(self) -> list[str]:
        p = self.plan
        states = [b for b in p.buffers.values() if b.kind == "state"]
        fields = ", ".join(f"{s.name}: new Float32Array({p.fixed_batch * s.size})" for s in states)
        return ["// ---- recurrent states carried between predict calls (stateful layers) ----",
                f"const STATE = {{{fields}}};", "",
                "/** Zero the recurrent states carried between predict calls (a no-op for stateless models). */",
                "export function resetStates() {", "  for (const k of Object.keys(STATE)) STATE[k].fill(0);", "}",
                "", "/** Alias of resetStates(). */", "export function reset() {", "  resetStates();", "}", ""]

    def predict(self) -> list[str]:
        p = self.plan
        out = self.workspace("makeWorkspace", self.sizes(False))
        out += ["let WS = null;", "",
                "function checkArgs(x, batch, size, what) {",
                "  if (P === null) throw new Error(\"weights are not loaded: await load() first\");",
                ("  if (!Number.isInteger(batch) || batch <= 0) throw new RangeError(`${what}: batch must be a positive "
                "integer, got ${batch}`);"),
                "  if (x == null || x.length !== batch * size) {",
                "    throw new RangeError(`${what}: expected ${batch} * ${size} floats, got ${x == null ? x : x.length}`);",
                "  }",
                "  return x instanceof Float32Array ? x : Float32Array.from(x);", "}", "",
                "/** y = model(x): x has batch * INPUT_SIZE floats (C order), y batch * OUTPUT_SIZE. Stateful models",
                " *  carry their states to the next call (resetStates() zeroes them). Throws on bad arguments. */",
                "export function predict(xIn, batch) {", "  const x = checkArgs(xIn, batch, INPUT_SIZE, \"predict\");"]
        if p.fixed_batch:
            out += [(f"  if (batch !== {p.fixed_batch}) throw new RangeError(`predict: stateful model: batch must be "
                    f"{p.fixed_batch}, got ${{batch}}`);")]
        out += ["  if (WS === null || WS.batch !== batch) WS = makeWorkspace(batch);", "  const ws = WS;"]
        for c in p.calls:
            out += self.call(c, False)
        out += [f"  return {self.buf(p.output)}.slice(0, batch * OUTPUT_SIZE);", "}", ""]
        return out

    def stream_api(self) -> list[str]:
        if self.stream is None:
            return ["/** This model cannot stream (see STREAM_REFUSAL): always throws. */",
                    "export function createStream(batch = 1) {",
                    "  throw new Error(`createStream: ${STREAM_REFUSAL}`);", "}", ""]
        out = self.workspace("makeStreamWorkspace", self.sizes(True))
        carries = []
        for c, sp in self.stream:
            if c.kernel in RECURRENT_KERNELS:
                ns = RNN_FN[c.kernel][1] * sp["units"]
                carries.append(f"s_{c.output}: {{state: new Float32Array(batch * {ns}), prev: new Float32Array(batch * "
                               f"{sp['units']})}}")
        step_out = self.sizes(True)[self.plan.storage(self.plan.output)]
        out += ["", f"export const STEP_SIZE = {self.step_size}; // input floats per sample and timestep",
                f"export const STEP_OUTPUT_SIZE = {step_out}; // output floats per sample and timestep",
                "/** One timestep at a time, carrying every recurrent state (like kerasless.stream): step(x_t) with",
                " *  batch * STEP_SIZE floats returns the model output for that step (batch * STEP_OUTPUT_SIZE);",
                " *  stepping x[:, t] for t = 0.. gives at each t what predict gives on the prefix x[:, :t+1]. */",
                "export function createStream(batch = 1) {",
                "  checkArgs(new Float32Array(batch * STEP_SIZE), batch, STEP_SIZE, \"createStream\");",
                "  const ws = makeStreamWorkspace(batch);",
                f"  const carry = {{{', '.join(carries)}}};",
                "  return {", "    batch, stepSize: STEP_SIZE, outputSize: STEP_OUTPUT_SIZE,",
                "    step(xIn) {", "      const x = checkArgs(xIn, batch, STEP_SIZE, \"step\");"]
        out_buf = "x"
        for c, _ in self.stream:
            out += ["    " + line for line in self.call(c, True)]
        out_buf = self.buf(self.plan.output)
        out += [f"      return {out_buf}.slice(0, batch * STEP_OUTPUT_SIZE);", "    },",
                "    reset() {", "      for (const k of Object.keys(carry)) { carry[k].state.fill(0); carry[k].prev.fill(0); }",
                "    },", "  };", "}", ""]
        return out

    def self_test(self) -> list[str]:
        return ["/** Max abs difference between predict(TEST_X) and kerasless's output (Infinity on failure). Resets",
                " *  the states of a stateful model. */",
                "export function selfTest() {", "  resetStates();", "  let y;", "  try {",
                "    y = predict(TEST_X, TEST_BATCH);", "  } catch (e) {", "    return Infinity;", "  } finally {",
                "    resetStates();", "  }", "  return klMaxDiff(y, TEST_Y);", "}", ""]

    def dts(self) -> str:
        p, n = self.plan, self.name
        out = [f"// {n}.d.ts: types of {n}.js (Keras model {p.name!r}, exported by kerasless target js).",
               "export declare const INPUT_SHAPE: readonly number[];",
               "export declare const OUTPUT_SHAPE: readonly number[];",
               "export declare const INPUT_SIZE: number;", "export declare const OUTPUT_SIZE: number;",
               "export declare const FIXED_BATCH: number | null;", "export declare const INPUT_VOCAB: number | null;",
               "export declare const CAN_STREAM: boolean;", "export declare const STREAM_REFUSAL: string | null;",
               "/** y (batch * OUTPUT_SIZE) = model(x (batch * INPUT_SIZE)), C order. */",
               "export declare function predict(x: Float32Array | ArrayLike<number>, batch: number): Float32Array;",
               "/** Max abs difference on the embedded test vector. */",
               "export declare function selfTest(): number;", "export declare function resetStates(): void;",
               "export declare function reset(): void;",
               "/** Load the weights file (weights-file builds); resolves at once when weights are embedded. */",
               "export declare function load(source?: string | URL): Promise<void>;",
               "export interface ModelStream {", "  readonly batch: number;", "  readonly stepSize: number;",
               "  readonly outputSize: number;",
               "  /** One timestep (batch * stepSize floats) -> output (batch * outputSize floats). */",
               "  step(x_t: Float32Array | ArrayLike<number>): Float32Array;", "  reset(): void;", "}",
               "/** Throws an Error when CAN_STREAM is false. */",
               "export declare function createStream(batch?: number): ModelStream;"]
        if self.stream is not None:
            out += ["export declare const STEP_SIZE: number;", "export declare const STEP_OUTPUT_SIZE: number;"]
        return "\n".join(out) + "\n"


def module_source(plan: Plan, name: str, weights_file: bool = False) -> str:
    return _Gen(plan, name, weights_file).module()


def write(plan: Plan, out_dir, name: str = "model", weights_file: bool = False) -> list[Path]:
    """Write ``<name>.js``, ``<name>.d.ts``, ``package.json``, ``README.md`` (+ ``<name>.weights.bin``/``.json``)."""
    check_identifier(name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gen = _Gen(plan, name, weights_file)
    files = [out_dir / f"{name}.js", out_dir / f"{name}.d.ts", out_dir / "package.json", out_dir / "README.md"]
    files[0].write_text(gen.module(), encoding="utf8")
    files[1].write_text(gen.dts(), encoding="utf8")
    files[2].write_text(package.package_json(name, plan), encoding="utf8")
    files[3].write_text(package.readme(plan, name, weights_file, gen.stream is not None), encoding="utf8")
    if weights_file:
        files += write_weights_file(plan, out_dir, name)
    return files


def node() -> str:
    exe = shutil.which("node")
    if exe is None:
        raise ExportError("target 'js': node (Node.js >= 18) is not installed; it is needed to run the generated code")
    return exe


def write_input(path: Path, plan: Plan, batches: list) -> None:
    n_in, n_out = plan.buffers[plan.input].size, plan.buffers[plan.output].size
    parts = [np.array([n_in, n_out, len(batches)], "<i4").tobytes()]
    for x in batches:
        x = np.ascontiguousarray(x, "<f4")
        parts += [np.array([x.shape[0], 0], "<i4").tobytes(), x.tobytes()]
    path.write_bytes(b"".join(parts))


def read_output(path: Path, plan: Plan, batches: list, label: str = "js") -> tuple[list, float]:
    """Parse a driver output: per batch int32 status + floats, then the float32 self-test (stream jobs: 0)."""
    blob, pos, ys = path.read_bytes(), 0, []
    n_out = plan.buffers[plan.output].size
    for x in batches:
        status = int(np.frombuffer(blob, "<i4", 1, pos)[0])
        count = x.shape[0] * n_out
        if status != 0:
            msg = blob[pos + 4:pos + 4 + status].decode("utf8", "replace")
            raise ExportError(f"target {label!r}: predict threw: {msg}")
        ys.append(np.frombuffer(blob, "<f4", count, pos + 4).reshape(x.shape[0], *plan.output_shape).copy())
        pos += 4 + 4 * count
    return ys, float(np.frombuffer(blob, "<f4", 1, pos)[0])


def run_jobs(jobs: list[dict], timeout: float = 600) -> None:
    """Run many generated modules in one node process. Each job: module (path), input, output (paths),
    optional weights (path: await load(weights) first) and stream (true: step the single batch timestep by
    timestep instead of predict; the output holds (rows, steps, *out))."""
    with tempfile.TemporaryDirectory(prefix="kl_js_") as tmp:
        spec = Path(tmp) / "jobs.json"
        spec.write_text(json.dumps([{k: str(v) if isinstance(v, Path) else v for k, v in j.items()} for j in jobs]))
        done = subprocess.run([node(), str(DRIVER), str(spec)], capture_output=True, text=True, timeout=timeout,
                              check=False)
    if done.returncode != 0:
        raise ExportError(f"target 'js': node exited with {done.returncode}:\n{done.stderr[-4000:]}")


def run(plan: Plan, out_dir, name: str, batches: list, weights_file=False) -> tuple[list, float]:
    """Import the generated module in node, call predict on consecutive batches, then selfTest()."""
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="kl_js_run_") as tmp:
        src, dst = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        write_input(src, plan, batches)
        job = {"module": str((out_dir / f"{name}.js").resolve()), "input": str(src), "output": str(dst)}
        if weights_file:
            job["weights"] = str((out_dir / f"{name}.weights.bin").resolve())
        run_jobs([job])
        return read_output(dst, plan, batches)
