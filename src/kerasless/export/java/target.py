"""Java target: one ``<Name>.java`` (Java 8 source level, Android-friendly, no dependencies).

    public final class Model {
        public static float[] predict(float[] x, int batch);   // x: batch*INPUT_SIZE floats, C order
        public static float selfTest();                          // max abs diff on the embedded test vector
        public static void resetStates();                        // stateful models (no-op otherwise)
        public static void loadWeights(String path);             // --weights-file builds only
        public static final class Stream { Stream(); float[] step(float[] xT); void reset(); }  // streamable models
    }

The class name is ``--name`` (the CLI default ``model`` becomes ``Model``). The hand-written ``Runtime.java`` is
copied in as the nested class ``Rt`` (only the kernels the model uses). Weights live in one float[] blob: as
float literals split over many small methods and nested classes (the JVM limits a method to 64 KB of bytecode and a
class to 65535 constants), or with ``weights_file`` read from ``<Name>.weights.bin`` by ``loadWeights(path)``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .. import common
from ..common import check_identifier, float_literals, read_outputs, shape_comment, weight_offsets, write_weights_file
from ..emit import emit_call
from ..plan import RECURRENT_KERNELS, SIGNATURES, ExportError, Plan
from ..stream import stream_plan
from . import package as java_package

NAME = "java"
HERE = Path(__file__).parent
SPECIAL = {"inf": "Float.POSITIVE_INFINITY", "-inf": "Float.NEGATIVE_INFINITY", "nan": "Float.NaN"}
CHUNK = 4096  # floats per literal method (~8 bytes of bytecode each: < 64 KB)
CHUNKS_PER_CLASS = 7  # < 65535 constant-pool entries per nested class
JAVAC_FLAGS = ("--release", "8", "-Xlint:all", "-Werror", "-encoding", "UTF-8")
KIND = {"lstm": "Rt.LSTM", "gru": "Rt.GRU", "simple_rnn": "Rt.SIMPLE_RNN"}
MERGE = {"concat": "Rt.CONCAT", "sum": "Rt.SUM", "mul": "Rt.MUL", "ave": "Rt.AVE"}


def class_name(name: str) -> str:
    """The Java class for ``--name``: the name itself, except the CLI default ``model`` -> ``Model``."""
    check_identifier(name)
    return "Model" if name == "model" else name


def runtime_source(names: set) -> str:
    """The Runtime.java blocks ``names`` (and what they need), indented for nesting in the model class."""
    text = common.runtime_source([HERE / "Runtime.java"], names, NAME)
    return "\n".join(("    " + line) if line else "" for line in re.sub(r"\n{3,}", "\n\n", text).splitlines())


def _lits(array) -> list[str]:
    return float_literals(array, "f", SPECIAL)


def _float(v) -> str:
    return _lits([v])[0]


class _Gen:
    def __init__(self, plan: Plan, name: str, weights_file: bool, package: str | None):
        self.plan, self.cls, self.weights_file, self.package = plan, class_name(name), weights_file, package
        self.offsets = weight_offsets(plan)  # bytes
        self.stream = stream_plan(plan)
        self.total = sum(w.size for w in plan.weights.values())

    def woff(self, c, role) -> str:
        key = c.weights.get(role)
        return "-1" if key is None else str(self.offsets[key] // 4)

    def buf(self, name: str) -> str:
        return self.plan.storage(name)

    @staticmethod
    def act(name: str, nullable: bool = False) -> str:
        return f"Rt.ACT_{name.upper()}"

    # -- the call list: the shared emitter (emit.py) over this syntax -----------------------------------------
    indent, batch, none = "        ", "batch", "-1"

    def call(self, c, stream=False) -> list[str]:
        return emit_call(self.plan, c, self, stream, NAME)

    @staticmethod
    def comment(text: str) -> str:
        return f"// {text}"

    @staticmethod
    def function(kernel: str) -> str:
        head, *rest = kernel.split("_")
        return "Rt." + head + "".join(q.capitalize() for q in rest)

    def statement(self, c, fn: str, args: list, status: bool) -> list[str]:
        return [f"        {fn}({', '.join(args)});"]  # a bad token id throws

    def weight(self, c, role: str) -> str:
        """An offset into the weights blob ``w``, which the runtime takes once, before the call's first weight."""
        first = next(k for kind, k in SIGNATURES[c.kernel][0] if kind.startswith("weight"))
        return ("w, " if role == first else "") + self.woff(c, role)

    @staticmethod
    def literal(kind: str, value):
        if kind == "float":
            return _float(value)
        if kind == "bool":
            return str(bool(value)).lower()
        if kind == "enum":
            return MERGE[value]
        if kind == "ints":
            return "new int[] {" + ", ".join(map(str, value)) + "}"
        return None if kind == "rank" else str(value)

    def recurrent(self, c, stream: bool) -> list[str]:
        b, mask = self.buf, self.buf(c.mask) if c.mask else "null"
        x, y = b(c.inputs[0]), b(c.output)
        if stream:
            return [(f"        Rt.rnnStream(R_{c.output}, w, {x}, {mask}, {y}, st_{c.output}, prev_{c.output}, "
                    f"xp_{c.output}, nst_{c.output}, tmp);")]
        return [f"        Rt.rnn(R_{c.output}, w, {x}, {mask}, {y}, {'S_' + c.state if c.state else 'null'}, batch);"]

    # -- data as literals ---------------------------------------------------------------------------------------
    def data(self, label: str, array) -> tuple[list[str], str]:
        """Nested classes filling a float[] from literals; returns (lines, expression creating the array)."""
        flat = np.asarray(array, np.float32).ravel()
        n = flat.size
        chunks = [flat[i:i + CHUNK] for i in range(0, n, CHUNK)]
        out = []
        groups = [list(range(i, min(i + CHUNKS_PER_CLASS, len(chunks)))) for i in range(0, len(chunks),
                                                                                      CHUNKS_PER_CLASS)]
        for g, idx in enumerate(groups):
            out += ["", f"    private static final class {label}{g} {{",
                    "        static void fill(float[] a) {"]
            out += [f"            f{k}(a);" for k in idx]
            out.append("        }")
            for k in idx:
                lits = _lits(chunks[k])
                rows = [", ".join(lits[i:i + 8]) for i in range(0, len(lits), 8)]
                out += ["", f"        private static void f{k}(float[] a) {{",
                        "            final float[] c = {", *[f"                {r}," for r in rows], "            };",
                        f"            System.arraycopy(c, 0, a, {k * CHUNK}, c.length);", "        }"]
            out.append("    }")
        fill = " ".join(f"{label}{g}.fill(a);" for g in range(len(groups)))
        out += ["", f"    private static float[] {label.lower()}() {{",
                f"        final float[] a = new float[{max(1, n)}];", f"        {fill}" if fill else "", "        return a;",
                "    }"]
        return out, f"{label.lower()}()"

    # -- the file -----------------------------------------------------------------------------------------------
    def source(self) -> str:
        p, cls, sp = self.plan, self.cls, self.stream
        # activations are codes in core's switch: no act_ blocks
        sections = {n for n in common.runtime_names(p, not isinstance(sp, str)) if not n.startswith("act_")}
        sections |= {"max_diff"} | ({"load_blob"} if self.weights_file else set())
        n_in, n_out = p.buffers[p.input].size, p.buffers[p.output].size
        out = [(f"/* {cls}.java: Keras model {p.name!r} ({os.path.basename(p.source)}, Keras {p.keras_version}) "
               "exported by kerasless"),
               " * (target java). Generated: regenerate instead of editing.",
               f" * Input  x: float32 (batch, {', '.join(map(str, p.input_shape))}) C order, flattened"
               + (f"; token ids (0..{p.input_vocab - 1}) as float values" if p.input_vocab else ""),
               f" * Output y: float32 (batch, {', '.join(map(str, p.output_shape))})",
               f" * Build: javac --release 8 {cls}.java   (Java 8+, Android: add the file to your sources)",
               " */"]
        if self.package:
            out += [f"package {self.package};", ""]
        out += [f"public final class {cls} {{",
                "    /** Floats per sample of the input and of the output. */",
                f"    public static final int INPUT_SIZE = {n_in}, OUTPUT_SIZE = {n_out};"]
        if p.fixed_batch:
            out.append("    /** Stateful model: the only batch size predict accepts. */")
            out.append(f"    public static final int FIXED_BATCH = {p.fixed_batch};")
        if not isinstance(sp, str):
            out += ["    /** Floats of one timestep in and out of {@link Stream#step}. */",
                    f"    public static final int STEP_INPUT_SIZE = {sp.step_in}, STEP_OUTPUT_SIZE = {sp.step_out};"]
        limit = max(1, (2**31 - 1) // max([b.size for b in p.buffers.values()] + [1]))
        out += [f"    private static final int BATCH_LIMIT = {limit};"]
        if self.weights_file:
            out += [f"    private static final int WEIGHT_FLOATS = {self.total};",
                    "    private static volatile float[] w; // loadWeights()"]
        else:
            out += ["    private static final float[] w = blob();"]
        for c in p.calls:
            if c.kernel in RECURRENT_KERNELS:
                q = c.params
                ract = self.act(q["recurrent_activation"]) if "recurrent_activation" in q else "0"
                out.append(f"    private static final Rt.Rnn R_{c.output} = new Rt.Rnn({KIND[c.kernel]}, {q['seqs']}, "
                           f"{q['steps']}, {q['input_dim']}, {q['units']}, {self.woff(c, 'W')}, {self.woff(c, 'U')}, "
                           f"{self.woff(c, 'b')}, {self.woff(c, 'br')}, {self.act(q['activation'])}, {ract}, "
                           f"{str(bool(q.get('reset_after', False))).lower()}, {str(q['go_backwards']).lower()}, "
                           f"{str(q['return_sequences']).lower()}, {str(q['zero_output_for_mask']).lower()}); "
                           f"// {c.layer} ({c.layer_class})")
        states = [b for b in p.buffers.values() if b.kind == "state"]
        for s in states:
            out.append(f"    private static final float[] S_{s.name} = new float[{p.fixed_batch * s.size}]; "
                       f"// carried state {shape_comment(s.shape)} per sample")
        out += ["", f"    private {cls}() {{", "    }", ""]
        out += self.predict() + self.self_test(states) + self.loader() + self.stream_class()
        out += ["", "    /** The kerasless Java runtime (Runtime.java), the kernels this model uses. */",
                "    static final class Rt {", "        private Rt() {", "        }", "",
                runtime_source(sections), "    }"]
        if not self.weights_file:
            lines, _ = self.data("Blob", np.concatenate([w.ravel() for w in p.weights.values()] or
                                                        [np.zeros(0, np.float32)]))
            out += lines
        for label, arr in (("TestX", p.test_x), ("TestY", p.test_y)):
            out += self.data(label, arr)[0]
        out.append("}")
        return "\n".join(out) + "\n"

    def predict(self) -> list[str]:
        p = self.plan
        out = [("    /** y[batch * OUTPUT_SIZE] = model(x[batch * INPUT_SIZE]) (a new array); stateful models carry "
               "their state"),
               "     *  between calls. Throws IllegalArgumentException for a bad batch size / length or token id. */",
               f"    public static {'synchronized ' if p.stateful else ''}float[] predict(float[] x, int batch) {{",
               "        if (x == null || batch <= 0 || batch > BATCH_LIMIT || x.length != batch * INPUT_SIZE)",
               ("            throw new IllegalArgumentException(\"predict: need batch >= 1 and x.length == batch * "
               "INPUT_SIZE\");")]
        if p.fixed_batch:
            out += ["        if (batch != FIXED_BATCH)",
                    ("            throw new IllegalArgumentException(\"predict: a stateful model takes batch == "
                    "FIXED_BATCH\");")]
        out += self.weights_check()
        for b in p.buffers.values():
            if b.kind in ("data", "mask") and not b.alias_of:
                out.append(f"        final float[] {b.name} = new float[batch * {b.size}]; // {shape_comment(b.shape)}")
        for c in p.calls:
            out += self.call(c)
        res = self.buf(p.output)
        out += [f"        return {res}{'.clone()' if res == 'x' else ''};", "    }", ""]
        return out

    def weights_check(self) -> list[str]:
        if not self.weights_file:
            return ["        final float[] w = " + f"{self.cls}.w;"]
        return [f"        final float[] w = {self.cls}.w;", "        if (w == null)",
                "            throw new IllegalStateException(\"call loadWeights(path) first\");"]

    def self_test(self, states) -> list[str]:
        p = self.plan
        out = ["    /** Zero the recurrent states carried between predict calls (stateful models; no-op otherwise). */",
               f"    public static {'synchronized ' if p.stateful else ''}void resetStates() {{"]
        out += [f"        java.util.Arrays.fill(S_{s.name}, 0.0f);" for s in states] or ["        // not stateful"]
        out += ["    }", "",
                ("    /** Run the embedded test vector; the max abs difference to the expected output (Infinity on "
                "failure)."),
                "     *  Resets the states of a stateful model. */",
                f"    public static {'synchronized ' if p.stateful else ''}float selfTest() {{",
                "        final float[] y, want = testy();", "        try {", "            resetStates();",
                f"            y = predict(testx(), {p.test_x.shape[0]});", "        } catch (RuntimeException e) {",
                "            return Float.POSITIVE_INFINITY;", "        } finally {", "            resetStates();",
                "        }", "        return Rt.maxDiff(y, want);", "    }", ""]
        return out

    def loader(self) -> list[str]:
        if not self.weights_file:
            return []
        return [f"    /** Load {self.cls}.weights.bin (little-endian float32, see {self.cls}.weights.json). */",
                "    public static synchronized void loadWeights(String path) throws java.io.IOException {",
                "        w = Rt.loadBlob(path, WEIGHT_FLOATS);", "    }", ""]

    def stream_class(self) -> list[str]:
        sp = self.stream
        if isinstance(sp, str):
            return [f"    // No Stream class: {sp}.", ""]
        out = ["    /** One timestep of one sample at a time (kerasless model.stream(batch_size=1)): step t returns what",
               ("     *  predict returns for timestep t (return_sequences) or for the prefix x[:t+1]. One per sequence "
               "(not thread-safe). */"),
               "    public static final class Stream {"]
        tmp = 0
        for c in sp.recurrent:
            u, g, ns = c.params["units"], len(c.params["gates"]) * c.params["units"], len(c.params["states"])
            tmp = max(tmp, 2 * g + 2 * u)
            n = c.output
            out += [(f"        private final float[] st_{n} = new float[{ns * u}], prev_{n} = new float[{u}], "
                    f"xp_{n} = new float[{g}], nst_{n} = new float[{ns * u}];")]
        out.append(f"        private final float[] tmp = new float[{tmp}];")
        for name, b in self.plan.buffers.items():
            if b.kind in ("data", "mask") and not b.alias_of and name in sp.sizes:
                out.append(f"        private final float[] {name} = new float[{sp.sizes[name]}];")
        out += ["", "        /** A stream at the start of a sequence (all states zero). */", "        public Stream() {",
                "        }", "", "        /** Zero every state (start a new sequence). */", "        public void reset() {"]
        for c in sp.recurrent:
            out += [f"            java.util.Arrays.fill(st_{c.output}, 0.0f);",
                    f"            java.util.Arrays.fill(prev_{c.output}, 0.0f);"]
        out += ["        }", "",
                "        /** y_t[STEP_OUTPUT_SIZE] (a new array) = the model on one more timestep xT[STEP_INPUT_SIZE]. */",
                "        public float[] step(float[] xT) {", "            if (xT == null || xT.length != STEP_INPUT_SIZE)",
                "                throw new IllegalArgumentException(\"step: need xT.length == STEP_INPUT_SIZE\");",
                "            final float[] x = xT;", "            final int batch = 1;"]
        out += ["    " + line for line in self.weights_check()]
        for c in sp.calls:
            out += ["    " + line for line in self.call(c, stream=True)]
        out += [f"            return {self.buf(self.plan.output)}.clone();", "        }", "    }", ""]
        return out


def write(plan: Plan, out_dir, name: str = "model", weights_file: bool = False, package: str | None = None,
          readme: bool = True) -> list[Path]:
    """Write ``<Name>.java`` (plus ``<Name>.weights.bin`` / ``.json`` with ``weights_file``) and ``README.md``
    into ``out_dir``; ``package`` (``com.example.ml``) adds the package declaration and its folders
    (``com/example/ml/``)."""
    root = out_dir
    cls = class_name(name)
    if package is not None and not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", package):
        raise ExportError(f"--package {package!r} must be a Java package name like com.example.ml (target 'java')")
    out_dir = Path(out_dir).joinpath(*(package.split(".") if package else []))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{cls}.java"
    gen = _Gen(plan, name, weights_file, package)
    path.write_text(gen.source())
    files = [path]
    if weights_file:
        files += write_weights_file(plan, out_dir, cls)
    if readme:
        files.append(Path(root) / "README.md")
        files[-1].write_text(java_package.readme(plan, cls, package, weights_file, not isinstance(gen.stream, str)))
    return files


def source_file(out_dir, name: str) -> tuple[Path, str]:
    """(path of the written ``<Name>.java`` under ``out_dir``, its fully qualified class name)."""
    cls = class_name(name)
    for path in sorted(Path(out_dir).rglob(f"{cls}.java"), key=lambda q: len(q.parts)):
        m = re.search(r"^package ([\w.]+);", path.read_text(), re.MULTILINE)
        return path, (f"{m.group(1)}.{cls}" if m else cls)
    raise ExportError(f"target 'java': no {cls}.java under {out_dir}")


# -- toolchain ----------------------------------------------------------------------------------------------------
def tool(name: str) -> str:
    """javac / java from $JAVA_HOME/bin or PATH; ExportError when missing."""
    home = os.environ.get("JAVA_HOME")
    for cand in ([str(Path(home) / "bin" / name)] if home else []) + [shutil.which(name) or ""]:
        if cand and Path(cand).exists():
            return cand
    raise ExportError(f"target 'java': {name} not found (install a JDK >= 9, e.g. apt-get install default-jdk-headless)")


def javac(sources, classes, flags=JAVAC_FLAGS, driver=True, jobs=1) -> Path:
    """Compile ``sources`` (plus Driver.java) into ``classes`` with ``javac --release 8``, in ``jobs`` parallel
    javac processes (sources in different packages); errors -> ExportError."""
    from concurrent.futures import ThreadPoolExecutor

    classes = Path(classes)
    classes.mkdir(parents=True, exist_ok=True)
    sources = [str(s) for s in sources]
    groups = [sources[i::max(1, jobs)] for i in range(max(1, jobs))]
    groups[0] = ([str(HERE / "Driver.java")] if driver else []) + groups[0]

    def one(group):
        cmd = [tool("javac"), "-J-XX:TieredStopAtLevel=1", *flags, "-d", str(classes), *group]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ExportError(f"target 'java': javac failed:\n{' '.join(cmd[:9])} ...\n{done.stderr[-4000:]}")

    with ThreadPoolExecutor(len(groups)) as pool:
        list(pool.map(one, [g for g in groups if g]))
    return classes


def predict_input(plan: Plan, batches) -> bytes:
    n_in, n_out = plan.buffers[plan.input].size, plan.buffers[plan.output].size
    parts = [np.array([n_in, n_out, len(batches)], "<i4").tobytes()]
    for x in batches:
        parts += [np.array([x.shape[0], 0], "<i4").tobytes(), np.ascontiguousarray(x, "<f4").tobytes()]
    return b"".join(parts)


def stream_input(step_in: int, step_out: int, xs) -> bytes:
    """xs: (n_seqs, steps, *step shape) float32."""
    xs = np.ascontiguousarray(xs, "<f4")
    return np.array([step_in, step_out, xs.shape[0], xs.shape[1]], "<i4").tobytes() + xs.tobytes()


def stream_output(step_out: int, xs, blob: bytes) -> tuple[np.ndarray, float]:
    n = xs.shape[0] * xs.shape[1] * step_out
    return np.frombuffer(blob, "<f4", n).reshape(xs.shape[0], xs.shape[1], step_out).copy(), \
        float(np.frombuffer(blob, "<f4", 1, 4 * n)[0])


def java(classes, jobs: list[list[str]], timeout: float = 600) -> None:
    """Run Driver on ``jobs`` (``[kind, class, in, out, (weights)]``) in one JVM."""
    with tempfile.TemporaryDirectory(prefix="kl_java_") as tmp:
        jobs_file = Path(tmp) / "jobs.txt"
        jobs_file.write_text("\n".join(" ".join(map(str, j)) for j in jobs) + "\n")
        cmd = [tool("java"), "-Xss16m", "-cp", str(classes), "Driver", str(jobs_file)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout)
    if done.returncode != 0:
        raise ExportError(f"target 'java': {' '.join(cmd)} exited with {done.returncode}:\n{done.stderr[-4000:]}")


def run(plan: Plan, out_dir, name: str, batches: list, weights_file=False) -> tuple[list, float]:
    """Compile ``<Name>.java`` with javac --release 8 and run predict on consecutive batches, then selfTest()."""
    source, qualified = source_file(out_dir, name)
    with tempfile.TemporaryDirectory(prefix="kl_java_") as tmp:
        tmp = Path(tmp)
        classes = javac([source], tmp / "classes")
        (tmp / "in.bin").write_bytes(predict_input(plan, batches))
        job = ["predict", qualified, tmp / "in.bin", tmp / "out.bin"]
        if weights_file:
            job.append(source.parent / f"{class_name(name)}.weights.bin")
        java(classes, [job])
        return read_outputs(plan, batches, (tmp / "out.bin").read_bytes(), "java")
