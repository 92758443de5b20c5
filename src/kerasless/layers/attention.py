"""Attention layers (keras/src/layers/attention/): Attention (Luong), AdditiveAttention (Bahdanau), MultiHeadAttention.

Attention([query, value(, key)]): scores = q·kᵀ (* scale) (score_mode "dot") or
concat_score_weight * Σ tanh(scale * (q + k)) ("concat"); masked value steps (and, with use_causal_mask, future
steps) get -1e9 before the softmax; output = softmax(scores)·v, zeroed at masked query steps.
AdditiveAttention: scores = Σ scale * tanh(q + k). Dropout is inert at inference.
MultiHeadAttention (attention_axes default only): per head q = x_q·Wq + bq (then * 1/sqrt(key_dim)), k, v likewise;
probs = softmax(q·kᵀ) with the query/value/key/causal masks; output = Σ_heads (probs·v)·Wo + bo.
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelFileError, UnsupportedOptionError
from .base import Layer, anything, boolean, positive_int

F = np.float32
BIG = F(1e9)


def _softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _causal(tq, tv):
    return np.tril(np.ones((tq, tv), bool))  # row i sees columns <= i


class AttentionLayer(Layer):
    OPTIONS = {"use_scale": boolean, "score_mode": ("dot", "concat"), "dropout": anything, "causal": (False,)}
    OPTIONS_DOC = "use_scale, score_mode dot/concat, use_causal_mask; query/value masks"
    LIST_INPUT = True
    CALL_KWARGS = frozenset({"training", "mask", "use_causal_mask", "return_attention_scores"})

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        self.use_scale = self.config.get("use_scale", False)
        self.concat = self.config.get("score_mode", "dot") == "concat"
        if len(self.weights) != self.n_weights(self.config) or any(w.size != 1 for w in self.weights):
            self.expect_weights([()] * self.n_weights(self.config))
        self.weights = [w.reshape(()) for w in self.weights]

    @classmethod
    def n_weights(cls, config):
        return int(config.get("use_scale", False)) + int(config.get("score_mode", "dot") == "concat")

    def check_call_kwargs(self, kwargs):
        super().check_call_kwargs(kwargs)
        if kwargs.get("return_attention_scores"):
            raise UnsupportedOptionError(f"{self.where()}: return_attention_scores=True is not supported")

    def check_input(self, input_shape, **kw):
        if not isinstance(input_shape, list) or len(input_shape) not in (2, 3):
            raise ModelFileError(f"{self.where()}: expects [query, value] or [query, value, key]")

    def output_shape(self, input_shape, **kw):
        q, v = input_shape[0], input_shape[1]
        return (*q[:-1], v[-1])

    def compute_mask(self, x, mask):
        return None if mask is None else mask[0]

    def scores(self, q, k):
        if self.concat:
            s = q[:, :, None, :] + k[:, None, :, :]
            if self.use_scale:
                s = self.weights[0] * s
            return self.weights[-1] * np.tanh(s).sum(axis=-1)
        s = np.matmul(q, np.swapaxes(k, -1, -2))
        return s * self.weights[0] if self.use_scale else s

    def call(self, x, mask=None, use_causal_mask=False, return_attention_scores=False):
        q, v = x[0], x[1]
        k = x[2] if len(x) > 2 else v
        q_mask, v_mask = (mask[0], mask[1]) if mask is not None else (None, None)
        s = self.scores(q, k).astype(F, copy=False)  # (b, Tq, Tv)
        keep = None if v_mask is None else np.asarray(v_mask, bool)[:, None, :]
        if use_causal_mask:
            c = _causal(s.shape[1], s.shape[2])[None]
            keep = c if keep is None else keep & c
        if keep is not None:
            s = np.where(keep, s, s - BIG)
        y = np.matmul(_softmax(s), v).astype(F, copy=False)
        if q_mask is not None:
            y = np.where(np.asarray(q_mask, bool)[..., None], y, F(0))
        return y


class AdditiveAttentionLayer(AttentionLayer):
    OPTIONS = {"use_scale": boolean, "dropout": anything, "causal": (False,)}
    OPTIONS_DOC = "use_scale; query/value masks, use_causal_mask"

    def __init__(self, spec, ctx):
        Layer.__init__(self, spec, ctx)
        self.use_scale = self.config.get("use_scale", True)
        self.expect_weights([(None,)] * self.n_weights(self.config))

    @classmethod
    def n_weights(cls, config):
        return int(config.get("use_scale", True))

    def scores(self, q, k):
        s = np.tanh(q[:, :, None, :] + k[:, None, :, :])
        if self.use_scale:
            s = self.weights[0] * s
        return s.sum(axis=-1)


class MultiHeadAttentionLayer(Layer):
    OPTIONS = {"num_heads": positive_int, "key_dim": positive_int, "value_dim": lambda v: v is None or positive_int(v),
               "dropout": anything, "use_bias": boolean, "output_shape": lambda v: v is None or isinstance(v, (int, list, tuple)),
               "attention_axes": lambda v: v in (None, [1], (1,), 1), "flash_attention": anything, "query_shape": anything, "key_shape": anything,
               "value_shape": anything, "seed": anything, "use_gate": (False,), "sliding_window": (None,), "softmax_robust_masking": (False,)}
    OPTIONS_DOC = "num_heads, key_dim, value_dim, output_shape, use_bias, use_causal_mask; query/value/key masks"
    CALL_KWARGS = frozenset({"training", "mask", "value", "key", "query_mask", "value_mask", "key_mask",
                             "attention_mask", "use_causal_mask", "return_attention_scores"})

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        c = self.config
        self.heads, self.kd = c["num_heads"], c["key_dim"]
        self.vd = c.get("value_dim") or self.kd
        self.use_bias = c.get("use_bias", True)
        b = self.use_bias
        shapes = []
        for d in (self.kd, self.kd, self.vd):
            shapes += [(None, self.heads, d)] + ([(self.heads, d)] if b else [])
        shapes += [(self.heads, self.vd, None)] + ([(None,)] if b else [])
        self.expect_weights(shapes)
        ws = list(self.weights)
        take = lambda: (ws.pop(0), ws.pop(0) if b else None)  # noqa: E731
        self.q, self.k, self.v, self.o = take(), take(), take(), take()
        self.dropout = float(c.get("dropout", 0.0) or 0.0)
        out = c.get("output_shape")
        if out is not None and (isinstance(out, int) and out != self.o[0].shape[-1]
                                or isinstance(out, (list, tuple)) and len(out) != 1):
            raise UnsupportedOptionError(f"{self.where()}: output_shape={out!r} is not supported (one last-axis size)")

    @classmethod
    def n_weights(cls, config):
        return 8 if config.get("use_bias", True) else 4

    def check_call_kwargs(self, kwargs):
        super().check_call_kwargs(kwargs)
        if kwargs.get("return_attention_scores"):
            raise UnsupportedOptionError(f"{self.where()}: return_attention_scores=True is not supported")

    def _split(self, x, value=None, key=None, mask=None):
        if isinstance(x, list):  # Keras 3: positional (query, value[, key])
            q, v = x[0], x[1]
            k = x[2] if len(x) > 2 else key
            masks = list(mask) if isinstance(mask, list) else [mask, None, None]
        else:
            q, v, k, masks = x, value, key, [mask, None, None]
        masks += [None] * (3 - len(masks))
        return q, v, (v if k is None else k), masks

    def check_input(self, input_shape, value=None, key=None, **kw):
        q, v, k, _ = self._split(input_shape, value, key)
        if v is None:
            raise ModelFileError(f"{self.where()}: the call has no value tensor")
        if len(q) != 3 or len(v) != 3:
            raise ModelFileError(f"{self.where()}: supports (batch, steps, features) query and value only")

    def output_shape(self, input_shape, value=None, key=None, **kw):
        q = input_shape[0] if isinstance(input_shape, list) else input_shape
        return (*q[:-1], self.o[0].shape[-1])

    def compute_mask(self, x, mask):
        return mask[0] if isinstance(mask, list) else mask

    @staticmethod
    def _proj(x, wb):
        w, b = wb
        y = np.einsum("btd,dhk->bthk", x, w)
        return y + b if b is not None else y

    def call(self, x, mask=None, value=None, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, use_causal_mask=False, return_attention_scores=False):
        q, v, k, masks = self._split(x, value, key, mask)
        query_mask = masks[0] if query_mask is None else query_mask
        value_mask = masks[1] if value_mask is None else value_mask
        key_mask = masks[2] if key_mask is None else key_mask
        Q = self._proj(q, self.q) * F(1.0 / np.sqrt(float(self.kd)))  # (b, Tq, h, kd)
        K, V = self._proj(k, self.k), self._proj(v, self.v)
        s = np.einsum("bqhd,bkhd->bhqk", Q, K).astype(F, copy=False)
        keep = None
        if query_mask is not None:
            keep = np.asarray(query_mask, bool)[:, :, None]
        for m in (value_mask, key_mask):
            if m is not None:
                m = np.asarray(m, bool)[:, None, :]
                keep = m if keep is None else keep & m
        if use_causal_mask:
            c = _causal(s.shape[2], s.shape[3])[None]
            keep = c if keep is None else keep & c
        if attention_mask is not None:
            a = np.asarray(attention_mask) > 0.5
            keep = a if keep is None else keep & a
        if keep is not None:
            keep = np.broadcast_to(keep, (s.shape[0], s.shape[2], s.shape[3]))[:, None]
            s = np.where(keep, s, F(-BIG))
        p = _softmax(s)
        if keep is not None and self.ctx.keras_major >= 3 and self.dropout > 0:
            p = np.where(keep, p, F(0))  # Keras 3's masked-softmax path (taken when dropout > 0)
        o = np.einsum("bhqk,bkhd->bqhd", p, V)
        y = np.einsum("bqhd,hdo->bqo", o, self.o[0])
        if self.o[1] is not None:
            y = y + self.o[1]
        return y.astype(F, copy=False)
