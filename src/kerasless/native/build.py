"""Build and cache the native kernel: compile a C file with the system compiler once per source, flags, $CC and
machine, into ``$KERASLESS_CACHE`` (default ``$XDG_CACHE_HOME/kerasless`` or ``~/.cache/kerasless``), one build at a
time across processes. The one compiler lookup kerasless has (the C export's self-test uses it too)."""

from __future__ import annotations

import ctypes
import os
import sys


def cache_dir() -> str:
    return os.environ.get("KERASLESS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "kerasless")


def compiler() -> str | None:
    """The C compiler to use: $CC, else cc, gcc, clang (the first on PATH); None without one."""
    import shutil

    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return cc
    return None


def load(source: str, flag_sets: list[list[str]]) -> ctypes.CDLL:
    """The cached shared library of ``source`` for the first flag set that builds, compiling it when missing. Only
    a build looks for a compiler and imports subprocess/tempfile (a cache hit stays cheap: cold start)."""
    import zlib

    with open(source, "rb") as f:
        src = f.read()
    machine = os.uname() if hasattr(os, "uname") else (sys.platform,)
    errors, cc = [], None
    for flags in flag_sets:
        tag = src + repr((os.environ.get("CC"), flags, machine)).encode()
        key = f"{zlib.crc32(tag):08x}{zlib.adler32(tag):08x}"  # a cache key, not a security check
        stem = os.path.splitext(os.path.basename(source))[0]
        out = os.path.join(cache_dir(), f"{stem}-{key}{'.dll' if sys.platform == 'win32' else '.so'}")
        if not os.path.exists(out):
            cc = cc or compiler()
            if cc is None:
                raise OSError("no C compiler (cc/gcc/clang) on PATH")
            error = _compile(cc, source, flags, out)
            if error:
                errors.append(error)
                continue
        return ctypes.CDLL(out)
    raise OSError("; ".join(errors))


def _compile(cc: str, source: str, flags: list, out: str) -> str | None:
    """Compile ``source`` to ``out``, one process at a time (a lock file beside it: processes starting together
    wait for the first build and load it). Returns an error text, or None."""
    import subprocess
    import tempfile

    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out + ".lock", "a") as lock:
        try:
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:  # Windows: no lock; the atomic rename below still protects readers
            pass
        if os.path.exists(out):  # another process built it while this one waited
            return None
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=os.path.dirname(out))
        os.close(fd)
        cmd = [cc, *flags, "-shared", "-fPIC", "-o", tmp, source, "-lpthread", "-lm"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            os.unlink(tmp)
            return f"{' '.join(cmd)}: {proc.stderr.strip()[:300]}"
        os.replace(tmp, out)  # atomic: a reader never loads a half-written file
    return None
