"""B=1 latency of exported code vs ONNX Runtime and kerasless predict: LSTM(128) -> Dense(60, softmax), T=40.

    python bench/bench_export.py [--repeat 2000]      (bench_predict.py runs it as a section)

Builds the model directly from arrays, exports the C target (compiled -O2, and -O3 -march=native for reference)
and the NumPy target, checks each against kerasless predict, then times single-row predictions. ONNX Runtime runs
the same weights: a Keras twin of the model converted with bench_predict.to_onnx (skipped, with the reason, when
TensorFlow / tf2onnx / onnxruntime are missing; the C rows are skipped when no C compiler is found).
Times are the median (and min-max) over 5 rounds of ``repeat`` calls (C: 5 processes).
"""

from __future__ import annotations

import argparse
import itertools
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from kerasless.export import ExportError, export, verify
from kerasless.export.c.target import compiler
from kerasless.export.numpy.target import load_module
from kerasless.graph import Model
from kerasless.io.spec import LayerSpec, ModelSpec

T, FEATURES, UNITS, CLASSES = 40, 60, 128, 60
MAIN = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "model.h"
int main(int argc, char **argv)
{
    static float x[MODEL_INPUT_SIZE], y[MODEL_OUTPUT_SIZE];
    struct timespec a, b;
    int i, n = atoi(argv[1]);
    for (i = 0; i < MODEL_INPUT_SIZE; ++i) x[i] = (float)((i * 7919) % 200 - 100) / 100.0f;
    for (i = 0; i < 20; ++i) model_predict(x, 1, y);
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (i = 0; i < n; ++i) model_predict(x, 1, y);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.3f %g\n", ((b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3) / n, (double)model_self_test());
    return 0;
}
"""


def weights() -> list[np.ndarray]:
    """LSTM kernel (in, 4u), recurrent_kernel (u, 4u), bias (4u); Dense kernel (u, classes), bias (classes)."""
    rng = np.random.default_rng(0)

    def w(*s):
        return rng.normal(0, 0.1, s).astype(np.float32)

    return [w(FEATURES, 4 * UNITS), w(UNITS, 4 * UNITS), w(4 * UNITS), w(UNITS, CLASSES), w(CLASSES)]


def build_model(ws: list[np.ndarray]) -> Model:
    specs = [LayerSpec("input", "InputLayer", {"batch_shape": [None, T, FEATURES]}),
             LayerSpec("lstm", "LSTM", {"name": "lstm", "units": UNITS},
                       [("kernel", ws[0]), ("recurrent_kernel", ws[1]), ("bias", ws[2])]),
             LayerSpec("dense", "Dense", {"name": "dense", "units": CLASSES, "activation": "softmax"},
                       [("kernel", ws[3]), ("bias", ws[4])])]
    for prev, spec in itertools.pairwise(specs):
        spec.inbound = [[(prev.name, 0, 0)]]
    return Model(ModelSpec("bench", specs, [("input", 0, 0)], [("dense", 0, 0)]))


def ort_session(ws: list[np.ndarray]):
    """(ONNX Runtime session of a Keras twin with the same weights, None) or (None, reason)."""
    try:
        import keras
        import onnxruntime as ort
        from bench_predict import to_onnx
    except ImportError as exc:
        return None, f"{exc.name or exc} is not installed (make bench installs bench/requirements.txt)"
    twin = keras.Sequential([keras.Input((None, FEATURES)), keras.layers.LSTM(UNITS),
                             keras.layers.Dense(CLASSES, activation="softmax")])
    twin.set_weights(ws)
    with tempfile.TemporaryDirectory() as d:
        data = to_onnx(twin, Path(d) / "lstm.onnx", FEATURES)
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"]), None


def _set_backend(name: str | None) -> bool:
    """kerasless.native (an optional compiled predict backend) when present; NumPy is the baseline."""
    try:
        from kerasless import native
    except ImportError:
        return name != "native"
    if name == "native" and not native.available():
        return False
    native.set_backend(name)
    return True


def per_call_us(fn, repeat: int) -> list[float]:
    for _ in range(10):
        fn()
    rounds = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(repeat):
            fn()
        rounds.append((time.perf_counter() - t) / repeat * 1e6)
    return rounds


def run(repeat: int = 2000) -> dict:
    """Time every runtime, print the table, return the JSON section."""
    ws = weights()
    model = build_model(ws)
    x = np.random.default_rng(1).normal(0, 1, (1, T, FEATURES)).astype(np.float32)
    _set_backend("numpy")
    expected = model.predict(x)  # NumPy predict: the reference for every max|diff|
    _set_backend(None)
    rounds, diffs, notes = {}, {}, []
    try:
        cc = compiler()
    except ExportError as exc:
        cc = None
        notes.append(f"C rows skipped: {exc}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        export(model, "numpy", out)
        diffs["NumPy target script"] = verify(model, "numpy", out, n=16)
        if cc:
            export(model, "c", out)
            diff_c = verify(model, "c", out, n=16)
            (out / "main.c").write_text(MAIN)
            for label, flags in [("C -O2", ["-O2"]), ("C -O3 -march=native", ["-O3", "-march=native"])]:
                exe = out / f"bench{len(rounds)}"
                subprocess.run([cc, "-std=c99", *flags, "-I", str(out), str(out / "main.c"), str(out / "model.c"),
                                "-o", str(exe), "-lm"], check=True)
                runs = [subprocess.run([str(exe), str(repeat)], capture_output=True, text=True, check=True)
                        .stdout.split() for _ in range(5)]
                rounds[label] = [float(r[0]) for r in runs]
                diffs[label] = max(diff_c, float(runs[0][1]))  # verify() on 16 inputs + the embedded self-test
        script = load_module(out)
        rounds["NumPy target script"] = per_call_us(lambda: script.predict(x), repeat // 10)
    sess, why = ort_session(ws)
    if sess is None:
        notes.append(f"ONNX Runtime skipped: {why}")
    else:
        name = sess.get_inputs()[0].name
        diffs["onnxruntime"] = float(np.abs(sess.run(None, {name: x})[0] - expected).max())
        rounds["onnxruntime"] = per_call_us(lambda: sess.run(None, {name: x}), repeat // 10)
    for label, backend in [("kerasless predict (native)", "native"), ("kerasless predict (numpy)", "numpy")]:
        if _set_backend(backend):
            diffs[label] = float(np.abs(model.predict(x) - expected).max())
            rounds[label] = per_call_us(lambda: model.predict(x), repeat // 10)
    _set_backend(None)
    rows = {k: {"median_us": float(np.median(v)), "min_us": float(min(v)), "max_us": float(max(v)),
                "max_abs_diff": diffs.get(k)} for k, v in rounds.items()}
    print(f"\nexported code, batch 1: LSTM({UNITS}) -> Dense({CLASSES}), T={T}, features={FEATURES} "
          f"({platform.processor() or platform.machine()}, {cc or 'no C compiler'}); median of 5 rounds")
    for note in notes:
        print(f"  {note}")
    ort_us = rows.get("onnxruntime", {}).get("median_us")
    np_us = rows["kerasless predict (numpy)"]["median_us"]
    print(f"  {'runtime':<30}{'us/call':>9}  {'min-max':>17}{'x ORT':>8}{'x kl numpy':>11}{'max|diff|':>10}")
    for label, r in rows.items():
        ratio = f"{r['median_us'] / ort_us:>8.2f}" if ort_us else f"{'-':>8}"
        print(f"  {label:<30}{r['median_us']:>9.1f}  {r['min_us']:>8.1f}-{r['max_us']:<8.1f}{ratio}"
              f"{r['median_us'] / np_us:>11.2f}{r['max_abs_diff']:>10.1e}")
    return {"compiler": cc, "repeat": repeat, "rows": rows, "notes": notes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2000)
    args = ap.parse_args()
    run(args.repeat)


if __name__ == "__main__":
    main()
