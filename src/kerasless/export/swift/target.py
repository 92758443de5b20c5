"""Swift target: a SwiftPM package around the C export (iPhone, macOS, Linux).

    Package.swift                      library product <Name>, targets C<Name>, <Name>, <Name>Tests
    Sources/C<Name>/<name>.c           the c target's translation unit (the numerics)
    Sources/C<Name>/include/<name>.h
    Sources/<Name>/<Name>.swift        public enum <Name>: inputShape, outputShape, predict, selfTest, resetStates,
                                       Stream (models that stream), loadWeights (weights-file builds)
    Sources/<Name>/KeraslessRuntime.swift   the hand-written Runtime.swift, unchanged
    Tests/<Name>Tests/<Name>Tests.swift     XCTest: the embedded test vector through the Swift API, the stream
    Tests/<Name>Tests/KeraslessVerify.swift the hand-written Verify.swift: output comparison, the --verify protocol
    README.md

``<Name>`` is ``--name`` with its first letter upper-cased (the CLI default ``model`` -> ``Model``); the C symbols
keep ``--name``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..c import target as c_target
from ..common import check_identifier, float_literals, read_outputs, wrap, write_weights_file
from ..java.target import predict_input
from ..plan import ExportError, Plan
from . import package

NAME = "swift"
HERE = Path(__file__).parent
SPECIAL = {"inf": "Float.infinity", "-inf": "-Float.infinity", "nan": "Float.nan"}
SWIFT_DIRS = ("/opt/swift/usr/bin",)  # where toolchain installers put swift when it is not on PATH


def type_name(name: str) -> str:
    """The Swift module / enum name for ``--name``: first letter upper-cased."""
    check_identifier(name)
    return name[0].upper() + name[1:]


def floats(array) -> str:
    return wrap(float_literals(array, "", SPECIAL), per_line=8, indent="    ")


def swift_api(plan: Plan, name: str, weights_file: bool, stream) -> str:
    """Sources/<Name>/<Name>.swift: the public enum over the C core."""
    t, cmod = type_name(name), f"C{type_name(name)}"
    shape = ", ".join(map(str, plan.input_shape))
    out = [f"// {t}.swift: Keras model {plan.name!r} exported by kerasless (target swift). Generated: do not edit.",
           f"import {cmod}", "",
           f"/// Keras model `{plan.name}`: input float32 (batch, {shape}) C order, flattened"
           + (f"; token ids (0..{plan.input_vocab - 1}) as float values." if plan.input_vocab else "."),
           f"public enum {t} {{", "    public typealias Error = KeraslessError", "",
           "    /// Per-sample input and output shapes (no batch axis).",
           f"    public static let inputShape: [Int] = [{shape}]",
           f"    public static let outputShape: [Int] = [{', '.join(map(str, plan.output_shape))}]",
           f"    public static let inputSize = {plan.buffers[plan.input].size}",
           f"    public static let outputSize = {plan.buffers[plan.output].size}",
           "    /// Stateful models accept only this batch size (nil: any).",
           f"    public static let fixedBatch: Int? = {plan.fixed_batch or 'nil'}", "",
           "    /// y (batch * outputSize floats) = model(x (batch * inputSize floats)), C order, like Keras predict.",
           "    /// Stateful models carry their states to the next call (resetStates() zeroes them).",
           "    public static func predict(_ x: [Float], batch: Int) throws -> [Float] {",
           "        try klPredict(x, batch: batch, inputSize: inputSize, outputSize: outputSize, fixedBatch: fixedBatch,",
           f"                      workspaceSize: {{ {name}_workspace_size($0) }}, predict: {name}_predict_ws)",
           "    }", "",
           "    /// Max abs difference between predict on the embedded test vector and kerasless's output.",
           f"    public static func selfTest() -> Float {{ {name}_self_test() }}", "",
           "    /// Zero the recurrent states carried between predict calls (stateful models; a no-op otherwise).",
           f"    public static func resetStates() {{ {name}_reset_states() }}"]
    if weights_file:
        out += ["", f"    /// Load {name}.weights.bin (little-endian float32) before predict.",
                "    public static func loadWeights(_ path: String) throws {",
                f"        try KeraslessError.check(Int32({name}_load_weights(path)))", "    }"]
    if isinstance(stream, str):
        out += ["", f"    // No Stream: {stream}."]
    else:
        out += ["", f"    public static let stepInputSize = {stream.step_in}",
                f"    public static let stepOutputSize = {stream.step_out}", "",
                "    /// One timestep of one sample at a time (stepInputSize floats -> stepOutputSize), carrying every",
                "    /// recurrent state: step t returns what predict returns for timestep t (or for the prefix x[:t+1]).",
                "    public final class Stream {",
                f"        private let core = KLStream<{name}_state>(inputSize: stepInputSize, outputSize: stepOutputSize,",
                f"                                                step: {name}_stream_step, reset: {name}_stream_reset)",
                "        public init() {}",
                "        public func step(_ x: [Float]) throws -> [Float] { try core.step(x) }",
                "        public func reset() { core.reset() }", "    }"]
    return "\n".join(out + ["}", ""])


def swift_tests(plan: Plan, name: str, weights_file: bool, stream) -> str:
    t = type_name(name)
    load = [f"        try {t}.loadWeights(weightsPath)"] if weights_file else []
    out = ["// Generated by kerasless: XCTest for the package (swift test). Also serves `kerasless export --verify`.",
           "import Foundation", "import XCTest", f"import {t}", "",
           f"let testBatch = {plan.test_x.shape[0]}", "let testX: [Float] = [", floats(plan.test_x), "]",
           "let testY: [Float] = [", floats(plan.test_y), "]"]
    if weights_file:
        out += [(f'let weightsPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + '
                f'"/../../{name}.weights.bin"')]
    out += ["", f"final class {t}Tests: XCTestCase {{",
            "    func testPredictMatchesKerasless() throws {", *load, f"        {t}.resetStates()",
            f"        let y = try {t}.predict(testX, batch: testBatch)", f"        {t}.resetStates()",
            "        XCTAssertLessThanOrEqual(maxDiff(y, testY), 1e-5)",
            f"        XCTAssertLessThanOrEqual({t}.selfTest(), 1e-5)", "    }", "",
            "    func testBadArgumentsThrow() throws {", *load,
            f"        XCTAssertThrowsError(try {t}.predict([1, 2, 3], batch: 0))",
            f"        XCTAssertThrowsError(try {t}.predict([Float](repeating: 0, count: {t}.inputSize + 1), batch: 1))",
            "    }"]
    if not isinstance(stream, str):
        out += ["", "    /// Step sample 0 through a Stream: the last step's output is predict's last output for it.",
                "    func testStreamMatchesPredict() throws {", *load,
                f"        let stream = {t}.Stream()", "        var last: [Float] = []",
                f"        let steps = {t}.inputSize / {t}.stepInputSize",
                "        for s in 0..<steps {",
                f"            last = try stream.step(Array(testX[s * {t}.stepInputSize..<(s + 1) * {t}.stepInputSize]))",
                "        }",
                f"        let want = Array(testY[{t}.outputSize - {t}.stepOutputSize..<{t}.outputSize])",
                "        XCTAssertLessThanOrEqual(maxDiff(last, want), 1e-5)", "        stream.reset()",
                "    }"]
    out += ["", "    /// `kerasless export --verify` (KeraslessVerify.swift); does nothing without its variables.",
            "    func testVerifyRequest() throws {", *load,
            f"        try runVerifyRequest(inputSize: {t}.inputSize, predict: {{ try {t}.predict($0, batch: $1) }},",
            f"                             selfTest: {t}.selfTest,",
            f"                             status: {{ ($0 as? {t}.Error) == .invalidToken ? 2 : 1 }})", "    }", "}", ""]
    return "\n".join(out)


def write(plan: Plan, out_dir, name: str = "model", weights_file: bool = False) -> list[Path]:
    """Write the SwiftPM package (see the module docstring) into ``out_dir``."""
    t = type_name(name)
    out_dir = Path(out_dir)
    header, source, stream = c_target.sources(plan, name, weights_file)
    texts = {
        "Package.swift": package.manifest(t),
        f"Sources/C{t}/include/{name}.h": header,
        f"Sources/C{t}/{name}.c": source,
        f"Sources/{t}/{t}.swift": swift_api(plan, name, weights_file, stream),
        f"Sources/{t}/KeraslessRuntime.swift": (HERE / "Runtime.swift").read_text(),
        f"Tests/{t}Tests/{t}Tests.swift": swift_tests(plan, name, weights_file, stream),
        f"Tests/{t}Tests/KeraslessVerify.swift": (HERE / "Verify.swift").read_text(),
        "README.md": package.readme(plan, name, t, weights_file, stream),
    }
    files = []
    for rel, text in texts.items():
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf8")
        files.append(path)
    if weights_file:
        files += write_weights_file(plan, out_dir, name)
    return files


def swift() -> str:
    """The swift driver: $SWIFT, PATH, or a standard toolchain location; ExportError when missing."""
    for cand in (os.environ.get("SWIFT"), shutil.which("swift"), *(str(Path(d) / "swift") for d in SWIFT_DIRS)):
        if cand and Path(cand).exists():
            return cand
    raise ExportError("target 'swift': swift (5.9 or newer) is not installed; https://www.swift.org/install")


def swift_test(out_dir, env=None, scratch=None, timeout: float = 1800) -> str:
    """``swift test`` in the package (build products in ``scratch``, default the package's own ``.build``, where
    ``swift build`` puts them: a later build there is incremental); returns stdout."""
    cmd = [swift(), "test", "--package-path", str(out_dir), "--scratch-path", str(scratch or Path(out_dir) / ".build")]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    if done.returncode != 0:
        raise ExportError(f"target 'swift': {' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def run(plan: Plan, out_dir, name: str, batches: list, weights_file=False, scratch=None) -> tuple[list, float]:
    """``swift test`` the package with a verify request: predict on consecutive batches, then selfTest() (the build
    stays in the package's ``.build``)."""
    with tempfile.TemporaryDirectory(prefix="kl_swift_run_") as tmp:
        src, dst = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        src.write_bytes(predict_input(plan, batches))
        env = dict(os.environ, KERASLESS_VERIFY_IN=str(src), KERASLESS_VERIFY_OUT=str(dst))
        swift_test(out_dir, env, scratch)
        return read_outputs(plan, batches, dst.read_bytes(), "swift")
