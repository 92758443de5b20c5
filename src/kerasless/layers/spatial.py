"""2-D and 3-D convolution on (batch, *spatial, channels) (data_format channels_last only): Conv2D, Conv3D,
DepthwiseConv2D, SeparableConv2D (keras/src/layers/convolutional/). Also the N-D window helpers pooling_nd.py uses.

Padding follows TensorFlow, per spatial axis: "same" pads (total // 2) before and the rest after. A window is
gathered with sliding_window_view (no copy) and flattened in the kernel's own order (k1, k2, [k3,] channels), so a
convolution is one matrix product with ``kernel.reshape(-1, filters)``.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ModelFileError, UnsupportedOptionError
from . import activations
from .activations import ACTIVATIONS
from .base import Layer, anything, boolean, matmul_last, positive_int

F = np.float32
CHANNELS_LAST = ("channels_last", None)


def ints(value, n: int) -> tuple[int, ...]:
    """An int or an n-sequence of ints (kernel_size, strides, dilation_rate, pool_size) -> n ints."""
    return tuple(int(v) for v in value) if isinstance(value, (list, tuple)) else (int(value),) * n


def ints_ok(n: int):
    def check(v) -> bool:
        items = v if isinstance(v, (list, tuple)) else [v]
        return len(items) in (1, n) and all(isinstance(e, int) and not isinstance(e, bool) and e > 0 for e in items)
    return check


def out_len(length, k, stride, dilation, padding):
    """Output length along one axis for padding valid / same / causal (Conv1D)."""
    if length is None:
        return None
    span = dilation * (k - 1) + 1
    if padding == "same":
        return math.ceil(length / stride)
    return max((length - span) // stride + 1, 0) if padding == "valid" else max((length - 1) // stride + 1, 0)


def pad_amounts(length, k, stride, dilation, padding) -> tuple[int, int]:
    """(before, after) zeros along one axis: TF's "same" puts total // 2 before; "causal" pads d*(k-1) before."""
    span = dilation * (k - 1) + 1
    if padding == "causal":
        return span - 1, 0
    if padding != "same":
        return 0, 0
    total = max((math.ceil(length / stride) - 1) * stride + span - length, 0)
    return total // 2, total - total // 2


def windows(x, ks, strides, dilations, padding, fill=F(0)):
    """(batch, *spatial, c) -> (batch, *out, *ks, c): the input window of every output position (a view)."""
    n = len(ks)
    pads = [pad_amounts(x.shape[1 + i], ks[i], strides[i], dilations[i], padding) for i in range(n)]
    if any(a or b for a, b in pads):
        x = np.pad(x, [(0, 0), *pads, (0, 0)], constant_values=fill)
    spans = [d * (k - 1) + 1 for k, d in zip(ks, dilations)]
    v = np.lib.stride_tricks.sliding_window_view(x, spans, axis=tuple(range(1, n + 1)))  # (b, *o', c, *spans)
    v = v[(slice(None), *(slice(None, None, s) for s in strides), slice(None), *(slice(None, None, d) for d in dilations))]
    return np.moveaxis(v, 1 + n, -1)  # (b, *out, *ks, c)


class SpatialLayer(Layer):
    """A layer on (batch, *spatial, channels) with RANK spatial axes."""

    RANK = 2
    supports_masking = False

    def check_input(self, input_shape):
        if len(input_shape) != self.RANK + 2:
            axes = ", ".join(["batch", *(f"d{i + 1}" for i in range(self.RANK)), "channels"])
            raise ModelFileError(f"{self.where()}: expects input ({axes}), got shape {input_shape}")


class ConvLayer(SpatialLayer):
    """Conv2D / Conv3D: kernel (*k, in/groups, filters), bias (filters,); y = a(conv(x) + b)."""

    OPTIONS = {"filters": positive_int, "kernel_size": anything, "strides": anything, "padding": ("valid", "same"),
               "data_format": CHANNELS_LAST, "dilation_rate": anything, "groups": positive_int,
               "activation": anything, "use_bias": boolean}
    OPTIONS_DOC = "padding valid/same, strides, dilation_rate, groups, activation, use_bias"

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        c, n = self.config, self.RANK
        for key in ("kernel_size", "strides", "dilation_rate"):
            if key in c and not ints_ok(n)(c[key]):
                raise UnsupportedOptionError(f"{self.where()}: {key}={c[key]!r} should be {n} positive ints")
        self.ks, self.strides = ints(c["kernel_size"], n), ints(c.get("strides", 1), n)
        self.dilations = ints(c.get("dilation_rate", 1), n)
        if max(self.strides) > 1 and max(self.dilations) > 1:
            raise UnsupportedOptionError(f"{self.where()}: strides > 1 with dilation_rate > 1 is not valid in Keras")
        self.padding, self.groups = c.get("padding", "valid"), c.get("groups", 1)
        self.use_bias = c.get("use_bias", True)
        self.activation = activations.resolve(c.get("activation"), ctx.keras_major, self.name)
        self.setup()
        # Keras 3 on TensorFlow: predict fuses conv + bias + relu/relu6 into one oneDNN kernel whose relu maps NaN
        # to 0 (measured: not without a bias, with groups or dilation, nor for Conv1D; tf_keras depends on the graph).
        self.relu_drops_nan = (ctx.keras_major >= 3 and self.use_bias and self.groups == 1
                               and max(self.dilations) == 1 and self.activation in ("relu", "relu6"))

    def setup(self):
        self.filters = self.config["filters"]
        self.expect_weights([(*self.ks, None, self.filters)] + ([(self.filters,)] if self.use_bias else []))
        self.in_channels = self.weights[0].shape[-2] * self.groups

    @classmethod
    def n_weights(cls, config):
        return 2 if config.get("use_bias", True) else 1

    def check_input(self, input_shape):
        super().check_input(input_shape)
        if input_shape[-1] != self.in_channels:
            raise ModelFileError(f"{self.where()}: kernel expects {self.in_channels} channels, input has "
                                 f"{input_shape[-1]}")

    def output_shape(self, input_shape):
        spatial = [out_len(d, k, s, r, self.padding)
                   for d, k, s, r in zip(input_shape[1:-1], self.ks, self.strides, self.dilations)]
        return (input_shape[0], *spatial, self.out_channels())

    def out_channels(self) -> int:
        return self.filters

    def _windows(self, x):
        return windows(x, self.ks, self.strides, self.dilations, self.padding)  # (b, *out, *ks, c)

    def convolve(self, x):
        w = self.weights[0]  # (*ks, in/g, filters)
        win = self._windows(x)
        lead = win.shape[:1 + self.RANK]
        if self.groups == 1:
            return matmul_last(win.reshape(*lead, -1), w.reshape(-1, self.filters))
        cin, cout = w.shape[-2], self.filters // self.groups
        return np.concatenate([matmul_last(win[..., g * cin:(g + 1) * cin].reshape(*lead, -1),
                                           w[..., g * cout:(g + 1) * cout].reshape(-1, cout))
                               for g in range(self.groups)], axis=-1)

    def call(self, x, mask=None):
        y = self.convolve(x)
        if self.use_bias:
            y = y + self.weights[-1]
        if self.relu_drops_nan:
            y = np.fmax(y, F(0))
        return ACTIVATIONS[self.activation](y.astype(F, copy=False))


class Conv2DLayer(ConvLayer):
    RANK = 2


class Conv3DLayer(ConvLayer):
    RANK = 3


_DEPTHWISE = {"depth_multiplier": positive_int, "depthwise_initializer": anything, "depthwise_regularizer": anything,
              "depthwise_constraint": anything}


def _depthwise(win, kernel):
    """win (b, *out, *ks, c), kernel (*ks, c, dm) -> (b, *out, c*dm): channel c*dm + m."""
    n = kernel.ndim - 2
    taps = int(np.prod(kernel.shape[:n]))
    w = win.reshape(*win.shape[:win.ndim - n - 1], taps, win.shape[-1])  # (b, *out, K, c)
    depth = np.einsum("...kc,kcm->...cm", w, kernel.reshape(taps, *kernel.shape[n:]))
    return depth.reshape(*depth.shape[:-2], -1)


class DepthwiseConv2DLayer(ConvLayer):
    """depthwise_kernel (*k, in, depth_multiplier), bias (in*dm,): output channel c*dm + m."""

    RANK = 2
    OPTIONS = {**{k: v for k, v in ConvLayer.OPTIONS.items() if k not in ("filters", "groups")}, **_DEPTHWISE,
               "groups": (1,)}
    OPTIONS_DOC = "padding valid/same, strides, dilation_rate, depth_multiplier, activation, use_bias"

    def setup(self):
        self.dm = self.config.get("depth_multiplier", 1)
        self.expect_weights([(*self.ks, None, self.dm)] + ([(None,)] if self.use_bias else []))
        self.in_channels = self.weights[0].shape[-2]
        if self.use_bias and self.weights[1].shape[0] != self.in_channels * self.dm:
            raise ModelFileError(f"{self.where()}: bias of {self.weights[1].shape[0]} does not fit "
                                 f"{self.in_channels}x{self.dm} output channels")

    def out_channels(self) -> int:
        return self.in_channels * self.dm

    def convolve(self, x):
        return _depthwise(self._windows(x), self.weights[0])


class DepthwiseConv1DLayer(DepthwiseConv2DLayer):
    RANK = 1


class SeparableConv2DLayer(ConvLayer):
    """depthwise_kernel (*k, in, dm), pointwise_kernel (1, 1, in*dm, filters), bias (filters,)."""

    RANK = 2
    OPTIONS = {**{k: v for k, v in ConvLayer.OPTIONS.items() if k != "groups"}, **_DEPTHWISE, "groups": (1,),
               "pointwise_initializer": anything, "pointwise_regularizer": anything, "pointwise_constraint": anything}
    OPTIONS_DOC = "padding valid/same, strides, dilation_rate, depth_multiplier, activation, use_bias"

    def setup(self):
        self.filters, self.dm = self.config["filters"], self.config.get("depth_multiplier", 1)
        self.expect_weights([(*self.ks, None, self.dm), (1, 1, None, self.filters)]
                            + ([(self.filters,)] if self.use_bias else []))
        self.in_channels = self.weights[0].shape[-2]

    @classmethod
    def n_weights(cls, config):
        return 3 if config.get("use_bias", True) else 2

    def convolve(self, x):
        depth = np.ascontiguousarray(_depthwise(self._windows(x), self.weights[0]), dtype=F)
        return matmul_last(depth, self.weights[1].reshape(self.weights[1].shape[-2:]))
