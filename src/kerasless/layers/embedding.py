"""Embedding: token ids (any numeric dtype, truncated to int like Keras) -> rows of embeddings (vocab, dim).
With mask_zero=True, id 0 masks its step."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .base import Layer, anything, boolean, positive_int
from .layout import EMBEDDING_ARRAYS, EMBEDDING_EQUATIONS


class EmbeddingLayer(Layer):
    OPTIONS = {"input_dim": positive_int, "output_dim": positive_int, "mask_zero": boolean, "sparse": (False,),
               "embeddings_initializer": anything}
    ARRAYS, EQUATIONS = EMBEDDING_ARRAYS, EMBEDDING_EQUATIONS

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        self.mask_zero = self.config.get("mask_zero", False)
        self.expect_weights([(self.config.get("input_dim"), self.config.get("output_dim"))])

    @classmethod
    def n_weights(cls, config):
        return 1

    def explain_text(self, inner):
        vocab, dim = self.weights[0].shape
        return f"{vocab} token ids -> {dim} numbers" + (", id 0 masks its step" if self.mask_zero else ""), []

    def output_shape(self, input_shape):
        return (*input_shape, self.weights[0].shape[1])

    def ids(self, x) -> np.ndarray:
        if not np.all(np.isfinite(x)):
            raise InputError(f"{self.where()}: token ids must be finite numbers")
        ids = x.astype(np.int64)
        vocab = self.weights[0].shape[0]
        if ids.size and (ids.min() < 0 or ids.max() >= vocab):
            raise InputError(f"{self.where()}: token ids must be in [0, {vocab}), got {ids.min()}..{ids.max()}")
        return ids

    def call(self, x, mask=None):
        return self.weights[0][self.ids(x)]  # (*x.shape, dim)

    def compute_mask(self, x, mask):
        return (np.asarray(x) != 0) if self.mask_zero else None
