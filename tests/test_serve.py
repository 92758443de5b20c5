"""kerasless serve in-process (starlette's TestClient): TF Serving's REST contract, its errors, model directories,
sessions, batching, metrics. Expected numbers are Keras's (fixtures). Real servers: test_serve_live.py."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_close

pytest.importorskip("starlette", reason="starlette comes with the serve extra (make test installs it)")
pytest.importorskip("httpx")
with warnings.catch_warnings():  # starlette 1.x would rather have httpx2; httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import kerasless
from kerasless.serve import ServeOptions, build_app, load_repository
from kerasless.serve.batching import Batcher
from kerasless.serve.errors import Overloaded

FIX = Path(__file__).parent / "fixtures"
SRC = Path(kerasless.__file__).parent.parent


def model_file(case: str) -> str:
    return str(FIX / case / "k3" / "model.keras")


def load_npy(case: str, name: str) -> np.ndarray:
    return np.load(FIX / case / "k3" / f"{name}.npy")


NAMED = {"lstm": "lstm_basic", "two": "two_input_concat", "gso": "gru_state_outputs", "emb": "embedding_gru",
         "seq": "lstm_seq_dense", "stateful": "stateful_lstm", "bidir": "bidir_lstm_concat",
         "td": "td_lstm", "gru": "gru_basic"}


@pytest.fixture(scope="module")
def repo():
    return load_repository(named=[f"{k}={model_file(v)}" for k, v in NAMED.items()])


@pytest.fixture(scope="module")
def client(repo):
    with TestClient(build_app(repo, ServeOptions(session_ttl=60, max_sessions=8))) as c:
        yield c


def predict(client, name, body, status=200, path=None):
    r = client.post(path or f"/v1/models/{name}:predict", content=json.dumps(body))
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    return r.json()


# -- the contract ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["lstm", "emb", "seq", "bidir", "td", "gru"])
@pytest.mark.parametrize("fmt", ["instances", "inputs"])
def test_predict_matches_keras(client, name, fmt):
    x, y = load_npy(NAMED[name], "x"), load_npy(NAMED[name], "y")
    got = predict(client, name, {fmt: x.tolist()})["predictions" if fmt == "instances" else "outputs"]
    assert_close(np.asarray(got, np.float32), y, label=f"serve[{name},{fmt}]")


def test_multi_input_both_formats(client):
    x0, x1, y = (load_npy("two_input_concat", n) for n in ("x_0", "x_1", "y"))
    names = [s.name for s in client.app.state.server.repository.get("two").inputs]
    rows = [{names[0]: a.tolist(), names[1]: b.tolist()} for a, b in zip(x0, x1)]
    assert_close(np.asarray(predict(client, "two", {"instances": rows})["predictions"], np.float32), y)
    cols = {names[0]: x0.tolist(), names[1]: x1.tolist()}
    assert_close(np.asarray(predict(client, "two", {"inputs": cols})["outputs"], np.float32), y)


def test_multi_output_as_tf_serving(client):
    x = load_npy("gru_state_outputs", "x")
    ys = [load_npy("gru_state_outputs", f"y_{i}") for i in range(3)]
    names = [s.name for s in client.app.state.server.repository.get("gso").outputs]
    cols = predict(client, "gso", {"inputs": x.tolist()})["outputs"]
    assert sorted(cols) == sorted(names)
    rows = predict(client, "gso", {"instances": x.tolist()})["predictions"]
    assert len(rows) == len(x) and all(sorted(r) == sorted(names) for r in rows)
    for name, y in zip(names, ys):
        assert_close(np.asarray(cols[name], np.float32), y)
        assert_close(np.asarray([r[name] for r in rows], np.float32), y)


def test_nonfinite_round_trip_as_tf_serving(client):
    x, y = load_npy("lstm_basic", "x_nonfinite"), load_npy("lstm_basic", "y_nonfinite")
    text = client.post("/v1/models/lstm:predict", content=json.dumps({"inputs": x.tolist()})).text
    assert "NaN" in text and "null" not in text  # TF Serving writes NaN / Infinity literals
    assert_close(np.asarray(json.loads(text)["outputs"], np.float32), y)


def test_stateful_model_carries_state_across_requests(client):
    for i in range(3):
        got = predict(client, "stateful", {"inputs": load_npy("stateful_lstm", f"x{i}").tolist()})["outputs"]
        assert_close(np.asarray(got, np.float32), load_npy("stateful_lstm", f"y{i}"), label=f"stateful#{i}")


def test_status_and_metadata(client):
    assert client.get("/v1/models/lstm").json() == {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
    assert client.get("/v1/models/lstm/versions/1").status_code == 200
    meta = client.get("/v1/models/lstm/metadata").json()
    assert meta["model_spec"] == {"name": "lstm", "signature_name": "", "version": "1"}
    sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["method_name"] == "tensorflow/serving/predict"
    (inp,) = sig["inputs"].values()
    assert inp["dtype"] == "DT_FLOAT" and [d["size"] for d in inp["tensor_shape"]["dim"]] == ["-1", "6", "3"]
    (out,) = sig["outputs"].values()
    assert [d["size"] for d in out["tensor_shape"]["dim"]] == ["-1", "4"]
    emb = client.get("/v1/models/emb/metadata").json()["metadata"]["signature_def"]["signature_def"]
    assert next(iter(emb["serving_default"]["inputs"].values()))["dtype"].startswith("DT_INT")


def test_version_directories(tmp_path):
    for v, case in ((1, "lstm_basic"), (7, "gru_basic")):
        (tmp_path / "models" / "m" / str(v)).mkdir(parents=True)
        shutil.copy(model_file(case), tmp_path / "models" / "m" / str(v) / "model.keras")
    with TestClient(build_app(load_repository(str(tmp_path / "models")))) as c:
        assert [s["version"] for s in c.get("/v1/models/m").json()["model_version_status"]] == ["7", "1"]
        x = load_npy("gru_basic", "x")
        latest = predict(c, "m", {"inputs": x.tolist()})["outputs"]
        assert_close(np.asarray(latest, np.float32), load_npy("gru_basic", "y"))
        old = predict(c, "m", {"inputs": load_npy("lstm_basic", "x").tolist()}, path="/v1/models/m/versions/1:predict")
        assert_close(np.asarray(old["outputs"], np.float32), load_npy("lstm_basic", "y"))
        assert c.get("/v1/models/m/versions/3").status_code == 404


def _wait_for(client, path, check, seconds=5.0):
    deadline = time.perf_counter() + seconds
    while not check(client.get(path).json()):
        assert time.perf_counter() < deadline, client.get(path).json()
        time.sleep(0.02)


def test_new_and_removed_versions_are_picked_up(tmp_path):
    """TF Serving's file system polling: a version directory appearing is loaded, one removed is unloaded, one
    that does not load is reported in the status."""
    def versions(doc):
        return {s["version"]: s["state"] for s in doc.get("model_version_status", [])}

    root = tmp_path / "m"
    (root / "1").mkdir(parents=True)
    shutil.copy(model_file("lstm_basic"), root / "1" / "model.keras")
    with TestClient(build_app(load_repository(str(root)), ServeOptions(poll_seconds=0.05))) as c:
        (root / "2").mkdir()
        shutil.copy(model_file("gru_basic"), root / "2" / "model.keras")
        (root / "3").mkdir()
        (root / "3" / "model.keras").write_bytes(b"not a zip")
        _wait_for(c, "/v1/models/m", lambda d: versions(d) == {"1": "AVAILABLE", "2": "AVAILABLE", "3": "END"})
        failed = c.get("/v1/models/m/versions/3").json()["model_version_status"][0]["status"]
        assert failed["error_code"] == "UNKNOWN" and str(tmp_path) not in failed["error_message"]
        shutil.rmtree(root / "3")
        shutil.copytree(root / "2", root / "3")
        _wait_for(c, "/v1/models/m", lambda d: versions(d).get("3") == "AVAILABLE")
        shutil.rmtree(root / "1")
        _wait_for(c, "/v1/models/m", lambda d: "1" not in versions(d))
        x = load_npy("gru_basic", "x")
        assert_close(np.asarray(predict(c, "m", {"inputs": x.tolist()})["outputs"], np.float32),
                     load_npy("gru_basic", "y"))
        assert c.post("/v1/models/m/versions/1:predict", json={"inputs": [ROW]}).status_code == 404


def _layout(root: Path, kind: str) -> str:
    """Broken model directories: load_repository must refuse each, naming the problem."""
    if kind == "two files":
        (root / "m" / "1").mkdir(parents=True)
        for name in ("a.keras", "b.h5"):
            shutil.copy(model_file("lstm_basic"), root / "m" / "1" / name)
    elif kind == "empty version":
        (root / "m" / "1").mkdir(parents=True)
    elif kind == "no versions":
        (root / "m" / "notaversion").mkdir(parents=True)
    return str(root)


@pytest.mark.parametrize("kind,text", [("two files", "found ['a.keras', 'b.h5']"), ("empty version", "found none"),
                                       ("no versions", "no NAME/VERSION/model.keras inside")])
def test_bad_model_directories(tmp_path, kind, text):
    with pytest.raises(kerasless.ModelFileError, match=text.replace("[", r"\[").replace("]", r"\]")):
        load_repository(_layout(tmp_path, kind))


# -- errors: TF Serving's {"error": ...}, the right status, never a traceback ------------------------------------
ROW = [[0.5] * 3] * 6
ERRORS = [
    (b"", 400, "The document is empty"),
    (b"{\"instances\": [[1, 2", 400, "JSON Parse error"),
    (b"[1, 2]", 400, "Is not object"),
    (b"[" * 5000 + b"]" * 5000, 400, "JSON Parse error"),
    ({"instances": [ROW], "inputs": [ROW]}, 400, "only one of 'inputs' or 'instances'"),
    ({"signature_name": "serving_default"}, 400, "Missing 'inputs' or 'instances' key"),
    ({"instances": {"a": 1}}, 400, "to be an list/array"),
    ({"instances": []}, 400, "No values in 'instances' array"),
    ({"instances": [[1, 2]]}, 400, "expects shape [-1,6,3]"),
    ({"inputs": [[[1, 2, 3]] * 5]}, 400, "got shape [1, 5, 3]"),
    ({"instances": [ROW, ROW[:5]]}, 400, "unequal lengths"),
    ({"instances": [[["a", "b", "c"]] * 6]}, 400, "Type: String is not of expected type: float"),
    ({"instances": [[[None, 1, 2]] * 6]}, 400, "is not of expected type: float"),
    ({"instances": [{"b64": "AAAA"}]}, 400, "is not of expected type: float"),
    ({"instances": [[[True, False, True]] * 6]}, 400, "Type: Bool"),
    ({"inputs": [[[1e39, 0, 0]] * 6]}, 400, "without loss of precision"),
    ({"signature_name": "nope", "inputs": [ROW]}, 400, 'Serving signature name: "nope" not found'),
    ({"signature_name": 3, "inputs": [ROW]}, 400, "'signature_name' key must be a string"),
    ({"instances": [{"input_layer": ROW, "extra": 1}]}, 400, "must only have keys"),
    ({"inputs": {"nope": [ROW]}}, 400, "Missing named input"),
]


@pytest.mark.parametrize("body,status,text", ERRORS, ids=[e[2][:30] for e in ERRORS])
def test_bad_requests(client, body, status, text):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = client.post("/v1/models/lstm:predict", content=content)
    assert (r.status_code, r.headers["content-type"]) == (status, "application/json")
    assert set(r.json()) == {"error"} and text in r.json()["error"], r.json()


@pytest.mark.parametrize("method,path,status,text", [
    ("POST", "/v1/models/nope:predict", 404, "Servable not found for request: Latest(nope)"),
    ("POST", "/v1/models/lstm/versions/9:predict", 404, "Specific(lstm, 9)"),
    ("GET", "/v1/models/nope", 404, "Could not find any versions of model nope"),
    ("GET", "/v1/models/lstm/labels/stable", 404, "label"),
    ("GET", "/v1/models/lstm/versions/x1", 400, "Failed to convert version"),
    ("POST", "/v1/models/lstm:explode", 404, "Malformed request"),
    ("POST", "/v1/models/lstm:classify", 400, "method_name"),
    ("GET", "/nowhere", 404, "Not Found"),
    ("PUT", "/v1/models/lstm", 405, "Method Not Allowed"),
])
def test_routing_errors(client, method, path, status, text):
    r = client.request(method, path, content=b"{}")
    assert r.status_code == status and text in r.json()["error"], r.text


def test_multi_input_errors(client):
    assert "expecting list of objects" in predict(client, "two", {"instances": [[1]]}, 400)["error"]
    assert "expecting an object" in predict(client, "two", {"inputs": [[1]]}, 400)["error"]
    assert "not of expected type: int32" in predict(client, "emb", {"inputs": [[1.5] * 6]}, 400)["error"]


def test_model_errors_name_the_model_not_the_file(client):
    err = predict(client, "emb", {"inputs": [[99] * 6]}, 400)["error"]
    assert "token ids must be in [0, 10)" in err and "model emb" in err and "fixtures" not in err


def test_overload_is_a_503(client):
    server = client.app.state.server
    server.inflight += server.options.max_inflight
    try:
        r = client.post("/v1/models/lstm:predict", content=json.dumps({"inputs": [ROW]}))
    finally:
        server.inflight -= server.options.max_inflight
    assert r.status_code == 503 and "server overloaded" in r.json()["error"]


def test_body_limit_and_internal_errors(repo, monkeypatch):
    with TestClient(build_app(repo, ServeOptions(max_body_bytes=1000))) as c:
        r = c.post("/v1/models/lstm:predict", content=b" " * 1001)
        assert r.status_code == 413 and "over the limit of 1000 bytes" in r.json()["error"]
        chunked = c.post("/v1/models/lstm:predict", content=(b" " * 100 for _ in range(11)))  # no Content-Length
        assert chunked.status_code == 413 and "over the limit" in chunked.json()["error"]
        monkeypatch.setattr(repo.get("lstm"), "run", lambda xs: 1 / 0)
        r = c.post("/v1/models/lstm:predict", content=json.dumps({"inputs": [ROW]}))
        assert r.status_code == 500 and r.json() == {"error": "Internal error: ZeroDivisionError"}


# -- streaming sessions ------------------------------------------------------------------------------------------
def test_session_steps_match_keras(client):
    x, y = load_npy("lstm_seq_dense", "x"), load_npy("lstm_seq_dense", "y")  # (4, 6, 3) -> (4, 6, 3)
    s = client.post("/v1/models/seq/sessions", json={"batch_size": 4})
    assert s.status_code == 201 and s.json()["step_shape"] == [4, 3]
    base = f"/v1/models/seq/sessions/{s.json()['session_id']}"
    first = client.post(f"{base}:step", json={"inputs": x[:, :2].tolist()}).json()["outputs"]  # a chunk of 2
    steps = [client.post(f"{base}:step", json={"inputs": x[:, t].tolist()}).json()["outputs"] for t in range(2, 6)]
    got = np.concatenate([np.asarray(first, np.float32), np.stack(steps, 1).astype(np.float32)], 1)
    assert_close(got, y, label="serve[session]")
    assert client.get(base).json()["steps"] == 6
    client.post(f"{base}:reset")
    again = client.post(f"{base}:step", json={"instances": x[:, 0].tolist()}).json()["predictions"]
    assert_close(np.asarray(again, np.float32), y[:, 0])
    assert client.delete(base).json() == {"session_id": base.rsplit("/", 1)[1], "deleted": True}
    assert client.post(f"{base}:step", json={"inputs": x[:, 0].tolist()}).status_code == 404


@pytest.mark.parametrize("model,body,status,text", [
    ("seq", {"batch_size": 0}, 400, "'batch_size' should be an integer"),
    ("seq", {"batch": 2}, 400, "batch_size"),
    ("two", {}, 400, "cannot stream"),
])
def test_session_create_errors(client, model, body, status, text):
    r = client.post(f"/v1/models/{model}/sessions", json=body)
    assert r.status_code == status and text in r.json()["error"], r.text


def test_session_step_errors_expiry_and_limit(repo):
    with TestClient(build_app(repo, ServeOptions(session_ttl=0.2, max_sessions=2))) as c:
        sid = c.post("/v1/models/seq/sessions").json()["session_id"]
        bad = c.post(f"/v1/models/seq/sessions/{sid}:step", json={"inputs": [[1, 2]]})
        assert bad.status_code == 400 and "a step takes [1,3] for one timestep" in bad.json()["error"]
        assert c.post(f"/v1/models/lstm/sessions/{sid}:step", json={"inputs": [[1, 2, 3]]}).status_code == 404
        c.post("/v1/models/seq/sessions")
        full = c.post("/v1/models/seq/sessions")
        assert full.status_code == 503 and "too many open sessions" in full.json()["error"]
        time.sleep(0.3)
        assert c.get(f"/v1/models/seq/sessions/{sid}").status_code == 404  # expired
        assert c.post("/v1/models/seq/sessions").status_code == 201


# -- health, metrics, batching -----------------------------------------------------------------------------------
def test_health_and_metrics(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    predict(client, "lstm", {"inputs": [ROW]})
    client.post("/v1/models/made-up-name:predict", content=b"{}")
    text = client.get("/monitoring/prometheus/metrics").text
    assert "made-up-name" not in text  # label values stay bounded whatever the URLs
    assert 'kerasless_serve_requests_total{api="predict",code="200",model="lstm"}' in text
    assert "kerasless_serve_request_latency_seconds_bucket" in text and "kerasless_serve_batch_size_count" in text


@pytest.mark.parametrize("inline_ms", [0.0, 1000.0], ids=["model-thread", "event-loop"])
@pytest.mark.parametrize("name", ["two", "gso"])
def test_concurrent_requests_batched_and_split_back(repo, name, inline_ms):
    """Several inputs or outputs through one batched predict: every client gets its own rows, whether the batch
    runs on the model's thread or inline on the event loop."""
    import httpx

    servable = repo.get(name)
    rng = np.random.default_rng(2)
    xs = [rng.normal(size=(16, *t.shape[1:])).astype(np.float32) for t in servable.inputs]
    expected = servable.run(xs)

    async def main():
        app = build_app(repo, ServeOptions(inline_ms=inline_ms, enable_batching=True))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
            bodies = [{"inputs": {t.name: x[i:i + 1].tolist() for t, x in zip(servable.inputs, xs)}}
                      for i in range(16)]
            replies = await asyncio.gather(*(c.post(f"/v1/models/{name}:predict", json=b) for b in bodies))
        return replies, app.state.server.metrics.render().decode()

    replies, metrics = asyncio.run(main())
    for i, r in enumerate(replies):
        got = r.json()["outputs"]
        got = [got[t.name] for t in servable.outputs] if isinstance(got, dict) else [got]
        for g, e in zip(got, expected):
            assert_close(np.asarray(g, np.float32), e[i:i + 1], label=f"batched[{name}]#{i}")
    count = float(metrics.split(f'kerasless_serve_batch_size_count{{model="{name}"}} ')[1].split()[0])
    assert count < 16, f"16 concurrent requests ran as {count:.0f} predicts"


def test_batcher_batches_and_refuses_overload():
    calls = []

    async def run(xs):
        calls.append(xs[0].shape[0])
        await asyncio.sleep(0.01)
        return [xs[0] * 2]

    async def main():
        b = Batcher(run, max_batch_size=8, timeout=0.005, max_enqueued_rows=12)
        rows = [np.full((1, 2), i, np.float32) for i in range(12)]
        outs = await asyncio.gather(*(b.submit([r]) for r in rows))
        assert all(np.array_equal(o[0], r * 2) for o, r in zip(outs, rows))
        with pytest.raises(Overloaded):
            await asyncio.gather(*(b.submit([r]) for r in rows + rows))
        b.close()

    asyncio.run(main())
    assert calls[:2] == [8, 4]
