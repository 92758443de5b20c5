"""C target: ``<name>.h`` + ``<name>.c`` (+ ``CMakeLists.txt``, ``README.md``): one translation unit per model.

``<name>.c`` holds the runtime.c / runtime_activations.c blocks its plan uses (as static functions), the weights,
the test vector and the call list; ``<name>.h`` is self-contained (status codes inlined). Compile ``<name>.c``
alone or every ``.c`` in the folder (CMake ``file(GLOB *.c)``, Xcode, SwiftPM): both are the same thing. No
allocation in the predict path: buffers live in one workspace, static for ``<name>_predict``
(``<NAME>_MAX_BATCH`` rows) or caller-provided for ``<name>_predict_ws``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .. import common
from ..common import (
    check_identifier,
    float_literals,
    read_outputs,
    sanitize,
    shape_comment,
    weight_offsets,
    wrap,
    write_weights_file,
)
from ..emit import emit_call, record_fields
from ..plan import RECURRENT_KERNELS, ExportError, Plan
from ..stream import stream_plan
from . import package

NAME = "c"
HERE = Path(__file__).parent
RUNTIME = (HERE / "runtime.c", HERE / "runtime_activations.c")  # //@block files copied into <name>.c
FLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic")
SPECIAL = {"inf": "INFINITY", "-inf": "(-INFINITY)", "nan": "NAN"}
STATIC_WS_FLOATS = 16 << 20  # default <NAME>_MAX_BATCH keeps the static workspace under 64 MB
RECORD = {"activation": "act", "recurrent_activation": "ract"}  # kl_rnn field names that differ
MERGE = {"concat": "KL_MERGE_CONCAT", "sum": "KL_MERGE_SUM", "mul": "KL_MERGE_MUL", "ave": "KL_MERGE_AVE"}


def _floats(array) -> str:
    return wrap(float_literals(array, "f", SPECIAL))


def scratch_floats(plan: Plan) -> int:
    """KL_RNN_SCRATCH of the largest recurrent call (runtime.c)."""
    sizes = [(c.params["steps"] + 2) * len(c.params["gates"]) * c.params["units"] + 6 * c.params["units"]
             for c in plan.calls if c.kernel in RECURRENT_KERNELS]
    return max(sizes, default=0)


def layout(plan: Plan) -> dict[str, int]:
    """Per-sample workspace offset (floats) of every buffer that needs storage."""
    offsets, pos = {}, 0
    for b in plan.buffers.values():
        if b.kind in ("data", "mask") and not b.alias_of:
            offsets[b.name] = pos
            pos += b.size
    return offsets


def _weight_names(plan):
    return {k: f"w{i}_{sanitize(k)}" for i, k in enumerate(plan.weights)}


class _Gen:
    def __init__(self, plan: Plan, name: str, weights_file: bool):
        self.plan, self.name, self.up, self.weights_file = plan, name, name.upper(), weights_file
        self.w = _weight_names(plan)
        self.offsets = layout(plan)
        self.per_sample = sum(plan.buffers[n].size for n in self.offsets)
        self.scratch = scratch_floats(plan)
        self.stream = stream_plan(plan)  # a StreamPlan, or why the model cannot stream

    def buf(self, name: str) -> str:
        return self.plan.storage(name)

    def act(self, name: str, nullable=False) -> str:
        return "NULL" if nullable and name == "linear" else f"kl_act_{name}"

    # -- the call list: the shared emitter (emit.py) over this syntax -----------------------------------------
    indent, batch, none = "    ", "batch", "NULL"


    def call(self, c, stream: bool = False) -> list[str]:
        return emit_call(self.plan, c, self, stream, NAME)

    @staticmethod
    def comment(text: str) -> str:
        return f"/* {text} */"

    @staticmethod
    def function(kernel: str) -> str:
        return f"kl_{kernel}"

    def statement(self, c, fn: str, args: list, status: bool) -> list[str]:
        if status:
            return [f"    if ({fn}({', '.join(args)}) != KL_OK)", "        return KL_ERR_TOKEN;"]
        return [f"    {fn}({', '.join(args)});"]

    def weight(self, c, role: str) -> str:
        return self.w[c.weights[role]] if role in c.weights else "NULL"

    @staticmethod
    def literal(kind: str, value) -> str:
        if kind == "float":
            return float_literals([value], "f", SPECIAL)[0]
        if kind == "bool":
            return str(int(bool(value)))
        if kind == "enum":
            return MERGE[value]
        if kind == "ints":
            return "(const int[]){" + ", ".join(map(str, value)) + "}"
        return str(len(value)) if kind == "rank" else str(value)

    def recurrent(self, c, stream: bool) -> list[str]:
        fields = [f".{RECORD.get(k, k)} = {v}" for k, v in record_fields(c, self)]
        b, mask = self.buf, self.buf(c.mask) if c.mask else "NULL"
        if stream:
            run = (f"kl_{c.kernel}_stream(&p, {b(c.inputs[0])}, {mask}, {b(c.output)}, s->{c.output}_state, "
                   f"s->{c.output}_prev, scratch);")
        else:
            run = (f"kl_{c.kernel}(&p, {b(c.inputs[0])}, {mask}, {b(c.output)}, "
                   f"{'kl_state.' + c.state if c.state else 'NULL'}, scratch, batch);")
        pad = "                          "
        return ["    {", "        const kl_rnn p = {" + ", ".join(fields[:5]) + ",", pad + ", ".join(fields[5:9]) + ",",
                pad + ", ".join(fields[9:11]) + ",", pad + ", ".join(fields[11:]) + "};", "        " + run, "    }"]

    # -- files ------------------------------------------------------------------------------------------------
    def header(self) -> str:
        p, n, up = self.plan, self.name, self.up
        max_batch = max(1, min(64, STATIC_WS_FLOATS // max(1, self.per_sample)), p.fixed_batch or 1)
        lines = [f"/* {n}.h: Keras model {p.name!r} exported by kerasless (target c). Generated: do not edit.",
                 f" * Input  x: float32 (batch, {', '.join(map(str, p.input_shape))}) C order, flattened"
                 + (f"; token ids (0..{p.input_vocab - 1}) as float values" if p.input_vocab else ""),
                 f" * Output y: float32 (batch, {', '.join(map(str, p.output_shape))})",
                 " * Returns KL_OK (0), or KL_ERR_ARGS / KL_ERR_TOKEN / KL_ERR_WEIGHTS (runtime.h).",
                 f" * {n}_predict uses a static workspace (not thread-safe, batch <= {up}_MAX_BATCH: raise it with",
                 f" * -D{up}_MAX_BATCH=n when compiling {n}.c); {n}_predict_ws uses yours and has no such limit.",
                 " */", f"#ifndef {up}_H_", f"#define {up}_H_", "", "#include <stddef.h>", "",
                 runtime_header(), "", "#ifdef __cplusplus", 'extern "C" {', "#endif", "",
                 f"#define {up}_INPUT_SIZE {p.buffers[p.input].size} /* floats per sample */",
                 f"#define {up}_OUTPUT_SIZE {p.buffers[p.output].size} /* floats per sample */",
                 f"#ifndef {up}_MAX_BATCH", f"#define {up}_MAX_BATCH {max_batch}", "#endif"]
        if p.fixed_batch:
            lines.append(f"#define {up}_FIXED_BATCH {p.fixed_batch} /* stateful: the only batch size accepted */")
        lines += ["", "/* y[batch * OUTPUT_SIZE] = model(x[batch * INPUT_SIZE]); 0 on success. */",
                  f"int {n}_predict(const float *x, int batch, float *y);",
                  "/* Bytes of workspace _predict_ws needs for `batch` rows (0 if batch <= 0). */",
                  f"size_t {n}_workspace_size(int batch);",
                  "/* Same as _predict with a caller-provided workspace (thread-safe unless the model is stateful). */",
                  f"int {n}_predict_ws(const float *x, int batch, float *y, void *workspace);",
                  "/* Zero the recurrent states carried between calls (stateful models; a no-op otherwise). */",
                  f"void {n}_reset_states(void);",
                  "/* Run the embedded test vector; returns the max abs difference to the expected output",
                  " * (INFINITY on failure). Resets the states of a stateful model. */",
                  f"float {n}_self_test(void);"]
        lines += self.stream_header()
        if self.weights_file:
            lines += [f"/* Load {n}.weights.bin (little-endian float32, see {n}.weights.json); 0 on success. */",
                      f"int {n}_load_weights(const char *path);", f"void {n}_free_weights(void);"]
        lines += ["", "#ifdef __cplusplus", "}", "#endif", "", f"#endif /* {up}_H_ */", ""]
        return "\n".join(lines)

    def source(self) -> str:
        p, n = self.plan, self.name
        blocks = common.runtime_names(p, stream=not isinstance(self.stream, str)) | {"max_diff"}
        if self.weights_file:
            blocks.add("load_blob")
        runtime = common.runtime_source(RUNTIME, blocks, "c").replace("KL_API ", "static ")
        out = [f"/* {n}.c: Keras model {p.name!r} ({os.path.basename(p.source)}, Keras {p.keras_version}) exported",
               f" * by kerasless (target c). Generated: regenerate instead of editing. API and contract: see {n}.h.",
               f" * One translation unit (C99, link -lm): cc -std=c99 -O2 -c {n}.c", " */",
               f'#include "{n}.h"', "", "#include <math.h>", "#include <string.h>", ""]
        if self.weights_file:
            out += ["#include <stdio.h>", "#include <stdlib.h>", ""]
        out += ["/* ---- runtime: the kerasless/export/c runtime blocks this model uses ---- */", runtime, ""]
        out += [f"#define KL_WS_PER_SAMPLE {self.per_sample} /* floats of intermediate buffers per sample */",
                f"#define KL_WS_SCRATCH {self.scratch} /* floats of recurrent scratch per call */",
                f"#define KL_BATCH_LIMIT {self.batch_limit()} /* keeps every size below INT_MAX */",
                f"#define KL_TEST_BATCH {p.test_x.shape[0]}", ""]
        out += self.weights() + self.test_vector() + self.states()
        out += self.predict_ws() + self.wrappers() + self.stream_source()
        return "\n".join(out) + "\n"

    def batch_limit(self) -> int:
        p = self.plan
        biggest = max([b.size for b in p.buffers.values()] + [self.per_sample, 1])
        return max(1, min((2**31 - 1) // biggest, (2**31 - 1) // max(1, self.per_sample)))

    def weights(self) -> list[str]:
        p, out = self.plan, ["/* ---- weights (Keras layout, row-major) ---- */"]
        if self.weights_file:
            total = sum(w.size for w in p.weights.values()) * 4
            out += [f"#define KL_WEIGHTS_BYTES {total}u", "static float *kl_blob = NULL;"]
            out += [f"static const float *{self.w[k]} = NULL; /* {k} {shape_comment(w.shape)} */"
                    for k, w in p.weights.items()]
            return out + [""]
        for k, w in p.weights.items():
            out += [f"/* {k} {shape_comment(w.shape)} */", f"static const float {self.w[k]}[{max(1, w.size)}] = {{",
                    _floats(w) if w.size else "    0.0f", "};"]
        return out + [""]

    def test_vector(self) -> list[str]:
        p = self.plan
        return ["/* ---- test vector: kerasless predict(kl_test_x) == kl_test_y ---- */",
                f"static const float kl_test_x[{p.test_x.size}] = {{", _floats(p.test_x), "};",
                f"static const float kl_test_y[{p.test_y.size}] = {{", _floats(p.test_y), "};", ""]

    def states(self) -> list[str]:
        p, n = self.plan, self.name
        states = [b for b in p.buffers.values() if b.kind == "state"]
        out = []
        if states:
            out += [f"/* ---- recurrent states carried between calls: ({self.up}_FIXED_BATCH, *shape) each ---- */",
                    "static struct {"]
            out += [f"    float {s.name}[{p.fixed_batch * s.size}]; /* {shape_comment(s.shape)} per sample */"
                    for s in states]
            out.append("} kl_state;")
        out += ["", f"void {n}_reset_states(void)", "{",
                "    memset(&kl_state, 0, sizeof kl_state);" if states else "    /* not stateful */", "}", ""]
        return out

    def predict_ws(self) -> list[str]:
        p, n = self.plan, self.name
        out = [f"size_t {n}_workspace_size(int batch)", "{",
               "    if (batch <= 0) return 0;",
               "    return ((size_t)batch * KL_WS_PER_SAMPLE + KL_WS_SCRATCH) * sizeof(float);", "}", "",
               f"int {n}_predict_ws(const float *x, int batch, float *y, void *workspace)", "{",
               "    float *ws = (float *)workspace;"]
        for name, off in self.offsets.items():
            out.append(f"    float *{name} = ws + (size_t)batch * {off}; /* {shape_comment(p.buffers[name].shape)} */")
        if self.scratch:
            out.append("    float *scratch = ws + (size_t)batch * KL_WS_PER_SAMPLE;")
        checks = "x == NULL || y == NULL || ws == NULL || batch <= 0 || batch > KL_BATCH_LIMIT"
        if p.fixed_batch:
            checks += f" || batch != {p.fixed_batch}"
        out += [f"    if ({checks})", "        return KL_ERR_ARGS;"]
        if self.weights_file:
            out += ["    if (kl_blob == NULL)", "        return KL_ERR_WEIGHTS;"]
        for c in p.calls:
            out += self.call(c)
        out += [f"    memcpy(y, {self.buf(p.output)}, (size_t)batch * {p.buffers[p.output].size} * sizeof(float));",
                "    return KL_OK;", "}", ""]
        return out

    def wrappers(self) -> list[str]:
        n, up, p = self.name, self.up, self.plan
        out = [f"static float kl_ws[(size_t){up}_MAX_BATCH * KL_WS_PER_SAMPLE + KL_WS_SCRATCH + 1];", "",
               f"int {n}_predict(const float *x, int batch, float *y)", "{",
               f"    if (batch <= 0 || batch > {up}_MAX_BATCH)", "        return KL_ERR_ARGS;",
               f"    return {n}_predict_ws(x, batch, y, kl_ws);", "}", "",
               f"float {n}_self_test(void)", "{",
               f"    static float y[KL_TEST_BATCH * {up}_OUTPUT_SIZE];",
               "    static float ws[KL_TEST_BATCH * KL_WS_PER_SAMPLE + KL_WS_SCRATCH + 1]; /* any MAX_BATCH */",
               "    int rc;",
               f"    {n}_reset_states();", f"    rc = {n}_predict_ws(kl_test_x, KL_TEST_BATCH, y, ws);",
               *([f"    {n}_reset_states();"] if p.stateful else []),
               f"    return rc != KL_OK ? INFINITY : kl_max_diff(y, kl_test_y, KL_TEST_BATCH * {up}_OUTPUT_SIZE);", "}"]
        if self.weights_file:
            out += self.loader()
        return out

    # -- streaming API (one timestep of one sample; see stream.py) -------------------------------------------------
    def stream_header(self) -> list[str]:
        n, up, sp = self.name, self.up, self.stream
        if isinstance(sp, str):
            return ["", f"/* No streaming API ({n}_stream_step): {sp}. */"]
        lines = ["", "/* Streaming: feed one timestep of one sample at a time, O(1) work per step; step t returns what",
                 f" * {n}_predict returns for timestep t (return_sequences) or for the prefix x[:t+1] (last output).",
                 " * The state holds everything (recurrent states and workspace): no allocation, one state per stream;",
                 f" * zero it with {n}_stream_reset before the first step (or declare it static / = {{0}}). */",
                 f"#define {up}_STEP_INPUT_SIZE {sp.step_in} /* floats of x_t */",
                 f"#define {up}_STEP_OUTPUT_SIZE {sp.step_out} /* floats of y_t */",
                 f"typedef struct {n}_state {{"]
        for c in sp.recurrent:
            u, ns = c.params["units"], len(c.params["states"])
            lines += [(f"    float {c.output}_state[{ns * u}]; /* {c.layer} ({c.layer_class}): "
                      f"{', '.join(c.params['states'])} */"),
                      f"    float {c.output}_prev[{u}]; /* its previous output (masked steps repeat it) */"]
        lines += [f"    float ws[{self.stream_ws_floats()}]; /* per-step buffers + recurrent scratch */",
                  f"}} {n}_state;",
                  "/* Zero every state (start a new sequence). */",
                  f"void {n}_stream_reset({n}_state *s);",
                  f"/* y_t[{up}_STEP_OUTPUT_SIZE] = model step on x_t[{up}_STEP_INPUT_SIZE]; KL_OK (0) or an error code. */",
                  f"int {n}_stream_step({n}_state *s, const float *x_t, float *y_t);"]
        return lines

    def stream_offsets(self) -> dict[str, int]:
        sp, offsets, pos = self.stream, {}, 0
        for name, b in self.plan.buffers.items():
            if b.kind in ("data", "mask") and not b.alias_of and name in sp.sizes:
                offsets[name] = pos
                pos += sp.sizes[name]
        return offsets

    def stream_ws_floats(self) -> int:
        return sum(self.stream.sizes[k] for k in self.stream_offsets()) + self.stream.scratch

    def stream_source(self) -> list[str]:
        n, sp = self.name, self.stream
        if isinstance(sp, str):
            return ["", f"/* No streaming API: {sp}. */"]
        out = ["", f"void {n}_stream_reset({n}_state *s)", "{", "    if (s != NULL)",
               "        memset(s, 0, sizeof *s);", "}", "",
               f"int {n}_stream_step({n}_state *s, const float *x_t, float *y_t)", "{",
               "    const int batch = 1;", "    const float *x = x_t;", "    float *scratch;"]
        offsets = self.stream_offsets()
        out += [f"    float *{name};" for name in offsets]
        out += ["    if (s == NULL || x_t == NULL || y_t == NULL)", "        return KL_ERR_ARGS;"]
        if self.weights_file:
            out += ["    if (kl_blob == NULL)", "        return KL_ERR_WEIGHTS;"]
        for name, off in offsets.items():
            out.append(f"    {name} = s->ws + {off}; /* {self.stream.sizes[name]} float(s) per step */")
        out.append(f"    scratch = s->ws + {sum(sp.sizes[k] for k in offsets)};")
        uses_batch = False
        for c in sp.calls:
            out += self.call(c, stream=True)
            uses_batch = uses_batch or c.kernel not in RECURRENT_KERNELS
        if not uses_batch:
            out.insert(out.index("    const int batch = 1;") + 1, "    (void)batch;")
        out += [f"    memcpy(y_t, {self.buf(self.plan.output)}, {sp.step_out} * sizeof(float));",
                "    return KL_OK;", "}"]
        return out

    def loader(self) -> list[str]:
        n, p = self.name, self.plan
        offsets = weight_offsets(p)
        out = ["", f"void {n}_free_weights(void)", "{", "    free(kl_blob);", "    kl_blob = NULL;"]
        out += [f"    {self.w[k]} = NULL;" for k in p.weights]
        out += ["}", "", f"int {n}_load_weights(const char *path)", "{", "    float *blob = NULL;",
                "    const int rc = kl_load_blob(path, KL_WEIGHTS_BYTES, &blob);", "    if (rc != KL_OK)",
                "        return rc;", f"    {n}_free_weights();", "    kl_blob = blob;"]
        out += [f"    {self.w[k]} = blob + {offsets[k] // 4};" for k in p.weights]
        return out + ["    return KL_OK;", "}"]


def runtime_header() -> str:
    """runtime.h without its leading comment: the status codes and types every generated header carries."""
    text = (HERE / "runtime.h").read_text()
    return text[text.index("#ifndef KL_RUNTIME_H"):].strip()


def sources(plan: Plan, name: str, weights_file: bool = False):
    """(``<name>.h`` text, ``<name>.c`` text, the StreamPlan or why the model cannot stream): for targets that wrap
    the C export (swift)."""
    gen = _Gen(plan, name, weights_file)
    return gen.header(), gen.source(), gen.stream


def write(plan: Plan, out_dir, name: str = "model", weights_file: bool = False) -> list[Path]:
    """Write ``<name>.h``, ``<name>.c``, ``CMakeLists.txt`` and ``README.md`` (plus ``<name>.weights.bin`` /
    ``.json`` with ``weights_file``) into ``out_dir``."""
    check_identifier(name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gen = _Gen(plan, name, weights_file)
    files = [out_dir / f"{name}.h", out_dir / f"{name}.c"]
    files[0].write_text(gen.header())
    files[1].write_text(gen.source())
    files += package.write(plan, out_dir, name, weights_file, gen.stream)
    if weights_file:
        files += write_weights_file(plan, out_dir, name)
    return files


def compiler() -> str:
    """$CC, else gcc, else clang, else cc; ExportError when none is installed."""
    for cc in (os.environ.get("CC"), "gcc", "clang", "cc"):
        if cc and shutil.which(cc):
            return cc
    raise ExportError("target 'c': no C compiler found (install gcc or clang, or set CC)")


def compile_harness(out_dir, name: str, exe, weights_file=False, cc=None, flags=FLAGS, harness=None) -> Path:
    """Build the verification harness (harness.c, or a prebuilt ``harness`` object from :func:`harness_object`)
    with the generated ``<name>.c``; returns the executable. A compiler error raises ExportError."""
    out_dir, exe = Path(out_dir), Path(exe)
    main = [str(harness)] if harness else [*_harness_defines(name, weights_file), str(HERE / "harness.c")]
    _cc([cc or compiler(), *flags, *main, str(out_dir / f"{name}.c"), "-o", str(exe), "-lm"], out_dir / f"{name}.c")
    return exe


def harness_object(name: str, obj, weights_file=False, cc=None, flags=FLAGS) -> Path:
    """Compile harness.c once for every model exported under ``name`` (tests link many models against it)."""
    _cc([cc or compiler(), *flags, *_harness_defines(name, weights_file), "-c", str(HERE / "harness.c"), "-o",
         str(obj)], HERE / "harness.c")
    return Path(obj)


def _harness_defines(name, weights_file):
    return [f"-DKL_NAME={name}", f"-DKL_WEIGHTS_FILE={int(weights_file)}"]


def _cc(cmd, what):
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ExportError(f"target 'c': compiling {what} failed:\n{' '.join(cmd)}\n{done.stderr[-4000:]}")


def execute(exe, plan: Plan, batches: list, weights=None, modes=None, env=None) -> tuple[list, float]:
    """Run the harness on consecutive batches; returns ([y per batch], self_test diff). Status != 0 -> ExportError."""
    modes = modes or [0] * len(batches)
    n_in, n_out = plan.buffers[plan.input].size, plan.buffers[plan.output].size
    with tempfile.TemporaryDirectory(prefix="kl_run_") as tmp:
        src, dst = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        parts = [np.array([n_in, n_out, len(batches)], "<i4").tobytes()]
        for x, mode in zip(batches, modes):
            x = np.ascontiguousarray(x, "<f4")
            parts += [np.array([x.shape[0], mode], "<i4").tobytes(), x.tobytes()]
        src.write_bytes(b"".join(parts))
        cmd = [str(exe), str(src), str(dst)] + ([str(weights)] if weights else [])
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise ExportError(f"target 'c': {exe} exited with {done.returncode}:\n{done.stderr[-4000:]}")
        blob = dst.read_bytes()
    return read_outputs(plan, batches, blob, "c")


def run(plan: Plan, out_dir, name: str, batches: list, weights_file=False) -> tuple[list, float]:
    """Compile the generated code with the real toolchain and run it on consecutive batches (for --verify)."""
    with tempfile.TemporaryDirectory(prefix="kl_c_") as tmp:
        exe = compile_harness(out_dir, name, Path(tmp) / "harness", weights_file)
        weights = Path(out_dir) / f"{name}.weights.bin" if weights_file else None
        return execute(exe, plan, batches, weights)
