"""Java target end to end: every fixture and builder model of test_export.py, generated, compiled with
``javac --release 8 -Xlint:all -Werror`` and run with ``java``, compared with kerasless predict (1e-5, same argmax),
plus selfTest, stateful calls, the weights file, a large model (JVM method-size / constant-pool limits) and the
runtime's activations against kerasless. All models compile in one javac call (each in its own package) and run in
one JVM: JVM start-up and javac are paid once.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_export import CASE_IDS, TOL, _fixture_batches, _fixture_file, compare, dense, load_case, rnn, seq_model

import kerasless
from kerasless.export import build_plan
from kerasless.export.common import read_outputs
from kerasless.export.inputs import reference_outputs
from kerasless.export.java import target as java_target
from kerasless.export.plan import ExportError

HAVE_JAVA = all(shutil.which(t) for t in ("javac", "java")) or bool(os.environ.get("JAVA_HOME"))
pytestmark = pytest.mark.skipif(not HAVE_JAVA, reason="no JDK (javac/java) on this machine")
LARGE = "large_lstm128"
WEIGHTS = "b-bidir_concat_seq_mask"


def large_model():
    """LSTM(128) over 60 features (~97k weights: far beyond one method's 64 KB / one class's constant pool)."""
    rng = np.random.default_rng(128)
    return seq_model((12, 60), [rnn("LSTM", 128, 60, rng, return_sequences=True), dense(10, 128, rng, "softmax")])


class Case:
    def __init__(self, case_id, model, plan, batches, pkg):
        self.case_id, self.model, self.plan, self.batches, self.pkg = case_id, model, plan, batches, pkg
        self.expected = reference_outputs(model, batches)
        self.got, self.self_test = None, None


class JavaSession:
    """Every case generated into ROOT/src/<pkg>/Model.java, one javac, one java run."""

    def __init__(self, root: Path):
        self.root, self.cases, self.skips, self.error = root, {}, {}, None
        sources, jobs = [], []

        def add(case_id, model, batches, weights_file=False):
            pkg = f"p{len(self.cases)}"
            try:
                plan = build_plan(model, "java")
            except kerasless.KeraslessError as exc:
                self.skips[case_id] = f"not exportable: {exc}"
                return
            case = self.cases[case_id] = Case(case_id, model, plan, batches, pkg)
            files = java_target.write(plan, root / "src", "model", weights_file, package=pkg)
            sources.append(files[0])
            (root / f"{pkg}.in").write_bytes(java_target.predict_input(plan, batches))
            job = ["predict", f"{pkg}.Model", root / f"{pkg}.in", root / f"{pkg}.out"]
            jobs.append(job + ([files[1]] if weights_file else []))
            case.weights_file = weights_file

        for case_id in CASE_IDS:
            if case_id.startswith("fx-"):
                try:
                    model = kerasless.load(_fixture_file(case_id))
                    build_plan(model, "java")
                except kerasless.KeraslessError as exc:  # load failures are test_golden's business
                    self.skips[case_id] = f"not exportable: {exc}"
                    continue
                add(case_id, model, _fixture_batches(_fixture_file(case_id).parent))
            else:
                add(case_id, *load_case(case_id))
        model, batches = load_case(WEIGHTS)
        add("weights_file", model, batches, weights_file=True)
        model = large_model()
        add(LARGE, model, [np.random.default_rng(1).normal(0, 1, (3, 12, 60)).astype(np.float32)])
        model, _ = load_case("b-stateful_lstm")
        x = np.random.default_rng(2).normal(0, 1, (3, 5, 3)).astype(np.float32)
        add("stateful_same_input_twice", model, [x, x, x])
        try:
            java_target.javac(sources, root / "classes", jobs=max(2, os.cpu_count() or 2))
            java_target.java(root / "classes", jobs)
        except ExportError as exc:
            self.error = exc
            return
        for case in self.cases.values():
            case.got, case.self_test = read_outputs(case.plan, case.batches, (root / f"{case.pkg}.out").read_bytes(),
                                                    "java")

    def __getitem__(self, case_id) -> Case:
        if case_id in self.skips:
            pytest.skip(self.skips[case_id])
        if self.error:
            raise self.error
        return self.cases[case_id]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    return JavaSession(tmp_path_factory.mktemp("java"))


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_java_matches_predict(session, case_id):
    case = session[case_id]
    compare(case.got, case.expected, f"java/{case_id}")
    assert case.self_test <= TOL, f"selfTest {case.self_test}"


def test_stateful_calls_carry_state(session):
    case = session["stateful_same_input_twice"]
    compare(case.got, case.expected, "java/stateful")
    assert not np.allclose(case.got[0], case.got[1]), "the second call on the same input should see the carried state"
    assert case.self_test <= TOL


def test_weights_file(session):
    case = session["weights_file"]
    compare(case.got, case.expected, "java/weights_file")
    assert case.self_test <= TOL
    src = session.root / "src" / case.pkg
    text = (src / "Model.java").read_text()
    assert "loadWeights(String path)" in text and "class Blob" not in text
    assert (src / "Model.weights.bin").stat().st_size == 4 * sum(w.size for w in case.plan.weights.values())
    assert (src / "Model.weights.json").exists()


def test_large_model_splits_literals(session):
    case = session[LARGE]
    compare(case.got, case.expected, "java/large")
    assert case.self_test <= TOL
    text = (session.root / "src" / case.pkg / "Model.java").read_text()
    floats = sum(w.size for w in case.plan.weights.values())
    assert floats > 90_000
    assert len(re.findall(r"private static final class Blob\d+", text)) >= 3  # several classes, many methods
    sizes = [m.count(",") for m in re.findall(r"final float\[\] c = \{(.*?)\};", text, re.DOTALL)]
    assert len(sizes) > 20 and max(sizes) <= java_target.CHUNK  # no method holds more than one chunk


def test_only_used_kernels_are_copied(session):
    text = (session.root / "src" / session["b-dense_only"].pkg / "Model.java").read_text()
    assert "static void dense(" in text and "static void rnn(" not in text and "static void permute(" not in text
    text = (session.root / "src" / session["b-shape_ops"].pkg / "Model.java").read_text()
    assert "static void permute(" in text and "static void repeat(" in text and "rnnStream" not in text


def test_runtime_lints_on_its_own(tmp_path):
    java_target.javac([java_target.HERE / "Runtime.java"], tmp_path)


def test_run_and_cli_verify(tmp_path, monkeypatch, capsys):
    """java_target.run (what --verify uses) in a plain directory with the default class name, and the CLI path
    once "java" is registered in kerasless.export.TARGETS."""
    import kerasless.export as export_pkg
    from kerasless.cli import main

    model, batches = load_case("b-embedding_mask_lstm_dense")
    plan = build_plan(model, "java")
    java_target.write(plan, tmp_path / "a", "net")
    ys, self_test = java_target.run(plan, tmp_path / "a", "net", batches)
    compare(ys, reference_outputs(model, batches), "java/run")
    assert self_test <= TOL and (tmp_path / "a" / "net.java").exists()
    monkeypatch.setitem(export_pkg.TARGETS, "java", java_target)
    monkeypatch.setattr(kerasless, "load", lambda path: model)
    assert main(["export", "m.keras", "--target", "java", "--out", str(tmp_path / "b"), "--verify", "6"]) == 0
    out = capsys.readouterr().out
    assert "Model.java" in out and "verify: 6 random inputs" in out


def test_activations_match_kerasless(tmp_path):
    """Every Java activation (Rt.act by code) against kerasless/layers/activations.py, incl. exact gelu (erf)."""
    import subprocess

    from test_export_c import _activation_rows

    from kerasless.layers.activations import ACTIVATIONS

    x = _activation_rows()
    names = sorted(ACTIVATIONS)
    codes = ", ".join(f"Rt.ACT_{n.upper()}" for n in names)
    (tmp_path / "Acts.java").write_text(
        "import java.nio.ByteBuffer;\nimport java.nio.ByteOrder;\nimport java.nio.file.Files;\n"
        "import java.nio.file.Paths;\n\npublic final class Acts {\n    private Acts() {\n    }\n\n"
        "    static final class Rt {\n" + java_target.runtime_source({"core"}) + "\n    }\n\n"
        "    public static void main(String[] args) throws java.io.IOException {\n"
        f"        final int[] codes = {{{codes}}};\n"
        f"        final int rows = {x.shape[0]}, n = {x.shape[1]};\n"
        "        final float[] x = new float[rows * n];\n"
        "        ByteBuffer.wrap(Files.readAllBytes(Paths.get(args[0]))).order(ByteOrder.LITTLE_ENDIAN)"
        ".asFloatBuffer().get(x);\n"
        "        final ByteBuffer out = ByteBuffer.allocate(4 * x.length * codes.length)"
        ".order(ByteOrder.LITTLE_ENDIAN);\n"
        "        for (int code : codes) {\n            final float[] y = x.clone();\n"
        "            for (int r = 0; r < rows; ++r) Rt.act(code, y, r * n, n);\n"
        "            for (float v : y) out.putFloat(v);\n        }\n"
        "        Files.write(Paths.get(args[1]), out.array());\n    }\n}\n")
    java_target.javac([tmp_path / "Acts.java"], tmp_path / "classes")
    (tmp_path / "x.bin").write_bytes(x.astype("<f4").tobytes())
    subprocess.run([java_target.tool("java"), "-cp", str(tmp_path / "classes"), "Acts", str(tmp_path / "x.bin"),
                    str(tmp_path / "y.bin")], check=True)
    ys = np.fromfile(tmp_path / "y.bin", "<f4").reshape(len(names), *x.shape)
    for n, got in zip(names, ys):
        want = ACTIVATIONS[n](x.copy())
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6, equal_nan=True, err_msg=f"java: {n}")
