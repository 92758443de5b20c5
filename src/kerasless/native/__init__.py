"""Optional native backend: kernels.c compiled at first use with the system C compiler, loaded with ctypes.

The shared library is cached under ``$KERASLESS_CACHE`` (default ``$XDG_CACHE_HOME/kerasless`` or
``~/.cache/kerasless``), keyed by the source, compiler flags, ``$CC`` and machine. When no compiler is found or the
build fails, :func:`available` is False and every caller falls back to NumPy silently (``reason()`` says why).

Selection: ``KERASLESS_BACKEND=numpy|native|auto`` (default auto = native when it builds), or at run time
:func:`set_backend`. ``KERASLESS_THREADS`` caps the threads a large batch is split over (default: usable cores).

Example:
    >>> import kerasless.native as kn
    >>> kn.set_backend("numpy")      # pure NumPy from now on
    >>> kn.backend()                 # 'numpy'
"""

from __future__ import annotations

import ctypes
import os
import threading
import weakref

import numpy as np

from ..layers.layout import GRU, LSTM, SIMPLE_RNN

_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernels.c")  # os.path: no pathlib import
_FLAGS = [["-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math"],
          ["-O3", "-fno-math-errno", "-fno-trapping-math"]]
ACT_CODES = {"linear": 0, "tanh": 1, "sigmoid": 2, "hard_sigmoid": 3, "hard_sigmoid_k2": 4, "relu": 5}
DENSE_ACT_CODES = {**ACT_CODES, "softmax": 6}  # softmax over the last axis: Dense only
KINDS = {"lstm": 0, "gru": 1, "gru_v1": 2, "simple_rnn": 3}

_lib = None
_lock = threading.Lock()
_reason = "not built yet"
_tried = False
_backend = None


class Job(ctypes.Structure):  # kl_job in kernels.c
    _fields_ = [(n, ctypes.c_int) for n in ("kind", "B", "T", "u", "F", "act", "ract", "go_backwards", "zero_out")] + [
        ("x", ctypes.c_void_p), ("xb", ctypes.c_long), ("xt", ctypes.c_long), ("W", ctypes.c_void_p),
        ("bx", ctypes.c_void_p), ("U", ctypes.c_void_p), ("U2", ctypes.c_void_p), ("rb", ctypes.c_void_p),
        ("h", ctypes.c_void_p), ("c", ctypes.c_void_p),
        ("mask", ctypes.c_void_p), ("mb", ctypes.c_long), ("mt", ctypes.c_long),
        ("seq", ctypes.c_void_p), ("last", ctypes.c_void_p),
        ("gseq", ctypes.c_void_p), ("hseq", ctypes.c_void_p), ("cseq", ctypes.c_void_p), ("sparse", ctypes.c_int),
    ]


def _build() -> ctypes.CDLL:
    """The kernel library (native/build.py compiles and caches it), with its ABI checked."""
    from .build import load

    lib = load(_SOURCE, _FLAGS)
    lib.kl_rnn_run.argtypes = [ctypes.POINTER(Job), ctypes.c_int]
    lib.kl_rnn_run.restype = ctypes.c_int
    lib.kl_dense.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                             ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    lib.kl_dense.restype = ctypes.c_int
    if lib.kl_abi_version() != 5:
        raise OSError("stale kernel library")
    return lib


def library():
    """The loaded kernel library, or None (built on first call; never raises). Threads that ask while it builds
    wait for the build instead of silently running NumPy meanwhile."""
    global _lib, _reason, _tried
    if not _tried:
        with _lock:
            if not _tried:
                try:
                    _lib = _build()
                    _reason = "ok"
                except Exception as exc:  # noqa: BLE001 -- no compiler, read-only cache, odd platform: NumPy
                    _lib, _reason = None, f"{type(exc).__name__}: {exc}"
                _tried = True
    return _lib


def available() -> bool:
    return library() is not None


def reason() -> str:
    library()
    return _reason


def set_backend(name: str | None) -> None:
    """'numpy', 'native' or 'auto' (None: back to $KERASLESS_BACKEND). 'native' falls back to NumPy when the
    kernel cannot be built."""
    global _backend
    if name not in (None, "numpy", "native", "auto"):
        raise ValueError(f"backend must be 'numpy', 'native' or 'auto', not {name!r}")
    _backend = name


_env_backend = None


def backend() -> str:
    """The backend in effect: 'native' when selected (or auto) and built, else 'numpy'.
    $KERASLESS_BACKEND is read once, at the first call."""
    global _env_backend
    name = _backend
    if name is None:
        if _env_backend is None:
            _env_backend = os.environ.get("KERASLESS_BACKEND", "auto").strip().lower() or "auto"
        name = _env_backend
    if name == "numpy":
        return "numpy"
    return "native" if (_lib is not None or available()) else "numpy"


_cores = None
MIN_THREAD_WORK = 1 << 22  # multiply-adds (~0.1 ms of one core) before a second thread pays for its start-up
RB = 6  # rows per register block in kernels.c


def cores() -> int:
    """Threads a call may use: $KERASLESS_THREADS, default the usable cores."""
    global _cores
    if _cores is None:
        env = os.environ.get("KERASLESS_THREADS")
        try:
            _cores = max(1, int(env) if env else len(os.sched_getaffinity(0)))
        except (AttributeError, ValueError):
            _cores = os.cpu_count() or 1
    return _cores


def plan(batch: int, work: int) -> int:
    """Threads for a recurrent run of ``work`` multiply-adds over ``batch`` rows: the rows are split in blocks of
    >= 6, so 1 for small work or small batches. (Splitting the units of one row instead costs more in per-step
    synchronisation than it saves, measured on 2 cores.)"""
    if work < MIN_THREAD_WORK:
        return 1
    return max(1, min(cores(), batch // RB))


def _ptr(a):
    """The address of a contiguous array's data (None for None). ``a.ctypes.data`` costs ~2.5 us a call; a ctypes
    view of a writable buffer ~0.8 us, and a predict call passes a dozen addresses."""
    if a is None:
        return None
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(a))
    except (TypeError, ValueError, BufferError):  # read-only or not contiguous: the slow way
        return a.ctypes.data


# The gates each cell's step records (trace), from the layout: gate variables that are not states.
GATES = {kind: tuple(g.var for g in cell.gates if g.var not in cell.states)
         for kind, cell in (("lstm", LSTM), ("gru", GRU), ("gru_v1", GRU), ("simple_rnn", SIMPLE_RNN))}


PANEL = 16


def pack(M: np.ndarray, gates: int) -> np.ndarray:
    """(K, gates*n) -> kernels.c's panel layout: each gate's n columns padded with zeros to a multiple of 16, then
    16-column panels stored one after another (each panel K x 16, contiguous)."""
    K, n = M.shape[0], M.shape[1] // gates
    n_pad = -(-n // PANEL) * PANEL
    padded = np.zeros((K, gates, n_pad), np.float32)
    padded[:, :, :n] = M.reshape(K, gates, n)
    return np.ascontiguousarray(padded.reshape(K, -1, PANEL).transpose(1, 0, 2))


def _template(fast, projected: bool) -> Job:
    """A job with fast's packed weights filled in (packed once, kept on the cell with the template)."""
    key = "projected" if projected else "raw"
    if getattr(fast, "packed", None) is None:
        ng = len(GATES[fast.kind]) or 1
        Wp = None if fast.W is None else pack(fast.W, ng)
        Up = pack(fast.U, 2 if fast.kind == "gru_v1" else ng)
        U2p = None if fast.U2 is None else pack(fast.U2, 1)
        fast.packed = {"arrays": (Wp, Up, U2p)}  # the cell keeps them alive while their addresses sit in jobs
        for k, with_w in (("projected", False), ("raw", Wp is not None)):
            job = Job(KINDS[fast.kind], 0, 0, fast.units, 0, ACT_CODES[fast.act], ACT_CODES.get(fast.ract, 0))
            job.U, job.U2, job.rb = _ptr(Up), _ptr(U2p), _ptr(fast.rb)
            if with_w:
                job.W, job.bx, job.F, job.sparse = _ptr(Wp), _ptr(fast.bx), fast.W.shape[0], fast.sparse_ok
            fast.packed[k] = job
    return fast.packed[key]


def _new_job(fast, projected: bool) -> Job:
    return Job.from_buffer_copy(_template(fast, projected))


def rnn_run(fast, x, states, mask, go_backwards, return_sequences, zero_output_for_mask, record=None,
            projected=False):
    """The whole loop in C. x: (batch, time, features) raw inputs (the kernel projects them step by step), or
    with ``projected`` x·W + b (batch, time, G); states: the initial states, or None for zeros. Returns
    (output, final_states) like recurrent.run, or None when the kernel is unavailable. With ``record`` the kernel
    keeps every gate and state, then replays them to ``record(k, gates, states)``."""
    lib = library()
    if lib is None:
        return None
    B, T, F = x.shape
    u = fast.units
    if x.dtype != np.float32 or x.strides[2] != 4:
        x = np.ascontiguousarray(x, np.float32)
    if not projected and B < RB and 4 * np.count_nonzero(x) > x.size:
        # one row block of dense rows: one product up front reads the input kernel once, not once per step
        # (one-hot rows stay in the loop, where each costs one kernel row)
        xp = dense(x, fast.W, fast.bx, "linear")
        if xp is not None:
            x, projected = xp, True
    names = GATES[fast.kind]
    G = fast.U.shape[1] if fast.kind != "gru_v1" else 3 * u
    lstm, traced = fast.kind == "lstm", record is not None
    # every output in one allocation, so one address: h, c, last, then seq and the trace's gates, h and c
    n, nseq = B * u, B * T * u
    sizes = (nseq if return_sequences else 0, nseq * len(names) if traced else 0, nseq if traced else 0,
             nseq if traced and lstm else 0)
    buf = np.empty(3 * n + sum(sizes), np.float32)
    base = _ptr(buf)
    h, c, last = buf[:n].reshape(B, u), buf[n:2 * n].reshape(B, u), buf[2 * n:3 * n].reshape(B, u)
    if states is None:  # zero initial states
        buf[:3 * n].fill(0)
    else:
        h[...] = states[0]
        if lstm:
            c[...] = states[1]
        last.fill(0)
    job = _new_job(fast, projected)
    job.B, job.T = B, T
    job.go_backwards, job.zero_out = bool(go_backwards), bool(zero_output_for_mask)
    job.x, job.xb, job.xt = _ptr(x), x.strides[0] // 4, x.strides[1] // 4
    job.h, job.c, job.last = base, base + 4 * n, base + 8 * n
    extra, addresses, off = [], [], 3 * n
    for size in sizes:  # seq, gseq, hseq, cseq
        extra.append(buf[off:off + size].reshape(B, T, -1) if size else None)
        addresses.append(base + 4 * off if size else None)
        off += size
    seq, gseq, hseq, cseq = extra
    job.seq, job.gseq, job.hseq, job.cseq = addresses
    if mask is not None:
        m = np.ascontiguousarray(mask, np.bool_)
        job.mask, job.mb, job.mt = _ptr(m), m.strides[0], m.strides[1]
    if lib.kl_rnn_run(job, plan(B, B * T * G * (u + (0 if projected else F)))) != 0:
        return None
    states = (h, c) if lstm else (h,)
    if traced:
        for k in range(T):
            gates = {name: gseq[:, k, j * u:(j + 1) * u] for j, name in enumerate(names)}
            record(k, gates, (hseq[:, k],) if cseq is None else (hseq[:, k], cseq[:, k]))
    return (seq if return_sequences else last), states


class Stepper:
    """Streaming in C for one recurrent layer: persistent buffers whose addresses sit in a prepared job, so a
    step is one copy in and one call. ``states`` and ``last`` (the previous output) are those buffers."""

    def __init__(self, lib, fast, batch: int, zero_output_for_mask: bool):
        u = fast.units
        self.x = np.zeros((batch, fast.W.shape[0]), np.float32)
        self.states = tuple(np.zeros((batch, u), np.float32) for _ in range(2 if fast.kind == "lstm" else 1))
        self.last = np.zeros((batch, u), np.float32)
        self.keep = np.ones((batch, 1), np.bool_)
        self.fast = fast  # keeps the weights alive while their addresses sit in the job
        self.job = job = _new_job(fast, projected=False)
        job.B, job.T, job.xb, job.xt, job.mb, job.mt = batch, 1, self.x.shape[1], 0, 1, 0
        job.zero_out = zero_output_for_mask
        job.x, job.h, job.last = _ptr(self.x), _ptr(self.states[0]), _ptr(self.last)
        job.c = _ptr(self.states[1]) if len(self.states) > 1 else None
        self._ref, self._run, self._keep_ptr = ctypes.byref(job), lib.kl_rnn_run, _ptr(self.keep)

    def step(self, x_t, keep=None) -> np.ndarray:
        """One step; x_t (batch, features), keep (batch,) bool or None. Returns the output buffer."""
        np.copyto(self.x, x_t)
        if keep is not None:
            np.copyto(self.keep[:, 0], keep)
            self.job.mask = self._keep_ptr
        elif self.job.mask:
            self.job.mask = None
        self._run(self._ref, 1)
        return self.last


def stepper(fast, batch: int, zero_output_for_mask: bool = False):
    """A :class:`Stepper` for ``fast`` (a FastCell with its input kernel), or None without the kernel."""
    lib = library()
    if lib is None or fast.W is None:
        return None
    return Stepper(lib, fast, batch, zero_output_for_mask)


class DenseStep:
    """Streaming in C for one Dense layer: input and output buffers and a prepared call (the per-step cost is one
    copy and one call; pointer lookups would cost more than the product)."""

    def __init__(self, lib, W, b, act: str, batch: int, x_buffer=None):
        K, N = W.shape
        self.x = np.zeros((batch, K), np.float32) if x_buffer is None else x_buffer  # x_buffer: read in place
        self.out = np.zeros((batch, N), np.float32)
        self._run = lib.kl_dense
        self._args = (_ptr(self.x), batch, K, _weights(W), N, _weights(b), DENSE_ACT_CODES[act], _ptr(self.out), 1)

    def call(self, x, mask=None) -> np.ndarray:
        """act(x @ W + b) into the output buffer (overwritten by the next call)."""
        if x is not self.x:
            np.copyto(self.x, x)
        self._run(*self._args)
        return self.out


def dense_step(W, b, act: str, batch: int, x_buffer=None):
    """A :class:`DenseStep` (reading ``x_buffer`` in place when given: (batch, K) float32 contiguous), or None
    without the kernel or a C form of ``act``."""
    lib = library()
    if lib is None or act not in DENSE_ACT_CODES:
        return None
    return DenseStep(lib, W, b, act, batch, x_buffer)


def _weights(a):
    """The address of a Dense layer's kernel (2-D) in panel layout, or of its bias (float32, contiguous): copied
    once per array and kept while the array lives."""
    if a is None:
        return None
    entry = _weight_copies.get(id(a))
    if entry is None or entry[0]() is not a:
        copy = pack(a, 1) if a.ndim == 2 else np.ascontiguousarray(a, np.float32)
        entry = _weight_copies[id(a)] = (weakref.ref(a, _forget(id(a))), copy, _ptr(copy))
    return entry[2]


_weight_copies: dict = {}  # id(array) -> (weakref to it, our copy, the copy's address)


def _forget(key, copies=_weight_copies):
    """The weakref callback dropping our copy when the array dies (bound to the dict: safe at shutdown)."""
    return lambda _: copies.pop(key, None)


def dense(x, W, b, act: str):
    """act(x (..., K) @ W (K, N) + b) in C (no BLAS thread pool: no spin-waits), or None when the kernel is
    unavailable or ``act`` has no C form."""
    lib = library()
    code = DENSE_ACT_CODES.get(act)
    if lib is None or code is None:
        return None
    x = np.ascontiguousarray(x, np.float32)
    K, N = W.shape
    rows = x.size // K
    out = np.empty((*x.shape[:-1], N), np.float32)
    threads = cores() if rows * K * N >= 64 * MIN_THREAD_WORK else 1
    if lib.kl_dense(_ptr(x), rows, K, _weights(W), N, _weights(b), code, _ptr(out), threads):
        return None
    return out
