"""``kerasless serve``: load the models, then run the app on uvicorn."""

from __future__ import annotations

import sys
import time

from .app import build_app
from .models import load_repository
from .options import ServeOptions, options_from_args


def _protocol(header_timeout: float):
    """uvicorn's httptools protocol, closing a connection whose request line and headers take longer than
    ``header_timeout`` seconds (uvicorn alone waits forever for half-sent headers). h11 when httptools is absent."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return "h11"

    class HeaderTimeoutProtocol(HttpToolsProtocol):
        _header_timer = None

        def _arm(self):
            self._disarm()
            self._header_timer = self.loop.call_later(header_timeout, self.transport.close)

        def _disarm(self):
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def connection_made(self, transport):
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc):
            self._disarm()
            super().connection_lost(exc)

        def on_message_begin(self):
            super().on_message_begin()
            if self._header_timer is None:
                self._arm()

        def on_headers_complete(self):
            self._disarm()
            super().on_headers_complete()

        def on_response_complete(self):  # an idle keep-alive connection: uvicorn's own timeout
            super().on_response_complete()
            self._disarm()

    return HeaderTimeoutProtocol


def uvicorn_config(app, options: ServeOptions):
    import uvicorn

    return uvicorn.Config(
        app, host=options.host, port=options.port, log_level=options.log_level, access_log=False,
        http=_protocol(options.body_timeout), loop="auto", lifespan="on",  # uvloop when installed
        limit_concurrency=options.max_inflight * 2 + 16,  # past the app's own JSON 503: uvicorn's plain 503
        timeout_keep_alive=5, h11_max_incomplete_event_size=64 * 1024)


def serve(repository, options: ServeOptions | None = None, out=sys.stderr) -> None:
    """Serve ``repository`` until interrupted (Ctrl-C / SIGTERM: finish the requests in flight, then stop)."""
    import uvicorn

    options = options or ServeOptions()
    app = build_app(repository, options)
    server = uvicorn.Server(uvicorn_config(app, options))
    for name, versions in repository.models.items():
        print(f"kerasless serve: {name} versions {sorted(versions)} at "
              f"http://{options.host}:{options.port}/v1/models/{name}", file=out, flush=True)
    try:
        server.run()
    finally:
        repository.close()


def cli_serve(args) -> None:
    start = time.perf_counter()
    options = options_from_args(args)
    repository = load_repository(args.model, args.name, args.models)
    print(f"kerasless serve: loaded {sum(len(v) for v in repository.models.values())} model version(s) in "
          f"{(time.perf_counter() - start) * 1000:.0f} ms; batching "
          f"{'on' if options.enable_batching else 'off'}", file=sys.stderr, flush=True)
    serve(repository, options)
