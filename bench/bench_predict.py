"""Side-by-side predict benchmark, one process, one run: kerasless (native and NumPy backends) vs Keras
predict / predict_on_batch, ONNX Runtime and TFLite, on LSTM, GRU and Bidirectional-LSTM models; plus cold start
(fresh subprocess: import + load + first predict, wall time and peak RSS) and the streaming step.

Models: <RNN>(128) + Dense(60, softmax) on one-hot input (60 features), float32, Keras's default initializers
(glorot / orthogonal) with small random biases. Every runtime's output is checked against Keras (max abs diff).
Prints medians with the p10-p90 spread and the ratio to ONNX Runtime (< 1 is faster); writes
bench/results/latest.json and bench/results/latest.png.

Then the sections in their own files, each printing its table and skipping with a reason when a tool is missing:
bench_js.py (exported JS vs TF.js in node), bench_generate.py (text generation, kerasless vs ONNX Runtime) and
bench_export.py (exported C / NumPy script vs ONNX Runtime at batch 1); their results go under the JSON keys
"js", "generate" and "export".

Bench-only dependencies: bench/requirements.txt (tf2onnx, onnxruntime, matplotlib; TensorFlow from the test extra)
and bench/js/package.json (TF.js, `npm ci --prefix bench/js`).
Usage: python bench/bench_predict.py [--quick] [--models lstm gru bilstm] [--steps 3 40 200] [--batches 1 32 1024]
                                     [--sections js generate export]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import sections

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
FEATURES, UNITS = 60, 128


# -- timing ------------------------------------------------------------------------------------------------------
def timeit(fn, budget: float, min_n: int = 3, max_n: int = 300) -> list[float]:
    fn()  # warm up (graph tracing, allocation, thread pools)
    times, start = [], time.perf_counter()
    while len(times) < min_n or (time.perf_counter() - start < budget and len(times) < max_n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def describe(times: list[float]) -> dict:
    q = np.percentile(times, [10, 50, 90]) * 1e3
    return {"median_ms": float(q[1]), "p10_ms": float(q[0]), "p90_ms": float(q[2]), "n": len(times)}


# -- models ------------------------------------------------------------------------------------------------------
def build_model(kind: str):
    import keras

    keras.utils.set_random_seed(0)
    rnn = {"lstm": lambda: keras.layers.LSTM(UNITS), "gru": lambda: keras.layers.GRU(UNITS),
           "bilstm": lambda: keras.layers.Bidirectional(keras.layers.LSTM(UNITS))}[kind]()
    model = keras.Sequential([keras.Input((None, FEATURES)), rnn, keras.layers.Dense(FEATURES, activation="softmax")],
                             name=kind)
    rng = np.random.default_rng(0)
    model.set_weights([w if w.ndim > 1 else rng.normal(0, 0.1, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    return model


def to_onnx(model, path: Path, features: int = FEATURES) -> bytes:
    import tensorflow as tf
    import tf2onnx

    fn = tf.function(lambda x: model(x))
    proto, _ = tf2onnx.convert.from_function(
        fn, input_signature=[tf.TensorSpec((None, None, features), tf.float32, name="x")], opset=17)
    data = proto.SerializeToString()
    path.write_bytes(data)
    return data


def to_tflite(model, path: Path, batch: int) -> bytes:
    """TFLite needs a static batch (its tensor-list lowering); time stays dynamic (resized per case)."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as d:
        model.export(d, format="tf_saved_model", verbose=False,
                     input_signature=[tf.TensorSpec((batch, None, FEATURES), tf.float32)])
        data = tf.lite.TFLiteConverter.from_saved_model(d).convert()
    path.write_bytes(data)
    return data


def tflite_interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import warnings

        warnings.filterwarnings("ignore")
        from tensorflow.lite import Interpreter
    return Interpreter


class TFLiteRunner:
    """One interpreter per (batch, steps): fixed input shape; variables reset before each call."""

    def __init__(self, data: bytes, shape):
        self.it = tflite_interpreter_class()(model_content=data, num_threads=os.cpu_count())
        idx = self.it.get_input_details()[0]["index"]
        self.it.resize_tensor_input(idx, list(shape), strict=False)
        self.it.allocate_tensors()
        self.i, self.o = idx, self.it.get_output_details()[0]["index"]

    def __call__(self, x):
        self.it.reset_all_variables()
        self.it.set_tensor(self.i, x)
        self.it.invoke()
        return self.it.get_tensor(self.o)


# -- cold start --------------------------------------------------------------------------------------------------
COLD = {
    "kerasless": "import kerasless; m = kerasless.load({path!r}); y = m.predict(x)",
    "onnxruntime": ("import onnxruntime as ort; s = ort.InferenceSession({path!r}, providers=['CPUExecutionProvider']);"
                    " y = s.run(None, {{s.get_inputs()[0].name: x}})[0]"),
    "tflite": ("import os, sys\ntry:\n from ai_edge_litert.interpreter import Interpreter\n"
               "except ImportError:\n from tensorflow.lite import Interpreter\n"
               "it = Interpreter(model_path={path!r}, num_threads=os.cpu_count()); i = it.get_input_details()[0]['index']\n"
               "it.resize_tensor_input(i, list(x.shape), strict=False); it.allocate_tensors(); it.set_tensor(i, x)\n"
               "it.invoke(); y = it.get_tensor(it.get_output_details()[0]['index'])"),
    "keras": "import keras; m = keras.saving.load_model({path!r}); y = m.predict(x, verbose=0)",
}
COLD_TEMPLATE = """
import time, resource, sys, json, os
t0 = time.perf_counter()
import numpy as np
x = np.zeros((1, 40, {features}), np.float32); x[0, np.arange(40), np.arange(40) % {features}] = 1
{body}
wall = time.perf_counter() - t0
try:  # VmHWM: this process's own peak (ru_maxrss survives exec and would report the parent's)
    rss = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")][0] / 1024
except (OSError, IndexError):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"wall_s": wall, "peak_rss_mb": rss, "shape": list(np.asarray(y).shape)}}))
"""


def cold_start(name: str, path: Path, repeats: int, env=None) -> dict:
    """Median of ``repeats`` fresh processes, after one untimed run: every runtime starts from compiled bytecode
    and a warm file cache (pip writes .pyc for installed packages; with PYTHONDONTWRITEBYTECODE set, a source tree
    would instead be recompiled in every timed run)."""
    code = COLD_TEMPLATE.format(features=FEATURES, body=COLD[name].format(path=str(path)))
    env = {k: v for k, v in (env or os.environ).items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)  # warm-up, untimed
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        total = time.perf_counter() - t0
        if out.returncode != 0:
            return {"error": out.stderr.strip().splitlines()[-1][:200]}
        r = json.loads(out.stdout.strip().splitlines()[-1])
        r["process_s"] = total  # including interpreter start-up
        runs.append(r)
    med = lambda k: float(np.median([r[k] for r in runs]))  # noqa: E731
    return {"wall_s": med("wall_s"), "process_s": med("process_s"), "peak_rss_mb": med("peak_rss_mb"),
            "wall_spread_s": [float(min(r["wall_s"] for r in runs)), float(max(r["wall_s"] for r in runs))],
            "n": len(runs)}


# -- main --------------------------------------------------------------------------------------------------------
def fmt_row(name, r, base, diff):
    ratio = f"{r['median_ms'] / base:>8.2f}" if base else f"{'-':>8}"
    d = f"{diff:>10.1e}" if diff is not None else f"{'-':>10}"
    return (f"  {name:<24}{r['median_ms']:>11.3f}  {r['p10_ms']:>9.3f}-{r['p90_ms']:<9.3f}{ratio}{d}"
            f"{r['n']:>6}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["lstm", "gru", "bilstm"])
    parser.add_argument("--steps", type=int, nargs="+", default=[3, 40, 200])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32, 1024])
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of timing per runtime and case")
    parser.add_argument("--cold-repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="LSTM, T=40, batch 1 and 1024 only")
    parser.add_argument("--no-keras-predict", action="store_true")
    parser.add_argument("--sections", nargs="*", default=list(sections.SECTIONS), choices=list(sections.SECTIONS),
                        help="extra sections to run after the predict tables (none: --sections)")
    parser.add_argument("--out", default=str(HERE / "results" / "latest"))
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.steps, args.batches = ["lstm"], [40], [1, 1024]
    t_start = time.perf_counter()

    import onnxruntime as ort

    import kerasless
    import kerasless.native as kn

    native_ok = kn.available()
    load = os.getloadavg()
    info = {"python": sys.version.split()[0], "machine": platform.machine(), "cpus": os.cpu_count(),
            "loadavg_start": load, "native_backend": native_ok, "native_reason": kn.reason(),
            "onnxruntime": ort.__version__, "numpy": np.__version__}
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}   native backend: "
          f"{'yes' if native_ok else 'no (' + kn.reason() + ')'}")
    tmp = Path(tempfile.mkdtemp(prefix="kerasless-bench-"))
    results, files = [], {}
    rng = np.random.default_rng(1)
    header = (f"  {'runtime':<24}{'median ms':>11}  {'p10-p90 ms':>19}{'x ORT':>8}{'max|diff|':>10}{'n':>6}")
    for kind in args.models:
        keras_model = build_model(kind)
        paths = {"keras": tmp / f"{kind}.keras", "onnx": tmp / f"{kind}.onnx", "tflite": tmp / f"{kind}.tflite"}
        keras_model.save(paths["keras"])
        onnx_bytes = to_onnx(keras_model, paths["onnx"])
        tfl_models = {b: to_tflite(keras_model, tmp / f"{kind}-b{b}.tflite", b) for b in args.batches}
        if 1 in tfl_models:
            paths["tflite"] = tmp / f"{kind}-b1.tflite"
        files[kind] = {k: str(v) for k, v in paths.items()}
        model = kerasless.load(paths["keras"])
        sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
        in_name = sess.get_inputs()[0].name
        for steps in args.steps:
            for batch in args.batches:
                x = np.eye(FEATURES, dtype=np.float32)[rng.integers(0, FEATURES, (batch, steps))]
                expected = keras_model.predict_on_batch(x)
                expected = np.asarray(expected)
                tfl = TFLiteRunner(tfl_models[batch], x.shape)

                def kl(backend):
                    def f():
                        kn.set_backend(backend)
                        return model.predict(x)
                    return f

                runs = {"kerasless (native)": kl("native") if native_ok else None,
                        "kerasless (numpy)": kl("numpy"),
                        "onnxruntime": lambda: sess.run(None, {in_name: x})[0],
                        "tflite": lambda: tfl(x),
                        "keras.predict_on_batch": lambda: keras_model.predict_on_batch(x)}
                if not args.no_keras_predict:
                    runs["keras.predict"] = lambda: keras_model.predict(x, verbose=0, batch_size=batch)
                big = batch * steps >= 32 * 200
                rows, diffs = {}, {}
                for name, fn in runs.items():
                    if fn is None:
                        continue
                    slow = name.startswith("keras")
                    budget = args.budget * (0.5 if slow or big else 1.0)
                    out = np.asarray(fn())
                    diffs[name] = float(np.abs(out - expected).max())
                    rows[name] = describe(timeit(fn, budget, min_n=3 if slow or big else 5))
                kn.set_backend(None)
                base = rows["onnxruntime"]["median_ms"]
                print(f"\n{kind.upper()}({UNITS})+Dense({FEATURES}) T={steps} batch={batch}")
                print(header)
                for name, r in rows.items():
                    print(fmt_row(name, r, base, diffs[name]))
                results.append({"model": kind, "steps": steps, "batch": batch, "runtimes": rows,
                                "max_abs_diff": diffs})
                tfl = None  # free this size's interpreter before the next

    # -- streaming step ----------------------------------------------------------------------------------------
    stream_rows = {}
    print("\nstreaming step, batch 1 (model.stream().step), microseconds per step")
    for kind in [k for k in args.models if k != "bilstm"]:
        model = kerasless.load(files[kind]["keras"])
        x = np.eye(FEATURES, dtype=np.float32)[rng.integers(0, FEATURES, (1, 200))]
        for backend in (["native"] if native_ok else []) + ["numpy"]:
            kn.set_backend(backend)
            s = model.stream()
            ts = []
            for _ in range(5):
                s.reset()
                t0 = time.perf_counter()
                for t in range(200):
                    s.step(x[:, t])
                ts.append((time.perf_counter() - t0) / 200 * 1e6)
            kn.set_backend(None)
            stream_rows[f"{kind}/{backend}"] = {"median_us": float(np.median(ts)), "min_us": float(min(ts)),
                                                "max_us": float(max(ts))}
            print(f"  {kind:<8}{backend:<8}{np.median(ts):>8.1f} us  ({min(ts):.1f}-{max(ts):.1f})")

    # -- cold start --------------------------------------------------------------------------------------------
    cold = {}
    kind0 = args.models[0]
    print(f"\ncold start: fresh process, import + load + first predict ({kind0.upper()}, T=40, batch 1); "
          f"median of {args.cold_repeats}")
    print(f"  {'runtime':<24}{'wall s':>9}{'process s':>11}{'peak RSS MB':>13}")
    cold_paths = {"kerasless": files[kind0]["keras"], "onnxruntime": files[kind0]["onnx"],
                  "tflite": files[kind0]["tflite"], "keras": files[kind0]["keras"]}
    for name, path in cold_paths.items():
        variants = [(name, None)]
        if name == "kerasless":
            variants = [("kerasless (native)", None),
                        ("kerasless (numpy)", {**os.environ, "KERASLESS_BACKEND": "numpy"})]
        for label, env in variants:
            r = cold_start(name, Path(path), 2 if name == "keras" else args.cold_repeats, env)
            cold[label] = r
            if "error" in r:
                print(f"  {label:<24} failed: {r['error']}")
            else:
                print(f"  {label:<24}{r['wall_s']:>9.3f}{r['process_s']:>11.3f}{r['peak_rss_mb']:>13.1f}")

    extra = sections.run(args)
    info["loadavg_end"] = os.getloadavg()
    info["bench_seconds"] = time.perf_counter() - t_start
    print(f"\nload average at end: {' '.join(f'{v:.2f}' for v in info['loadavg_end'])}; "
          f"bench took {info['bench_seconds']:.0f} s")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"info": info, "predict": results, "stream": stream_rows, "cold_start": cold, **extra}
    out.with_suffix(".json").write_text(json.dumps(payload, indent=2))
    try:
        chart(payload, out.with_suffix(".png"))
    except ImportError:
        print("matplotlib missing: no chart")
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.png')}")


def chart(payload, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    preds = payload["predict"]
    names = [n for n in ["kerasless (native)", "kerasless (numpy)", "onnxruntime", "tflite",
                         "keras.predict_on_batch", "keras.predict"] if any(n in r["runtimes"] for r in preds)]
    labels = [f"{r['model']}\nT={r['steps']}\nb={r['batch']}" for r in preds]
    panels = sections.panels(payload)  # a second row: one small panel per extra section
    fig = plt.figure(figsize=(max(12 if panels else 8, len(preds) * 0.9), 10 if panels else 5))
    ax = fig.add_subplot(2 if panels else 1, 1, 1)
    w = 0.8 / len(names)
    for i, n in enumerate(names):
        vals = [r["runtimes"][n]["median_ms"] / r["runtimes"]["onnxruntime"]["median_ms"] if n in r["runtimes"]
                else np.nan for r in preds]
        ax.bar(np.arange(len(preds)) + i * w, vals, w, label=n)
    ax.axhline(1, color="k", lw=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("median latency / ONNX Runtime (lower is faster)")
    ax.set_xticks(np.arange(len(preds)) + 0.4 - w / 2, labels, fontsize=7)
    ax.legend(fontsize=8)
    ax.set_title(f"kerasless vs ONNX Runtime, TFLite, Keras (load avg {payload['info']['loadavg_start'][0]:.1f})")
    sections.draw(fig, panels)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
