"""The ASGI application: TF Serving's REST API (status, metadata, predict) plus sessions, health and metrics.

    GET    /v1/models/NAME[/versions/N]                      model status
    GET    /v1/models/NAME[/versions/N]/metadata             signature def
    POST   /v1/models/NAME[/versions/N]:predict              {"instances": ...} | {"inputs": ...}
    POST   /v1/models/NAME[/versions/N]/sessions             {"batch_size": 1} -> a streaming session
    GET    /v1/models/NAME/sessions/ID                       its info; DELETE ends it
    POST   /v1/models/NAME/sessions/ID:step                  {"inputs": one step or a chunk of steps}
    POST   /v1/models/NAME/sessions/ID:reset                 zero its state
    GET    /healthz  /readyz  /monitoring/prometheus/metrics (also /metrics)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from pathlib import Path

import numpy as np
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Route

from ..errors import KeraslessError
from . import codec
from .batching import Batcher, within
from .errors import BadRequest, NotFound, PayloadTooLarge, RequestTimeout, ServeError
from .metrics import Metrics
from .models import SIGNATURE, Repository, TensorSpec
from .options import ServeOptions
from .sessions import SessionStore

log = logging.getLogger("kerasless.serve")
_PATH = re.compile(r"(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
                   r"(?:/(?P<tail>metadata|sessions)(?:/(?P<sid>[^/:]+))?)?(?::(?P<verb>[A-Za-z]+))?")
_THREAD_DECODE_BYTES = 256 * 1024  # bodies this large are parsed off the event loop


def _json(payload: bytes, status: int = 200) -> Response:
    return Response(payload, status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json(codec.error_body(message), status)


class Server:
    """Routes requests to servables. Build with :func:`build_app`."""

    def __init__(self, repository: Repository, options: ServeOptions, metrics: Metrics | None = None):
        self.repository, self.options = repository, options
        self.metrics = metrics or Metrics()
        self.sessions = SessionStore(options.session_ttl, options.max_sessions)
        self.batchers: dict[tuple, Batcher] = {}
        self.inflight = 0
        self.ready = False
        # (method, path tail, session id given, verb) -> handler
        self.table = {
            ("GET", None, False, None): ("status", self.status),
            ("GET", "metadata", False, None): ("metadata", self.metadata),
            ("POST", None, False, "predict"): ("predict", self.predict),
            ("POST", None, False, "classify"): ("classify", self.not_this_signature),
            ("POST", None, False, "regress"): ("regress", self.not_this_signature),
            ("POST", "sessions", False, None): ("session_create", self.session_create),
            ("GET", "sessions", True, None): ("session_info", self.session_info),
            ("DELETE", "sessions", True, None): ("session_delete", self.session_delete),
            ("POST", "sessions", True, "step"): ("session_step", self.session_step),
            ("POST", "sessions", True, "reset"): ("session_reset", self.session_reset),
        }

    # -- plumbing ----------------------------------------------------------------------------------------------
    async def models_endpoint(self, request) -> Response:
        start, api, model = time.perf_counter(), "unknown", ""
        if self.inflight >= self.options.max_inflight:
            response = _error(503, f"server overloaded: {self.inflight} requests in flight "
                                   f"(limit {self.options.max_inflight})")
            self.metrics.observe(model, api, 503, time.perf_counter() - start)
            return response
        self.inflight += 1
        try:
            path = request.url.path[len("/v1/models/"):]
            m = _PATH.fullmatch(path)
            key = m and (request.method, m["tail"], m["sid"] is not None, m["verb"])
            if not m or key not in self.table:
                raise NotFound(f"Malformed request: {request.method} {request.url.path}")
            api, handler = self.table[key]
            model = m["name"] if m["name"] in self.repository.models else ""  # metric labels stay bounded
            if m["label"] is not None:
                raise NotFound(f"Unrecognized servable version label: {m['label']} (kerasless serve has no labels)")
            version = None
            if m["version"] is not None:
                if not m["version"].isdigit() or len(m["version"]) > 18:
                    raise BadRequest(f"Failed to convert version: {m['version']} to numeric.")
                version = int(m["version"])
            response = await handler(request, m["name"], version, m["sid"])
        except ServeError as exc:
            response = _error(exc.status, str(exc))
        except ClientDisconnect:  # nobody to answer
            response = _error(499, "client disconnected")
        except KeraslessError as exc:  # InputError and the like from predict / stream: the input's fault
            response = _error(400, str(exc))
        except Exception as exc:
            log.exception("internal error on %s %s", request.method, request.url.path)
            response = _error(500, f"Internal error: {type(exc).__name__}")
        finally:
            self.inflight -= 1
        self.metrics.observe(model, api, response.status_code, time.perf_counter() - start)
        return response

    async def body(self, request) -> bytes:
        """The whole body, refused past max_body_bytes (413) or body_timeout seconds (408)."""
        limit = self.options.max_body_bytes
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise BadRequest(f"Content-Length {length[:40]!r} is not a number")
            if int(length) > limit:
                raise PayloadTooLarge(f"request body of {int(length)} bytes is over the limit of {limit} bytes")

        async def collect() -> bytes:
            chunks, size = [], 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"request body is over the limit of {limit} bytes")
                chunks.append(chunk)
            return b"".join(chunks)

        try:
            return await within(self.options.body_timeout, collect())
        except TimeoutError:
            raise RequestTimeout(f"request body not received within {self.options.body_timeout:g} s") from None

    async def decode(self, body: bytes, fn, *args):
        if len(body) < _THREAD_DECODE_BYTES:
            return fn(body, *args)
        return await asyncio.to_thread(fn, body, *args)

    async def run(self, servable, rows: int, fn, *args):
        """fn(*args) on the servable's worker thread, or right here on the event loop when nothing runs on that
        thread and calls of this many rows have taken under inline_ms (a thread hand-off costs more than a small
        predict). Either way the model is never run by two threads at once."""
        if not servable.busy and servable.seconds_per_row * rows * 1000 < self.options.inline_ms:
            return servable.timed(rows, fn, *args)
        try:
            future = asyncio.get_running_loop().run_in_executor(servable.executor, servable.timed, rows, fn, *args)
        except RuntimeError:  # its executor was shut down: the version was unloaded just now
            raise NotFound(f"Servable not found for request: Specific({servable.name}, {servable.version})") from None
        servable.busy += 1
        try:
            return await future
        finally:
            servable.busy -= 1

    def batcher(self, servable) -> Batcher:
        key = (servable.name, servable.version)
        if key not in self.batchers:
            o = self.options
            self.batchers[key] = Batcher(lambda xs: self.run(servable, xs[0].shape[0], servable.run, xs),
                                         o.max_batch_size,
                                         o.batch_timeout_ms / 1000, o.max_enqueued_rows,
                                         self.metrics.batch_size.labels(servable.name).observe)
        return self.batchers[key]

    # -- TF Serving's API --------------------------------------------------------------------------------------
    async def status(self, request, name, version, _):
        failed = {v: why for (n, v), (why, _) in self.repository.failed.items() if n == name}
        versions = self.repository.models.get(name, {}) if failed else self.repository.versions(name)
        states = {v: ("AVAILABLE", "OK", "") for v in versions}
        states.update({v: ("END", "UNKNOWN", why) for v, why in failed.items() if v not in versions})
        if version is not None and version not in states:
            raise NotFound(f"Could not find version {version} of model {name}")
        chosen = [version] if version is not None else sorted(states, reverse=True)
        return _json(codec.dumps({"model_version_status": [
            {"version": str(v), "state": states[v][0], "status": {"error_code": states[v][1],
                                                                 "error_message": states[v][2]}} for v in chosen]}))

    async def metadata(self, request, name, version, _):
        s = self.repository.get(name, version)
        signature = {"inputs": {t.name: t.to_json(f"{SIGNATURE}_{t.name}:0") for t in s.inputs},
                     "outputs": {t.name: t.to_json(f"StatefulPartitionedCall:{i}") for i, t in enumerate(s.outputs)},
                     "method_name": "tensorflow/serving/predict"}
        return _json(codec.dumps({
            "model_spec": {"name": s.name, "signature_name": "", "version": str(s.version)},
            "metadata": {"signature_def": {"signature_def": {SIGNATURE: signature}},
                         "kerasless": {"file": Path(s.source).name, "keras_version": str(s.model.keras_version),
                                       "stateful": s.stateful}}}))

    async def predict(self, request, name, version, _):
        s = self.repository.get(name, version)
        xs, fmt = await self.decode(await self.body(request), codec.decode_predict, s.inputs)
        if len(xs) > 1 and len({a.shape[0] for a in xs}) > 1:
            raise BadRequest(f"inputs have different batch sizes: "
                             f"{ {t.name: a.shape[0] for t, a in zip(s.inputs, xs)} }")
        if self.options.enable_batching and not s.stateful:
            outs = await self.batcher(s).submit(xs)
        else:
            self.metrics.batch_size.labels(s.name).observe(xs[0].shape[0])
            outs = await self.run(s, xs[0].shape[0], s.run, xs)
        return _json(codec.encode_predict(outs, s.outputs, fmt))

    async def not_this_signature(self, request, name, version, _):
        s = self.repository.get(name, version)
        verb = request.url.path.rsplit(":", 1)[1]
        raise BadRequest(f"Expected {verb} signature method_name to be tensorflow/serving/{verb}. Was: "
                         f"tensorflow/serving/predict (model {s.name} has a predict signature only)")

    # -- sessions ----------------------------------------------------------------------------------------------
    async def session_create(self, request, name, version, _):
        s = self.repository.get(name, version)
        body = await self.body(request)
        doc = codec.loads(body) if body.strip() else {}
        if not isinstance(doc, dict) or set(doc) - {"batch_size"}:
            raise BadRequest('a session is created with {} or {"batch_size": N}')
        session = self.sessions.create(s, doc.get("batch_size", 1))
        return _json(codec.dumps(session.info(self.sessions.ttl)), 201)

    async def session_info(self, request, name, version, sid):
        session = self.sessions.get(sid, self.repository.get(name, version))
        return _json(codec.dumps(session.info(self.sessions.ttl)))

    async def session_delete(self, request, name, version, sid):
        self.sessions.delete(sid, self.repository.get(name, version))
        return _json(codec.dumps({"session_id": sid, "deleted": True}))

    async def session_reset(self, request, name, version, sid):
        session = self.sessions.get(sid, self.repository.get(name, version))
        async with session.lock:
            session.stream.reset()
            session.steps = 0
        return _json(codec.dumps(session.info(self.sessions.ttl)))

    async def session_step(self, request, name, version, sid):
        s = self.repository.get(name, version)
        session = self.sessions.get(sid, s)
        x, fmt = await self.decode(await self.body(request), _decode_step, session)
        async with session.lock:
            y = await self.run(s, x.shape[0] * (x.shape[1] if x.ndim > len(session.stream.step_shape) else 1),
                               session.step, x)
        return _json(codec.encode_predict([y], s.outputs, fmt))

    # -- health and metrics ------------------------------------------------------------------------------------
    async def healthz(self, request):
        return _json(b'{"status":"ok"}')

    async def readyz(self, request):
        if not self.ready:
            return _error(503, "not ready")
        models = {n: sorted(v) for n, v in self.repository.models.items()}
        return _json(codec.dumps({"status": "ready", "models": models}))

    async def prometheus(self, request):
        self.metrics.sessions.set(len(self.sessions.sessions))
        return Response(self.metrics.render(), media_type=self.metrics.content_type)

    @contextlib.asynccontextmanager
    async def lifespan(self, app):
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(self._sweep())]
        if self.options.poll_seconds > 0 and any(path.is_dir() for path, _ in self.repository.watch):
            tasks.append(loop.create_task(self._poll()))
        self.ready = True
        try:
            yield
        finally:
            self.ready = False
            for task in tasks:
                task.cancel()
            for b in self.batchers.values():
                b.close()

    async def _poll(self):
        while True:
            await asyncio.sleep(self.options.poll_seconds)
            try:
                change = await asyncio.to_thread(self.repository.scan)
            except Exception:  # a bad scan must not stop the polling
                log.exception("model directory scan failed")
                continue
            for n, v in change[1]:
                self.batchers.pop((n, v), None)  # a removed version's batcher finishes its queue, then idles
            self.repository.apply(*change)
            for s in change[0]:
                log.warning("kerasless serve: loaded %s version %s", s.name, s.version)

    async def _sweep(self):
        while True:
            await asyncio.sleep(min(30.0, max(0.05, self.sessions.ttl / 4)))
            self.sessions.sweep()


def _decode_step(body: bytes, session):
    """A step body -> ((batch, *features) or (batch, T, *features) float32, "row" | "columnar")."""
    doc = codec.loads(body)
    keys = set(doc) & {"inputs", "instances"} if isinstance(doc, dict) else set()
    if len(keys) != 1 or set(doc) - {"inputs", "instances", "signature_name"}:
        raise BadRequest("a step body is {\"inputs\": x} or {\"instances\": x}, x shaped (batch, *features) for "
                         "one step or (batch, steps, *features)")
    key = keys.pop()
    value, features = doc[key], session.stream.step_shape[1:]
    spec_in = session.servable.inputs[0]
    rank = len(codec._dense_shape(value))
    shape = (session.batch_size, *features) if rank == 1 + len(features) else (session.batch_size, None, *features)
    spec = TensorSpec(spec_in.name, spec_in.dtype, shape)
    try:
        x = codec.to_array(value, spec, f"'{key}'")
    except BadRequest as exc:
        dims = ",".join(map(str, features))
        raise BadRequest(f"{exc} (a step takes [{session.batch_size},{dims}] for one timestep or "
                         f"[{session.batch_size},steps,{dims}])") from None
    return np.ascontiguousarray(x, np.float32), "row" if key == "instances" else "columnar"


def build_app(repository: Repository, options: ServeOptions | None = None, metrics: Metrics | None = None):
    """The Starlette app serving ``repository`` (run it with uvicorn, or starlette's TestClient).

    Args:
        repository: from :func:`kerasless.serve.load_repository`.
        options: :class:`ServeOptions` (limits, batching, sessions); default settings when omitted.
        metrics: a :class:`~kerasless.serve.metrics.Metrics` to record into (default: a new registry).
    Returns:
        the ASGI app; ``app.state.server`` is the :class:`Server` behind it.
    Example:
        >>> app = build_app(load_repository("model.keras")); uvicorn.run(app, port=8501)
    """
    server = Server(repository, options or ServeOptions(), metrics)

    async def not_found(request, exc):
        return _error(exc.status_code, f"{exc.detail}: {request.method} {request.url.path}")

    async def internal(request, exc):
        log.exception("internal error", exc_info=exc)
        return _error(500, f"Internal error: {type(exc).__name__}")

    routes = [Route("/v1/models/{rest:path}", server.models_endpoint, methods=["GET", "POST", "DELETE"]),
              Route("/healthz", server.healthz), Route("/readyz", server.readyz),
              Route("/monitoring/prometheus/metrics", server.prometheus), Route("/metrics", server.prometheus)]
    app = Starlette(routes=routes, lifespan=server.lifespan,
                    exception_handlers={HTTPException: not_found, Exception: internal})
    app.state.server = server
    return app
