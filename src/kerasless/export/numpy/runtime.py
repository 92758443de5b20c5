"""Hand-written NumPy kernels; the numpy target copies the ones a model uses into the generated script.

Rules for this file: every top-level function may use only ``np``, ``F``, ``math`` and other top-level functions of
this file; ``#@block NAME [needs A B]`` markers (the ones of c/runtime.c, js/runtime.js, java/Runtime.java) say which
block holds what and what it needs: kernels by kernel name, activations as ``act_<name>``. Everything is float32, formula for formula the
same as kerasless/layers (activations.py, recurrent.py, lstm.py, gru.py, simple_rnn.py).
"""

from __future__ import annotations

import math

import numpy as np

F = np.float32


# -- activations (applied to the last axis) -------------------------------------------------------------------
#@block act_linear
def linear(x):
    return x


#@block act_tanh
def tanh(x):
    return np.tanh(x)


#@block act_sigmoid
def sigmoid(x):
    e = np.exp(-np.abs(x))  # split by sign so exp never overflows
    return np.where(x >= 0, F(1) / (F(1) + e), e / (F(1) + e)).astype(F)


#@block act_hard_sigmoid
def hard_sigmoid(x):  # Keras 3
    return np.clip(x / F(6) + F(0.5), F(0), F(1))


#@block act_hard_sigmoid_k2
def hard_sigmoid_k2(x):  # Keras <= 2 and tf_keras
    return np.clip(F(0.2) * x + F(0.5), F(0), F(1))


#@block act_relu
def relu(x):
    return np.maximum(x, F(0))


#@block act_relu6
def relu6(x):
    return np.minimum(np.maximum(x, F(0)), F(6))


#@block act_leaky_relu
def leaky_relu(x):
    return np.maximum(x, F(0.2) * x)


#@block act_elu
def elu(x, alpha=1.0):
    alpha = F(alpha)
    return np.where(x >= 0, x, alpha * np.expm1(np.minimum(x, F(0))))


#@block act_selu needs act_elu
def selu(x):
    return F(1.050701) * elu(x, F(1.6732632))


#@block act_celu
def celu(x):
    return np.maximum(x, F(0)) + np.expm1(np.minimum(x, F(0)))


#@block act_softplus
def softplus(x):
    return np.logaddexp(x, F(0)).astype(F)


#@block act_softsign
def softsign(x):
    return x / (F(1) + np.abs(x))


#@block act_silu needs act_sigmoid
def silu(x):
    return x * sigmoid(x)


#@block act_hard_silu needs act_hard_sigmoid
def hard_silu(x):
    return x * hard_sigmoid(x)


#@block act_gelu
def gelu(x):  # exact: 0.5 * x * (1 + erf(x / sqrt(2))), erf in float64
    erf = np.frompyfunc(math.erf, 1, 1)(x.astype(np.float64) / math.sqrt(2)).astype(F)
    return (x * (erf + F(1)) / F(2)).astype(F)


#@block act_exponential
def exponential(x):
    return np.exp(x)


#@block act_mish needs act_softplus
def mish(x):
    return x * np.tanh(softplus(x))


#@block act_log_sigmoid needs act_softplus
def log_sigmoid(x):
    return -softplus(-x)


#@block act_hard_tanh
def hard_tanh(x):
    return np.clip(x, F(-1), F(1))


#@block act_tanh_shrink
def tanh_shrink(x):
    return x - np.tanh(x)


#@block act_soft_shrink
def soft_shrink(x):
    return np.where(x > F(0.5), x - F(0.5), np.where(x < F(-0.5), x + F(0.5), F(0))).astype(F)


#@block act_hard_shrink
def hard_shrink(x):
    return np.where(np.abs(x) > F(0.5), x, F(0)).astype(F)


#@block act_squareplus
def squareplus(x):
    return (x + np.sqrt(x * x + F(4))) / F(2)


#@block act_sparse_plus
def sparse_plus(x):
    return np.where(x <= -1, F(0), np.where(x < 1, F(0.25) * (x + F(1)) ** 2, x)).astype(F)


#@block act_sparse_sigmoid
def sparse_sigmoid(x):
    return np.clip(F(0.5) * (x + F(1)), F(0), F(1))


#@block act_softmax
def softmax(x):
    """tf.nn.softmax, non-finite rule included: a NaN or +inf entry gives NaN there and 0 at the others."""
    bad = np.isnan(x) | (x == np.inf)
    with np.errstate(invalid="ignore"):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        y = e / e.sum(axis=-1, keepdims=True)
    return np.where(bad.any(axis=-1, keepdims=True), np.where(bad, np.float32(np.nan), np.float32(0)), y)


#@block act_log_softmax
def log_softmax(x):
    s = x - x.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


#@block act_sparsemax
def sparsemax(x):  # Keras's formula: tau sums the cumulative sums over the support
    z = -np.sort(-x, axis=-1)  # descending
    cum = np.cumsum(z, axis=-1)
    r = np.arange(1, x.shape[-1] + 1, dtype=F)
    support = z - (cum - F(1)) / r > 0
    k = support.sum(axis=-1, keepdims=True).astype(F)  # size of the support
    tau = (np.where(support, cum, F(0)).sum(axis=-1, keepdims=True) - F(1)) / k
    return np.maximum(x - tau, F(0))


#@block dense
def dense(x, W, b, activation):
    """y = activation(x·W + b) on the last axis. W: (in, units), b: (units,) or None."""
    y = x @ W
    if b is not None:
        y += b
    return activation(y)


#@block embedding
def embedding(ids, E):
    """Rows of E (vocab, dim) for token ids given as floats (truncated toward zero, like Keras)."""
    if not np.all(np.isfinite(ids)):
        raise ValueError("token ids must be finite numbers")
    i = ids.astype(np.int64)
    if i.size and (i.min() < 0 or i.max() >= E.shape[0]):
        raise ValueError(f"token ids must be in [0, {E.shape[0]}), got {i.min()}..{i.max()}")
    return E[i]


#@block rnn
def run_rnn(cell, xw, states, mask, go_backwards, return_sequences, zero_output_for_mask):
    """The recurrent loop shared by every cell (Keras semantics).

    xw: (batch, steps, gates*units) input projections x_t·W + b, precomputed for all steps.
    states: tuple of (batch, units) arrays. mask: (batch, steps) bool or None.
    At a masked step the states keep their values and the output repeats the previous output (zeros before the
    first valid step), or is zero when zero_output_for_mask. go_backwards consumes the steps from the end and
    returns the outputs in that processing order (i.e. reversed in time).
    Returns (outputs (batch, steps, units) if return_sequences else the last output (batch, units), states).
    """
    steps = xw.shape[1]
    prev = np.zeros_like(states[0])  # last output
    outputs = []
    for t in (range(steps - 1, -1, -1) if go_backwards else range(steps)):
        y, new = cell(xw[:, t], states)
        if mask is not None:
            keep = mask[:, t, None]  # (batch, 1)
            y = np.where(keep, y, F(0) if zero_output_for_mask else prev)
            new = tuple(np.where(keep, n, s) for n, s in zip(new, states))
        states, prev = new, y
        outputs.append(y)
    return (np.stack(outputs, axis=1) if return_sequences else prev), states


#@block lstm needs act_linear dense rnn
def lstm(x, W, U, b, activation, recurrent_activation, mask=None, go_backwards=False, return_sequences=False,
         zero_output_for_mask=False, initial_state=None):
    """Keras LSTM. W: (in, 4u), U: (u, 4u), b: (4u,) or None; column blocks i, f, c, o.

        z = x_t·W + b + h·U
        i = recurrent_activation(z_i)   input gate        f = recurrent_activation(z_f)   forget gate
        g = activation(z_c)             cell candidate    o = recurrent_activation(z_o)   output gate
        c' = f*c + i*g                  h' = o*activation(c')
    """
    u = U.shape[0]
    xw = dense(x, W, b, linear)  # (batch, steps, gates*units): every step's input projection at once

    def cell(xw_t, states):
        h, c = states
        z = xw_t + h @ U  # (batch, 4u)
        i = recurrent_activation(z[:, :u])
        f = recurrent_activation(z[:, u:2 * u])
        g = activation(z[:, 2 * u:3 * u])
        o = recurrent_activation(z[:, 3 * u:])
        c = f * c + i * g
        h = o * activation(c)
        return h, (h, c)

    zeros = np.zeros((x.shape[0], u), F)
    states = initial_state if initial_state is not None else (zeros, zeros)
    return run_rnn(cell, xw, states, mask, go_backwards, return_sequences, zero_output_for_mask)


#@block gru needs act_linear dense rnn
def gru(x, W, U, b, br, activation, recurrent_activation, reset_after, mask=None, go_backwards=False,
        return_sequences=False, zero_output_for_mask=False, initial_state=None):
    """Keras GRU. W: (in, 3u), U: (u, 3u), b: input bias (3u,) or None, br: recurrent bias (3u,) or None;
    column blocks z (update), r (reset), h (candidate).

        z = recurrent_activation(x_t·W_z + b_z + h·U_z)      r = recurrent_activation(x_t·W_r + b_r + h·U_r)
        reset_after=True:  hh = activation(x_t·W_h + b_h + r * (h·U_h + br_h))
        reset_after=False: hh = activation(x_t·W_h + b_h + (r*h)·U_h)
        h' = z*h + (1-z)*hh
    """
    u = U.shape[0]
    xw = dense(x, W, b, linear)  # (batch, steps, gates*units): every step's input projection at once

    def cell(xw_t, states):
        (h,) = states
        if reset_after:
            hu = h @ U  # (batch, 3u)
            if br is not None:
                hu += br
            z = recurrent_activation(xw_t[:, :u] + hu[:, :u])
            r = recurrent_activation(xw_t[:, u:2 * u] + hu[:, u:2 * u])
            hh = activation(xw_t[:, 2 * u:] + r * hu[:, 2 * u:])
        else:
            hu = h @ U[:, :2 * u]  # (batch, 2u)
            z = recurrent_activation(xw_t[:, :u] + hu[:, :u])
            r = recurrent_activation(xw_t[:, u:2 * u] + hu[:, u:])
            hh = activation(xw_t[:, 2 * u:] + (r * h) @ U[:, 2 * u:])
        h = z * h + (1 - z) * hh
        return h, (h,)

    states = initial_state if initial_state is not None else (np.zeros((x.shape[0], u), F),)
    return run_rnn(cell, xw, states, mask, go_backwards, return_sequences, zero_output_for_mask)


#@block simple_rnn needs act_linear dense rnn
def simple_rnn(x, W, U, b, activation, mask=None, go_backwards=False, return_sequences=False,
               zero_output_for_mask=False, initial_state=None):
    """Keras SimpleRNN. W: (in, u), U: (u, u), b: (u,) or None.   h' = activation(x_t·W + b + h·U)"""
    u = U.shape[0]
    xw = dense(x, W, b, linear)  # (batch, steps, gates*units): every step's input projection at once

    def cell(xw_t, states):
        (h,) = states
        h = activation(xw_t + h @ U)
        return h, (h,)

    states = initial_state if initial_state is not None else (np.zeros((x.shape[0], u), F),)
    return run_rnn(cell, xw, states, mask, go_backwards, return_sequences, zero_output_for_mask)
