"""The exported JS (kerasless js target) vs TF.js (@tensorflow/tfjs, pure-JS CPU backend) in one node process.

Same model and weights as bench_predict's LSTM (LSTM(128) + Dense(60, softmax), one-hot input), T=40; batch 1
and 32 predict, plus the batch-1 streaming step. Both outputs are checked against kerasless predict.
TF.js is a bench-only npm dependency: bench/js/package.json (pinned), installed by `make bench` (npm ci).

    python bench/bench_js.py [--budget 1.0] [--batches 1 32]      (bench_predict.py runs it as a section)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from bench_predict import FEATURES, HERE, UNITS, build_model, describe

JS = HERE / "js"
STEPS = 40


def skip_reason() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed (make toolchains)"
    if not (JS / "node_modules" / "@tensorflow" / "tfjs").is_dir():
        return "TF.js is not installed: run `npm ci --prefix bench/js` (make bench does)"
    return None


def run(budget: float = 1.0, batches=(1, 32), stream: bool = True) -> dict:
    """Export, run bench/js/bench.mjs, print the tables; returns the JSON section (or {"skipped": reason})."""
    print(f"\nexported JS vs TF.js (pure-JS cpu backend), one node process: LSTM({UNITS})+Dense({FEATURES}) T={STEPS}")
    reason = skip_reason()
    if reason:
        print(f"  skipped: {reason}")
        return {"skipped": reason}
    import kerasless
    import kerasless.export

    keras_model = build_model("lstm")
    model = kerasless.from_keras(keras_model)
    rng = np.random.default_rng(2)
    with tempfile.TemporaryDirectory(prefix="kerasless-bench-js-") as d:
        tmp = Path(d)
        kerasless.export(model, "js", tmp, name="model", input_shape=(STEPS, FEATURES))
        weights = keras_model.get_weights()  # lstm kernel, recurrent_kernel, bias, dense kernel, bias
        assert [w.shape for w in weights] == [(FEATURES, 4 * UNITS), (UNITS, 4 * UNITS), (4 * UNITS,),
                                              (UNITS, FEATURES), (FEATURES,)], [w.shape for w in weights]
        (tmp / "weights.bin").write_bytes(b"".join(np.ascontiguousarray(w, "<f4").tobytes() for w in weights))
        cases = []
        for b in batches:
            x = np.eye(FEATURES, dtype=np.float32)[rng.integers(0, FEATURES, (b, STEPS))]
            (tmp / f"x{b}.bin").write_bytes(x.astype("<f4").tobytes())
            (tmp / f"y{b}.bin").write_bytes(model.predict(x).astype("<f4").tobytes())
            cases.append({"batch": b, "x": str(tmp / f"x{b}.bin"), "y": str(tmp / f"y{b}.bin")})
        cfg = {"module": str(tmp / "model.js"), "weights": str(tmp / "weights.bin"), "units": UNITS,
               "features": FEATURES, "outputs": FEATURES, "steps": STEPS, "budget_ms": budget * 1e3,
               "cases": cases, "stream": stream and 1 in batches}
        (tmp / "cfg.json").write_text(json.dumps(cfg))
        done = subprocess.run(["node", str(JS / "bench.mjs"), str(tmp / "cfg.json"), str(tmp / "out.json")],
                              capture_output=True, text=True, cwd=JS, timeout=600, check=False)
        if done.returncode != 0:
            msg = (done.stderr.strip().splitlines() or ["(no output)"])[-1][:300]
            print(f"  failed: node exited with {done.returncode}: {msg}")
            return {"error": msg}
        raw = json.loads((tmp / "out.json").read_text())
    section = {"tfjs_version": raw["tfjs_version"], "backend": raw["backend"], "node": raw["node"],
               "steps": STEPS, "predict": [], "stream": {}}
    print(f"  TF.js {raw['tfjs_version']} backend {raw['backend']!r}, node {raw['node']}; max|diff| vs kerasless "
          "predict")
    print(f"  {'runtime':<24}{'median':>11}  {'p10-p90':>19}{'x TF.js':>8}{'max|diff|':>10}{'n':>6}")
    for case in raw["cases"]:
        rows = {k: {**describe(np.array(v["times_ms"]) / 1e3), "max_abs_diff": v["max_abs_diff"]}
                for k, v in case["runtimes"].items()}
        section["predict"].append({"batch": case["batch"], "runtimes": rows})
        print(f"  predict, batch {case['batch']}, ms per call")
        _print_rows(rows, 1.0)
    if raw.get("stream"):
        rows = {k: {**describe(np.array(v["times_ms"]) / 1e3), "max_abs_diff": v["max_abs_diff"]}
                for k, v in raw["stream"].items()}
        section["stream"] = rows
        print("  streaming step (createStream / stateful TF.js model), batch 1, us per step; max|diff|: last step")
        _print_rows(rows, 1e3)
    return section


def _print_rows(rows: dict, scale: float) -> None:
    base = rows["tfjs (cpu)"]["median_ms"]
    for name, r in rows.items():
        print(f"    {name:<22}{r['median_ms'] * scale:>11.3f}  {r['p10_ms'] * scale:>9.3f}-"
              f"{r['p90_ms'] * scale:<9.3f}{r['median_ms'] / base:>8.2f}{r['max_abs_diff']:>10.1e}{r['n']:>6}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=1.0, help="seconds of timing per runtime and case")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    args = ap.parse_args()
    run(args.budget, args.batches)
