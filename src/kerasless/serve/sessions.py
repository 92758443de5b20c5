"""Streaming sessions: a model's recurrent state kept on the server between requests (O(1) work per step).

A session wraps one :class:`kerasless.stream.Stream`. Each ``step`` request feeds one timestep
``(batch, *features)`` or a chunk of timesteps ``(batch, T, *features)`` and answers the model's output at each;
the state carries on to the next request until ``reset`` or ``delete``. Idle sessions expire after ``ttl`` seconds.
"""

from __future__ import annotations

import asyncio
import secrets
import time

import numpy as np

from ..errors import KeraslessError
from .errors import BadRequest, NotFound, Overloaded


class Session:
    __slots__ = ("batch_size", "id", "last_used", "lock", "servable", "steps", "stream")

    def __init__(self, servable, stream, batch_size: int):
        self.id = secrets.token_urlsafe(16)
        self.servable, self.stream, self.batch_size = servable, stream, batch_size
        self.steps = 0
        self.last_used = time.monotonic()
        self.lock = asyncio.Lock()

    def step(self, x: np.ndarray) -> np.ndarray:
        """(batch, *features) -> (batch, *out); (batch, T, *features) -> (batch, T, *out)."""
        with self.servable.errors():
            if x.ndim == len(self.stream.step_shape):
                out = self.stream.step(x)
                self.steps += 1
                return out
            outs = []
            for t in range(x.shape[1]):
                outs.append(self.stream.step(x[:, t]))
                self.steps += 1
            return np.stack(outs, axis=1)

    def info(self, ttl: float) -> dict:
        s = self.servable
        return {"session_id": self.id, "model_spec": {"name": s.name, "version": str(s.version)},
                "batch_size": self.batch_size, "steps": self.steps,
                "step_shape": [-1 if d is None else d for d in self.stream.step_shape],
                "expires_in_seconds": round(max(0.0, self.last_used + ttl - time.monotonic()), 3)}


class SessionStore:
    """Open sessions by id, at most ``max_sessions``, each expiring ``ttl`` idle seconds after its last use."""

    def __init__(self, ttl: float, max_sessions: int):
        self.ttl, self.max_sessions = ttl, max_sessions
        self.sessions: dict[str, Session] = {}

    def create(self, servable, batch_size: int = 1) -> Session:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= 4096:
            raise BadRequest(f"'batch_size' should be an integer from 1 to 4096, got {batch_size!r}")
        self.sweep()
        if len(self.sessions) >= self.max_sessions:
            raise Overloaded(f"too many open sessions ({self.max_sessions}); delete some or wait for them to expire")
        try:
            stream = servable.stream(batch_size)
        except KeraslessError as exc:
            raise BadRequest(f"model {servable.name} cannot stream: "
                             f"{str(exc).replace(servable.source, servable.name)}") from None
        session = Session(servable, stream, batch_size)
        self.sessions[session.id] = session
        return session

    def get(self, session_id: str, servable) -> Session:
        self.sweep()
        session = self.sessions.get(session_id)
        if session is None or session.servable.name != servable.name:
            raise NotFound(f"no session {session_id!r} for model {servable.name} (expired after "
                           f"{self.ttl:g} idle seconds, deleted, or never created)")
        session.last_used = time.monotonic()
        return session

    def delete(self, session_id: str, servable) -> None:
        self.get(session_id, servable)
        del self.sessions[session_id]

    def sweep(self) -> None:
        """Drop the sessions idle for longer than ttl."""
        cutoff = time.monotonic() - self.ttl
        for sid in [sid for sid, s in self.sessions.items() if s.last_used < cutoff and not s.lock.locked()]:
            del self.sessions[sid]
