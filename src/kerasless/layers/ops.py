"""The mask arithmetic Keras 3 records in functional configs (keras.src.ops.numpy): a Masking layer's mask is
saved as NotEqual(x, mask_value) -> Any(axis=-1) and passed to the next layer as ``mask=``."""

from __future__ import annotations

import numpy as np

from .base import Layer, anything


class _Op(Layer):
    OPTIONS = {"axis": anything, "keepdims": anything}
    DTYPES = ("float32", "bool", None)
    supports_masking = False
    LIST_INPUT = True
    CALL_KWARGS = frozenset({"__const__"})
    OPTIONS_DOC = "mask arithmetic recorded by Keras 3 functional models"

    def args(self, x, const):
        args = list(x)
        for pos, value in const or []:
            args.insert(pos, np.asarray(value, np.float32))
        return args

    def output_shape(self, input_shape, __const__=None):
        shape = input_shape[0]
        if "axis" in self.config:
            axis = self.config.get("axis")
            if axis is None:
                return (shape[0],)
            axes = {a % len(shape) for a in ([axis] if isinstance(axis, int) else axis)}
            keep = self.config.get("keepdims", False)
            return tuple(1 if i in axes else d for i, d in enumerate(shape)) if keep else tuple(
                d for i, d in enumerate(shape) if i not in axes)
        return shape

    def check_input(self, input_shape, __const__=None):
        pass


class NotEqualOp(_Op):
    def call(self, x, mask=None, __const__=None):
        a, b = self.args(x, __const__)
        return np.not_equal(a, b)


class EqualOp(_Op):
    def call(self, x, mask=None, __const__=None):
        a, b = self.args(x, __const__)
        return np.equal(a, b)


class AnyOp(_Op):
    def call(self, x, mask=None, __const__=None):
        (a,) = self.args(x, __const__)
        axis = self.config.get("axis")
        return np.any(a, axis=tuple(axis) if isinstance(axis, list) else axis, keepdims=self.config.get("keepdims", False))


class AllOp(_Op):
    def call(self, x, mask=None, __const__=None):
        (a,) = self.args(x, __const__)
        axis = self.config.get("axis")
        return np.all(a, axis=tuple(axis) if isinstance(axis, list) else axis, keepdims=self.config.get("keepdims", False))


class LogicalAndOp(_Op):
    def call(self, x, mask=None, __const__=None):
        a, b = self.args(x, __const__)
        return np.logical_and(a, b)


class LogicalOrOp(_Op):
    def call(self, x, mask=None, __const__=None):
        a, b = self.args(x, __const__)
        return np.logical_or(a, b)
