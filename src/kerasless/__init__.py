"""kerasless: run trained Keras recurrent models with NumPy and h5py only.

Example:
    >>> import kerasless
    >>> model = kerasless.load("model.keras")     # or a legacy .h5
    >>> y = model.predict(x)                       # same as keras model.predict(x)
"""

from __future__ import annotations

from .errors import (
    InputError,
    KeraslessError,
    ModelFileError,
    UnsafeModelError,
    UnsupportedLayerError,
    UnsupportedOptionError,
    WeightsError,
)
from .graph import Model
from .io import read_file, read_live

__version__ = "0.1.0"
__all__ = [
    "load", "from_keras", "Model", "explain", "export",
    "KeraslessError", "ModelFileError", "UnsafeModelError", "UnsupportedLayerError", "UnsupportedOptionError",
    "InputError", "WeightsError", "__version__",
]


def load(path, max_bytes: int | None = None) -> Model:
    """Load a Keras model file without TensorFlow. The file is untrusted: nothing in it is executed, nothing outside
    it is read, and every declared size is checked before anything is allocated (docs/security.md).

    Args:
        path: a ``.keras`` file (Keras 3) or a legacy ``.h5`` file (Keras 3, tf.keras 2.x or Keras 2 writer).
        max_bytes: the most the file may make kerasless read, inflate or allocate at once (default
            ``KERASLESS_MAX_BYTES`` or 2 GiB); raise it for genuinely huge models.
    Returns:
        a :class:`Model`.
    Raises:
        ModelFileError, UnsafeModelError, UnsupportedLayerError, UnsupportedOptionError (all KeraslessError).
    Example:
        >>> model = kerasless.load("char_lstm.keras"); model.summary()
    """
    return Model(read_file(path, max_bytes), max_bytes)


def from_keras(keras_model) -> Model:
    """Convert a live Keras 3 or tf_keras model (imports Keras only through the model itself).

    Example:
        >>> model = kerasless.from_keras(keras_model); model.predict(x)
    """
    return Model(read_live(keras_model))


def __getattr__(name):
    # kerasless.export and kerasless.explain (callable modules: kerasless.export(model, "c", "out"),
    # kerasless.explain(model)) load on first use, keeping `import kerasless` (cold start) light.
    if name in ("export", "explain"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'kerasless' has no attribute {name!r}")
