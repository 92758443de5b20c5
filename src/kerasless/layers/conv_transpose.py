"""Conv1DTranspose, Conv2DTranspose, Conv3DTranspose (channels_last): kernel (*k, filters, in), bias (filters,).

As tf.nn.conv_transpose: every input position adds ``x · kernel[tap]ᵀ`` at ``position * stride + tap * dilation``
of a full-size output ((n - 1) * stride + span), which is then cut to Keras's output length
(deconv_output_length): "same" drops max((n - 1) * stride + span - length, 0) // 2 positions at the start; a
longer output ("valid" with stride > kernel, output_padding) gets zeros at the end.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import UnsupportedOptionError
from .activations import ACTIVATIONS
from .spatial import ConvLayer, ints

F = np.float32


def deconv_length(n, k, stride, dilation, padding, output_padding):
    """keras conv_utils.deconv_output_length."""
    if n is None:
        return None
    span = k + (k - 1) * (dilation - 1)
    if output_padding is None:
        return n * stride + max(span - stride, 0) if padding == "valid" else n * stride
    pad = span // 2 if padding == "same" else 0
    return (n - 1) * stride + span - 2 * pad + output_padding


class ConvTransposeLayer(ConvLayer):
    OPTIONS = {**{k: v for k, v in ConvLayer.OPTIONS.items() if k != "groups"}, "groups": (1,),
               "output_padding": lambda v: v is None or isinstance(v, (int, list, tuple))}
    OPTIONS_DOC = "padding valid/same, strides, dilation_rate, output_padding, activation, use_bias"

    def setup(self):
        self.filters = self.config["filters"]
        op = self.config.get("output_padding")
        if op is not None and not (isinstance(op, (list, tuple)) and all(isinstance(e, int) for e in op)
                                   or isinstance(op, int)):
            raise UnsupportedOptionError(f"{self.where()}: output_padding={op!r} should be ints")
        self.output_padding = None if op is None else ints(op, self.RANK)
        self.expect_weights([(*self.ks, self.filters, None)] + ([(self.filters,)] if self.use_bias else []))
        self.in_channels = self.weights[0].shape[-1]

    def _lengths(self, spatial):
        ops = self.output_padding or (None,) * self.RANK
        return [deconv_length(n, k, s, d, self.padding, o)
                for n, k, s, d, o in zip(spatial, self.ks, self.strides, self.dilations, ops)]

    def output_shape(self, input_shape):
        return (input_shape[0], *self._lengths(input_shape[1:-1]), self.filters)

    def convolve(self, x):
        w = self.weights[0]  # (*ks, filters, in)
        spatial = x.shape[1:-1]
        spans = [d * (k - 1) + 1 for k, d in zip(self.ks, self.dilations)]
        full_len = [(n - 1) * s + span for n, s, span in zip(spatial, self.strides, spans)]
        full = np.zeros((x.shape[0], *full_len, self.filters), F)
        flat = x.reshape(-1, x.shape[-1])  # (b*positions, in)
        for tap in itertools.product(*(range(k) for k in self.ks)):
            at = tuple(slice(t * d, t * d + (n - 1) * s + 1, s)
                       for t, d, n, s in zip(tap, self.dilations, spatial, self.strides))
            full[(slice(None), *at)] += (flat @ w[tap].T).reshape(*x.shape[:-1], self.filters)
        out = np.zeros((x.shape[0], *self._lengths(spatial), self.filters), F)
        src, dst = [], []
        for n_full, n_out in zip(full_len, out.shape[1:-1]):
            start = max(n_full - n_out, 0) // 2 if self.padding == "same" else 0
            m = min(n_full - start, n_out)
            src.append(slice(start, start + m))
            dst.append(slice(0, m))
        out[(slice(None), *dst)] = full[(slice(None), *src)]
        return out

    def call(self, x, mask=None):
        y = self.convolve(x)
        if self.use_bias:
            y = y + self.weights[-1]
        return ACTIVATIONS[self.activation](y.astype(F, copy=False))


class Conv1DTransposeLayer(ConvTransposeLayer):
    RANK = 1


class Conv2DTransposeLayer(ConvTransposeLayer):
    RANK = 2


class Conv3DTransposeLayer(ConvTransposeLayer):
    RANK = 3
