"""Side-by-side predict benchmark: kerasless vs Keras predict / predict_on_batch, one process, one run.

Model: LSTM(128) + Dense(60, softmax) on one-hot input (T=40, 60 features), float32, random weights.
Prints medians (with the 10th-90th percentile spread) and the ratio of every runtime to kerasless.
Usage: python bench/bench_predict.py [--repeats N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def timeit(fn, repeats: int, min_seconds: float = 0.5) -> list[float]:
    fn()  # warm up
    times, start = [], time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - start < min_seconds and len(times) < 10 * repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def describe(times: list[float]) -> dict:
    q = np.percentile(times, [10, 50, 90]) * 1e3
    return {"median_ms": float(q[1]), "p10_ms": float(q[0]), "p90_ms": float(q[2]), "n": len(times)}


def build_model(units=128, features=60, steps=40):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((steps, features)), keras.layers.LSTM(units),
                              keras.layers.Dense(features, activation="softmax")])
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 1024])
    parser.add_argument("--json", help="write results here")
    args = parser.parse_args(argv)

    import kerasless

    keras_model = build_model()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.keras")
        keras_model.save(path)
        model = kerasless.load(path)
    rng = np.random.default_rng(1)
    results = []
    for batch in args.batches:
        ids = rng.integers(0, 60, (batch, 40))
        x = np.eye(60, dtype=np.float32)[ids]  # (batch, 40, 60) one-hot
        expected = keras_model.predict(x, verbose=0)
        diff = float(np.abs(model.predict(x) - expected).max())
        runs = {
            "kerasless": lambda: model.predict(x),
            "keras.predict": lambda: keras_model.predict(x, verbose=0, batch_size=batch),
            "keras.predict_on_batch": lambda: keras_model.predict_on_batch(x),
        }
        rows = {name: describe(timeit(fn, args.repeats if batch < 256 else max(3, args.repeats // 4)))
                for name, fn in runs.items()}
        base = rows["kerasless"]["median_ms"]
        print(f"\nLSTM(128)+Dense(60) T=40 batch={batch}   (kerasless max abs diff vs Keras: {diff:.2g})")
        print(f"  {'runtime':<24}{'median ms':>11}{'p10-p90 ms':>18}{'x kerasless':>14}")
        for name, r in rows.items():
            print(f"  {name:<24}{r['median_ms']:>11.3f}{r['p10_ms']:>9.3f}-{r['p90_ms']:<8.3f}"
                  f"{r['median_ms'] / base:>14.2f}")
        results.append({"batch": batch, "max_abs_diff": diff, "runtimes": rows})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"python": sys.version.split()[0], "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
