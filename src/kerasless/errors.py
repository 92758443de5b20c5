"""Typed errors. Everything kerasless raises on bad files, layers or inputs derives from KeraslessError."""

__all__ = [
    "KeraslessError",
    "ModelFileError",
    "UnsafeModelError",
    "UnsupportedLayerError",
    "UnsupportedOptionError",
    "InputError",
    "WeightsError",
]


class KeraslessError(Exception):
    """Base class of every error kerasless raises on purpose."""


class ModelFileError(KeraslessError):
    """The file is missing, not a model file, truncated, corrupt, or lacks its config or weights."""


class UnsafeModelError(KeraslessError):
    """The model holds code (Lambda, custom objects); kerasless refuses it without executing anything."""


class UnsupportedLayerError(KeraslessError):
    """The model uses a layer class kerasless does not implement."""


class UnsupportedOptionError(KeraslessError):
    """A supported layer uses an option value kerasless does not implement."""


class InputError(KeraslessError, ValueError):
    """An input given to predict (or a stream step) has the wrong rank, shape or dtype."""


class WeightsError(KeraslessError, ValueError):
    """Arrays given to set_weights do not fit the model or layer (count, shape or dtype)."""
