"""kerasless: run trained Keras recurrent models with NumPy and h5py only.

Example:
    >>> import kerasless
    >>> model = kerasless.load("model.keras")     # or a legacy .h5
    >>> y = model.predict(x)                       # same as keras model.predict(x)
"""

from __future__ import annotations

from .errors import (InputError, KeraslessError, ModelFileError, UnsafeModelError, UnsupportedLayerError,
                     UnsupportedOptionError)
from .graph import Model
from .io import read_file, read_live

__version__ = "0.1.0"
__all__ = [
    "load", "from_keras", "Model", "explain", "export",
    "KeraslessError", "ModelFileError", "UnsafeModelError", "UnsupportedLayerError", "UnsupportedOptionError",
    "InputError",
]


def load(path) -> Model:
    """Load a Keras model file without TensorFlow.

    Args:
        path: a ``.keras`` file (Keras 3) or a legacy ``.h5`` file (Keras 3, tf.keras 2.x or Keras 2 writer).
    Returns:
        a :class:`Model`; nothing from the file is executed.
    Example:
        >>> model = kerasless.load("char_lstm.keras"); model.summary()
    """
    return Model(read_file(path))


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
