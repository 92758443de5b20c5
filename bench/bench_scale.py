"""Scale-out bench: sequences per second scoring LSTM(128) -> Dense(60, softmax) (bench_predict's model, one-hot 60,
T=40) on a local Spark (local[2], one Python worker per core, one thread per task) with kerasless.spark.predict_udf
vs the same predict_batch_udf running Keras (TensorFlow on the workers, one thread each), and vs one kerasless
process (all cores). Peak RSS of every Python worker is sampled with psutil (a worker is a child of pyspark.daemon).

Input: a table of `--rows` sequences, each an array<float> of 40*60 values (one-hot, flattened): `--pool` distinct
sequences broadcast-joined to spark.range(rows), so Spark reads no file; the sink is Spark's "noop" writer (every
row is scored, nothing collected). A few thousand rows are collected and compared with model.predict first.
Keras runs on `--keras-rows` (fewer by default: it is the slow side). A third Spark row runs the same UDF with no
model (zeros out) on `--noop-rows`: Spark's own cost of moving 2,400 floats a row between the JVM and Python, the
ceiling any model reaches this way. Writes bench/results/scale.json.
Usage: python bench/bench_scale.py [--rows 1000000] [--keras-rows 50000] [--noop-rows 200000] [--batch 1024]
                                   [--partitions 16]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
T, FEATURES = 40, 60

# One kerasless process, cold: import, load, then predict over the rows in chunks built from the same pool.
SINGLE = """
import json, sys, time
import numpy as np
t0 = time.perf_counter()
import kerasless
model = kerasless.load(sys.argv[1])
rows, pool, batch = int(sys.argv[2]), np.load(sys.argv[3]), int(sys.argv[4])
start = time.perf_counter()
for i in range(0, rows, 8192):
    model.predict(pool[np.arange(i, min(i + 8192, rows)) % len(pool)], batch_size=batch)
end = time.perf_counter()
# VmHWM, not ru_maxrss: after fork + exec, ru_maxrss still counts the parent's peak (this bench holds TensorFlow)
hwm = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")]
print(json.dumps({"seconds": end - start, "startup_seconds": start - t0, "peak_rss_mb": int(hwm[0]) / 1024}))
"""


class WorkerMemory:
    """Peak RSS per Spark Python worker (children of pyspark.daemon), sampled every 0.2 s."""

    def __init__(self):
        import psutil

        self.psutil, self.peak, self._stop = psutil, {}, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        me = self.psutil.Process()
        while not self._stop.wait(0.2):
            for p in me.children(recursive=True):
                try:
                    if "pyspark.daemon" in " ".join(p.cmdline()) and p.parent().name() != "java":
                        self.peak[p.pid] = max(self.peak.get(p.pid, 0), p.memory_info().rss)
                except (self.psutil.Error, AttributeError):
                    pass

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        mb = sorted(v / 2**20 for v in self.peak.values())
        return {"workers_seen": len(mb), "peak_rss_mb_max": round(max(mb, default=0), 1),
                "peak_rss_mb_median": round(float(np.median(mb)) if mb else 0, 1)}


def session():
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    return (SparkSession.builder.master("local[2]").appName("kerasless-bench-scale")
            .config("spark.ui.enabled", "false").config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.execution.arrow.maxRecordsPerBatch", "2048")  # rows per Arrow batch (default 10,000)
            .config("spark.driver.memory", "4g").getOrCreate())


def table(spark, pool: np.ndarray, rows: int, partitions: int):
    import pandas as pd
    from pyspark.sql import functions as F

    small = spark.createDataFrame(pd.DataFrame({"k": np.arange(len(pool)), "x": list(pool.reshape(len(pool), -1))}))
    return spark.range(rows, numPartitions=partitions).withColumn("k", F.col("id") % len(pool)).join(
        F.broadcast(small), "k")


def keras_udf(path: str, batch: int):
    """The same predict_batch_udf with Keras on the workers (one TensorFlow thread each)."""
    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql.types import ArrayType, FloatType

    def make_predict_fn():
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        import keras

        model = keras.saving.load_model(path)
        return lambda x: np.asarray(model.predict_on_batch(x))

    return predict_batch_udf(make_predict_fn, return_type=ArrayType(FloatType()), batch_size=batch,
                             input_tensor_shapes=[[T, FEATURES]])


def noop_udf(batch: int):
    """predict_batch_udf with no model (zeros out): Spark's own cost of moving 2,400 floats a row to Python."""
    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql.types import ArrayType, FloatType

    def make_predict_fn():
        return lambda x: np.zeros((len(x), FEATURES), np.float32)

    return predict_batch_udf(make_predict_fn, return_type=ArrayType(FloatType()), batch_size=batch,
                             input_tensor_shapes=[[T, FEATURES]])


def run_spark(udf, pool, model, rows, partitions, label) -> dict:
    """Warm up (workers start, load the model) and check 2000 rows, then score `rows` into the noop sink."""
    spark = session()
    mem = WorkerMemory()
    t0 = time.perf_counter()
    check = table(spark, pool, 2000, 2).select("id", udf("x").alias("y")).toPandas().sort_values("id")
    warm = time.perf_counter() - t0
    want = model.predict(pool[np.arange(2000) % len(pool)])
    diff = None if label.startswith("spark, no model") else float(np.abs(np.stack(check["y"].to_numpy()) - want).max())
    t0 = time.perf_counter()
    table(spark, pool, rows, partitions).select(udf("x").alias("y")).write.format("noop").mode("overwrite").save()
    seconds = time.perf_counter() - t0
    out = {"rows": rows, "seconds": round(seconds, 2), "seq_per_s": round(rows / seconds), "warmup_seconds":
           round(warm, 2), "max_abs_diff_vs_kerasless_predict": diff, **mem.stop()}
    spark.stop()
    print(f"  {label:<28} {out['seq_per_s']:>9,} seq/s  ({rows:,} rows in {seconds:.1f} s; warm-up {warm:.1f} s; "
          f"peak worker RSS {out['peak_rss_mb_max']} MB; max diff {diff})", flush=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--keras-rows", type=int, default=50_000)
    ap.add_argument("--noop-rows", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--partitions", type=int, default=16)
    ap.add_argument("--pool", type=int, default=4096)
    ap.add_argument("--out", default=str(HERE / "results" / "scale.json"))
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from bench_predict import build_model

    import kerasless
    import kerasless.native
    from kerasless.spark import predict_udf

    load0 = os.getloadavg()
    rng = np.random.default_rng(0)
    pool = np.eye(FEATURES, dtype=np.float32)[rng.integers(0, FEATURES, (args.pool, T))]  # (pool, 40, 60) one-hot
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "lstm.keras")
        build_model("lstm").save(path)
        np.save(os.path.join(tmp, "pool.npy"), pool)
        model = kerasless.load(path)
        print(f"scale-out bench: LSTM(128) -> Dense(60), one-hot 60, T={T}; local[2], batch {args.batch}", flush=True)
        done = subprocess.run([sys.executable, "-c", SINGLE, path, str(args.rows), os.path.join(tmp, "pool.npy"),
                               str(args.batch)], check=True, capture_output=True, text=True)
        single = json.loads(done.stdout)
        single.update(rows=args.rows, seq_per_s=round(args.rows / single["seconds"]))
        results["kerasless, one process"] = single
        print(f"  {'kerasless, one process':<28} {single['seq_per_s']:>9,} seq/s  ({args.rows:,} rows in "
              f"{single['seconds']:.1f} s; peak RSS {single['peak_rss_mb']:.0f} MB)", flush=True)
        udf = predict_udf(model, batch_size=args.batch, input_shapes=[(T, FEATURES)])
        results["spark + kerasless"] = run_spark(udf, pool, model, args.rows, args.partitions, "spark + kerasless")
        results["spark + keras"] = run_spark(keras_udf(path, args.batch), pool, model, args.keras_rows,
                                             max(2, args.partitions * args.keras_rows // args.rows), "spark + keras")
        results["spark, no model (data path)"] = run_spark(
            noop_udf(args.batch), pool, model, args.noop_rows, max(2, args.partitions * args.noop_rows // args.rows),
            "spark, no model (data path)")
    import pyspark

    info = {"python": platform.python_version(), "cpus": os.cpu_count(), "pyspark": pyspark.__version__,
            "native_backend": kerasless.native.available(), "loadavg_start": load0, "loadavg_end": os.getloadavg(),
            "batch": args.batch, "partitions": args.partitions, "pool": args.pool}
    Path(args.out).write_text(json.dumps({"info": info, "results": results}, indent=2) + "\n")
    ratio = results["spark + kerasless"]["seq_per_s"] / results["spark + keras"]["seq_per_s"]
    print(f"spark: kerasless / keras = {ratio:.1f}x; wrote {args.out}")


if __name__ == "__main__":
    main()
