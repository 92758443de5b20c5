"""Normalization layers (keras/src/layers/normalization/): BatchNormalization (inference statistics),
LayerNormalization (Keras 3 rms_scaling too) and UnitNormalization.

BatchNormalization, like tf.nn.batch_normalization: inv = rsqrt(moving_variance + eps) * gamma;
y = x * inv + (beta - moving_mean * inv). Weights in get_weights() order: [gamma] [beta] moving_mean moving_variance.
LayerNormalization: y = (x - mean) * rsqrt(var + eps) * gamma + beta over ``axis``; with rms_scaling
(Keras 3.15's formula): y = x * rsqrt(var(x) + eps) * gamma.
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelFileError
from .base import Layer, anything, boolean

F = np.float32


def _axes(v):
    return [v] if isinstance(v, int) else list(v)


def _axis_ok(v) -> bool:
    return isinstance(v, int) or (isinstance(v, (list, tuple)) and all(isinstance(a, int) for a in v))


def _bshape(ndim, axes, weight_shape):
    shape = [1] * ndim
    for a, d in zip(sorted(a % ndim for a in axes), weight_shape if len(weight_shape) == len(axes) else
                    [weight_shape[0]] if len(axes) == 1 else weight_shape):
        shape[a] = d
    return shape


class BatchNormalizationLayer(Layer):
    OPTIONS = {"axis": _axis_ok, "epsilon": lambda v: isinstance(v, (int, float)), "center": boolean,
               "scale": boolean, "momentum": anything, "beta_initializer": anything,
               "moving_mean_initializer": anything, "moving_variance_initializer": anything,
               "beta_regularizer": anything, "gamma_regularizer": anything, "beta_constraint": anything,
               "gamma_constraint": anything, "synchronized": anything, "renorm": (False,), "renorm_clipping": anything,
               "renorm_momentum": anything, "fused": anything, "virtual_batch_size": (None,), "adjustment": (None,)}
    OPTIONS_DOC = "axis, epsilon, center, scale (moving statistics)"

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        c = self.config
        self.center, self.scale = c.get("center", True), c.get("scale", True)
        self.axis = _axes(c.get("axis", -1))
        # One axis: statistics shaped (d,). tf_keras with several axes: shaped like the input with 1 elsewhere
        # ((1, 1, 2, 3) for axis=[2, 3] of a rank-4 input).
        rank = 1 if len(self.axis) == 1 else (self.weights[0].ndim if self.weights else 1)
        self.expect_weights([(None,) * rank] * self.n_weights(c))
        ws = list(self.weights)
        gamma = ws.pop(0) if self.scale else None
        beta = ws.pop(0) if self.center else None
        mean, var = ws
        eps = F(c.get("epsilon", 1e-3))
        inv = (F(1) / np.sqrt(var + eps)).astype(F)
        if gamma is not None:
            inv = inv * gamma
        self.inv = inv
        self.shift = ((beta if beta is not None else F(0)) - mean * inv).astype(F)

    @classmethod
    def n_weights(cls, config):
        return 2 + int(config.get("center", True)) + int(config.get("scale", True))

    def _stat_shape(self, input_shape) -> tuple:
        rank = len(input_shape)
        axes = {a % rank for a in self.axis}
        if len(self.axis) == 1:
            return (input_shape[self.axis[0]],)
        return tuple(input_shape[i] if i in axes else 1 for i in range(rank))

    def check_input(self, input_shape):
        if any(not -len(input_shape) < a < len(input_shape) or a % len(input_shape) == 0 for a in self.axis):
            raise ModelFileError(f"{self.where()}: axis {self.axis} does not fit inputs {input_shape}")
        if self.inv.shape != self._stat_shape(input_shape):
            raise ModelFileError(f"{self.where()}: statistics of shape {self.inv.shape} do not fit axis {self.axis} "
                                 f"of inputs {input_shape}")

    def call(self, x, mask=None):
        if self.inv.ndim == x.ndim:  # several axes (tf_keras): already broadcastable
            return (x * self.inv + self.shift).astype(F, copy=False)
        shape = [1] * x.ndim
        shape[self.axis[0] % x.ndim] = -1
        return (x * self.inv.reshape(shape) + self.shift.reshape(shape)).astype(F, copy=False)


class LayerNormalizationLayer(Layer):
    OPTIONS = {"axis": _axis_ok, "epsilon": lambda v: isinstance(v, (int, float)), "center": boolean,
               "scale": boolean, "rms_scaling": boolean, "beta_initializer": anything, "beta_regularizer": anything,
               "gamma_regularizer": anything, "beta_constraint": anything, "gamma_constraint": anything}
    OPTIONS_DOC = "axis, epsilon, center, scale, rms_scaling (Keras 3)"

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        c = self.config
        self.rms = c.get("rms_scaling", False)
        self.center = c.get("center", True) and not self.rms
        self.scale = c.get("scale", True)
        self.expect_weights([tuple([None] * w.ndim) for w in self.weights])
        if len(self.weights) != self.n_weights(c):
            self.expect_weights([(None,)] * self.n_weights(c))
        self.axis = _axes(c.get("axis", -1))

    @classmethod
    def n_weights(cls, config):
        rms = config.get("rms_scaling", False)
        return int(config.get("scale", True)) + int(config.get("center", True) and not rms)

    def check_input(self, input_shape):
        axes = sorted(a % len(input_shape) for a in self.axis)
        want = [input_shape[a] for a in axes]
        for w in self.weights:  # gamma / beta: the normalized axes' sizes (as one flat vector for one axis)
            if int(np.prod(w.shape)) != int(np.prod([d or 0 for d in want])) or w.ndim not in (1, len(want)):
                raise ModelFileError(f"{self.where()}: weights of shape {w.shape} do not fit axes {self.axis} of "
                                     f"inputs {input_shape}")

    def call(self, x, mask=None):
        axes = tuple(sorted(a % x.ndim for a in self.axis))
        ws = list(self.weights)
        gamma = ws.pop(0) if self.scale else None
        beta = ws.pop(0) if self.center else None
        shape = [x.shape[a] if a in axes else 1 for a in range(x.ndim)]
        eps = F(self.config.get("epsilon", 1e-3))
        var = x.var(axis=axes, keepdims=True, dtype=F)
        inv = F(1) / np.sqrt(var + eps)
        if self.rms:
            y = x * inv
            if gamma is not None:
                y = y * gamma.reshape(shape)
            return y.astype(F, copy=False)
        mean = x.mean(axis=axes, keepdims=True, dtype=F)
        if gamma is not None:
            inv = inv * gamma.reshape(shape)
        y = x * inv - mean * inv  # tf.nn.batch_normalization's order
        if beta is not None:
            y = y + beta.reshape(shape)
        return y.astype(F, copy=False)


class UnitNormalizationLayer(Layer):
    OPTIONS = {"axis": _axis_ok}
    OPTIONS_DOC = "axis; x * min(rsqrt(sum x^2), 1e12)"

    def call(self, x, mask=None):
        axes = tuple(a % x.ndim for a in _axes(self.config.get("axis", -1)))
        inv = F(1) / np.sqrt(np.sum(x * x, axis=axes, keepdims=True))
        return (x * np.minimum(inv, F(1e12))).astype(F, copy=False)
