"""Models that travel between processes: pickling, and the handle engine workers load a model through.

A :class:`~kerasless.Model` pickles (and copies) as its plain data — the ModelSpec the reader produced (names,
configs, float32 arrays, assets) — plus its options (``max_bytes``); the other side rebuilds its layers, so no
native handle or packed kernel crosses a process. Carried state of a ``stateful=True`` model is not sent: the copy
starts from zero state, as a freshly loaded model does.

:class:`Shipped` is what Spark and Dask tasks carry: the pickled model as bytes (or a path every worker can read)
and the worker options. :meth:`Shipped.get` rebuilds the model once per worker process and keeps it.

Example:
    >>> shipped = Shipped(model)            # or Shipped("/shared/model.keras")
    >>> shipped.get().predict(x)            # on a worker: loaded once per process, then cached
"""

from __future__ import annotations

import hashlib
import os
import pickle
import socket
import threading
from collections import OrderedDict

from .errors import KeraslessError, ModelFileError
from .io.spec import ModelSpec

__all__ = ["Shipped", "reduce_model", "set_worker_threads"]

THREAD_VARS = ("KERASLESS_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
CACHE_SIZE = 4  # models a worker process keeps (least recently used goes first)


def reduce_model(model):
    """Model.__reduce__: (rebuild, (spec with its assets read into a dict, max_bytes))."""
    s = model.spec
    plain = ModelSpec(s.name, s.layers, s.inputs, s.outputs, s.keras_version, s.source,
                      {k: s.assets[k] for k in s.assets}, s.output_structure)
    plain.sequential = s.sequential
    return _rebuild, (plain, model._limits.max_bytes)


def _rebuild(spec, max_bytes):
    from .graph import Model

    return Model(spec, max_bytes)


def reduce_stream(stream):
    """Stream.__reduce__: the model, the batch size and the carried state."""
    return _rebuild_stream, (stream.model, stream.batch_size, stream.state)


def _rebuild_stream(model, batch_size, state):
    return model.stream(batch_size, initial_state=state)


_threads_set = None


def set_worker_threads(n: int | None) -> None:
    """Cap the threads this process uses: kerasless's native kernels and the BLAS under NumPy (through
    threadpoolctl when installed; the environment variables for libraries loaded later). None: leave them."""
    global _threads_set
    if n is None or n == _threads_set:
        return
    from . import native

    for var in THREAD_VARS:
        os.environ[var] = str(n)
    native._cores = None  # native.cores() reads KERASLESS_THREADS again
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        threadpool_limits(n)
    _threads_set = n


_cache: OrderedDict = OrderedDict()
_lock = threading.Lock()


class Shipped:
    """A model as Spark and Dask tasks carry it: the pickled Model as bytes, or a path that every worker reads
    itself, plus worker options.

    Args:
        model: a :class:`~kerasless.Model` (sent as bytes), or a path to a ``.keras`` / ``.h5`` file every worker
            can read (a shared or distributed file system).
        threads: threads per task on the worker (default 1: the engine runs one task per core); None leaves the
            worker's settings alone.
        backend: ``'numpy'``, ``'native'`` or ``'auto'`` on the worker (default: the worker's $KERASLESS_BACKEND).
        max_bytes: the size limit when a worker loads from a path (see kerasless.load).
    """

    def __init__(self, model, threads: int | None = 1, backend: str | None = None, max_bytes: int | None = None):
        from .graph import Model

        if backend not in (None, "numpy", "native", "auto"):
            raise KeraslessError(f"backend must be 'numpy', 'native' or 'auto', not {backend!r}")
        if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 1):
            raise KeraslessError(f"threads must be a positive integer or None, not {threads!r}")
        self.threads, self.backend, self.max_bytes = threads, backend, max_bytes
        if isinstance(model, Model):
            self.path, self.payload = None, pickle.dumps(model, protocol=5)
            self.source = model.source
            self.key = hashlib.blake2b(self.payload, digest_size=16).hexdigest()
            self._local = model  # the driver's own copy (not pickled)
        elif isinstance(model, (str, os.PathLike)):
            self.path, self.payload = os.path.abspath(os.fspath(model)), None
            self.source = self.path
            self.key = f"path:{self.path}:{max_bytes}"
            self._local = None
        else:
            raise KeraslessError(f"expected a kerasless Model or a model file path, got {type(model).__name__!r}")

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_local"] = None
        return state

    def get(self):
        """The model in this process: rebuilt (or loaded from the path) at the first call, then cached. In a process
        the handle was sent to, applies the worker options (threads, backend) first. Raises ModelFileError when the
        worker cannot read it."""
        if self._local is not None:  # the process that made the handle: its settings stay as they are
            return self._local
        set_worker_threads(self.threads)
        if self.backend is not None:
            from . import native

            native.set_backend(self.backend)
        key = self.key
        if self.path is not None:  # a changed file is loaded again
            try:
                st = os.stat(self.path)
                key = (key, st.st_mtime_ns, st.st_size)
            except OSError:
                pass  # load() raises the error below
        with _lock:
            model = _cache.get(key)
            if model is None:
                model = self._load()
                _cache[key] = model
                while len(_cache) > CACHE_SIZE:
                    _cache.popitem(last=False)
            _cache.move_to_end(key)
        return model

    def _load(self):
        where = f"worker {socket.gethostname()} (pid {os.getpid()})"
        if self.path is not None:
            from . import load

            try:
                return load(self.path, self.max_bytes)
            except KeraslessError as exc:
                raise ModelFileError(f"{where} cannot read the model {self.path}: {exc}. A path must be readable "
                                     "on every worker; pass the loaded Model instead to send its contents") from exc
        try:
            return pickle.loads(self.payload)
        except KeraslessError:
            raise
        except Exception as exc:  # noqa: BLE001 -- another kerasless version, a truncated payload, ...
            raise ModelFileError(f"{where} cannot rebuild the model from {self.source} "
                                 f"({type(exc).__name__}: {exc}); is the driver's kerasless version installed "
                                 "on the workers?") from exc

    def __repr__(self) -> str:
        how = "path" if self.path is not None else f"{len(self.payload):,} bytes"
        return f"<kerasless Shipped {self.source} ({how}), threads={self.threads}, backend={self.backend}>"
