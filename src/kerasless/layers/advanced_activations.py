"""Activation layers (keras/src/layers/activations/): ReLU, LeakyReLU, PReLU, ELU, Softmax.

ReLU follows keras.activations.relu: threshold, max_value and negative_slope combine as
``y = clip(x if x > threshold else 0, 0, max_value) - negative_slope * relu(threshold - x)`` (threshold 0: relu(-x)).
Softmax with a mask puts -1e9 at masked positions before the softmax and zeros them after (Keras 3).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError, ModelFileError
from .activations import softmax
from .base import Layer, anything

F = np.float32


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    neg = None
    if negative_slope:
        neg = np.maximum(F(threshold) - x, F(0)) if threshold else np.maximum(-x, F(0))
    if threshold:
        y = np.where(x > F(threshold), x, F(0)).astype(F)
    else:
        y = np.maximum(x, F(0))
    if max_value is not None:
        y = np.clip(y, F(0), F(max_value))
    if neg is not None:
        y = y - F(negative_slope) * neg
    return y.astype(F, copy=False)


class ReLULayer(Layer):
    OPTIONS = {"max_value": lambda v: v is None or _number(v), "negative_slope": _number, "threshold": _number}
    OPTIONS_DOC = "max_value, negative_slope, threshold"

    def call(self, x, mask=None):
        c = self.config
        return _relu(x, c.get("negative_slope", 0.0), c.get("max_value"), c.get("threshold", 0.0))


class LeakyReLULayer(Layer):
    OPTIONS = {"negative_slope": _number, "alpha": _number}
    OPTIONS_DOC = "negative_slope (Keras 3) / alpha (tf_keras)"

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        default = 0.3  # both writers: Keras 3 negative_slope=0.3, tf_keras alpha=0.3
        self.slope = F(self.config.get("negative_slope", self.config.get("alpha", default)))

    def call(self, x, mask=None):
        return np.where(x >= 0, x, self.slope * x).astype(F, copy=False)


class ThresholdedReLULayer(Layer):
    """tf_keras: x * (x > theta), as a product (so -inf and NaN give NaN, like TensorFlow)."""

    OPTIONS = {"theta": _number}
    OPTIONS_DOC = "theta"

    def call(self, x, mask=None):
        return (x * (x > F(self.config.get("theta", 1.0))).astype(F)).astype(F, copy=False)


class ELULayer(Layer):
    OPTIONS = {"alpha": _number}
    OPTIONS_DOC = "alpha"

    def call(self, x, mask=None):
        a = F(self.config.get("alpha", 1.0))
        return np.where(x > 0, x, a * np.expm1(np.minimum(x, F(0)))).astype(F, copy=False)


class PReLULayer(Layer):
    """y = relu(x) - alpha * relu(-x); alpha has the input's shape without batch (size 1 on shared_axes)."""

    OPTIONS = {"shared_axes": lambda v: v is None or isinstance(v, (list, tuple, int)), "alpha_initializer": anything,
               "alpha_regularizer": anything, "alpha_constraint": anything}
    OPTIONS_DOC = "alpha weight, shared_axes"

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        self.expect_weights([tuple([None] * self.weights[0].ndim)] if self.weights else [(None,)])

    @classmethod
    def n_weights(cls, config):
        return 1

    def check_input(self, input_shape):
        a = self.weights[0].shape
        if len(a) != len(input_shape) - 1 or any(d not in (1, s) for d, s in zip(a, input_shape[1:]) if s):
            raise ModelFileError(f"{self.where()}: alpha of shape {a} does not fit inputs {input_shape}")

    def call(self, x, mask=None):
        return (np.maximum(x, F(0)) - self.weights[0] * np.maximum(-x, F(0))).astype(F, copy=False)


class SoftmaxLayer(Layer):
    OPTIONS = {"axis": lambda v: isinstance(v, int) or (isinstance(v, (list, tuple)) and all(isinstance(a, int) for a in v))}
    OPTIONS_DOC = "axis (int or list); mask: -1e9 at masked positions, zeros after"

    def call(self, x, mask=None):
        axis = self.config.get("axis", -1)
        axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
        if mask is not None:
            mask = np.asarray(mask)
            mask = mask if mask.dtype == bool else mask > 0.5
            try:
                np.broadcast_shapes(mask.shape, x.shape)
            except ValueError:
                raise InputError(f"{self.where()}: mask {mask.shape} does not broadcast to inputs {x.shape}") from None
            x = np.where(mask, x, F(-1e9))
        if isinstance(axis, tuple) and len(axis) > 1:  # Keras: exp(x - logsumexp(x)) over several axes
            m = x.max(axis=axis, keepdims=True)
            y = np.exp(x - (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))))
        else:
            y = softmax(x, axis[0] if isinstance(axis, tuple) else axis)  # activations.softmax: tf.nn.softmax
        y = y.astype(F, copy=False)
        return np.where(mask, y, F(0)) if mask is not None else y
