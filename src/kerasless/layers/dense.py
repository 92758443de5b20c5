"""Dense: y = a(x·kernel + bias) on the last axis; kernel (in, units), bias (units,)."""

from __future__ import annotations

import numpy as np

from ..errors import ModelFileError
from . import activations
from .activations import ACTIVATIONS
from .base import Layer, anything, boolean, matmul_last, positive_int
from .fastpath import dense_fast
from .layout import DENSE_ARRAYS, DENSE_EQUATIONS

F = np.float32


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


def _equation_ok(v) -> bool:
    return isinstance(v, str) and len(v) < 64 and all(ch.isalpha() or ch in ",->." for ch in v) and "->" in v


class EinsumDenseLayer(Layer):
    """y = a(einsum(equation, x, kernel) + bias); the bias spans the output axes from the first of ``bias_axes``
    to the last (1 on the others), as Keras builds it."""

    OPTIONS = {"equation": _equation_ok, "output_shape": anything, "activation": anything,
               "bias_axes": lambda v: v is None or (isinstance(v, str) and v.isalpha()), "lora_rank": (None, 0),
               "lora_alpha": anything}
    OPTIONS_DOC = "equation, output_shape, bias_axes, activation"

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        self.equation = self.config["equation"]
        self.activation = activations.resolve(self.config.get("activation"), ctx.keras_major, self.name)
        self.use_bias = bool(self.config.get("bias_axes"))
        self.expect_weights([tuple(None for _ in w.shape) for w in self.weights][:1 + self.use_bias])
        if len(self.weights) != 1 + self.use_bias:
            raise ModelFileError(f"{self.where()}: expected {1 + self.use_bias} weight arrays, the file has "
                                 f"{len(self.weights)}")

    @classmethod
    def n_weights(cls, config):
        return 2 if config.get("bias_axes") else 1

    def check_input(self, input_shape):
        """The kernel and bias shapes the equation implies (Keras builds them so), against the stored ones."""
        ins, out = self.equation.replace(" ", "").split("->")
        x_spec, k_spec = (ins.split(",") + [""])[:2]
        if "." in self.equation or len(x_spec) != len(input_shape) or len(k_spec) != self.weights[0].ndim:
            raise ModelFileError(f"{self.where()}: equation {self.equation!r} does not fit inputs {input_shape} and "
                                 f"kernel {self.weights[0].shape}")
        dims = dict(zip(k_spec, self.weights[0].shape))
        dims.update({c: d for c, d in zip(x_spec, input_shape) if d is not None and c not in dims})
        if self.use_bias:
            first = min(out.index(c) for c in self.config["bias_axes"])
            want = tuple(dims.get(c) if c in self.config["bias_axes"] else 1 for c in out[first:])
            if self.weights[1].shape != want:
                raise ModelFileError(f"{self.where()}: bias of shape {self.weights[1].shape}; the equation "
                                     f"{self.equation!r} with bias_axes {self.config['bias_axes']!r} needs {want}")

    def output_shape(self, input_shape):
        spec = self.config.get("output_shape")
        dims = list(spec) if isinstance(spec, (list, tuple)) else [spec]
        return (input_shape[0], *dims)

    def call(self, x, mask=None):
        try:
            y = np.einsum(self.equation, x, self.weights[0])
        except ValueError as exc:
            raise ModelFileError(f"{self.where()}: equation {self.equation!r} does not fit inputs {x.shape} and "
                                 f"kernel {self.weights[0].shape} ({exc})") from None
        if self.use_bias:
            y = y + self.weights[1]
        return ACTIVATIONS[self.activation](y.astype(F, copy=False))
