"""Activation ops Keras 3 records as layers of their own in functional models (``keras.activations.gelu(x)``
becomes a ``Gelu`` node with ``{"approximate": false}``): each is the activation of the same name, with its
arguments from the config.
"""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOptionError
from .activations import ACTIVATIONS, _elu, _log_softmax
from .base import Layer

F = np.float32


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _gelu(x, approximate=False):
    if not approximate:
        return ACTIVATIONS["gelu"](x)
    return (F(0.5) * x * (F(1) + np.tanh(F(0.7978845608028654) * (x + F(0.044715) * x * x * x)))).astype(F)


def _axis(fn):
    return lambda x, axis=-1: np.moveaxis(fn(np.moveaxis(x, axis, -1)), -1, axis)


# class name -> (fn(x, **config), {option: check}); options absent from the config take the function's default.
# (ops.softmax records "Softmax", the class name of the Softmax layer, which runs it.)
OPS = {
    **{name: (ACTIVATIONS[act], {}) for name, act in (
        ("Relu", "relu"), ("Sigmoid", "sigmoid"), ("Tanh", "tanh"), ("Silu", "silu"), ("Selu", "selu"),
        ("Softplus", "softplus"), ("Softsign", "softsign"), ("Relu6", "relu6"), ("HardSigmoid", "hard_sigmoid"),
        ("HardSilu", "hard_silu"), ("HardTanh", "hard_tanh"), ("LogSigmoid", "log_sigmoid"), ("Exp", "exponential"),
        ("SparsePlus", "sparse_plus"), ("TanhShrink", "tanh_shrink"), ("SparseSigmoid", "sparse_sigmoid"),
        ("Mish", "mish"))},
    "Gelu": (_gelu, {"approximate": lambda v: isinstance(v, bool)}),
    "Elu": (lambda x, alpha=1.0: _elu(x, F(alpha)), {"alpha": _number}),
    "Celu": (lambda x, alpha=1.0: np.maximum(x, F(0)) + F(alpha) * np.expm1(np.minimum(x, F(0)) / F(alpha)),
             {"alpha": _number}),
    "LeakyRelu": (lambda x, negative_slope=0.2: np.maximum(x, F(negative_slope) * x), {"negative_slope": _number}),
    "LogSoftmax": (lambda x, axis=-1: _axis(_log_softmax)(x, axis), {"axis": lambda v: isinstance(v, int)}),
    "HardShrink": (lambda x, threshold=0.5: np.where(np.abs(x) > F(threshold), x, F(0)), {"threshold": _number}),
    "SoftShrink": (lambda x, threshold=0.5: np.where(x > F(threshold), x - F(threshold),
                                                     np.where(x < -F(threshold), x + F(threshold), F(0))),
                   {"threshold": _number}),
    "Squareplus": (lambda x, b=4: (x + np.sqrt(x * x + F(b))) / F(2), {"b": _number}),
    "Threshold": (lambda x, threshold=0.0, default_value=0.0: np.where(x > F(threshold), x, F(default_value)),
                  {"threshold": _number, "default_value": _number}),
}


class OpActivationLayer(Layer):
    """One activation op node (the class name says which: see OPS)."""

    OPTIONS_DOC = "a keras.ops / keras.activations call in a functional model"

    def __init__(self, spec, ctx):
        self.OPTIONS = OPS[spec.class_name][1]  # per instance: each op has its own arguments
        super().__init__(spec, ctx)
        self.fn = OPS[spec.class_name][0]
        self.kwargs = {k: v for k, v in self.config.items() if k in self.OPTIONS}
        if spec.class_name == "Celu" and self.kwargs.get("alpha", 1.0) == 0:
            raise UnsupportedOptionError(f"{self.where()}: alpha=0 is not a valid CELU")

    def call(self, x, mask=None):
        return np.asarray(self.fn(x, **self.kwargs), F)
