"""``kerasless serve``: TF Serving's REST API for Keras models, without TensorFlow (needs ``kerasless[serve]``).

Example:
    >>> from kerasless.serve import build_app, load_repository, serve
    >>> serve(load_repository("models/"))          # models/NAME/VERSION/model.keras, like TF Serving
"""

from __future__ import annotations

__all__ = ["ServeOptions", "build_app", "cli_serve", "load_repository", "serve"]


def cli_serve(args) -> None:
    """``kerasless serve ...`` (a clear error when the server stack is not installed)."""
    try:
        from .server import cli_serve as run
    except ImportError as exc:
        from .errors import ServeError

        raise ServeError(f"kerasless serve needs its server stack ({(exc.name or '?').split('.')[0]} is missing): "
                         "pip install 'kerasless[serve]'") from None
    run(args)


def __getattr__(name):
    # the server stack (starlette, uvicorn, orjson) loads on first use: `kerasless --help` stays light
    if name == "ServeOptions":
        from .options import ServeOptions

        return ServeOptions
    if name == "build_app":
        from .app import build_app

        return build_app
    if name == "load_repository":
        from .models import load_repository

        return load_repository
    if name == "serve":
        from .server import serve

        return serve
    raise AttributeError(f"module 'kerasless.serve' has no attribute {name!r}")
