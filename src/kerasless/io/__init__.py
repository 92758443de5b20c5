"""Readers: files and live models -> ModelSpec (plain data, no math)."""

from __future__ import annotations

import os
import stat

from ..errors import ModelFileError
from .keras_zip import read_keras_zip
from .legacy_h5 import read_legacy_h5
from .limits import Limits
from .live import read_live
from .spec import LayerSpec, ModelSpec

__all__ = ["read_file", "read_live", "LayerSpec", "ModelSpec"]


def _is_hdf5(path: str) -> bool:
    """HDF5's signature at offset 0 or after a user block (512, 1024, 2048, ... bytes), as libhdf5 looks for it."""
    with open(path, "rb") as f:
        size, offset = os.fstat(f.fileno()).st_size, 0
        while offset + 8 <= size:
            f.seek(offset)
            if f.read(8) == b"\x89HDF\r\n\x1a\n":
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


def read_file(path, max_bytes: int | None = None) -> ModelSpec:
    """Read a ``.keras`` or legacy ``.h5`` file, chosen by its content (not its name). ``max_bytes`` bounds what
    the file may make kerasless read or allocate (default: ``KERASLESS_MAX_BYTES`` or 2 GiB)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ModelFileError(f"{path}: is a directory (TensorFlow SavedModel directories are not supported; "
                             "save the model as .keras or .h5)")
    limits = Limits(max_bytes)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or device would block or never end
            raise ModelFileError(f"{path}: not a regular file")
        with open(path, "rb") as f:
            head = f.read(8)
        if head.startswith(b"PK"):
            return read_keras_zip(path, limits)
        if _is_hdf5(path):
            return read_legacy_h5(path, limits)
        with open(path, "rb") as f:  # a zip with something in front of it (zip tools allow a prefix)
            f.seek(max(0, os.fstat(f.fileno()).st_size - 65557))
            is_zip = b"PK\x05\x06" in f.read()
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    if is_zip:
        return read_keras_zip(path, limits)
    raise ModelFileError(f"{path}: not a Keras model file (expected a .keras zip or an HDF5 .h5 file)")
