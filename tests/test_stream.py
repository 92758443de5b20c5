"""Streaming (one timestep at a time) equals predict, and stateful models carry state like Keras."""

from __future__ import annotations

import numpy as np
import pytest
from builders import chain, rnn_config, rnn_model, rnn_weights
from helpers import assert_close
from hypothesis import given, settings
from hypothesis import strategies as st

from kerasless import InputError, UnsupportedOptionError

CELLS = st.sampled_from(["LSTM", "GRU", "SimpleRNN"])


def _stack(classes, units, feats, steps, rng, dense=None, masking=None):
    layers, width = [], feats
    for cls in classes:
        layers.append((cls, rnn_config(cls, units, return_sequences=True), rnn_weights(cls, units, width, rng)))
        width = units
    if dense:
        w = [("k", rng.normal(0, 0.5, (units, dense)).astype(np.float32)),
             ("b", rng.normal(0, 0.5, (dense,)).astype(np.float32))]
        layers.append(("Dense", {"units": dense, "activation": "softmax"}, w))
    return chain((steps, feats), layers, masking=masking)


def _stream_all(model, x):
    stream = model.stream(batch_size=x.shape[0])
    return np.stack([stream.step(x[:, t]) for t in range(x.shape[1])], axis=1)


@settings(max_examples=40, deadline=None)
@given(st.lists(CELLS, min_size=1, max_size=3), st.integers(1, 3), st.integers(1, 6), st.integers(1, 4),
       st.integers(1, 5), st.booleans(), st.booleans(), st.integers(0, 2**31 - 1))
def test_stream_equals_predict_with_sequences(classes, batch, steps, feats, units, dense, masked, seed):
    """With Masking: the general per-step bookkeeping; without: the plain-chain fast path (a native Dense reads
    the recurrent layer's output buffer in place)."""
    rng = np.random.default_rng(seed)
    model = _stack(classes, units, feats, steps, rng, dense=3 if dense else None, masking=0.0 if masked else None)
    x = rng.normal(0, 1, (batch, steps, feats)).astype(np.float32)
    if masked:
        x[:, rng.integers(steps)] = 0.0  # a masked step somewhere
    assert (model.stream()._chain is None) == masked
    assert_close(_stream_all(model, x), model.predict(x), tol=1e-6)


def test_stream_through_time_distributed_dense():
    rng = np.random.default_rng(4)
    dense = {"class_name": "Dense", "config": {"units": 2, "activation": "tanh"}}
    w = [("k", rng.normal(0, 0.5, (4, 2)).astype(np.float32)), ("b", rng.normal(0, 0.5, (2,)).astype(np.float32))]
    model = chain((5, 3), [("LSTM", rnn_config("LSTM", 4, return_sequences=True), rnn_weights("LSTM", 4, 3, rng)),
                           ("TimeDistributed", {"layer": dense}, w)], masking=0.0)
    x = rng.normal(0, 1, (2, 5, 3)).astype(np.float32)
    x[1, 2] = 0.0
    assert_close(_stream_all(model, x), model.predict(x), tol=1e-6)


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "SimpleRNN"])
def test_stream_of_last_output_model_is_predict_on_each_prefix(cls):
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (2, 5, 3)).astype(np.float32)
    streamed = _stream_all(rnn_model(cls, 4, 3, 5, np.random.default_rng(0)), x)
    for t in range(1, 6):
        prefix = rnn_model(cls, 4, 3, t, np.random.default_rng(0)).predict(x[:, :t])
        assert_close(streamed[:, t - 1], prefix, tol=1e-6)


def test_stream_state_reset_and_set():
    model = rnn_model("LSTM", 4, 3, 5, np.random.default_rng(0), return_sequences=True)
    x = np.random.default_rng(1).normal(size=(1, 5, 3)).astype(np.float32)
    s = model.stream()
    first = [s.step(x[:, t]) for t in range(3)]
    saved = s.state
    later = s.step(x[:, 3])
    s.state = saved
    assert_close(s.step(x[:, 3]), later, tol=0)
    s.reset()
    assert_close(s.step(x[:, 0]), first[0], tol=0)
    assert [a.shape for a in saved[0]] == [(1, 4), (1, 4)]


def test_stream_initial_state():
    model = rnn_model("GRU", 4, 3, 5, np.random.default_rng(0), return_sequences=True)
    h0 = [(np.full((1, 4), 0.5, np.float32),)]
    s = model.stream(initial_state=h0)
    assert_close(s.state[0][0], h0[0][0], tol=0)


@pytest.mark.parametrize("options,match", [
    ({"go_backwards": True}, "go_backwards"),
])
def test_stream_refuses_what_needs_the_whole_sequence(options, match):
    with pytest.raises(UnsupportedOptionError, match=match):
        rnn_model("LSTM", 3, 2, 4, np.random.default_rng(0), **options).stream()


def test_stream_step_checks_shape():
    s = rnn_model("LSTM", 3, 2, 4, np.random.default_rng(0)).stream(batch_size=2)
    with pytest.raises(InputError, match=r"\(2, 2\)"):
        s.step(np.zeros((1, 2), np.float32))


@pytest.mark.keras
def test_stream_refuses_stacked_cells_clearly():
    keras = pytest.importorskip("keras", reason="Keras is installed by `make test`")
    import kerasless

    cells = keras.layers.StackedRNNCells([keras.layers.LSTMCell(3), keras.layers.GRUCell(2)])
    km = keras.Sequential([keras.Input((5, 4)), keras.layers.RNN(cells, return_sequences=True)])
    with pytest.raises(UnsupportedOptionError, match="StackedRNNCells"):
        kerasless.from_keras(km).stream()
