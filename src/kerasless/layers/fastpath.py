"""Fast paths for recurrent.run and streaming: the native C loop (kerasless/native), or fused NumPy loops.

Each recurrent layer's setup() attaches ``params.fast`` (a :class:`FastCell`); the layer tries :func:`run_native`
(raw inputs, C projects per step), run() tries :func:`run_fast`, and both fall back to the readable step loop when
they return None (activations without a fast form, NumPy backend for cells without a fused loop). ``record``
(trace) is fed from the fast path's own numbers, so trace == predict bit for bit.
Results agree with the step loop within ~1e-7 per step (tests/test_fastpath.py).

NumPy trick: sigmoid(x) = tanh(x/2)/2 + 1/2, so with the sigmoid-gate columns of U (and of xp) pre-scaled by 1/2,
one tanh over all gate columns plus one affine (gain, offset) gives every gate: ~10 ufunc calls an LSTM step.
"""

from __future__ import annotations

import numpy as np

from .. import native
from .base import keep_masked
from .layout import GRU, LSTM

LAYOUTS = {"lstm": LSTM, "gru": GRU}  # the cells with a fused NumPy loop (sigmoid/tanh)

F = np.float32
NATIVE_ACTS = ("linear", "tanh", "sigmoid", "hard_sigmoid", "hard_sigmoid_k2", "relu")


class FastCell:
    """A recurrent cell's arrays and activations as the fast paths want them (a plain class: see io/spec.py)."""

    def __init__(self, kind: str, units: int, act: str, ract: str | None, U, U2=None, rb=None, W=None, bx=None):
        self.kind = kind  # lstm | gru (reset_after) | gru_v1 (reset_before) | simple_rnn
        self.units, self.act, self.ract = units, act, ract
        self.U = U  # (u, G) contiguous; gru_v1: U_zr (u, 2u)
        self.U2 = U2  # gru_v1: U_h (u, u)
        self.rb = rb  # gru: recurrent bias (G,)
        self.W = W  # (features, G) input kernel: the native loop projects each step itself
        self.bx = bx  # (G,) input bias
        self.numpy_ok = False  # a fused NumPy loop applies (sigmoid/tanh LSTM, reset_after GRU)
        self.packed = None  # the native kernel's panel layout of W, U, U2 and job templates (first use)
        self.native_ok = self.act in NATIVE_ACTS and (self.ract is None or self.ract in NATIVE_ACTS)
        # one-hot rows may skip their zeros exactly only when 0*w == 0 for every weight
        self.sparse_ok = self.W is not None and bool(np.isfinite(self.W).all())
        if self.kind in ("lstm", "gru") and self.act == "tanh" and self.ract == "sigmoid":
            self.numpy_ok = True
            layout = LAYOUTS[self.kind]
            self.blocks = layout.blocks(units)  # gate key -> columns
            # sigmoid(x) = tanh(x/2)/2 + 1/2: 1/2 on the recurrent_activation gates' columns, 1 on the others
            s = np.concatenate([np.full(units, F(0.5) if g.act == "ra" else F(1), F) for g in layout.gates])
            self.scale = s  # (G,)
            self.U_scaled = np.ascontiguousarray(self.U * s)
            self.gain = s.copy()  # tanh -> gate: t*gain + offset
            self.offset = np.where(s == F(0.5), F(0.5), F(0)).astype(F)
            self.rb_scaled = None if self.rb is None else self.rb * s


def cell(kind, units, act, ract, U, U2=None, rb=None, W=None, bx=None) -> FastCell:
    arrays = [None if a is None else np.ascontiguousarray(a, F) for a in (U, U2, rb, W, bx)]
    return FastCell(kind, units, act, ract, *arrays)


def run_native(fast, x, states, mask, go_backwards, return_sequences, zero_output_for_mask, record=None):
    """Like run_fast on the raw inputs x (batch, time, features): the C loop projects each step itself (no
    (batch, time, G) intermediate; one-hot rows cost one kernel row). None without the native backend."""
    if fast is not None and fast.native_ok and fast.W is not None and native.backend() == "native":
        return native.rnn_run(fast, x, states, mask, go_backwards, return_sequences, zero_output_for_mask, record)
    return None


def run_fast(fast, xp, states, mask, go_backwards, return_sequences, zero_output_for_mask, record=None):
    """(output, final_states) like recurrent.run on projected inputs xp, or None when no fast path applies.
    ``record`` sees the same numbers the fast path computes (trace == predict, bit for bit)."""
    if fast.native_ok and native.backend() == "native":
        out = native.rnn_run(fast, xp, states, mask, go_backwards, return_sequences, zero_output_for_mask, record,
                             projected=True)
        if out is not None:
            return out
    if fast.numpy_ok:
        loop = _lstm_numpy if fast.kind == "lstm" else _gru_numpy
        return loop(fast, xp, states, mask, go_backwards, return_sequences, zero_output_for_mask, record)
    return None


def dense_fast(x, W, b, act="linear"):
    """act(x (..., K) @ W + b) in C with the native backend (OpenBLAS's spinning thread pool costs more than the
    product at these sizes, and much more on a busy machine); None otherwise."""
    if native.backend() == "native" and x.dtype == F:
        return native.dense(x, W, b, act)
    return None


def dense_stepper(W, b, act, batch, x_buffer=None):
    """A native Dense runner for streaming (native.DenseStep: .call(x)), or None (NumPy backend, no kernel)."""
    if native.backend() == "native":
        return native.dense_step(W, b, act, batch, x_buffer)
    return None


def stepper(fast, batch, zero_output_for_mask=False):
    """A native one-step runner for streaming (native.Stepper), or None (NumPy backend, no kernel)."""
    if fast.native_ok and native.backend() == "native":
        return native.stepper(fast, batch, zero_output_for_mask)
    return None


def fast_step(fast, xp_t, states, prev, keep, zero_output_for_mask):
    """(y, states) of one step in fused NumPy for sigmoid/tanh LSTM; None otherwise."""
    if fast.numpy_ok and fast.kind == "lstm":
        h, c = states
        z = np.matmul(h, fast.U_scaled)  # (batch, 4u)
        z += xp_t * fast.scale
        np.tanh(z, out=z)
        z *= fast.gain
        z += fast.offset
        b = fast.blocks
        c = z[:, b["f"]] * c
        c += z[:, b["i"]] * z[:, b["c"]]
        h = np.tanh(c)
        h *= z[:, b["o"]]
        if keep is not None and not keep.all():
            return keep_masked(keep, h, (h, c), prev, states, zero_output_for_mask)
        return h, (h, c)
    return None


def _lstm_numpy(fast, xp, states, mask, go_backwards, return_sequences, zero_output_for_mask, record):
    B, T, G = xp.shape
    u, b = fast.units, fast.blocks
    xs = np.empty((T, B, G), F)  # time-major, scaled: contiguous per-step slices
    np.multiply(xp.transpose(1, 0, 2), fast.scale, out=xs)
    h = np.array(states[0], F, copy=True)
    c = np.array(states[1], F, copy=True)
    z = np.empty((B, G), F)
    i, f, g, o = z[:, b["i"]], z[:, b["f"]], z[:, b["c"]], z[:, b["o"]]  # (B, u) views
    tmp = np.empty((B, u), F)
    Us, gain, offset = fast.U_scaled, fast.gain, fast.offset
    outputs = np.empty((B, T, u), F) if return_sequences else None
    prev = np.zeros((B, u), F) if mask is not None else None
    matmul, tanh, multiply = np.matmul, np.tanh, np.multiply
    for k in range(T):
        t = T - 1 - k if go_backwards else k
        matmul(h, Us, out=z)
        z += xs[t]
        tanh(z, out=z)
        z *= gain
        z += offset
        keep = None if mask is None else mask[:, t]
        if keep is None or keep.all():
            c *= f
            multiply(i, g, out=tmp)
            c += tmp
            tanh(c, out=tmp)
            multiply(o, tmp, out=h)
            y = h
        else:
            cn = f * c + i * g
            hn = o * np.tanh(cn)
            y, (h, c) = keep_masked(keep, hn, (hn, cn), prev, (h, c), zero_output_for_mask)
        if prev is not None:
            prev = y.copy() if y is h else y
        if outputs is not None:
            outputs[:, k] = y
        if record is not None:
            record(k, {"i": i, "f": f, "g": g, "o": o}, (h, c))
    last = prev if prev is not None else h
    return (outputs if return_sequences else last.copy() if last is h else last), (h, c)


def _gru_numpy(fast, xp, states, mask, go_backwards, return_sequences, zero_output_for_mask, record):
    """GRU (reset_after, sigmoid/tanh): z, r = tanh(x/2)/2 + 1/2 over one contiguous block; h' = hh + z*(h - hh)."""
    B, T, G = xp.shape
    u, b = fast.units, fast.blocks
    zr_cols = slice(b["z"].start, b["r"].stop)  # Keras's order puts z and r side by side: one add, one tanh
    assert b["z"].stop == b["r"].start and zr_cols.stop - zr_cols.start == 2 * u
    xs = np.empty((T, B, G), F)
    np.multiply(xp.transpose(1, 0, 2), fast.scale, out=xs)
    h = np.array(states[0], F, copy=True)
    hu = np.empty((B, G), F)
    zr = np.empty((B, 2 * u), F)
    z, r = zr[:, :u], zr[:, u:]  # (B, u) views, in the order of zr_cols
    hh = np.empty((B, u), F)
    Us, rbs = fast.U_scaled, fast.rb_scaled
    outputs = np.empty((B, T, u), F) if return_sequences else None
    prev = np.zeros((B, u), F) if mask is not None else None
    matmul, tanh, multiply, add = np.matmul, np.tanh, np.multiply, np.add
    half = F(0.5)
    for k in range(T):
        t = T - 1 - k if go_backwards else k
        x = xs[t]
        matmul(h, Us, out=hu)
        if rbs is not None:
            hu += rbs
        add(x[:, zr_cols], hu[:, zr_cols], out=zr)
        tanh(zr, out=zr)
        zr *= half
        zr += half
        multiply(r, hu[:, b["h"]], out=hh)
        hh += x[:, b["h"]]
        tanh(hh, out=hh)
        keep = None if mask is None else mask[:, t]
        if keep is None or keep.all():
            h -= hh
            h *= z
            h += hh
            y = h
        else:
            hn = hh + z * (h - hh)
            y, (h,) = keep_masked(keep, hn, (hn,), prev, (h,), zero_output_for_mask)
        if prev is not None:
            prev = y.copy() if y is h else y
        if outputs is not None:
            outputs[:, k] = y
        if record is not None:
            record(k, {"z": z, "r": r, "hh": hh}, (h,))
    last = prev if prev is not None else h
    return (outputs if return_sequences else last.copy() if last is h else last), (h,)
