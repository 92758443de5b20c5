"""C target specifics: lint, ASan+UBSan, bad arguments, weights file, C++ header, literals; export errors and CLI."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_close
from test_export import BUILDERS, MASK, load_case, rnn, seq_model

import kerasless
from kerasless.cli import main
from kerasless.export import ExportError, VerifyError, build_plan, cli_export, export, verify
from kerasless.export.c import target as c_target
from kerasless.export.common import float_literals, read_weights_file
from kerasless.export.inputs import reference_outputs
from kerasless.io.spec import LayerSpec
from kerasless.layers.base import Context, Layer

CC = shutil.which(os.environ.get("CC") or "gcc")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler (gcc) on this machine")
RUNTIME = Path(c_target.__file__).parent
SANITIZE = ("-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fno-omit-frame-pointer",
            "-fsanitize=address,undefined", "-fno-sanitize-recover=all")


def _run(cmd, **kw):
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@needs_cc
@pytest.mark.parametrize("source", ["runtime.c", "runtime_activations.c"])
def test_runtime_lints_on_its_own(tmp_path, source):
    for extra in ([], ["-O2"], ["-O3", "-Wshadow", "-Wstrict-prototypes", "-Wcast-qual", "-Wpointer-arith"]):
        _run([CC, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", *extra, "-c",
              str(RUNTIME / source), "-o", str(tmp_path / "rt.o")])


@needs_cc
@pytest.mark.slow
@pytest.mark.parametrize("case", ["lstm_mask_seq_softmax", "bidir_custom_backward", "embedding_mask_lstm_dense",
                                  "stateful_bidir_gru", "shape_ops", "td_lstm", "act_sparsemax", "identity"])
def test_asan_ubsan(tmp_path, case):
    model, batches = load_case(f"b-{case}")
    plan = build_plan(model, "c")
    c_target.write(plan, tmp_path, "m")
    exe = c_target.compile_harness(tmp_path, "m", tmp_path / "h", flags=SANITIZE)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS="halt_on_error=1")
    modes = [i % 2 for i in range(len(batches))]  # predict and predict_ws
    ys, self_test = c_target.execute(exe, plan, batches, modes=modes, env=env)
    for y, e in zip(ys, reference_outputs(model, batches)):
        assert_close(y, e, 1e-5, f"asan/{case}")
    assert self_test <= 1e-5


BAD_ARGS = r"""
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "m.h"
#define CHECK(expr, want) do { int got_ = (expr); if (got_ != (want)) { \
    printf("FAIL line %d: %s = %d, want %d\n", __LINE__, #expr, got_, (want)); return 1; } } while (0)
int main(void)
{
    static float x[(M_MAX_BATCH + 1) * M_INPUT_SIZE], y[(M_MAX_BATCH + 1) * M_OUTPUT_SIZE];
    void *ws;
    int i;
    for (i = 0; i < (M_MAX_BATCH + 1) * M_INPUT_SIZE; ++i) x[i] = (float)(i % 7);
    CHECK(m_predict(x, 0, y), KL_ERR_ARGS);
    CHECK(m_predict(x, -3, y), KL_ERR_ARGS);
    CHECK(m_predict(x, M_MAX_BATCH + 1, y), KL_ERR_ARGS);
    CHECK(m_predict(NULL, 1, y), KL_ERR_ARGS);
    CHECK(m_predict(x, 1, NULL), KL_ERR_ARGS);
    CHECK(m_predict(x, 2, y), KL_OK);
    CHECK(m_predict(x, M_MAX_BATCH, y), KL_OK);
    CHECK((int)m_workspace_size(0), 0);
    ws = malloc(m_workspace_size(M_MAX_BATCH + 1));
    CHECK(m_predict_ws(x, M_MAX_BATCH + 1, y, ws), KL_OK);
    CHECK(m_predict_ws(x, 1, y, NULL), KL_ERR_ARGS);
    free(ws);
    x[3] = -1.0f;  CHECK(m_predict(x, 1, y), KL_ERR_TOKEN);
    x[3] = 10.0f;  CHECK(m_predict(x, 1, y), KL_ERR_TOKEN);
    x[3] = NAN;    CHECK(m_predict(x, 1, y), KL_ERR_TOKEN);
    x[3] = 1e30f;  CHECK(m_predict(x, 1, y), KL_ERR_TOKEN);
    x[3] = -0.5f;  CHECK(m_predict(x, 1, y), KL_OK); /* truncates to 0, like Keras */
    x[3] = 9.9f;   CHECK(m_predict(x, 1, y), KL_OK);
    if (!(m_self_test() <= 1e-5f)) { printf("FAIL self_test\n"); return 1; }
    printf("OK\n");
    return 0;
}
"""


@needs_cc
@pytest.mark.slow
def test_bad_arguments_return_nonzero(tmp_path):
    model, _ = load_case("b-embedding_mask_lstm_dense")  # vocab 10
    export(model, "c", tmp_path, name="m")
    (tmp_path / "main.c").write_text(BAD_ARGS)
    _run([CC, *SANITIZE, "-I", str(tmp_path), str(tmp_path / "main.c"), str(tmp_path / "m.c"), "-o",
          str(tmp_path / "a.out"), "-lm"])
    assert _run([str(tmp_path / "a.out")]).strip() == "OK"


STATEFUL = r"""
#include <stdio.h>
#include "m.h"
int main(void)
{
    static float x[M_FIXED_BATCH * M_INPUT_SIZE], y[M_FIXED_BATCH * M_OUTPUT_SIZE];
    if (m_predict(x, M_FIXED_BATCH - 1, y) != KL_ERR_ARGS) return 1;
    if (m_predict(x, M_FIXED_BATCH, y) != KL_OK) return 2;
    m_reset_states();
    printf("OK\n");
    return 0;
}
"""


@needs_cc
def test_stateful_needs_its_batch(tmp_path):
    export(load_case("b-stateful_lstm")[0], "c", tmp_path, name="m")
    (tmp_path / "main.c").write_text(STATEFUL)
    _run([CC, *c_target.FLAGS, "-I", str(tmp_path), str(tmp_path / "main.c"), str(tmp_path / "m.c"), "-o",
          str(tmp_path / "a.out"), "-lm"])
    assert _run([str(tmp_path / "a.out")]).strip() == "OK"


LOADER = r"""
#include <stdio.h>
#include "m.h"
int main(int argc, char **argv)
{
    static float x[M_INPUT_SIZE], y[M_OUTPUT_SIZE];
    (void)argc;
    if (m_predict(x, 1, y) != KL_ERR_WEIGHTS) return 1;    /* not loaded yet */
    if (m_load_weights(argv[2]) != KL_ERR_WEIGHTS) return 2; /* truncated file */
    if (m_load_weights("/nonexistent/m.weights.bin") != KL_ERR_WEIGHTS) return 3;
    if (m_load_weights(argv[1]) != KL_OK || m_load_weights(argv[1]) != KL_OK) return 4; /* reload frees */
    if (!(m_self_test() <= 1e-5f)) return 5;
    m_free_weights();
    if (m_predict(x, 1, y) != KL_ERR_WEIGHTS) return 6;
    printf("OK\n");
    return 0;
}
"""


@needs_cc
@pytest.mark.slow
def test_weights_file(tmp_path):
    model, batches = load_case("b-bidir_concat_seq_mask")
    files = export(model, "c", tmp_path, name="m", weights_file=True)
    assert {f.name for f in files} >= {"m.c", "m.h", "m.weights.bin", "m.weights.json"}
    plan = build_plan(model, "c")
    manifest = json.loads((tmp_path / "m.weights.json").read_text())
    assert manifest["byteorder"] == "little" and manifest["total_bytes"] == (tmp_path / "m.weights.bin").stat().st_size
    back = read_weights_file(tmp_path / "m.weights.json")
    assert list(back) == list(plan.weights) and all(np.array_equal(back[k], plan.weights[k]) for k in back)
    code = (tmp_path / "m.c").read_text()
    assert "static const float *w0_" in code and "static const float w0_" not in code
    ys, self_test = c_target.run(plan, tmp_path, "m", batches, weights_file=True)
    assert_close(ys[0], reference_outputs(model, batches)[0], 1e-5, "weights_file")
    assert self_test <= 1e-5
    (tmp_path / "short.bin").write_bytes((tmp_path / "m.weights.bin").read_bytes()[:-4])
    (tmp_path / "main.c").write_text(LOADER)
    _run([CC, *SANITIZE, "-I", str(tmp_path), str(tmp_path / "main.c"), str(tmp_path / "m.c"), "-o",
          str(tmp_path / "a.out"), "-lm"])
    assert _run([str(tmp_path / "a.out"), str(tmp_path / "m.weights.bin"), str(tmp_path / "short.bin")]) == "OK\n"


@needs_cc
@pytest.mark.skipif(shutil.which("g++") is None, reason="no g++ for the extern \"C\" check")
def test_header_is_cxx_safe_and_two_models_link(tmp_path):
    export(load_case("b-gru_no_bias")[0], "c", tmp_path, name="first")
    export(load_case("b-dense_only")[0], "c", tmp_path, name="second")
    (tmp_path / "main.cpp").write_text(
        '#include "first.h"\n#include "second.h"\n#include <cstdio>\n'
        "int main() { std::printf(\"%d %d\\n\", first_self_test() <= 1e-5f, second_self_test() <= 1e-5f); }\n")
    for n in ("first", "second"):
        _run([CC, *c_target.FLAGS, "-c", str(tmp_path / f"{n}.c"), "-o", str(tmp_path / f"{n}.o")])
    _run(["g++", "-std=c++11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I", str(tmp_path),
          str(tmp_path / "main.cpp"), str(tmp_path / "first.o"), str(tmp_path / "second.o"), "-o",
          str(tmp_path / "a.out"), "-lm"])
    assert _run([str(tmp_path / "a.out")]).strip() == "1 1"


@needs_cc
def test_float_literals_round_trip_in_c(tmp_path):
    rng = np.random.default_rng(0)
    values = np.concatenate([np.array([0.1, -0.0, 1e-45, 1.17549435e-38, 1.1754942e-38, 3.4028235e38, -3.4028235e38,
                                       1 / 3, 16777217.0, 2.0**-149, 123456.789], np.float32),
                             rng.normal(0, 1, 200).astype(np.float32),
                             (rng.normal(0, 1, 200) * 10.0 ** rng.integers(-40, 38, 200)).astype(np.float32)])
    lits = float_literals(values, "f", c_target.SPECIAL)
    assert all(np.float32(float(s[:-1])) == v for s, v in zip(lits, values))
    (tmp_path / "lit.c").write_text(
        "#include <stdio.h>\n#include <string.h>\nstatic const float v[] = {" + ", ".join(lits) + "};\n"
        "int main(void) { size_t i; unsigned int b; for (i = 0; i < sizeof v / sizeof v[0]; ++i) {"
        ' memcpy(&b, &v[i], 4); printf("%u\\n", b); } return 0; }\n')
    _run([CC, *c_target.FLAGS, str(tmp_path / "lit.c"), "-o", str(tmp_path / "lit")])
    bits = np.array(_run([str(tmp_path / "lit")]).split(), np.uint64).astype(np.uint32)
    assert np.array_equal(bits, values.view(np.uint32))


# -- export errors and the CLI ------------------------------------------------------------------------------------
class _Weird(Layer):
    pass


def test_errors_name_the_target_and_the_layer(tmp_path):
    model = BUILDERS["lstm_no_bias_go_backwards"](np.random.default_rng(0))
    with pytest.raises(ExportError, match="unknown export target 'cobol'; available targets: c, numpy, js, java, web"):
        export(model, "cobol", tmp_path)
    with pytest.raises(ExportError, match="must be an identifier"):
        export(model, "c", tmp_path, name="my-model")
    weird = _Weird(LayerSpec("odd", "Weird", {}), Context())
    last = model._nodes[-1][0].name
    model._nodes.append((weird, 0, [(last, 0, 0)]))
    model.spec.outputs = [("odd", 0, 0)]
    with pytest.raises(ExportError, match=r"layer 'odd' \(Weird\).*target 'c'"):
        export(model, "c", tmp_path)


def test_variable_timesteps_need_an_input_shape(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    model = seq_model((None, 3), [MASK, rnn("GRU", 4, 3, rng)])
    with pytest.raises(ExportError, match="variable input shape.*input_shape"):
        export(model, "numpy", tmp_path)
    export(model, "numpy", tmp_path, input_shape=(5, 3))
    assert verify(model, "numpy", tmp_path, n=4, input_shape=(5, 3)) <= 1e-5
    monkeypatch.setattr(kerasless, "load", lambda path: model)
    args = argparse.Namespace(model="m.h5", target="numpy", out=str(tmp_path / "cli"), name="model", verify=3,
                              weights_file=False, input_shape="5,3")  # once cli.py has --input-shape
    cli_export(args)


def test_verify_raises_on_a_mismatch(tmp_path, monkeypatch):
    from kerasless.export.numpy import target as numpy_target

    model = BUILDERS["gru_no_bias"](np.random.default_rng(2))
    export(model, "numpy", tmp_path)
    real = numpy_target.run
    monkeypatch.setattr(numpy_target, "run", lambda *a: ([y + 1e-3 for y in real(*a)[0]], 0.0))
    with pytest.raises(VerifyError, match="max abs diff 0.001"):
        verify(model, "numpy", tmp_path, n=3)


@needs_cc
def test_cli_export_and_verify(tmp_path, monkeypatch, capsys):
    model = BUILDERS["embedding_mask_lstm_dense"](np.random.default_rng(3))
    monkeypatch.setattr(kerasless, "load", lambda path: model)
    assert main(["export", "m.keras", "--target", "c", "--out", str(tmp_path), "--name", "net", "--verify", "20"]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "net.c" in out and "verify: 20 random inputs" in out
    assert main(["export", "m.keras", "--target", "numpy", "--out", str(tmp_path), "--verify", "5"]) == 0
    with pytest.raises(SystemExit):  # argparse lists the targets
        main(["export", "m.keras", "--target", "cobol", "--out", str(tmp_path)])
    assert "unknown target 'cobol'; the targets are c, numpy, js, java, web, swift" in capsys.readouterr().err


def test_the_export_module_is_callable(tmp_path):
    import kerasless.export

    model = BUILDERS["gru_no_bias"](np.random.default_rng(4))
    files = kerasless.export(model, "numpy", tmp_path, name="net")
    assert [f.name for f in files] == ["net_numpy.py", "net_weights.npz", "README.md"]
    assert kerasless.export.verify(model, "numpy", tmp_path, name="net", n=2) <= 1e-5


def _activation_rows():
    """Rows of 7 (softmax-like activations normalise a row) over [-30, 30] with kinks, ties and specials."""
    rng = np.random.default_rng(5)
    kinks = [0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0, 6.0, -6.0, 2.5, -2.5, 1e-8, -1e-8]
    rows = [rng.normal(0, s, (40, 7)) for s in (0.3, 1.0, 4.0, 12.0)]
    rows += [np.resize(kinks, (4, 7)), np.full((1, 7), 2.0), np.array([[1.0, 1.0, 0.5, 0.5, -2.0, 3.0, 3.0]])]
    return np.clip(np.concatenate(rows), -30, 30).astype(np.float32)


@pytest.mark.parametrize("target", ["c", "numpy"])
def test_activation_kernels_match_kerasless(tmp_path, target):
    """Every runtime activation against kerasless/layers/activations.py (catches drift when either changes)."""
    from kerasless.export.numpy import runtime
    from kerasless.layers.activations import ACTIVATIONS

    x = _activation_rows()
    names = sorted(ACTIVATIONS)
    if target == "numpy":
        got = {n: getattr(runtime, n)(x.copy()) for n in names}
    else:
        if CC is None:
            pytest.skip("no C compiler")
        table = ", ".join(f'{{"{n}", kl_act_{n}}}' for n in names)
        (tmp_path / "acts.c").write_text(
            f'#include "runtime_activations.c"\n#include <stdio.h>\n#include <string.h>\n'
            f"static const struct {{ const char *name; kl_act fn; }} ACTS[] = {{{table}}};\n"
            "int main(int argc, char **argv) {\n static float x[4096], y[4096]; int rows, n, a, r;\n"
            ' FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb"); (void)argc;\n'
            " if (!in || !out || fread(&rows, 4, 1, in) != 1 || fread(&n, 4, 1, in) != 1 || rows * n > 4096) return 2;\n"
            " if (fread(x, 4, (size_t)(rows * n), in) != (size_t)(rows * n)) return 2;\n"
            " for (a = 0; a < (int)(sizeof ACTS / sizeof ACTS[0]); ++a) {\n"
            "  memcpy(y, x, sizeof(float) * (size_t)(rows * n));\n"
            "  for (r = 0; r < rows; ++r) ACTS[a].fn(y + r * n, n);\n"
            "  fwrite(y, 4, (size_t)(rows * n), out); }\n return fclose(out); }\n")
        _run([CC, *SANITIZE, "-I", str(RUNTIME), str(tmp_path / "acts.c"), "-o", str(tmp_path / "acts"), "-lm"])
        (tmp_path / "x.bin").write_bytes(np.array(x.shape, "<i4").tobytes() + x.tobytes())
        _run([str(tmp_path / "acts"), str(tmp_path / "x.bin"), str(tmp_path / "y.bin")])
        ys = np.fromfile(tmp_path / "y.bin", "<f4").reshape(len(names), *x.shape)
        got = dict(zip(names, ys))
    for n in names:
        want = ACTIVATIONS[n](x.copy())
        assert want.dtype == np.float32 and got[n].dtype == np.float32, n
        np.testing.assert_allclose(got[n], want, rtol=2e-6, atol=1e-6, equal_nan=True, err_msg=f"{target}: {n}")


def test_import_kerasless_loads_no_exporter_until_used():
    import subprocess
    import sys

    code = ("import sys, kerasless; assert 'kerasless.export' not in sys.modules; "
            "assert callable(kerasless.export) and 'kerasless.export' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
