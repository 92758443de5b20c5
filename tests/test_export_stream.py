"""Streaming API of the exporters: C ``<name>_stream_step`` and Java ``Model.Stream`` step by step equal
kerasless ``model.stream(batch_size=1)`` (and hence predict with return_sequences=True), for LSTM / GRU / SimpleRNN,
stacks, masked inputs and the bundled char model; models that cannot stream get no stream API, for the same reasons
kerasless Stream refuses them. Also measures the C step time of the bundled LSTM(128).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_close
from test_export import BUILDERS, load_case
from test_export_c import SANITIZE

import kerasless
from kerasless.export import build_plan
from kerasless.export.c import target as c_target
from kerasless.export.inputs import sample_inputs
from kerasless.export.java import target as java_target
from kerasless.export.stream import StreamPlan, stream_plan

CC = shutil.which(os.environ.get("CC") or "gcc")
HAVE_JAVA = all(shutil.which(t) for t in ("javac", "java"))
CHAR = Path(kerasless.__file__).parent / "data" / "char_lstm.keras"
TOL = 1e-5
STREAMING = ["lstm_mask_seq_softmax", "embedding_mask_lstm_dense", "mask_stacked_zero_out_seq", "simple_rnn_zero_out_mask",
             "gru_reset_before_k2", "gru_no_bias", "embedding_gru", "td_dense", "noop_layers", "stateful_lstm",
             "act_gelu", "act_sparsemax", "act_hard_sigmoid_k2"]
CASES = [f"b-{n}" for n in STREAMING] + ["char_lstm"]
SANITIZED = {"b-embedding_mask_lstm_dense", "b-mask_stacked_zero_out_seq"}  # ASan + UBSan builds

STREAM_MAIN = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "m.h"
/* IN: int32 step_in, step_out, n_seqs, steps; floats. OUT: floats per step; float32 ns per step (argv[3] reps). */
int main(int argc, char **argv)
{
    static m_state st; /* static: zero */
    static float y[M_STEP_OUTPUT_SIZE];
    FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
    int h[4], reps = argc > 3 ? atoi(argv[3]) : 0, r;
    long s, t, n;
    float *x, ns = 0.0f;
    struct timespec a, b;
    if (in == NULL || out == NULL || fread(h, 4, 4, in) != 4) return 2;
    if (h[0] != M_STEP_INPUT_SIZE || h[1] != M_STEP_OUTPUT_SIZE) return 3;
    n = (long)h[0] * h[2] * h[3];
    x = (float *)malloc((size_t)(n + 1) * sizeof(float));
    if (x == NULL || fread(x, sizeof(float), (size_t)n, in) != (size_t)n) return 2;
    if (m_stream_step(NULL, x, y) != KL_ERR_ARGS) return 5;
    for (s = 0; s < h[2]; ++s) {
        m_stream_reset(&st);
        for (t = 0; t < h[3]; ++t) {
            if (m_stream_step(&st, x + (s * h[3] + t) * h[0], y) != KL_OK) return 4;
            fwrite(y, sizeof(float), M_STEP_OUTPUT_SIZE, out);
        }
    }
    if (reps > 0) {
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (r = 0; r < reps; ++r)
            for (t = 0; t < h[3]; ++t) m_stream_step(&st, x + t * h[0], y);
        clock_gettime(CLOCK_MONOTONIC, &b);
        ns = (float)(((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / ((double)reps * h[3]));
    }
    fwrite(&ns, sizeof ns, 1, out);
    free(x);
    return fclose(out) != 0;
}
"""


def _case(case_id):
    """(model, plan, xs (n_seqs, steps, *step shape))."""
    if case_id == "char_lstm":
        model = kerasless.load(CHAR)
        plan = build_plan(model, "c", input_shape=(40, 39) if None in model.input_shapes[0][1:] else None)
        rng = np.random.default_rng(0)
        xs = np.zeros((3, 40, 39), np.float32)  # one-hot characters
        xs[np.arange(3)[:, None], np.arange(40), rng.integers(0, 39, (3, 40))] = 1.0
        return model, plan, xs
    model, _ = load_case(case_id)
    plan = build_plan(model, "c")
    return model, plan, sample_inputs(plan, 5, np.random.default_rng(11))  # 4+ rows: pre/post/middle padding


def _reference(model, xs):
    """kerasless model.stream(batch_size=1), one sequence at a time: (n_seqs, steps, step_out).
    kerasless Stream.step cannot run TimeDistributed(Dense) yet (it reshapes the single step as if it had a time
    axis); that model's output is per timestep, so predict gives the same reference."""
    if any(layer.class_name == "TimeDistributed" for layer in model.layers):
        y = np.asarray(model.predict(xs), np.float32)
        return y.reshape(xs.shape[0], xs.shape[1], -1)
    out = []
    for seq in xs:
        s = model.stream(batch_size=1)
        out.append(np.stack([np.asarray(s.step(x_t[None]), np.float32).reshape(-1) for x_t in seq]))
    return np.stack(out)


@pytest.fixture(scope="module")
def cases():
    return {cid: _case(cid) for cid in CASES}


def test_stream_plan_agrees_with_kerasless_stream():
    """The exporters stream exactly the models kerasless Stream accepts (every builder model)."""
    for name, build in BUILDERS.items():
        model = build(np.random.default_rng(0))
        sp = stream_plan(build_plan(model))
        try:
            model.stream(batch_size=1)
            ok = True
        except kerasless.KeraslessError:
            ok = False
        assert ok == isinstance(sp, StreamPlan), f"{name}: kerasless stream {ok}, plan: {sp}"


def test_refused_models_say_why(tmp_path):
    for name, why in [("bidir_sum", "Bidirectional"), ("lstm_no_bias_go_backwards", "go_backwards"),
                      ("shape_ops", "needs the whole sequence"), ("dense_only", "no recurrent layer"),
                      ("td_lstm", "TimeDistributed")]:
        plan = build_plan(load_case(f"b-{name}")[0])
        assert why in stream_plan(plan), name
        c_target.write(plan, tmp_path / name, "m")
        header = (tmp_path / name / "m.h").read_text()
        assert "No streaming API" in header and why in header and "m_stream_step(" not in header
        java_target.write(plan, tmp_path / name, "model")
        text = (tmp_path / name / "Model.java").read_text()
        assert "No Stream class" in text and "class Stream" not in text


@pytest.mark.skipif(CC is None, reason="no C compiler")
def test_c_stream_matches_kerasless_stream(tmp_path, cases):
    report = []
    for cid, (model, plan, xs) in cases.items():
        sp = stream_plan(plan)
        assert isinstance(sp, StreamPlan), f"{cid}: {sp}"
        d = tmp_path / cid
        c_target.write(plan, d, "m")
        (d / "main.c").write_text(STREAM_MAIN)
        exe = d / "stream"
        flags = [f for f in c_target.FLAGS if f != "-std=c99"] + ["-std=gnu99"]  # clock_gettime
        if cid in SANITIZED:
            flags = [f for f in SANITIZE if f != "-std=c99"] + ["-std=gnu99"]
        subprocess.run([CC, *flags, "-I", str(d), str(d / "main.c"), str(d / "m.c"), "-o", str(exe), "-lm"],
                       check=True)
        (d / "in.bin").write_bytes(java_target.stream_input(sp.step_in, sp.step_out, xs))
        reps = 200 if cid == "char_lstm" else 0
        subprocess.run([str(exe), str(d / "in.bin"), str(d / "out.bin"), str(reps)], check=True)
        got, ns = java_target.stream_output(sp.step_out, xs, (d / "out.bin").read_bytes())
        want = _reference(model, xs)
        diff = assert_close(got, want, TOL, f"c-stream/{cid}")
        if plan.buffers[plan.output].shape[:1] == (xs.shape[1],) and not plan.fixed_batch:  # also predict at each t
            assert_close(got, model.predict(xs).reshape(got.shape), TOL, f"c-stream-predict/{cid}")
        report.append(f"{cid}: max diff {diff:.3g}" + (f", {ns / 1000:.2f} us/step" if reps else ""))
    print("\n".join(report))


@pytest.mark.skipif(not HAVE_JAVA, reason="no JDK")
def test_java_stream_matches_kerasless_stream(tmp_path, cases):
    sources, jobs, specs = [], [], {}
    for i, (cid, (_model, plan, xs)) in enumerate(cases.items()):
        sp = stream_plan(plan)
        pkg = f"s{i}"
        sources += java_target.write(plan, tmp_path / "src", "model", package=pkg)[:1]
        (tmp_path / f"{pkg}.in").write_bytes(java_target.stream_input(sp.step_in, sp.step_out, xs))
        jobs.append(["stream", f"{pkg}.Model", tmp_path / f"{pkg}.in", tmp_path / f"{pkg}.out"])
        specs[cid] = (pkg, sp)
    java_target.javac(sources, tmp_path / "classes", jobs=2)
    java_target.java(tmp_path / "classes", jobs)
    for cid, (model, _plan, xs) in cases.items():
        pkg, sp = specs[cid]
        got, _ = java_target.stream_output(sp.step_out, xs, (tmp_path / f"{pkg}.out").read_bytes())
        assert_close(got, _reference(model, xs), TOL, f"java-stream/{cid}")
