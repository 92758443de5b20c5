"""Optional native backend: kernels.c compiled at first use with the system C compiler, loaded with ctypes.

The shared library is cached under ``$KERASLESS_CACHE`` (default ``$XDG_CACHE_HOME/kerasless`` or
``~/.cache/kerasless``), keyed by the source hash, compiler flags and machine. When no compiler is found or the
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
import sys
import threading
from pathlib import Path

import numpy as np

_SOURCE = Path(__file__).with_name("kernels.c")
_FLAGS = [["-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math"], ["-O3", "-fno-math-errno", "-fno-trapping-math"]]
ACT_CODES = {"linear": 0, "tanh": 1, "sigmoid": 2, "hard_sigmoid": 3, "hard_sigmoid_k2": 4, "relu": 5}
KINDS = {"lstm": 0, "gru": 1, "gru_v1": 2, "simple": 3}

_lib = None
_reason = "not built yet"
_tried = False
_backend = None
_local = threading.local()


class Job(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int) for n in ("kind", "B", "T", "u", "G", "act", "ract", "go_backwards", "zero_out")] + [
        ("xp", ctypes.c_void_p), ("xb", ctypes.c_long), ("xt", ctypes.c_long),
        ("U", ctypes.c_void_p), ("U2", ctypes.c_void_p), ("rb", ctypes.c_void_p),
        ("h", ctypes.c_void_p), ("c", ctypes.c_void_p),
        ("mask", ctypes.c_void_p), ("mb", ctypes.c_long), ("mt", ctypes.c_long),
        ("seq", ctypes.c_void_p), ("last", ctypes.c_void_p),
        ("gseq", ctypes.c_void_p), ("hseq", ctypes.c_void_p), ("cseq", ctypes.c_void_p),
    ]


def _cache_dir() -> Path:
    root = os.environ.get("KERASLESS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "kerasless")
    return Path(root)


def _compiler() -> str | None:
    import shutil

    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return cc
    return None


def _build() -> ctypes.CDLL:
    import hashlib
    import platform
    import subprocess
    import tempfile

    cc = _compiler()
    if cc is None:
        raise OSError("no C compiler (cc/gcc/clang) on PATH")
    src = _SOURCE.read_bytes()
    errors = []
    for flags in _FLAGS:
        key = hashlib.sha256(src + repr((cc, flags, platform.machine(), platform.node())).encode()).hexdigest()[:16]
        out = _cache_dir() / f"kernels-{key}{'.dll' if sys.platform == 'win32' else '.so'}"
        if not out.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".so", dir=out.parent)
            os.close(fd)
            cmd = [cc, *flags, "-shared", "-fPIC", "-o", tmp, str(_SOURCE), "-lpthread", "-lm"]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                os.unlink(tmp)
                errors.append(f"{' '.join(cmd)}: {proc.stderr.strip()[:300]}")
                continue
            os.replace(tmp, out)  # atomic: concurrent first uses never load a half-written file
        lib = ctypes.CDLL(str(out))
        lib.kl_rnn_run.argtypes = [ctypes.POINTER(Job), ctypes.c_int]
        lib.kl_rnn_run.restype = ctypes.c_int
        lib.kl_project.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                   ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        lib.kl_project.restype = ctypes.c_int
        if lib.kl_abi_version() != 3:
            raise OSError("stale kernel library")
        return lib
    raise OSError("; ".join(errors))


def library():
    """The loaded kernel library, or None (built on first call; never raises)."""
    global _lib, _reason, _tried
    if not _tried:
        _tried = True
        try:
            _lib = _build()
            _reason = "ok"
        except Exception as exc:  # no compiler, read-only cache, exotic platform: NumPy it is
            _lib, _reason = None, f"{type(exc).__name__}: {exc}"
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
MIN_THREAD_WORK = 1 << 26  # multiply-adds (~2 ms of one core) before a second thread pays for its start-up


def threads_for(batch: int, work: int) -> int:
    """Threads to split ``batch`` rows over: 1 unless the whole run has ``work`` >= MIN_THREAD_WORK multiply-adds
    and each thread gets >= 32 rows; at most $KERASLESS_THREADS (default: usable cores)."""
    global _cores
    if _cores is None:
        env = os.environ.get("KERASLESS_THREADS")
        try:
            _cores = max(1, int(env) if env else len(os.sched_getaffinity(0)))
        except (AttributeError, ValueError):
            _cores = os.cpu_count() or 1
    if work < MIN_THREAD_WORK:
        return 1
    return max(1, min(_cores, batch // 32))


def _ptr(a):
    return None if a is None else a.ctypes.data


def _job(fast) -> Job:
    """This thread's Job for ``fast`` with the weight pointers filled in (they never change)."""
    jobs = getattr(_local, "jobs", None)
    if jobs is None:
        jobs = _local.jobs = {}
    entry = jobs.get(id(fast))
    if entry is None or entry[0] is not fast:
        job = Job(KINDS[fast.kind], 0, 0, fast.units, 0, ACT_CODES[fast.act], ACT_CODES.get(fast.ract, 0))
        job.U, job.U2, job.rb = _ptr(fast.U), _ptr(fast.U2), _ptr(fast.rb)
        entry = jobs[id(fast)] = (fast, job)  # holding fast keeps its arrays (and the pointers) alive
    return entry[1]


GATES = {"lstm": ("i", "f", "g", "o"), "gru": ("z", "r", "hh"), "gru_v1": ("z", "r", "hh"), "simple": ()}


def rnn_run(fast, xp, states, mask, go_backwards, return_sequences, zero_output_for_mask, record=None):
    """The whole loop in C. fast: the layer's FastCell; xp (batch, time, G) float32 with a contiguous last axis.
    Returns (output, final_states) like recurrent.run, or None when the kernel is unavailable. With ``record``
    the kernel also keeps every gate and state, then replays them to ``record(k, gates, states)``."""
    lib = library()
    if lib is None:
        return None
    B, T = xp.shape[0], xp.shape[1]
    u = fast.units
    if xp.dtype != np.float32 or xp.strides[2] != 4:
        xp = np.ascontiguousarray(xp, np.float32)
    h = np.array(states[0], np.float32, order="C", copy=True)
    c = np.array(states[1], np.float32, order="C", copy=True) if fast.kind == "lstm" else None
    m = None
    if mask is not None:
        m = np.ascontiguousarray(mask, np.bool_)
    seq = np.empty((B, T, u), np.float32) if return_sequences else None
    last = np.zeros((B, u), np.float32)
    names = GATES[fast.kind]
    gseq = np.empty((B, T, len(names) * u), np.float32) if record is not None and names else None
    hseq = np.empty((B, T, u), np.float32) if record is not None else None
    cseq = np.empty((B, T, u), np.float32) if record is not None and c is not None else None
    job = _job(fast)
    job.B, job.T, job.G = B, T, xp.shape[2]
    job.go_backwards, job.zero_out = bool(go_backwards), bool(zero_output_for_mask)
    job.xp, job.xb, job.xt = xp.ctypes.data, xp.strides[0] // 4, xp.strides[1] // 4
    job.h, job.c, job.last = h.ctypes.data, _ptr(c), last.ctypes.data
    job.mask = _ptr(m)
    if m is not None:
        job.mb, job.mt = m.strides[0], m.strides[1]
    job.seq, job.gseq, job.hseq, job.cseq = _ptr(seq), _ptr(gseq), _ptr(hseq), _ptr(cseq)
    work = B * T * u * (xp.shape[2] + (u if fast.kind == "gru_v1" else 0))
    if lib.kl_rnn_run(job, threads_for(B, work)) != 0:
        return None
    states = (h, c) if c is not None else (h,)
    if record is not None:
        for k in range(T):
            gates = {n: gseq[:, k, j * u:(j + 1) * u] for j, n in enumerate(names)}
            record(k, gates, (hseq[:, k],) if cseq is None else (hseq[:, k], cseq[:, k]))
    return (seq if return_sequences else last), states



class _StepBuffers:
    """Per thread, cell and batch: persistent buffers whose addresses sit in a prepared Job (pointer lookups
    cost microseconds each; copies into place cost a fraction of one)."""

    def __init__(self, fast, batch, G):
        u = fast.units
        self.fast, self.U = fast, fast.U  # keep the weights alive while their address is in the job
        self.xp = np.zeros((batch, G), np.float32)
        self.h = np.zeros((batch, u), np.float32)
        self.c = np.zeros((batch, u), np.float32)
        self.last = np.zeros((batch, u), np.float32)
        self.keep = np.ones(batch, np.bool_)
        self.job = Job(KINDS[fast.kind], batch, 1, u, G, ACT_CODES[fast.act], ACT_CODES.get(fast.ract, 0), 0, 0,
                       _ptr(self.xp), G, 0, _ptr(fast.U), _ptr(fast.U2), _ptr(fast.rb), _ptr(self.h), _ptr(self.c),
                       None, 1, 0, None, _ptr(self.last))
        self.mask_ptr = _ptr(self.keep)


def step_once(fast, xp_t, states, prev, keep, zero_output_for_mask):
    """One timestep in C (streaming): like recurrent.masked_step minus the gates. xp_t (batch, G) float32.
    Returns (y, new_states) as fresh arrays, or None when the kernel is unavailable."""
    lib = library()
    if lib is None:
        return None
    cache = getattr(_local, "steps", None)
    if cache is None:
        cache = _local.steps = {}
    key = (id(fast), xp_t.shape)
    buf = cache.get(key)
    if buf is None or buf.fast is not fast:
        buf = cache[key] = _StepBuffers(fast, *xp_t.shape)
    job = buf.job
    np.copyto(buf.xp, xp_t)
    np.copyto(buf.h, states[0])
    lstm = fast.kind == "lstm"
    if lstm:
        np.copyto(buf.c, states[1])
    job.zero_out = zero_output_for_mask
    if keep is None or keep.all():
        job.mask = None
    else:
        np.copyto(buf.keep, keep)
        np.copyto(buf.last, prev)
        job.mask = buf.mask_ptr
    lib.kl_rnn_run(job, 1)
    h = buf.h.copy()
    return buf.last.copy(), ((h, buf.c.copy()) if lstm else (h,))


def project(x, W, b):
    """x (..., K) @ W (K, N) + b in C (no BLAS thread pool: no spin-waits), or None when the kernel is
    unavailable. W, b: float32 C-contiguous (b may be None)."""
    lib = library()
    if lib is None:
        return None
    x = np.ascontiguousarray(x, np.float32)
    K, N = W.shape
    rows = x.size // K
    out = np.empty((*x.shape[:-1], N), np.float32)
    lib.kl_project(x.ctypes.data, rows, K, W.ctypes.data, N, _ptr(b), out.ctypes.data,
                   threads_for(rows, rows * K * N))
    return out
