"""B=1 latency of exported code vs kerasless NumPy predict: LSTM(128) -> Dense(60, softmax), T=40, 60 features.

    python bench/bench_export.py [--repeat 2000]

Builds the model directly (no Keras), exports the C target (compiled -O2, and -O3 -march=native for reference)
and the NumPy target, checks each against kerasless predict, then times single-row predictions.
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

from kerasless.export import export, verify
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


def build_model() -> Model:
    rng = np.random.default_rng(0)
    w = lambda *s: rng.normal(0, 0.1, s).astype(np.float32)
    specs = [LayerSpec("input", "InputLayer", {"batch_shape": [None, T, FEATURES]}),
             LayerSpec("lstm", "LSTM", {"name": "lstm", "units": UNITS},
                       [("kernel", w(FEATURES, 4 * UNITS)), ("recurrent_kernel", w(UNITS, 4 * UNITS)),
                        ("bias", w(4 * UNITS))]),
             LayerSpec("dense", "Dense", {"name": "dense", "units": CLASSES, "activation": "softmax"},
                       [("kernel", w(UNITS, CLASSES)), ("bias", w(CLASSES))])]
    for prev, spec in itertools.pairwise(specs):
        spec.inbound = [[(prev.name, 0, 0)]]
    return Model(ModelSpec("bench", specs, [("input", 0, 0)], [("dense", 0, 0)]))


def _set_backend(name: str) -> bool:
    """kerasless.native (an optional compiled predict backend) when present; NumPy is the baseline."""
    try:
        from kerasless import native
    except ImportError:
        return name == "numpy"
    if name == "native" and not native.available():
        return False
    native.set_backend(name)
    return True


def per_call_us(fn, repeat: int) -> float:
    for _ in range(10):
        fn()
    best = []
    for _ in range(5):  # best of 5 rounds
        t = time.perf_counter()
        for _ in range(repeat):
            fn()
        best.append((time.perf_counter() - t) / repeat * 1e6)
    return min(best)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2000)
    args = ap.parse_args()
    model = build_model()
    x = np.random.default_rng(1).normal(0, 1, (1, T, FEATURES)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        export(model, "c", out)
        export(model, "numpy", out)
        diff_c, diff_np = verify(model, "c", out, n=16), verify(model, "numpy", out, n=16)
        (out / "main.c").write_text(MAIN)
        rows = []
        for label, flags in [("C -O2", ["-O2"]), ("C -O3 -march=native", ["-O3", "-march=native"])]:
            exe = out / ("bench" + str(len(rows)))
            subprocess.run([compiler(), "-std=c99", *flags, "-I", str(out), str(out / "main.c"), str(out / "model.c"),
                            "-o", str(exe), "-lm"], check=True)
            runs = [subprocess.run([str(exe), str(args.repeat)], capture_output=True, text=True, check=True)
                    .stdout.split() for _ in range(5)]
            rows.append((label, min(float(r[0]) for r in runs), float(runs[0][1])))
        script = load_module(out)
        rows.append(("NumPy target script", per_call_us(lambda: script.predict(x), args.repeat // 10), 0.0))
    for label, backend in [("kerasless native", "native"), ("kerasless predict", "numpy")]:  # numpy = baseline
        if _set_backend(backend):
            rows.append((f"{label} ({backend})", per_call_us(lambda: model.predict(x), args.repeat // 10), 0.0))
    print(f"LSTM({UNITS}) -> Dense({CLASSES}), T={T}, features={FEATURES}, batch 1 "
          f"({platform.processor() or platform.machine()}, {compiler()})")
    print(f"verify: C max abs diff {diff_c:.2g}, NumPy target {diff_np:.2g}")
    base = rows[-1][1]
    for label, us, st in rows:
        print(f"  {label:<30} {us:9.1f} us/call   {base / us:5.1f}x vs kerasless NumPy predict")


if __name__ == "__main__":
    main()
