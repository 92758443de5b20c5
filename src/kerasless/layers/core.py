"""Shape and pass-through layers: InputLayer, Masking, Activation, Flatten, Reshape, RepeatVector, Permute and the
inference no-ops (Dropout, SpatialDropout1D, GaussianNoise, GaussianDropout, AlphaDropout)."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ModelFileError
from . import activations
from .activations import ACTIVATIONS
from .base import Layer, anything, dtype_name, positive_int


class InputLayer(Layer):
    OPTIONS = {"sparse": (False, None), "ragged": (False, None), "optional": (False,)}
    DTYPES = ("float32", "float64", "int32", "int64", "uint8", "int8", "int16", "uint16", "bool", None)

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        shape = self.config.get("batch_shape") or self.config.get("batch_input_shape")
        if shape is None:
            raise ModelFileError(f"{self.where()}: input layer does not record its shape")
        if not isinstance(shape, list) or not all(d is None or (isinstance(d, int) and d >= 0) for d in shape):
            raise ModelFileError(f"{self.where()}: batch_shape should be a list of sizes (or null), got "
                                 f"{str(shape)[:80]}")
        self.batch_shape = tuple(shape)
        dtype = dtype_name(self.config.get("dtype"))
        # Keras converts an input to the InputLayer's dtype first: float token ids given to an int32 input are
        # truncated toward zero (1.7 -> 1) before Embedding and masking see them.
        self.int_dtype = np.dtype(dtype) if dtype not in (None, "float32", "float64") else None

    def cast(self, x: np.ndarray) -> np.ndarray:
        """An input as the model computes with it: float32, after Keras's cast to an integer input dtype."""
        if self.int_dtype is not None and x.dtype.kind == "f":
            with np.errstate(invalid="ignore"):  # NaN/inf ids: an undefined integer, as the C cast TF uses
                x = np.trunc(x)
                if self.int_dtype == np.bool_:
                    x = x != 0
        return np.ascontiguousarray(x, dtype=np.float32)

    def call(self, x, mask=None):
        return x


class NoOp(Layer):
    """Dropout-like and regularizer layers: identity at inference, mask passed on."""

    OPTIONS = {"rate": anything, "stddev": anything, "noise_shape": anything, "seed": anything,
               "data_format": anything, "l1": anything, "l2": anything}

    def call(self, x, mask=None):
        return x


class MaskingLayer(Layer):
    """A step is masked when all its features equal mask_value; masked steps are also zeroed (as Keras does)."""

    OPTIONS = {"mask_value": lambda v: isinstance(v, (int, float))}

    def compute_mask(self, x, mask):
        return np.any(x != np.float32(self.config.get("mask_value", 0.0)), axis=-1)

    def call(self, x, mask=None):
        keep = self.compute_mask(x, None)
        return x * keep[..., None].astype(x.dtype)


class ActivationLayer(Layer):
    OPTIONS = {"activation": anything}

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        self.activation = activations.resolve(self.config.get("activation"), ctx.keras_major, self.name)

    def call(self, x, mask=None):
        return ACTIVATIONS[self.activation](x)


class FlattenLayer(Layer):
    OPTIONS = {"data_format": ("channels_last", None)}
    supports_masking = False

    def output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else math.prod(rest))

    def call(self, x, mask=None):
        return x.reshape(x.shape[0], -1)


class ReshapeLayer(Layer):
    OPTIONS = {"target_shape": lambda v: isinstance(v, (list, tuple))}
    supports_masking = False

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        self.target = tuple(self.config["target_shape"])

    def output_shape(self, input_shape):
        if -1 not in self.target:
            return (input_shape[0], *self.target)
        known = math.prod(d for d in self.target if d != -1)
        total = None if None in input_shape[1:] else math.prod(input_shape[1:])
        return (input_shape[0], *(d if d != -1 else (None if total is None else total // known) for d in self.target))

    def check_input(self, input_shape):
        total = None if None in input_shape[1:] else math.prod(input_shape[1:])
        known = math.prod(d for d in self.target if d != -1)
        if total is not None and (total % known if -1 in self.target else total != known):
            raise ModelFileError(f"{self.where()}: cannot reshape {input_shape[1:]} to {self.target}")

    def call(self, x, mask=None):
        return x.reshape(x.shape[0], *self.target)


class RepeatVectorLayer(Layer):
    OPTIONS = {"n": positive_int}
    supports_masking = False

    def output_shape(self, input_shape):
        return (input_shape[0], self.config["n"], *input_shape[1:])

    def call(self, x, mask=None):
        return np.repeat(x[:, None], self.config["n"], axis=1)


class PermuteLayer(Layer):
    OPTIONS = {"dims": lambda v: isinstance(v, (list, tuple))}
    supports_masking = False

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        self.dims = tuple(self.config["dims"])

    def check_input(self, input_shape):
        if sorted(self.dims) != list(range(1, len(input_shape))):
            raise ModelFileError(f"{self.where()}: dims {self.dims} do not permute an input of shape {input_shape}")

    def output_shape(self, input_shape):
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def call(self, x, mask=None):
        return np.ascontiguousarray(np.transpose(x, (0, *self.dims)))
