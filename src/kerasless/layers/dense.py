"""Dense: y = a(x·kernel + bias) on the last axis; kernel (in, units), bias (units,)."""

from __future__ import annotations

from ..errors import ModelFileError
from . import activations
from .activations import ACTIVATIONS
from .base import Layer, anything, boolean, matmul_last, positive_int
from .fastpath import dense_fast
from .layout import DENSE_ARRAYS, DENSE_EQUATIONS


class DenseLayer(Layer):
    OPTIONS = {"units": positive_int, "activation": anything, "use_bias": boolean}
    ARRAYS, EQUATIONS = DENSE_ARRAYS, DENSE_EQUATIONS

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        self.units = self.config["units"]
        self.use_bias = self.config.get("use_bias", True)
        self.activation = activations.resolve(self.config.get("activation"), ctx.keras_major, self.name)
        self.expect_weights([(None, self.units)] + ([(self.units,)] if self.use_bias else []))

    @classmethod
    def n_weights(cls, config):
        return 2 if config.get("use_bias", True) else 1

    def explain_text(self, inner):
        return f"{self.units} units, activation={activations.display(self.activation)}", []

    def check_input(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] != self.weights[0].shape[0]:
            raise ModelFileError(
                f"{self.where()}: kernel expects (..., {self.weights[0].shape[0]}) inputs, got shape {input_shape}"
            )

    def output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def call(self, x, mask=None):
        y = dense_fast(x, self.weights[0], self.weights[1] if self.use_bias else None, self.activation)
        if y is not None:  # native backend: product, bias and activation in one C call
            return y
        y = matmul_last(x, self.weights[0])  # (..., units)
        if self.use_bias:
            y += self.weights[1]
        return ACTIVATIONS[self.activation](y)
