"""Keras activations in float32, formula for formula (keras/src/backend/numpy/nn.py; tf_keras for Keras 2).

Names are canonical: aliases resolve (swish -> silu) and hard_sigmoid resolves by the writing Keras version to
``hard_sigmoid`` (Keras 3: clip(x/6 + 0.5, 0, 1)) or ``hard_sigmoid_k2`` (Keras <= 2: clip(0.2x + 0.5, 0, 1)).
Exporters key their runtime kernels by the same names.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import UnsupportedOptionError

F = np.float32


def _sigmoid(x):
    # Split by sign: exp never overflows and both halves stay accurate in float32.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, F(1) / (F(1) + e), e / (F(1) + e)).astype(x.dtype, copy=False)


def _softplus(x):
    return np.logaddexp(x, F(0)).astype(x.dtype, copy=False)


def _hard_sigmoid(x):
    return np.clip(x / F(6) + F(0.5), F(0), F(1))


def _hard_sigmoid_k2(x):
    return np.clip(F(0.2) * x + F(0.5), F(0), F(1))


def _elu(x, alpha=F(1)):
    return np.where(x >= 0, x, alpha * np.expm1(np.minimum(x, F(0))))


_erf = np.frompyfunc(math.erf, 1, 1)


def _gelu(x):  # exact (approximate=False), the Keras default for the "gelu" string
    return (x * (_erf(x.astype(np.float64) / math.sqrt(2)).astype(x.dtype) + F(1)) / F(2)).astype(x.dtype)


def softmax(x, axis=-1):
    """tf.nn.softmax over one axis, non-finite inputs included (measured): a NaN or +inf entry gives NaN there and
    0 at every other entry of its slice; a slice of only -inf is NaN. (TensorFlow itself is not consistent: one
    generator process saw NaN spread over the whole slice; eager and fresh-process predicts give this rule.)"""
    bad = np.isnan(x) | (x == np.inf)
    if not bad.any():
        with np.errstate(invalid="ignore"):
            e = np.exp(x - x.max(axis=axis, keepdims=True))
            return e / e.sum(axis=axis, keepdims=True)
    clean = np.where(bad, F(-np.inf), x)
    with np.errstate(invalid="ignore"):
        e = np.exp(clean - clean.max(axis=axis, keepdims=True))
        out = e / e.sum(axis=axis, keepdims=True)
    return np.where(bad.any(axis=axis, keepdims=True), np.where(bad, F(np.nan), F(0)), out).astype(x.dtype)


def _softmax(x):
    return softmax(x, -1)


def _log_softmax(x):
    s = x - x.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def _sparsemax(x):
    # Keras's formula (every backend, keras/src/backend/*/nn.py), kept as is: tau sums the cumulative sums over
    # the support, which differs from the paper's (cumsum[k] - 1) / k whenever the support has 2+ entries.
    z = -np.sort(-x, axis=-1)  # descending
    cum = np.cumsum(z, axis=-1)
    r = np.arange(1, x.shape[-1] + 1, dtype=x.dtype)
    support = z - (cum - F(1)) / r > 0
    k = support.sum(axis=-1, keepdims=True).astype(x.dtype)
    tau = (np.where(support, cum, F(0)).sum(axis=-1, keepdims=True) - F(1)) / k
    return np.maximum(x - tau, F(0))


_SELU_ALPHA, _SELU_SCALE = F(1.6732632423543772848170429916717), F(1.0507009873554804934193349852946)

ACTIVATIONS = {
    "linear": lambda x: x,
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "hard_sigmoid": _hard_sigmoid,
    "hard_sigmoid_k2": _hard_sigmoid_k2,
    "relu": lambda x: np.maximum(x, F(0)),
    "relu6": lambda x: np.minimum(np.maximum(x, F(0)), F(6)),
    "leaky_relu": lambda x: np.maximum(x, F(0.2) * x),
    "elu": _elu,
    "selu": lambda x: _SELU_SCALE * _elu(x, _SELU_ALPHA),
    "celu": lambda x: np.maximum(x, F(0)) + np.expm1(np.minimum(x, F(0))),
    "softplus": _softplus,
    "softsign": lambda x: x / (F(1) + np.abs(x)),
    "silu": lambda x: x * _sigmoid(x),
    "hard_silu": lambda x: x * _hard_sigmoid(x),
    "gelu": _gelu,
    "exponential": np.exp,
    "mish": lambda x: x * np.tanh(_softplus(x)),
    "log_sigmoid": lambda x: -_softplus(-x),
    "hard_tanh": lambda x: np.clip(x, F(-1), F(1)),
    "tanh_shrink": lambda x: x - np.tanh(x),
    "soft_shrink": lambda x: np.where(x > F(0.5), x - F(0.5), np.where(x < F(-0.5), x + F(0.5), F(0))).astype(x.dtype),
    "hard_shrink": lambda x: np.where(np.abs(x) > F(0.5), x, F(0)).astype(x.dtype),
    "squareplus": lambda x: (x + np.sqrt(x * x + F(4))) / F(2),
    "sparse_plus": lambda x: np.where(x <= -1, F(0), np.where(x < 1, F(0.25) * (x + F(1)) ** 2, x)).astype(x.dtype),
    "sparse_sigmoid": lambda x: np.clip(F(0.5) * (x + F(1)), F(0), F(1)),
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    "sparsemax": _sparsemax,
}
ALIASES = {"swish": "silu", "hard_swish": "hard_silu", None: "linear"}


def resolve(value, keras_major: int, layer: str, option: str = "activation") -> str:
    """Canonical activation name for a config value, or a clear error naming layer and option."""
    name = value
    if isinstance(value, dict):  # Keras 3 may serialize a built-in function as a dict
        if value.get("class_name") == "function" and str(value.get("module", "")).startswith("keras"):
            name = value.get("config")
        else:
            raise UnsupportedOptionError(f"layer {layer!r}: {option}={value!r} is not a built-in Keras activation")
    name = ALIASES.get(name, name)
    if name == "hard_sigmoid" and keras_major < 3:
        name = "hard_sigmoid_k2"
    if name not in ACTIVATIONS:
        raise UnsupportedOptionError(
            f"layer {layer!r}: {option}={value!r} is not supported; supported: {', '.join(sorted(ACTIVATIONS))}"
        )
    return name



def display(name: str | None) -> str | None:
    """An activation's name as people know it ("hard_sigmoid_k2" is Keras <= 2's hard_sigmoid)."""
    return "hard_sigmoid" if name == "hard_sigmoid_k2" else name
