"""Normalization and preprocessing layers met in front of recurrent models: GroupNormalization, RMSNormalization,
Normalization (adapted mean and variance, invert), Rescaling (keras/src/layers/{normalization,preprocessing}/).

Float math in the order Keras writes it (GroupNormalization: ``x * inv + (-mean * inv + beta)``, inv =
rsqrt(var + eps) * gamma; Normalization: ``(x - mean) / max(sqrt(var), 1e-7)``).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError, ModelFileError, UnsupportedOptionError
from .base import Layer, anything, boolean, positive_int

F = np.float32
EPSILON = F(1e-7)  # keras.backend.epsilon()


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _numbers(v) -> bool:
    return _number(v) or (isinstance(v, (list, tuple)) and all(_number(e) for e in v))


class GroupNormalizationLayer(Layer):
    """Channels (``axis``) split in ``groups``; mean and variance over every axis but batch and group."""

    OPTIONS = {"groups": positive_int, "axis": lambda v: isinstance(v, int), "epsilon": _number, "center": boolean,
               "scale": boolean, "beta_initializer": anything, "gamma_initializer": anything,
               "beta_regularizer": anything, "gamma_regularizer": anything, "beta_constraint": anything,
               "gamma_constraint": anything}
    OPTIONS_DOC = "groups, axis, epsilon, center, scale"

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        c = self.config
        self.groups, self.axis = c.get("groups", 32), c.get("axis", -1)
        self.center, self.scale = c.get("center", True), c.get("scale", True)
        self.expect_weights([(None,)] * self.n_weights(c))

    @classmethod
    def n_weights(cls, config):
        return int(config.get("center", True)) + int(config.get("scale", True))

    def check_input(self, input_shape):
        channels = input_shape[self.axis]
        if not -len(input_shape) < self.axis < len(input_shape) or self.axis % len(input_shape) == 0:
            raise ModelFileError(f"{self.where()}: axis {self.axis} does not fit inputs {input_shape}")
        if channels is None or channels % self.groups or any(w.shape != (channels,) for w in self.weights):
            raise ModelFileError(f"{self.where()}: {self.groups} groups and weights "
                                 f"{[w.shape for w in self.weights]} do not fit {channels} channels")

    def call(self, x, mask=None):
        axis = self.axis % x.ndim
        shape = (*x.shape[:axis], self.groups, x.shape[axis] // self.groups, *x.shape[axis + 1:])
        g = x.reshape(shape)  # (..., groups, channels/groups, ...)
        axes = tuple(a for a in range(1, g.ndim) if a != axis)
        mean = g.mean(axis=axes, keepdims=True, dtype=F)
        var = g.var(axis=axes, keepdims=True, dtype=F)
        inv = F(1) / np.sqrt(var + F(self.config.get("epsilon", 1e-3)))
        bshape = [1] * g.ndim
        bshape[axis], bshape[axis + 1] = self.groups, x.shape[axis] // self.groups
        ws = list(self.weights)
        if self.scale:
            inv = inv * ws.pop(0).reshape(bshape)
        res = -mean * inv
        if self.center:
            res = res + ws.pop(0).reshape(bshape)
        return (g * inv + res).reshape(x.shape).astype(F, copy=False)


class RMSNormalizationLayer(Layer):
    """x * rsqrt(mean(x^2 over axis) + epsilon) * scale (Keras 3)."""

    OPTIONS = {"axis": lambda v: isinstance(v, (int, list, tuple)), "epsilon": lambda v: v is None or _number(v)}
    OPTIONS_DOC = "axis, epsilon"

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        self.expect_weights([(None,) * self.weights[0].ndim] if self.weights else [(None,)])
        axis = self.config.get("axis", -1)
        self.axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]

    @classmethod
    def n_weights(cls, config):
        return 1

    def check_input(self, input_shape):
        want = tuple(input_shape[a % len(input_shape)] for a in sorted(self.axes))
        if self.weights[0].shape != want:
            raise ModelFileError(f"{self.where()}: scale of shape {self.weights[0].shape} does not fit axes "
                                 f"{self.axes} of inputs {input_shape}")

    def call(self, x, mask=None):
        axes = tuple(a % x.ndim for a in self.axes)
        eps = self.config.get("epsilon")
        eps = EPSILON if eps is None else F(eps)
        inv = F(1) / np.sqrt(np.mean(np.square(x), axis=axes, keepdims=True, dtype=F) + eps)
        return (x * inv * self.weights[0]).astype(F, copy=False)


class RescalingLayer(Layer):
    OPTIONS = {"scale": _numbers, "offset": _numbers}
    OPTIONS_DOC = "scale, offset (x * scale + offset)"

    def call(self, x, mask=None):
        scale = np.asarray(self.config.get("scale", 1.0), F)
        offset = np.asarray(self.config.get("offset", 0.0), F)
        return (x.astype(F, copy=False) * scale + offset).astype(F, copy=False)


class NormalizationLayer(Layer):
    """(x - mean) / max(sqrt(variance), 1e-7), or its inverse; mean and variance adapted (stored with a count) or
    given in the config."""

    OPTIONS = {"axis": lambda v: v is None or isinstance(v, (int, list, tuple)), "mean": anything,
               "variance": anything, "invert": boolean}
    OPTIONS_DOC = "axis, mean/variance (adapted or given), invert"

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        c = self.config
        if c.get("mean") is not None:
            if not (_numbers(c["mean"]) and _numbers(c.get("variance"))):
                raise UnsupportedOptionError(f"{self.where()}: mean/variance should be numbers or lists of numbers")
            self.mean, self.var = np.asarray(c["mean"], F), np.asarray(c["variance"], F)
        else:
            if len(self.weights) != 3:
                raise ModelFileError(f"{self.where()}: an adapted Normalization stores mean, variance and count; "
                                     f"the file has {len(self.weights)} arrays")
            self.mean, self.var = self.weights[0], self.weights[1]
        axis = c.get("axis", -1)
        self.axes = [] if axis is None else list(axis) if isinstance(axis, (list, tuple)) else [axis]

    @classmethod
    def n_weights(cls, config):
        return 0 if config.get("mean") is not None else 3

    def check_input(self, input_shape):
        if self.config.get("mean") is not None:  # given in the config: scalars or per-axis lists broadcast
            return
        want = tuple(input_shape[a % len(input_shape)] for a in sorted(self.axes))
        if self.mean.shape != want or self.var.shape != want:
            raise ModelFileError(f"{self.where()}: adapted mean/variance of shapes {self.mean.shape}/"
                                 f"{self.var.shape} do not fit axes {self.axes} of inputs {input_shape}")

    def _shaped(self, a, ndim):
        if a.ndim == 0 or a.ndim == ndim:
            return a
        shape = [1] * ndim
        for axis, d in zip(sorted(x % ndim for x in self.axes), a.shape):
            shape[axis] = d
        return a.reshape(shape)

    def call(self, x, mask=None):
        mean, var = self._shaped(self.mean, x.ndim), self._shaped(self.var, x.ndim)
        std = np.maximum(np.sqrt(var), EPSILON)
        if self.config.get("invert", False):
            return (mean + x * std).astype(F, copy=False)
        return ((x - mean) / std).astype(F, copy=False)


class DiscretizationLayer(Layer):
    """Bucket ids (int64, like Keras) from bin_boundaries: i where b[i-1] <= x < b[i] (NaN: the last bucket)."""

    OPTIONS = {"bin_boundaries": lambda v: isinstance(v, (list, tuple)) and all(_number(e) for e in v),
               "output_mode": ("int",), "num_bins": anything, "epsilon": anything, "sparse": (False,)}
    OPTIONS_DOC = "bin_boundaries, output_mode int"
    DTYPES = ("float32", "int64", "int32")
    supports_masking = False

    def call(self, x, mask=None):
        return np.digitize(x, np.asarray(self.config["bin_boundaries"], F)).astype(np.int64)


class CategoryEncodingLayer(Layer):
    """one_hot / multi_hot / count over the last axis of integer ids in [0, num_tokens)."""

    OPTIONS = {"num_tokens": positive_int, "output_mode": ("one_hot", "multi_hot", "count"), "sparse": (False,)}
    OPTIONS_DOC = "num_tokens, output_mode one_hot/multi_hot/count"
    supports_masking = False

    def output_shape(self, input_shape):
        n = self.config["num_tokens"]
        if self.config.get("output_mode", "multi_hot") == "one_hot" and input_shape[-1] != 1:
            return (*input_shape, n)
        return (*input_shape[:-1], n) if len(input_shape) > 1 else (input_shape[0], n)

    def call(self, x, mask=None):
        n, mode = self.config["num_tokens"], self.config.get("output_mode", "multi_hot")
        if not np.all(np.isfinite(x)) or (x.size and (x.min() < 0 or x.max() >= n)):
            raise InputError(f"{self.where()}: token ids must be integers in [0, {n})")
        ids = x.astype(np.int64)
        if mode == "one_hot":
            ids = ids[..., 0] if ids.shape[-1] == 1 and ids.ndim > 1 else ids
            return np.eye(n, dtype=F)[ids]
        ids = ids[:, None] if ids.ndim == 1 else ids
        flat = ids.reshape(-1, ids.shape[-1])  # (rows, ids per row)
        out = np.zeros((len(flat), n), F)
        for j in range(flat.shape[1]):
            np.add.at(out, (np.arange(len(flat)), flat[:, j]), F(1))
        if mode == "multi_hot":
            out = np.minimum(out, F(1))
        return out.reshape(*ids.shape[:-1], n)
