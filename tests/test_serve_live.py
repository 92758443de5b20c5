"""kerasless serve as a real uvicorn process on loopback: start-up, 32 concurrent clients with every answer checked,
a bounded load run with batching on and off, half-sent requests, the side-by-side with a Keras server, the CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_close
from test_serve import model_file  # skips this module too when the serve extra is missing

import kerasless
from kerasless.serve.loadgen import run_load

SRC = Path(kerasless.__file__).parent.parent


# -- a real uvicorn server over loopback -------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module", params=["batching", "no-batching"])
def live(request):
    port = free_port()
    cmd = [sys.executable, "-m", "kerasless", "serve", model_file("lstm_basic"), "--name", "lstm",
           "--model", f"two={model_file('two_input_concat')}", "--port", str(port), "--body-timeout", "1.5"]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd + (["--enable-batching"] if request.param == "batching" else []), env=env,
                            stderr=subprocess.PIPE, text=True)
    import httpx

    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.02)
    else:
        proc.kill()
        pytest.fail(f"server did not start: {proc.stderr.read()}")
    yield port, request.param, time.perf_counter() - start
    proc.terminate()
    proc.wait(10)


def test_live_starts_fast(live):
    assert live[2] < 5.0, f"ready after {live[2]:.2f} s"  # ~0.5 s on an idle machine; loose for loaded CI


def test_live_32_concurrent_clients_every_answer_checked(live):
    import httpx

    port, mode, _ = live
    model = kerasless.load(model_file("lstm_basic"))
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(32, 6, 3)).astype(np.float32)
    expected = model.predict(xs)

    def one(i):
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            replies = [c.post("/v1/models/lstm:predict", json={"instances": xs[i:i + 1].tolist()}) for _ in range(4)]
        assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
        return [np.asarray(r.json()["predictions"], np.float32) for r in replies]

    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(one, range(32)))
    for i, got in enumerate(answers):
        for g in got:
            assert_close(g, expected[i:i + 1], label=f"live[{mode}]#{i}")
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    count = float(metrics.split('kerasless_serve_batch_size_count{model="lstm"} ')[1].split()[0])
    print(f"{mode}: 128 requests in {count:.0f} predict calls")
    assert (count < 128) if mode == "batching" else (count == 128)


def test_live_bounded_load_run(live):
    port, mode, _ = live
    model = kerasless.load(model_file("lstm_basic"))
    xs = np.random.default_rng(1).normal(size=(64, 6, 3)).astype(np.float32)
    expected = model.predict(xs)
    bodies = [json.dumps({"instances": xs[i:i + 1].tolist()}).encode() for i in range(64)]

    def check(payload, i):
        got = np.asarray(json.loads(payload)["predictions"], np.float32)
        return None if np.abs(got - expected[i:i + 1]).max() <= 1e-5 else f"row {i}: wrong answer"

    for clients in (1, 8, 32):
        stats = run_load("127.0.0.1", port, lambda i: ("/v1/models/lstm:predict", bodies[i % 64], i % 64),
                         clients=clients, seconds=0.5, check=check)
        print(f"{mode} clients={clients}: {stats['rps']} req/s p50 {stats['p50_ms']} ms p99 {stats['p99_ms']} ms")
        assert stats["failures"] == 0 and stats["requests"] > 0, stats


def test_live_half_sent_body_times_out(live):
    port = live[0]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"POST /v1/models/lstm:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"inst")
        start, reply = time.perf_counter(), b""
        while b"}" not in reply and (chunk := s.recv(4096)):
            reply += chunk
    assert b" 408 " in reply.split(b"\r\n")[0] and b"not received within" in reply, reply
    assert time.perf_counter() - start < 6


def test_live_half_sent_headers_are_dropped(live):
    with socket.create_connection(("127.0.0.1", live[0]), timeout=5) as s:
        s.sendall(b"POST /v1/models/lstm:predict HTTP/1.1\r\nHost: x\r\nContent-Le")
        start = time.perf_counter()
        assert s.recv(4096) == b""  # closed by the server
    assert time.perf_counter() - start < 6


@pytest.mark.keras
def test_side_by_side_with_keras_server(tmp_path):
    """bench_serve's Keras server (same app, Keras predict_on_batch) and kerasless's answer alike (checked per
    request inside the bench: it fails on any wrong answer)."""
    pytest.importorskip("keras", reason="keras is installed by `make test`")
    out = tmp_path / "serve.json"
    bench = Path(__file__).parent.parent / "bench" / "bench_serve.py"
    subprocess.run([sys.executable, str(bench), "--seconds", "0.5", "--rounds", "1", "--clients", "8", "--batching", "on",
                    "--backends", "kerasless", "keras_predict_on_batch", "--out", str(out)], check=True,
                   env={**os.environ, "PYTHONPATH": str(SRC)}, timeout=300)
    doc = json.loads(out.read_text())
    assert doc["results"]["kerasless/batching"]["8"]["requests"] > 0
    assert "8" in doc["ratios"]["kerasless_vs_keras_predict_on_batch/batching"]


def test_cli_refuses_bad_model_arguments(tmp_path, capsys):
    from kerasless.cli import main

    assert main(["serve", str(tmp_path / "missing.keras")]) == 2
    assert "no such model file" in capsys.readouterr().err
    assert main(["serve", "--model", "noequals"]) == 2
    assert "expected NAME=PATH" in capsys.readouterr().err


def test_cli_without_the_serve_extra(monkeypatch, capsys):
    from kerasless.cli import main

    for name in ("kerasless.serve.server", "kerasless.serve.app"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(sys.modules, "starlette.applications", None)
    assert main(["serve", model_file("lstm_basic")]) == 2
    assert "pip install 'kerasless[serve]'" in capsys.readouterr().err
