"""How much a model file may make kerasless read, decompress or allocate, and how long the h5py fallback may take.

Every reader checks declared sizes against these before allocating. Raise them for genuinely huge models with
``KERASLESS_MAX_BYTES`` (bytes; suffixes K, M, G allowed) or ``kerasless.load(path, max_bytes=...)``;
``KERASLESS_H5PY_TIMEOUT`` (seconds) bounds the isolated h5py reader.
"""

from __future__ import annotations

import os

from ..errors import ModelFileError

DEFAULT_MAX_BYTES = 2 << 30  # 2 GiB: a file, one zip entry, one array or all weights together
MAX_RATIO = 200  # largest decompressed/compressed size ratio of a zip entry or compressed HDF5 dataset over 1 MiB
H5PY_TIMEOUT = 60.0  # seconds the isolated h5py reader may take (HDF5 can loop forever on crafted files)


class Limits:
    """Size limits for one load. (A plain class: see io/spec.py.)"""

    __slots__ = ("max_bytes", "max_ratio", "timeout")

    def __init__(self, max_bytes: int | None = None, max_ratio: int = MAX_RATIO, timeout: float | None = None):
        self.max_bytes = _env_bytes() if max_bytes is None else int(max_bytes)
        self.max_ratio = max_ratio
        self.timeout = _env_seconds() if timeout is None else float(timeout)

    def check(self, nbytes: int, source: str, what: str) -> None:
        """Refuse ``what`` (declaring ``nbytes``) when it is over the byte limit."""
        if nbytes > self.max_bytes:
            raise ModelFileError(f"{source}: {what} declares {nbytes:,} bytes, over the limit of "
                                 f"{self.max_bytes:,} (raise it with KERASLESS_MAX_BYTES or load(max_bytes=...))")

    def check_ratio(self, nbytes: int, packed: int, source: str, what: str) -> None:
        """Refuse a compressed ``what`` that would expand more than ``max_ratio`` times (a zip bomb)."""
        self.check(nbytes, source, what)
        if nbytes > (1 << 20) and nbytes > self.max_ratio * max(packed, 1):
            raise ModelFileError(f"{source}: {what} would expand {packed:,} compressed bytes to {nbytes:,} "
                                 f"(more than {self.max_ratio}x: refused as a decompression bomb)")


def _env_bytes() -> int:
    text = os.environ.get("KERASLESS_MAX_BYTES", "").strip().upper()
    if not text:
        return DEFAULT_MAX_BYTES
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1], 1)
    try:
        return int(float(text.rstrip("KMG")) * scale)
    except ValueError:
        raise ModelFileError(f"KERASLESS_MAX_BYTES={text!r} is not a size (bytes, or a number with K, M or G)") from None


def _env_seconds() -> float:
    text = os.environ.get("KERASLESS_H5PY_TIMEOUT", "").strip()
    try:
        return float(text) if text else H5PY_TIMEOUT
    except ValueError:
        raise ModelFileError(f"KERASLESS_H5PY_TIMEOUT={text!r} is not a number of seconds") from None
