"""Readers: files and live models -> ModelSpec (plain data, no math)."""

from __future__ import annotations

import os

from ..errors import ModelFileError
from .keras_zip import read_keras_zip
from .legacy_h5 import read_legacy_h5
from .live import read_live
from .spec import LayerSpec, ModelSpec

__all__ = ["read_file", "read_live", "LayerSpec", "ModelSpec"]


def _is_hdf5(path) -> bool:
    import h5py  # lazy: `import kerasless` stays light

    return h5py.is_hdf5(path)


def read_file(path) -> ModelSpec:
    """Read a ``.keras`` or legacy ``.h5`` file, chosen by its content (not its name)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ModelFileError(f"{path}: is a directory (TensorFlow SavedModel directories are not supported; "
                             "save the model as .keras or .h5)")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"PK"):
        return read_keras_zip(path)
    if head == b"\x89HDF\r\n\x1a\n" or _is_hdf5(path):
        return read_legacy_h5(path)
    import zipfile  # lazy: .keras files start with "PK" and are read without it

    if zipfile.is_zipfile(path):
        return read_keras_zip(path)
    raise ModelFileError(f"{path}: not a Keras model file (expected a .keras zip or an HDF5 .h5 file)")
