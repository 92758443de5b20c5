"""2-D and 3-D pooling and reshaping on (batch, *spatial, channels) (channels_last): Max/AveragePooling2D/3D,
GlobalMax/GlobalAveragePooling2D/3D, ZeroPadding2D/3D, Cropping2D/3D, UpSampling2D (nearest, bilinear) and 3D.

As TensorFlow's CPU kernels: max pooling skips NaN and starts at the lowest float32 (like MaxPooling1D); average
pooling with "same" averages only the real (unpadded) positions; bilinear upsampling uses half-pixel centers
(tf.image.resize). Global pooling reduces (NaN propagates).
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelFileError, UnsupportedOptionError
from .base import anything, boolean
from .spatial import CHANNELS_LAST, SpatialLayer, ints, ints_ok, out_len, windows

F = np.float32


class _Pooling(SpatialLayer):
    OPTIONS = {"pool_size": anything, "strides": anything, "padding": ("valid", "same"), "data_format": CHANNELS_LAST}
    OPTIONS_DOC = "pool_size, strides, padding valid/same"

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        c, n = self.config, self.RANK
        for key in ("pool_size", "strides"):
            if c.get(key) is not None and not ints_ok(n)(c[key]):
                raise UnsupportedOptionError(f"{self.where()}: {key}={c[key]!r} should be {n} positive ints")
        self.ks = ints(c.get("pool_size", 2), n)
        self.strides = self.ks if c.get("strides") is None else ints(c["strides"], n)
        self.padding = c.get("padding", "valid")

    def output_shape(self, input_shape):
        spatial = [out_len(d, k, s, 1, self.padding) for d, k, s in zip(input_shape[1:-1], self.ks, self.strides)]
        return (input_shape[0], *spatial, input_shape[-1])

    def _windows(self, x, fill=F(0)):
        return windows(x, self.ks, self.strides, (1,) * self.RANK, self.padding, fill)  # (b, *out, *ks, c)

    def _window_axes(self) -> tuple[int, ...]:
        return tuple(range(1 + self.RANK, 1 + 2 * self.RANK))


class _MaxPooling(_Pooling):
    def call(self, x, mask=None):
        win = self._windows(x, fill=F(np.nan))
        with np.errstate(invalid="ignore"):
            return np.fmax(np.fmax.reduce(win, axis=self._window_axes()), F(np.finfo(F).min))


class _AveragePooling(_Pooling):
    def call(self, x, mask=None):
        axes = self._window_axes()
        win = self._windows(x)
        if self.padding == "valid":
            return win.mean(axis=axes, dtype=F)
        ones = self._windows(np.ones((1, *x.shape[1:-1], 1), F))  # real positions per window
        return (win.sum(axis=axes, dtype=F) / ones.sum(axis=axes, dtype=F)).astype(F, copy=False)


class MaxPooling2DLayer(_MaxPooling):
    RANK = 2


class MaxPooling3DLayer(_MaxPooling):
    RANK = 3


class AveragePooling2DLayer(_AveragePooling):
    RANK = 2


class AveragePooling3DLayer(_AveragePooling):
    RANK = 3


class _GlobalPooling(SpatialLayer):
    OPTIONS = {"data_format": CHANNELS_LAST, "keepdims": boolean}
    OPTIONS_DOC = "keepdims"

    def output_shape(self, input_shape):
        if self.config.get("keepdims", False):
            return (input_shape[0], *(1,) * self.RANK, input_shape[-1])
        return (input_shape[0], input_shape[-1])

    def call(self, x, mask=None):
        axes = tuple(range(1, 1 + self.RANK))
        keep = self.config.get("keepdims", False)
        return (x.max(axis=axes, keepdims=keep) if self.REDUCE == "max"
                else x.mean(axis=axes, keepdims=keep, dtype=F))


class GlobalMaxPooling2DLayer(_GlobalPooling):
    RANK, REDUCE = 2, "max"


class GlobalMaxPooling3DLayer(_GlobalPooling):
    RANK, REDUCE = 3, "max"


class GlobalAveragePooling2DLayer(_GlobalPooling):
    RANK, REDUCE = 2, "mean"


class GlobalAveragePooling3DLayer(_GlobalPooling):
    RANK, REDUCE = 3, "mean"


def _amounts(value, rank: int, where: str) -> list[tuple[int, int]]:
    """padding / cropping: an int, one int per axis, or a (before, after) pair per axis."""
    items = value if isinstance(value, (list, tuple)) else [value]
    if len(items) == 1:
        items = items * rank
    out = [(v, v) if isinstance(v, int) else tuple(v) for v in items]
    if len(out) != rank or not all(len(p) == 2 and all(isinstance(e, int) and e >= 0 for e in p) for p in out):
        raise UnsupportedOptionError(f"{where}: {value!r} should give {rank} (before, after) pairs of ints >= 0")
    return out


class _ZeroPadding(SpatialLayer):
    OPTIONS = {"padding": anything, "data_format": CHANNELS_LAST}
    OPTIONS_DOC = "padding int, per axis, or (before, after) per axis"

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        self.pads = _amounts(self.config.get("padding", 1), self.RANK, self.where())

    def output_shape(self, input_shape):
        spatial = [None if d is None else d + a + b for d, (a, b) in zip(input_shape[1:-1], self.pads)]
        return (input_shape[0], *spatial, input_shape[-1])

    def call(self, x, mask=None):
        return np.pad(x, [(0, 0), *self.pads, (0, 0)])


class _Cropping(SpatialLayer):
    OPTIONS = {"cropping": anything, "data_format": CHANNELS_LAST}
    OPTIONS_DOC = "cropping int, per axis, or (start, end) per axis"

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        self.crops = _amounts(self.config.get("cropping", 1), self.RANK, self.where())

    def check_input(self, input_shape):
        super().check_input(input_shape)
        for d, (a, b) in zip(input_shape[1:-1], self.crops):
            if d is not None and a + b >= d:
                raise ModelFileError(f"{self.where()}: cropping {self.crops} leaves nothing of inputs {input_shape}")

    def output_shape(self, input_shape):
        spatial = [None if d is None else d - a - b for d, (a, b) in zip(input_shape[1:-1], self.crops)]
        return (input_shape[0], *spatial, input_shape[-1])

    def call(self, x, mask=None):
        return x[(slice(None), *(slice(a, d - b) for d, (a, b) in zip(x.shape[1:-1], self.crops)), slice(None))]


class _UpSampling(SpatialLayer):
    OPTIONS = {"size": anything, "data_format": CHANNELS_LAST, "interpolation": ("nearest",)}
    OPTIONS_DOC = "size (each position repeated)"

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        if not ints_ok(self.RANK)(self.config.get("size", 2)):
            raise UnsupportedOptionError(f"{self.where()}: size={self.config.get('size')!r} should be "
                                         f"{self.RANK} positive ints")
        self.size = ints(self.config.get("size", 2), self.RANK)

    def output_shape(self, input_shape):
        spatial = [None if d is None else d * s for d, s in zip(input_shape[1:-1], self.size)]
        return (input_shape[0], *spatial, input_shape[-1])

    def call(self, x, mask=None):
        if self.config.get("interpolation", "nearest") == "bilinear":
            return _bilinear(_bilinear(x, 2, self.size[1]), 1, self.size[0])  # TF: along the width first
        for axis, s in enumerate(self.size, start=1):
            x = np.repeat(x, s, axis=axis)
        return x


def _bilinear(x, axis: int, scale: int):
    """Upsample one axis by an integer ``scale`` like tf.image.resize(bilinear, half-pixel centers)."""
    n = x.shape[axis]
    src = (np.arange(n * scale, dtype=F) + F(0.5)) * F(1 / scale) - F(0.5)  # TF's compute_interpolation_weights
    floor = np.floor(src)
    lo = np.maximum(floor, 0).astype(np.int64)
    hi = np.minimum(np.ceil(src), n - 1).astype(np.int64)  # == lo where src is whole: no neighbour is read
    frac = (src - floor).astype(F)
    shape = [1] * x.ndim
    shape[axis] = -1
    a, b = np.take(x, lo, axis=axis), np.take(x, hi, axis=axis)
    return (a + (b - a) * frac.reshape(shape)).astype(F, copy=False)


class ZeroPadding2DLayer(_ZeroPadding):
    RANK = 2


class ZeroPadding3DLayer(_ZeroPadding):
    RANK = 3


class Cropping2DLayer(_Cropping):
    RANK = 2


class Cropping3DLayer(_Cropping):
    RANK = 3


class UpSampling2DLayer(_UpSampling):
    RANK = 2
    OPTIONS = {**_UpSampling.OPTIONS, "interpolation": ("nearest", "bilinear")}
    OPTIONS_DOC = "size, interpolation nearest/bilinear"


class UpSampling3DLayer(_UpSampling):
    RANK = 3
    OPTIONS = {k: v for k, v in _UpSampling.OPTIONS.items() if k != "interpolation"}
