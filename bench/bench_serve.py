"""kerasless serve vs the same server running Keras: requests/s and p50/p99 latency at 1, 8 and 32 concurrent
clients, with server-side batching on and off.

Every server is the same HTTP stack (kerasless.serve's app on uvicorn, one process, one model worker thread); only
the function that runs a batch differs: kerasless ``Model.predict``, Keras ``model.predict(x, verbose=0)`` or Keras
``model.predict_on_batch(x)``. Model: the bundled char LSTM (Input (40, 39) one-hot -> LSTM(128) -> Dense(39,
softmax)), one sample per request in TF Serving's row format. Every answer is checked against kerasless predict
(1e-5). The load generator (kerasless.serve.loadgen: keep-alive HTTP/1.1 clients on asyncio) runs in this process,
the servers in children, all started first, then measured in interleaved rounds (median per point). Also the
server's CPU time per request, which unlike req/s hardly depends on what else the machine is running. Writes bench/results/serve.json; ratios are kerasless / Keras (req/s > 1 and p99 < 1 favour
kerasless).

    python bench/bench_serve.py [--seconds 2] [--clients 1 8 32] [--backends kerasless keras_predict ...]
    python bench/bench_serve.py --worker BACKEND --port P [--enable-batching]  (one server; used internally)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
BACKENDS = ("kerasless", "keras_predict", "keras_predict_on_batch")


def model_path() -> str:
    from kerasless.demo import bundled_model_path

    return bundled_model_path()


def worker(backend: str, port: int, batching: bool) -> None:
    """Run one server until terminated."""
    import kerasless
    from kerasless.serve import ServeOptions, serve
    from kerasless.serve.models import Repository, Servable, flatten

    model = kerasless.load(model_path())
    servable = Servable("char_lstm", 1, model)
    if backend != "kerasless":
        import keras

        keras_model = keras.models.load_model(model_path(), compile=False)
        call = (lambda x: keras_model.predict(x, verbose=0)) if backend == "keras_predict" else \
            keras_model.predict_on_batch
        call(np.zeros((1, 40, 39), np.float32))  # build the graph before the first request
        servable.run = lambda xs: [np.asarray(a, np.float32) for a in flatten(call(xs[0]))]
    with open(os.devnull, "w") as quiet:
        serve(Repository([servable]), ServeOptions(port=port, enable_batching=batching), out=quiet)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(backend: str, batching: bool):
    """A server child process; returns (process, port, seconds until /readyz answered)."""
    import urllib.request

    port = free_port()
    cmd = [sys.executable, __file__, "--worker", backend, "--port", str(port)] + (["--enable-batching"] if batching else [])
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
            return proc, port, time.perf_counter() - t0
        except OSError:
            if proc.poll() is not None or time.perf_counter() - t0 > 120:
                raise RuntimeError(f"{backend} server did not start") from None
            time.sleep(0.02)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc; None elsewhere): a cost per request that, unlike req/s,
    hardly depends on what else the machine runs."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(seconds: float, clients: list[int], backends: list[str], modes=("on", "off"), rounds: int = 3) -> dict:
    """Start every server (one at a time, timing each until ready), then ``rounds`` interleaved rounds over all of
    them, so a change in machine load hits every configuration alike; per point the median round."""
    import kerasless
    from kerasless.serve.loadgen import run_load

    model = kerasless.load(model_path())
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 39, size=(64, 40))
    xs = np.eye(39, dtype=np.float32)[ids]  # (64, 40, 39) one-hot
    expected = model.predict(xs)
    bodies = [json.dumps({"instances": xs[i:i + 1].tolist()}).encode() for i in range(64)]

    def make(i):
        return "/v1/models/char_lstm:predict", bodies[i % 64], i % 64

    def check(payload, i):
        got = np.asarray(json.loads(payload)["predictions"], np.float32)
        diff = float(np.abs(got - expected[i:i + 1]).max())
        return None if diff <= 1e-5 else f"row {i}: max abs diff {diff:.3g}"

    servers, samples = {}, {}
    try:
        for backend in backends:
            for batching in [m == "on" for m in modes]:
                key = f"{backend}/{'batching' if batching else 'no_batching'}"
                servers[key] = start(backend, batching)
                run_load("127.0.0.1", servers[key][1], make, 8, 0.5)  # warm-up
                print(f"{key:<38} ready in {servers[key][2]:.2f} s", flush=True)
        for r in range(rounds):
            for key, (proc, port, _) in servers.items():
                for c in clients:
                    cpu0 = cpu_seconds(proc.pid)
                    stats = run_load("127.0.0.1", port, make, c, seconds, check)
                    cpu1 = cpu_seconds(proc.pid)
                    stats["cpu_ms"] = None if cpu0 is None else (cpu1 - cpu0) * 1000 / max(1, stats["requests"])
                    if stats["failures"]:
                        raise RuntimeError(f"{key} clients={c}: {stats['first_failures']}")
                    samples.setdefault((key, c), []).append(stats)
                    cpu = "" if stats["cpu_ms"] is None else f"  server CPU {stats['cpu_ms']:.2f} ms/request"
                    print(f"round {r + 1} {key:<38} clients={c:<3} {stats['rps']:>8.1f} req/s  "
                          f"p50 {stats['p50_ms']:>7.2f} ms  p99 {stats['p99_ms']:>7.2f} ms{cpu}", flush=True)
    finally:
        for proc, _, _ in servers.values():
            proc.terminate()
            proc.wait(30)
    results = {}
    for key, (_, _, ready) in servers.items():
        rows = {"ready_seconds": round(ready, 3)}
        for c in clients:
            runs = samples[(key, c)]
            rows[str(c)] = {"rps": float(np.median([s["rps"] for s in runs])),
                            "p50_ms": float(np.median([s["p50_ms"] for s in runs])),
                            "p99_ms": float(np.median([s["p99_ms"] for s in runs])),
                            "requests": int(sum(s["requests"] for s in runs))}
            if runs[0]["cpu_ms"] is not None:
                rows[str(c)]["server_cpu_ms_per_request"] = round(float(np.median([s["cpu_ms"] for s in runs])), 3)
        results[key] = rows
    return results


def _ratio(a: dict, b: dict, key: str):
    return round(a[key] / b[key], 3) if a.get(key) and b.get(key) else None


def ratios(results: dict, clients: list[int]) -> dict:
    """kerasless / Keras for req/s and p99, per Keras method, batching mode and client count."""
    out = {}
    for method in ("keras_predict", "keras_predict_on_batch"):
        for mode in ("batching", "no_batching"):
            ours, theirs = results.get(f"kerasless/{mode}"), results.get(f"{method}/{mode}")
            if not ours or not theirs:
                continue
            out[f"kerasless_vs_{method}/{mode}"] = {
                str(c): {"rps_ratio": round(ours[str(c)]["rps"] / theirs[str(c)]["rps"], 2),
                         "p99_ratio": round(ours[str(c)]["p99_ms"] / theirs[str(c)]["p99_ms"], 3),
                         "cpu_per_request_ratio": _ratio(ours[str(c)], theirs[str(c)], "server_cpu_ms_per_request")}
                for c in clients}
    best, keras_best = results.get("kerasless/no_batching"), results.get("keras_predict_on_batch/batching")
    if best and keras_best:  # each side's best setting here
        out["kerasless_no_batching_vs_keras_predict_on_batch_batching"] = {
            str(c): {"rps_ratio": round(best[str(c)]["rps"] / keras_best[str(c)]["rps"], 2),
                     "p99_ratio": round(best[str(c)]["p99_ms"] / keras_best[str(c)]["p99_ms"], 3)} for c in clients}
    if "kerasless/batching" in results and "kerasless/no_batching" in results:
        out["kerasless_batching_vs_no_batching"] = {
            str(c): round(results["kerasless/batching"][str(c)]["rps"] / results["kerasless/no_batching"][str(c)]["rps"],
                          2) for c in clients}
    return out


def table(doc: dict) -> str:
    """The README table: req/s and p99 per server and client count, and the startup time."""
    res = doc["results"]
    clients = [k for k in next(iter(res.values())) if k != "ready_seconds"]
    head = "| server | batching | " + " | ".join(f"{c} client{'s' * (c != '1')}: req/s, p99" for c in clients)
    head += f" | server CPU per request ({clients[-1]} clients)"
    lines = [head + " | ready in |", "|" + " --- |" * (len(clients) + 4)]
    for key, rows in res.items():
        backend, mode = key.split("/")
        cells = [f"{rows[c]['rps']:,.0f}, {rows[c]['p99_ms']:.1f} ms" for c in clients]
        cpu = rows[clients[-1]].get("server_cpu_ms_per_request")
        cells.append("" if cpu is None else f"{cpu:.2f} ms")
        lines.append(f"| {backend.replace('_', ' ')} | {'on' if mode == 'batching' else 'off'} | "
                     + " | ".join(cells) + f" | {rows['ready_seconds']:.1f} s |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", choices=BACKENDS)
    ap.add_argument("--port", type=int)
    ap.add_argument("--enable-batching", action="store_true")
    ap.add_argument("--seconds", type=float, default=1.5, help="per point and round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    ap.add_argument("--batching", nargs="+", choices=["on", "off"], default=["on", "off"])
    ap.add_argument("--table", action="store_true", help="print the README table of --out and stop")
    ap.add_argument("--out", default=str(HERE / "results" / "serve.json"))
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker, args.port, args.enable_batching)
    if args.table:  # also refreshes the ratios of --out
        doc = json.loads(Path(args.out).read_text())
        doc["ratios"] = ratios(doc["results"], [k for k in next(iter(doc["results"].values())) if k != "ready_seconds"])
        Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
        return print(table(doc))
    results = run(args.seconds, args.clients, args.backends, args.batching, args.rounds)
    doc = {"info": {"model": "bundled char LSTM: (40, 39) one-hot -> LSTM(128) -> Dense(39)",
                    "request": "one sample, row format", "seconds_per_point_and_round": args.seconds,
                    "rounds": args.rounds, "statistic": "median over interleaved rounds",
                    "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                    "load_generator": "in the bench process (shares the CPU with the server)"},
           "results": results, "ratios": ratios(results, args.clients)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(doc["ratios"], indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
