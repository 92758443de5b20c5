"""Merge layers (keras/src/layers/merging/): Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot.

Called on a list of tensors. Masks: Keras 3 ORs the inputs' masks when every input has one (else no mask);
Concatenate ORs the concatenated masks over the last axis. With masks, Keras 3's Multiply treats masked entries as
1 and zeroes the output where every input is masked; Maximum/Minimum ignore masked entries (they take the other
input's value). tf_keras computes the plain element-wise function.
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelFileError
from .base import Layer

F = np.float32


def _or_masks(masks):
    if any(m is None for m in masks):
        return None
    out = masks[0]
    for m in masks[1:]:
        out = np.logical_or(out, m)
    return out


def _broadcast_shapes(shapes, where: str):
    """Non-batch shapes -> the merged shape; a lower-rank input gets size-1 axes after the batch axis."""
    out = []
    rank = max(len(s) for s in shapes)
    for dims in zip(*[(1,) * (rank - len(s)) + tuple(s) for s in shapes]):
        known = {d for d in dims if d not in (None, 1)}
        if len(known) > 1:
            raise ModelFileError(f"{where}: inputs of shapes {[tuple(s) for s in shapes]} cannot be merged")
        out.append(known.pop() if known else (None if None in dims else 1))
    return tuple(out)


def _same_rank(xs):
    """Keras's base_merge: a lower-rank input gets size-1 axes right after the batch axis until the ranks match
    ((b, 12) + (b, 10, 12) -> (b, 1, 12) + (b, 10, 12)), not NumPy's padding on the left."""
    rank = max(x.ndim for x in xs)
    return [x.reshape(x.shape[0], *(1,) * (rank - x.ndim), *x.shape[1:]) for x in xs]


class MergeLayer(Layer):
    """Element-wise merge of a list of same-shaped tensors."""

    OPTIONS: dict = {}
    LIST_INPUT = True
    OPTIONS_DOC = "inputs: a list; masks OR-ed (Keras 3)"

    def check_input(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise ModelFileError(f"{self.where()}: a merge layer needs a list of at least 2 inputs")

    def output_shape(self, input_shape):
        shape = _broadcast_shapes([s[1:] for s in input_shape], self.where())
        return (input_shape[0][0], *shape)

    def compute_mask(self, x, mask):
        return None if mask is None else _or_masks(mask)

    def call(self, x, mask=None):
        return self.merge(_same_rank(x)).astype(F, copy=False)  # merge(xs): each subclass's elementwise rule


class AddLayer(MergeLayer):
    def merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class SubtractLayer(MergeLayer):
    def check_input(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) != 2:
            raise ModelFileError(f"{self.where()}: Subtract needs exactly 2 inputs")

    def merge(self, xs):
        return xs[0] - xs[1]


class AverageLayer(MergeLayer):
    def merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out / F(len(xs))


class MultiplyLayer(MergeLayer):
    def call(self, x, mask=None):
        masks = mask if (mask is not None and self.ctx.keras_major >= 3) else [None] * len(x)
        x = _same_rank(x)
        if all(m is None for m in masks):
            out = x[0]
            for xi in x[1:]:
                out = out * xi
            return out
        every = all(m is not None for m in masks)
        out, out_mask = None, None
        for xi, m in zip(x, masks):
            if m is not None:
                mb = np.broadcast_to(m[..., None], xi.shape)
                xi = np.where(mb, xi, F(1))
                if every:
                    out_mask = mb if out_mask is None else np.logical_or(out_mask, mb)
            out = xi if out is None else out * xi
        if every:
            out = np.where(out_mask, out, F(0))
        return out.astype(F, copy=False)


class _MaskedExtremum(MergeLayer):
    op = None

    def call(self, x, mask=None):
        masks = mask if (mask is not None and self.ctx.keras_major >= 3) else [None] * len(x)
        x, out, out_mask = _same_rank(x), None, None
        for xi, m in zip(x, masks):
            mb = None if m is None else np.broadcast_to(m[..., None], xi.shape)
            if out is None:
                out, out_mask = xi, mb
                continue
            if mb is not None:
                xi = np.where(mb, xi, out)
            if out_mask is not None:
                out = np.where(out_mask, out, xi)
            out_mask = np.logical_or(out_mask, mb) if (mb is not None and out_mask is not None) else None
            out = type(self).op(out, xi)
        return out.astype(F, copy=False)


class MaximumLayer(_MaskedExtremum):
    op = np.maximum


class MinimumLayer(_MaskedExtremum):
    op = np.minimum


class ConcatenateLayer(MergeLayer):
    OPTIONS = {"axis": lambda v: isinstance(v, int) and not isinstance(v, bool)}
    OPTIONS_DOC = "axis; masks concatenated then OR-ed over the last axis"

    def check_input(self, input_shape):
        super().check_input(input_shape)
        rank = len(input_shape[0])
        axis = self.config.get("axis", -1) % rank
        if axis == 0 or any(len(s) != rank for s in input_shape):
            raise ModelFileError(f"{self.where()}: cannot concatenate shapes {input_shape} on axis {axis}")

    def output_shape(self, input_shape):
        axis = self.config.get("axis", -1) % len(input_shape[0])
        dims = [s[axis] for s in input_shape]
        out = list(input_shape[0])
        out[axis] = None if None in dims else sum(dims)
        return tuple(out)

    def call(self, x, mask=None):
        return np.concatenate(x, axis=self.config.get("axis", -1))

    def compute_mask(self, x, mask):
        if mask is None or all(m is None for m in mask):
            return None
        full = []
        for xi, m in zip(x, mask):
            if m is None:
                full.append(np.ones(xi.shape, bool))
            elif m.ndim < xi.ndim:
                full.append(np.broadcast_to(m[..., None], xi.shape))
            else:
                full.append(m)
        return np.any(np.concatenate(full, axis=self.config.get("axis", -1)), axis=-1)


def _normalize(x, axis):
    inv = F(1) / np.sqrt(np.sum(x * x, axis=axis, keepdims=True))
    return x * np.minimum(inv, F(1e7))


class DotLayer(MergeLayer):
    """Batch-wise dot product of two tensors (rank 2 or 3) over ``axes``, optionally L2-normalized first."""

    OPTIONS = {"axes": lambda v: isinstance(v, int) or (isinstance(v, (list, tuple)) and len(v) == 2),
               "normalize": lambda v: isinstance(v, bool)}
    OPTIONS_DOC = "axes, normalize (inputs of rank 2 or 3)"

    def _axes(self, input_shape):
        axes = self.config["axes"]
        axes = [axes, axes] if isinstance(axes, int) else list(axes)
        return [a % len(s) for a, s in zip(axes, input_shape)]

    def check_input(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) != 2:
            raise ModelFileError(f"{self.where()}: Dot needs exactly 2 inputs")
        ranks = {len(s) for s in input_shape}
        if not ranks <= {2, 3} or len(ranks) != 1:
            raise ModelFileError(f"{self.where()}: Dot supports two inputs of rank 2 or two of rank 3, got {input_shape}")
        a0, a1 = self._axes(input_shape)
        if 0 in (a0, a1):
            raise ModelFileError(f"{self.where()}: cannot take a dot product over the batch axis")

    def output_shape(self, input_shape):
        s0, s1 = input_shape
        a0, a1 = self._axes(input_shape)
        if len(s0) == 2:
            return (s0[0], 1)
        return (s0[0], *[d for i, d in enumerate(s0) if i not in (0, a0)],
                *[d for i, d in enumerate(s1) if i not in (0, a1)])

    def compute_mask(self, x, mask):
        return None

    def call(self, x, mask=None):
        a, b = x
        a0, a1 = self._axes([a.shape, b.shape])
        if self.config.get("normalize", False):
            a, b = _normalize(a, a0), _normalize(b, a1)
        if a.ndim == 2:
            return np.sum(a * b, axis=1, keepdims=True)
        return np.matmul(np.moveaxis(a, a0, -1), np.moveaxis(b, a1, 1))  # (b, p, k) @ (b, k, q)
