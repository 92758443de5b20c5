"""ConvLSTM1D/2D/3D (keras/src/layers/rnn/conv_lstm.py): an LSTM whose products are convolutions.

kernel (*k, in, 4f) and recurrent_kernel (*k, f, 4f), gate blocks [i | f | c | o] on the last axis (the LSTM
layout), bias (4f,). The input convolution uses the layer's padding, strides and dilation; the recurrent one is
"same"-padded with stride 1. The cell is LSTM's own readable step: ``h @ U`` with U a :class:`RecurrentConv` is
the recurrent convolution. States h, c are (batch, *spatial, filters); RecurrentLayer.call and the shared loop run
them (there is no native path: params.fast is None).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ..errors import ModelFileError, UnsupportedOptionError
from . import activations
from .activations import ACTIVATIONS
from .base import Layer, anything, boolean, matmul_last, positive_int
from .layout import LSTM as LAYOUT
from .lstm import step as lstm_step
from .recurrent import RNN_OPTIONS, RecurrentLayer
from .spatial import CHANNELS_LAST, ints, ints_ok, out_len, windows

F = np.float32


class RecurrentConv:
    """A recurrent kernel (*k, f, 4f) as an operator: ``h @ U`` is h convolved with it ("same", stride 1)."""

    __array_ufunc__ = None  # NumPy defers ``ndarray @ RecurrentConv`` to __rmatmul__

    def __init__(self, kernel: np.ndarray):
        self.kernel, self.ks = kernel, kernel.shape[:-2]

    def __rmatmul__(self, h):
        n = len(self.ks)
        win = windows(h, self.ks, (1,) * n, (1,) * n, "same")  # (b, *spatial, *k, f)
        return matmul_last(win.reshape(*win.shape[:1 + n], -1), self.kernel.reshape(-1, self.kernel.shape[-1]))


class ConvLSTMLayer(RecurrentLayer):
    RANK = 2
    LAYOUT = LAYOUT
    OPTIONS = {**{k: v for k, v in RNN_OPTIONS.items() if k != "units"}, "filters": positive_int,
               "kernel_size": anything, "strides": anything, "padding": ("valid", "same"),
               "data_format": CHANNELS_LAST, "dilation_rate": anything, "unit_forget_bias": boolean}
    OPTIONS_DOC = "padding valid/same, strides, dilation_rate; return_sequences/state, go_backwards, stateful"
    step = staticmethod(lstm_step)

    def __init__(self, spec, ctx):
        Layer.__init__(self, spec, ctx)
        c, n = self.config, self.RANK
        for key in ("kernel_size", "strides", "dilation_rate"):
            if key in c and not ints_ok(n)(c[key]):
                raise UnsupportedOptionError(f"{self.where()}: {key}={c[key]!r} should be {n} positive ints")
        self.units = c["filters"]  # the gate block width on the last axis, as an LSTM's units
        self.ks, self.strides = ints(c["kernel_size"], n), ints(c.get("strides", 1), n)
        self.dilations, self.padding = ints(c.get("dilation_rate", 1), n), c.get("padding", "valid")
        self.activation = activations.resolve(c.get("activation", "tanh"), ctx.keras_major, self.name)
        self.recurrent_activation = activations.resolve(c.get("recurrent_activation", "sigmoid"), ctx.keras_major,
                                                        self.name, "recurrent_activation")
        for key in ("return_sequences", "return_state", "go_backwards", "stateful", "zero_output_for_mask"):
            setattr(self, key, c.get(key, False))
        self.use_bias, self.state = c.get("use_bias", True), None
        u = self.units
        self.expect_weights([(*self.ks, None, 4 * u), (*self.ks, u, 4 * u)] + ([(4 * u,)] if self.use_bias else []))
        self.input_bias = self.weights[2] if self.use_bias else None
        self.params = SimpleNamespace(units=u, U=RecurrentConv(self.weights[1]), a=ACTIVATIONS[self.activation],
                                      ra=ACTIVATIONS[self.recurrent_activation], fast=None)

    @property
    def input_dim(self) -> int:
        return self.weights[0].shape[-2]

    def check_input(self, input_shape, initial_state=None):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        if len(input_shape) != self.RANK + 3 or input_shape[-1] != self.input_dim:
            raise ModelFileError(f"{self.where()}: expects input (batch, time, *{self.RANK} spatial, "
                                 f"{self.input_dim} channels), got shape {input_shape}")

    def _spatial(self, input_shape) -> tuple:
        return tuple(out_len(d, k, s, r, self.padding)
                     for d, k, s, r in zip(input_shape[2:-1], self.ks, self.strides, self.dilations))

    def output_shape(self, input_shape, initial_state=None):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        b, t, state = input_shape[0], input_shape[1], (*self._spatial(input_shape), self.units)
        y = (b, t, *state) if self.return_sequences else (b, *state)
        return [y, (b, *state), (b, *state)] if self.return_state else y

    def project(self, x):
        """(batch, time, *spatial, in) -> (batch, time, *out, 4f): the input convolution of every step (+ bias)."""
        b, t = x.shape[:2]
        win = windows(x.reshape(b * t, *x.shape[2:]), self.ks, self.strides, self.dilations, self.padding)
        w = self.weights[0]
        xp = matmul_last(win.reshape(*win.shape[:1 + self.RANK], -1), w.reshape(-1, w.shape[-1]))
        if self.use_bias:
            xp += self.input_bias
        return xp.reshape(b, t, *xp.shape[1:])


class ConvLSTM1DLayer(ConvLSTMLayer):
    RANK = 1


class ConvLSTM2DLayer(ConvLSTMLayer):
    RANK = 2


class ConvLSTM3DLayer(ConvLSTMLayer):
    RANK = 3
