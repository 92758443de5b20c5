"""model_numpy.py: Keras model 'm' exported by kerasless (target numpy). Generated code.

Input  x: float32 (batch, 3, 2)
Output y: float32 (batch, 3, 2)

    import model_numpy
    y = model_numpy.predict(x)
    model_numpy.self_test()  # max abs diff on the test vector stored in model_weights.npz
"""

import os

import numpy as np

F = np.float32
_NPZ = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "model_weights.npz"))
W = {k: _NPZ[k] for k in _NPZ.files if k not in ('__test_x', '__test_y')}  # Keras layout, float32


def linear(x):
    return x


def tanh(x):
    return np.tanh(x)


def sigmoid(x):
    e = np.exp(-np.abs(x))  # split by sign so exp never overflows
    return np.where(x >= 0, F(1) / (F(1) + e), e / (F(1) + e)).astype(F)


def softmax(x):
    """tf.nn.softmax, non-finite rule included: a NaN or +inf entry gives NaN there and 0 at the others."""
    bad = np.isnan(x) | (x == np.inf)
    with np.errstate(invalid="ignore"):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        y = e / e.sum(axis=-1, keepdims=True)
    return np.where(bad.any(axis=-1, keepdims=True), np.where(bad, np.float32(np.nan), np.float32(0)), y)


def dense(x, W, b, activation):
    """y = activation(x·W + b) on the last axis. W: (in, units), b: (units,) or None."""
    y = x @ W
    if b is not None:
        y += b
    return activation(y)


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



STATE = {}  # recurrent states carried between calls


def reset_states():
    """Forget the states carried between predict calls."""
    for key in STATE:
        STATE[key] = None


def predict(x):
    """x: float32 (batch, 3, 2) -> y: float32 (batch, 3, 2)."""
    x = np.asarray(x, dtype=F)
    if x.shape[1:] != (3, 2):
        raise ValueError(f"expected input (batch, 3, 2), got {x.shape}")
    # l0 (Masking): mask_values (3, 2) -> (3,)
    m1 = np.any(x != F(0.0), axis=-1)  # (batch, steps) bool
    # l0 (Masking): apply_mask (3, 2) -> (3, 2)
    t1 = x * m1[..., None].astype(F)  # masked steps become 0
    # l1 (LSTM): lstm (3, 2) -> (3, 2)
    t2, _ = lstm(t1, W["l1/kernel"], W["l1/recurrent_kernel"], W["l1/bias"], activation=tanh,
                 recurrent_activation=sigmoid, mask=m1, return_sequences=True)
    # l2 (Dense): dense (3, 2) -> (3, 2)
    t3 = dense(t2, W["l2/kernel"], W["l2/bias"], activation=softmax)
    return t3


def self_test():
    """Max abs difference between predict(test x) and the stored expected output."""
    reset_states()
    y = predict(_NPZ["__test_x"])
    reset_states()
    return float(np.max(np.abs(y.astype(np.float64) - _NPZ["__test_y"])))
