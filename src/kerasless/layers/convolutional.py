"""Sequence convolution, pooling and padding layers on (batch, steps, channels) (data_format channels_last only):
Conv1D, SeparableConv1D, MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D, GlobalAveragePooling1D,
ZeroPadding1D, Cropping1D, UpSampling1D (keras/src/layers/{convolutional,pooling,reshaping}/).

Padding follows TensorFlow: "same" pads (total // 2) before and the rest after; "causal" pads d*(k-1) before.
AveragePooling1D with "same" averages only the real (unpadded) steps. Layers here drop the mask except
GlobalAveragePooling1D, which excludes masked steps from the mean.
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelFileError, UnsupportedOptionError
from . import activations
from .activations import ACTIVATIONS
from .base import Layer, anything, boolean, matmul_last, positive_int
from .spatial import CHANNELS_LAST, out_len, pad_amounts

F = np.float32


def _one_int(v) -> bool:
    v = v[0] if isinstance(v, (list, tuple)) and len(v) == 1 else v
    return positive_int(v)


def _int(v) -> int:
    return int(v[0] if isinstance(v, (list, tuple)) else v)


def _taps(x, k, stride, dilation, padding, fill=F(0)):
    """(batch, steps, ch) -> (batch, out, k, ch): the input window of every output step."""
    before, after = pad_amounts(x.shape[1], k, stride, dilation, padding)
    if before or after:
        x = np.pad(x, ((0, 0), (before, after), (0, 0)), constant_values=fill)
    span = dilation * (k - 1) + 1
    out = (x.shape[1] - span) // stride + 1
    idx = np.arange(out)[:, None] * stride + np.arange(k)[None, :] * dilation  # (out, k)
    return x[:, idx]


class _SequenceLayer(Layer):
    supports_masking = False

    def check_input(self, input_shape):
        if len(input_shape) != 3:
            raise ModelFileError(f"{self.where()}: expects input (batch, steps, channels), got shape {input_shape}")


class Conv1DLayer(_SequenceLayer):
    """kernel (k, in/groups, filters), bias (filters,); y = a(conv(x) + b)."""

    OPTIONS = {"filters": positive_int, "kernel_size": _one_int, "strides": _one_int,
               "padding": ("valid", "same", "causal"), "data_format": CHANNELS_LAST, "dilation_rate": _one_int,
               "groups": positive_int, "activation": anything, "use_bias": boolean}
    OPTIONS_DOC = "padding valid/same/causal, strides, dilation_rate, groups, activation, use_bias"

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        c = self.config
        self.filters, self.k = c["filters"], _int(c["kernel_size"])
        self.stride, self.dilation = _int(c.get("strides", 1)), _int(c.get("dilation_rate", 1))
        if self.stride > 1 and self.dilation > 1:
            raise UnsupportedOptionError(f"{self.where()}: strides > 1 with dilation_rate > 1 is not valid in Keras")
        self.padding, self.groups = c.get("padding", "valid"), c.get("groups", 1)
        self.use_bias = c.get("use_bias", True)
        self.activation = activations.resolve(c.get("activation"), ctx.keras_major, self.name)
        self.expect_weights([(self.k, None, self.filters)] + ([(self.filters,)] if self.use_bias else []))

    @classmethod
    def n_weights(cls, config):
        return 2 if config.get("use_bias", True) else 1

    def check_input(self, input_shape):
        super().check_input(input_shape)
        if input_shape[-1] != self.weights[0].shape[1] * self.groups:
            raise ModelFileError(f"{self.where()}: kernel expects {self.weights[0].shape[1] * self.groups} channels, "
                             f"input has {input_shape[-1]}")

    def output_shape(self, input_shape):
        return (input_shape[0], out_len(input_shape[1], self.k, self.stride, self.dilation, self.padding),
                self.filters)

    def call(self, x, mask=None):
        w = self.weights[0]  # (k, in/g, filters)
        win = _taps(x, self.k, self.stride, self.dilation, self.padding)  # (b, out, k, in)
        b, out = win.shape[:2]
        if self.groups == 1:
            y = matmul_last(win.reshape(b, out, -1), w.reshape(-1, self.filters))
        else:
            cin, cout = w.shape[1], self.filters // self.groups
            ys = [matmul_last(win[..., g * cin:(g + 1) * cin].reshape(b, out, -1),
                              w[:, :, g * cout:(g + 1) * cout].reshape(-1, cout)) for g in range(self.groups)]
            y = np.concatenate(ys, axis=-1)
        if self.use_bias:
            y = y + self.weights[1]
        return ACTIVATIONS[self.activation](y.astype(F, copy=False))


class SeparableConv1DLayer(Conv1DLayer):
    """depthwise_kernel (k, in, depth_multiplier), pointwise_kernel (1, in*dm, filters), bias (filters,)."""

    OPTIONS = {**{k: v for k, v in Conv1DLayer.OPTIONS.items() if k != "groups"}, "groups": (1,), "depth_multiplier": positive_int,
               "depthwise_initializer": anything, "pointwise_initializer": anything,
               "depthwise_regularizer": anything, "pointwise_regularizer": anything,
               "depthwise_constraint": anything, "pointwise_constraint": anything}
    OPTIONS_DOC = "padding valid/same/causal, strides, dilation_rate, depth_multiplier, activation, use_bias"

    def __init__(self, spec, ctx):
        Layer.__init__(self, spec, ctx)
        c = self.config
        self.filters, self.k = c["filters"], _int(c["kernel_size"])
        self.stride, self.dilation = _int(c.get("strides", 1)), _int(c.get("dilation_rate", 1))
        self.padding, self.groups = c.get("padding", "valid"), 1
        self.use_bias = c.get("use_bias", True)
        self.dm = c.get("depth_multiplier", 1)
        self.activation = activations.resolve(c.get("activation"), ctx.keras_major, self.name)
        self.expect_weights([(self.k, None, self.dm), (1, None, self.filters)]
                            + ([(self.filters,)] if self.use_bias else []))

    @classmethod
    def n_weights(cls, config):
        return 3 if config.get("use_bias", True) else 2

    def check_input(self, input_shape):
        _SequenceLayer.check_input(self, input_shape)
        if input_shape[-1] != self.weights[0].shape[1]:
            raise ModelFileError(f"{self.where()}: kernel expects {self.weights[0].shape[1]} channels, "
                             f"input has {input_shape[-1]}")

    def call(self, x, mask=None):
        dw, pw = self.weights[0], self.weights[1]  # (k, in, dm), (1, in*dm, filters)
        win = _taps(x, self.k, self.stride, self.dilation, self.padding)  # (b, out, k, in)
        depth = np.einsum("bokc,kcm->bocm", win, dw).reshape(*win.shape[:2], -1)  # channel c*dm + m
        y = matmul_last(np.ascontiguousarray(depth, dtype=F), pw[0])
        if self.use_bias:
            y = y + self.weights[2]
        return ACTIVATIONS[self.activation](y.astype(F, copy=False))


class _Pooling1D(_SequenceLayer):
    OPTIONS = {"pool_size": _one_int, "strides": lambda v: v is None or _one_int(v),
               "padding": ("valid", "same"), "data_format": CHANNELS_LAST}
    OPTIONS_DOC = "pool_size, strides, padding valid/same"

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        self.k = _int(self.config.get("pool_size", 2))
        strides = self.config.get("strides")
        self.stride = self.k if strides is None else _int(strides)
        self.padding = self.config.get("padding", "valid")

    def output_shape(self, input_shape):
        return (input_shape[0], out_len(input_shape[1], self.k, self.stride, 1, self.padding), input_shape[2])


class MaxPooling1DLayer(_Pooling1D):
    """TensorFlow's CPU MaxPool: NaN is skipped and the running max starts at the lowest float32, so a window of
    only NaN or -inf gives -3.4028235e38 (GlobalMaxPooling1D, a reduce_max, propagates NaN instead)."""

    def call(self, x, mask=None):
        win = _taps(x, self.k, self.stride, 1, self.padding, fill=F(np.nan))  # (batch, steps, k, channels)
        with np.errstate(invalid="ignore"):
            return np.fmax(np.fmax.reduce(win, axis=2), F(np.finfo(F).min))


class AveragePooling1DLayer(_Pooling1D):
    def call(self, x, mask=None):
        win = _taps(x, self.k, self.stride, 1, self.padding)
        if self.padding == "valid":
            return win.mean(axis=2, dtype=F)
        ones = _taps(np.ones((1, x.shape[1], 1), F), self.k, self.stride, 1, self.padding)  # real steps per window
        return (win.sum(axis=2) / ones.sum(axis=2)).astype(F, copy=False)


class _GlobalPooling1D(_SequenceLayer):
    OPTIONS = {"data_format": CHANNELS_LAST, "keepdims": boolean}
    OPTIONS_DOC = "keepdims"

    def output_shape(self, input_shape):
        return ((input_shape[0], 1, input_shape[2]) if self.config.get("keepdims", False)
                else (input_shape[0], input_shape[2]))


class GlobalMaxPooling1DLayer(_GlobalPooling1D):
    def call(self, x, mask=None):
        return x.max(axis=1, keepdims=self.config.get("keepdims", False))


class GlobalAveragePooling1DLayer(_GlobalPooling1D):
    """Mean over steps; masked steps are excluded (a fully masked row gives NaN, as in Keras)."""

    OPTIONS_DOC = "keepdims; masked steps excluded from the mean"

    def call(self, x, mask=None):
        keep = self.config.get("keepdims", False)
        if mask is None:
            return x.mean(axis=1, keepdims=keep, dtype=F)
        m = np.asarray(mask, bool)[:, :, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            return (np.where(m, x, F(0)).sum(axis=1, keepdims=keep)
                    / m.astype(F).sum(axis=1, keepdims=keep)).astype(F, copy=False)


def _pair(v):
    if isinstance(v, (list, tuple)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _pair_ok(v):
    return (isinstance(v, int) and v >= 0) or (isinstance(v, (list, tuple)) and len(v) == 2
                                                and all(isinstance(e, int) and e >= 0 for e in v))


class ZeroPadding1DLayer(_SequenceLayer):
    OPTIONS = {"padding": _pair_ok, "data_format": CHANNELS_LAST}
    OPTIONS_DOC = "padding int or (before, after)"

    def output_shape(self, input_shape):
        a, b = _pair(self.config.get("padding", 1))
        return (input_shape[0], None if input_shape[1] is None else input_shape[1] + a + b, input_shape[2])

    def call(self, x, mask=None):
        a, b = _pair(self.config.get("padding", 1))
        return np.pad(x, ((0, 0), (a, b), (0, 0)))


class Cropping1DLayer(_SequenceLayer):
    OPTIONS = {"cropping": _pair_ok}
    OPTIONS_DOC = "cropping int or (start, end)"

    def output_shape(self, input_shape):
        a, b = _pair(self.config.get("cropping", (1, 1)))
        return (input_shape[0], None if input_shape[1] is None else input_shape[1] - a - b, input_shape[2])

    def call(self, x, mask=None):
        a, b = _pair(self.config.get("cropping", (1, 1)))
        return x[:, a:x.shape[1] - b]


class UpSampling1DLayer(_SequenceLayer):
    OPTIONS = {"size": positive_int}
    OPTIONS_DOC = "size (each step repeated)"

    def output_shape(self, input_shape):
        n = self.config.get("size", 2)
        return (input_shape[0], None if input_shape[1] is None else input_shape[1] * n, input_shape[2])

    def call(self, x, mask=None):
        return np.repeat(x, self.config.get("size", 2), axis=1)


class _AdaptivePooling1D(_SequenceLayer):
    """Keras 3: output step i pools input steps [floor(i*L/n), ceil((i+1)*L/n)) (n = output_size)."""

    OPTIONS = {"output_size": _one_int, "data_format": CHANNELS_LAST}
    OPTIONS_DOC = "output_size"

    def check_input(self, input_shape):
        super().check_input(input_shape)
        if input_shape[1] is None:
            raise ModelFileError(f"{self.where()}: adaptive pooling needs a known input length, got {input_shape}")

    def output_shape(self, input_shape):
        return (input_shape[0], _int(self.config["output_size"]), input_shape[2])

    def _windows(self, x):
        n, length = _int(self.config["output_size"]), x.shape[1]
        return [x[:, (i * length) // n:-((-(i + 1) * length) // n)] for i in range(n)]  # (batch, w, ch) each


class AdaptiveAveragePooling1DLayer(_AdaptivePooling1D):
    def call(self, x, mask=None):
        return np.stack([w.mean(axis=1, dtype=F) for w in self._windows(x)], axis=1)


class AdaptiveMaxPooling1DLayer(_AdaptivePooling1D):
    """TensorFlow's MaxPool on each window (NaN skipped, as MaxPooling1D)."""

    def call(self, x, mask=None):
        with np.errstate(invalid="ignore"):
            return np.stack([np.fmax(np.fmax.reduce(w, axis=1), F(np.finfo(F).min)) for w in self._windows(x)], axis=1)
