"""Hypothesis properties of the recurrent loop that hold for any weights and inputs (no Keras needed)."""

from __future__ import annotations

import numpy as np
import pytest
from builders import bidirectional_model, rnn_model
from helpers import assert_close
from hypothesis import given, settings
from hypothesis import strategies as st

CELLS = st.sampled_from(["LSTM", "GRU", "SimpleRNN"])
SHAPES = st.tuples(st.integers(1, 6), st.integers(1, 7), st.integers(1, 5), st.integers(1, 6))  # batch, T, F, units
SEEDS = st.integers(0, 2**31 - 1)
PROP = settings(max_examples=25, deadline=None)


def _x(rng, batch, steps, feats, scale=1.0):
    return (rng.normal(0, scale, (batch, steps, feats))).astype(np.float32)


@PROP
@given(CELLS, SHAPES, SEEDS, st.booleans())
def test_rows_are_independent(cls, shape, seed, reset_after):
    batch, steps, feats, units = shape
    rng = np.random.default_rng(seed)
    model = rnn_model(cls, units, feats, steps, rng, return_sequences=True,
                      **({"reset_after": reset_after} if cls == "GRU" else {}))
    x = _x(rng, batch, steps, feats)
    whole = model.predict(x)
    rows = np.concatenate([model.predict(x[i:i + 1]) for i in range(batch)])
    assert_close(whole, rows, tol=1e-6)


@PROP
@given(CELLS, SHAPES, SEEDS, st.booleans())
def test_last_step_of_sequences_is_the_final_output(cls, shape, seed, go_backwards):
    batch, steps, feats, units = shape
    x = _x(np.random.default_rng(seed + 1), batch, steps, feats)
    seq = rnn_model(cls, units, feats, steps, np.random.default_rng(seed), return_sequences=True,
                    go_backwards=go_backwards).predict(x)
    last = rnn_model(cls, units, feats, steps, np.random.default_rng(seed), go_backwards=go_backwards).predict(x)
    assert_close(seq[:, -1], last, tol=0)


@PROP
@given(CELLS, SHAPES, SEEDS)
def test_go_backwards_is_forward_on_reversed_input(cls, shape, seed):
    batch, steps, feats, units = shape
    x = _x(np.random.default_rng(seed + 1), batch, steps, feats)
    back = rnn_model(cls, units, feats, steps, np.random.default_rng(seed), return_sequences=True,
                     go_backwards=True).predict(x)
    fwd = rnn_model(cls, units, feats, steps, np.random.default_rng(seed), return_sequences=True).predict(x[:, ::-1])
    assert_close(back, fwd, tol=0)


@PROP
@given(CELLS, SHAPES, SEEDS)
def test_bidirectional_concat_is_both_directions(cls, shape, seed):
    batch, steps, feats, units = shape
    x = _x(np.random.default_rng(seed + 1), batch, steps, feats)
    bi = bidirectional_model(cls, units, feats, steps, np.random.default_rng(seed), return_sequences=True).predict(x)
    rng = np.random.default_rng(seed)
    fwd = rnn_model(cls, units, feats, steps, rng, return_sequences=True).predict(x)
    bwd = rnn_model(cls, units, feats, steps, rng, return_sequences=True, go_backwards=True).predict(x)
    assert_close(bi, np.concatenate([fwd, bwd[:, ::-1]], axis=-1), tol=0)


@PROP
@given(CELLS, SHAPES, SEEDS, st.data())
def test_a_masked_step_is_a_deleted_step(cls, shape, seed, data):
    """With Masking, the final output equals running the RNN on the sequence without the masked steps."""
    batch, steps, feats, units = shape
    rng = np.random.default_rng(seed + 1)
    x = _x(rng, 1, steps, feats)
    keep = np.array(data.draw(st.lists(st.booleans(), min_size=steps, max_size=steps)))
    if not keep.any():
        keep[rng.integers(steps)] = True
    x[0, ~keep] = 0.0
    masked = rnn_model(cls, units, feats, steps, np.random.default_rng(seed), masking=0.0).predict(x)
    short = rnn_model(cls, units, feats, int(keep.sum()), np.random.default_rng(seed)).predict(x[:, keep])
    assert_close(masked, short, tol=1e-6)


@PROP
@given(CELLS, SHAPES, SEEDS, st.sampled_from([np.float64, np.float16, np.int32]))
def test_float32_out_for_any_numeric_input(cls, shape, seed, dtype):
    batch, steps, feats, units = shape
    model = rnn_model(cls, units, feats, steps, np.random.default_rng(seed))
    x = (_x(np.random.default_rng(seed), batch, steps, feats) * 3).astype(dtype)
    y = model.predict(x)
    assert y.dtype == np.float32 and y.shape == (batch, units)
    assert_close(y, model.predict(x.astype(np.float32)), tol=0)


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "SimpleRNN"])
def test_nan_inputs_propagate(cls):
    model = rnn_model(cls, 3, 2, 4, np.random.default_rng(0), return_sequences=True)
    x = np.zeros((2, 4, 2), np.float32)
    x[0, 1, 0] = np.nan
    y = model.predict(x)
    assert np.isnan(y[0, 1:]).all() and not np.isnan(y[0, 0]).any() and not np.isnan(y[1]).any()
