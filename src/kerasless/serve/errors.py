"""The errors the server answers with: each carries its HTTP status; the body is TF Serving's {"error": "..."}."""

from __future__ import annotations

from ..errors import KeraslessError


class ServeError(KeraslessError):
    """A request the server refuses. ``status`` is the HTTP status it is answered with."""

    status = 500


class BadRequest(ServeError):
    """Malformed JSON, a wrong key, shape or dtype (TF Serving: INVALID_ARGUMENT)."""

    status = 400


class NotFound(ServeError):
    """Unknown model, version, session or path (TF Serving: NOT_FOUND)."""

    status = 404


class RequestTimeout(ServeError):
    """The request body did not arrive in time."""

    status = 408


class PayloadTooLarge(ServeError):
    """The request body is over the configured limit."""

    status = 413


class Overloaded(ServeError):
    """Too many requests queued or in flight, or too many sessions (TF Serving: UNAVAILABLE)."""

    status = 503
