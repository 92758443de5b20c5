"""The fast paths (native C loop, fused NumPy loops, streaming step) agree with the readable step loop."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import kerasless.native as kn
from kerasless.io.spec import LayerSpec
from kerasless.layers import Context, build_layer, fastpath, gru, lstm, simple_rnn
from kerasless.layers.activations import ACTIVATIONS
from kerasless.layers.recurrent import _masked_step, _step_loop, masked_step

KINDS = {"lstm": (4, lstm.step), "gru": (3, gru.step), "gru_v1": (3, gru.step), "simple_rnn": (1, simple_rnn.step)}


def _cell(kind, units, rng, act="tanh", ract="sigmoid"):
    n, step = KINDS[kind]
    U = rng.normal(0, 0.3 / np.sqrt(units), (units, n * units)).astype(np.float32)
    rb = rng.normal(0, 0.5, n * units).astype(np.float32) if kind == "gru" else None
    p = SimpleNamespace(units=units, U=U, a=ACTIVATIONS[act], ra=ACTIVATIONS[ract], reset_after=kind == "gru",
                        recurrent_bias=rb, U_zr=np.ascontiguousarray(U[:, :2 * units]),
                        U_h=np.ascontiguousarray(U[:, 2 * units:]))
    fast = fastpath.cell(kind, units, act, None if kind == "simple_rnn" else ract,
                         p.U_zr if kind == "gru_v1" else U, p.U_h if kind == "gru_v1" else None, rb)
    return step, p, fast


# Which fast path runs where (everything else runs the readable step loop). Asserted below, so a path that stops
# applying fails a test instead of silently leaving its equality test with nothing to compare.
FUSED_NUMPY = {("lstm", "tanh", "sigmoid"), ("gru", "tanh", "sigmoid")}
ACTS = [("tanh", "sigmoid"), ("relu", "hard_sigmoid"), ("softsign", "sigmoid")]


def _has_fast_run(backend, kind, act, ract):
    if backend == "native":
        return act in fastpath.NATIVE_ACTS and ract in fastpath.NATIVE_ACTS
    return (kind, act, ract) in FUSED_NUMPY


FAST_RUNS = [(b, k, a, r) for b in ("native", "numpy") for k in KINDS for a, r in ACTS if _has_fast_run(b, k, a, r)]


def _use(backend):
    if backend == "native" and not kn.available():
        pytest.skip(f"native kernel unavailable: {kn.reason()}")
    kn.set_backend(backend)


@pytest.mark.parametrize("backend,kind,act,ract", [(b, k, a, r) for b in ("native", "numpy") for k in KINDS
                                                    for a, r in ACTS])
def test_fast_run_applies_exactly_where_expected(backend, kind, act, ract):
    _use(backend)
    try:
        rng = np.random.default_rng(0)
        _, _, fast = _cell(kind, 4, rng, act, ract)
        xp = rng.normal(0, 1, (2, 3, KINDS[kind][0] * 4)).astype(np.float32)
        states = tuple(np.zeros((2, 4), np.float32) for _ in range(2 if kind == "lstm" else 1))
        ran = fastpath.run_fast(fast, xp, states, None, False, False, False) is not None
        assert ran == _has_fast_run(backend, kind, act, ract)
    finally:
        kn.set_backend(None)


@pytest.mark.parametrize("backend,kind,act,ract", FAST_RUNS)
@pytest.mark.parametrize("units,batch,steps", [(5, 1, 3), (128, 1, 12), (7, 9, 6), (20, 37, 4)])
def test_fast_run_equals_step_loop(backend, kind, act, ract, units, batch, steps):
    _use(backend)
    try:
        rng = np.random.default_rng(units * 100 + batch)
        step, p, fast = _cell(kind, units, rng, act, ract)
        xp = rng.normal(0, 1, (batch, steps, KINDS[kind][0] * units)).astype(np.float32)
        states = tuple(rng.normal(0, 1, (batch, units)).astype(np.float32) for _ in range(2 if kind == "lstm" else 1))
        mask = rng.random((batch, steps)) > 0.3
        for m in (None, mask):
            for go_backwards in (False, True):
                for seqs in (False, True):
                    for zero in (False, True):
                        ref, ref_states = _step_loop(step, p, xp, states, m, go_backwards, seqs, zero, None)
                        out, out_states = fastpath.run_fast(fast, xp, states, m, go_backwards, seqs, zero)
                        np.testing.assert_allclose(out, ref, atol=2e-6)
                        for a, b in zip(out_states, ref_states):
                            np.testing.assert_allclose(a, b, atol=2e-6)
    finally:
        kn.set_backend(None)


def _stream_step(backend, kind, step, p, fast, W, bx):
    """One streaming step as the stream runs it: the native Stepper, or masked_step (fused NumPy LSTM step)."""
    if backend == "numpy":
        p.fast = fast
        return lambda x, states, prev, keep, zero: masked_step(step, p, x @ W + bx, states, prev, keep, zero)[:2]

    def native_step(x, states, prev, keep, zero):
        runner = fastpath.stepper(fastpath.cell(kind, fast.units, fast.act, fast.ract, fast.U, fast.U2, fast.rb,
                                                W=W, bx=bx), len(x), zero)
        for buf, s in zip(runner.states, states):
            np.copyto(buf, s)
        np.copyto(runner.last, prev)
        y = runner.step(x, keep)
        return y.copy(), tuple(s.copy() for s in runner.states)
    return native_step


@pytest.mark.parametrize("backend,kind", [("numpy", "lstm")] + [("native", k) for k in KINDS])
def test_stream_step_equals_step(backend, kind):
    """Streaming's fast step (the fused NumPy LSTM step; the C stepper for every cell) equals the readable one."""
    _use(backend)
    try:
        rng = np.random.default_rng(3)
        step, p, fast = _cell(kind, 16, rng)
        W = rng.normal(0, 0.5, (5, KINDS[kind][0] * 16)).astype(np.float32)
        bx = rng.normal(0, 0.5, KINDS[kind][0] * 16).astype(np.float32)
        run = _stream_step(backend, kind, step, p, fast, W, bx)
        x = rng.normal(0, 1, (3, 5)).astype(np.float32)
        states = tuple(rng.normal(0, 1, (3, 16)).astype(np.float32) for _ in range(2 if kind == "lstm" else 1))
        prev = rng.normal(0, 1, (3, 16)).astype(np.float32)
        for keep in (None, np.array([True, False, True])):
            for zero in (False, True):
                y, new = run(x, states, prev, keep, zero)
                y_ref, new_ref, _ = _masked_step(step, p, x @ W + bx, states, prev, keep, zero)
                np.testing.assert_allclose(y, y_ref, atol=2e-6)
                for a, b in zip(new, new_ref):
                    np.testing.assert_allclose(a, b, atol=2e-6)
                    assert a is not states[0] and a is not b
    finally:
        kn.set_backend(None)


def test_backend_selection():
    kn.set_backend("numpy")
    assert kn.backend() == "numpy"
    kn.set_backend("native")
    try:
        assert kn.backend() == ("native" if kn.available() else "numpy")
    finally:
        kn.set_backend(None)
    with pytest.raises(ValueError):
        kn.set_backend("cuda")


def test_env_selects_numpy_and_missing_compiler_falls_back(tmp_path):
    import subprocess
    import sys

    code = ("import kerasless.native as kn, numpy as np; from kerasless.layers import fastpath;"
            "print(kn.backend(), kn.available())")
    env = {"KERASLESS_BACKEND": "numpy", "PATH": "/nonexistent", "KERASLESS_CACHE": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["numpy", "False"]


def _projected(kind, units, fast, rng, batch, steps, onehot):
    """fast with an input kernel and bias; raw inputs x (dense or one-hot) and their projection x·W + b."""
    n = KINDS[kind][0] * units
    features = 11
    W = rng.normal(0, 0.5, (features, n)).astype(np.float32)
    bx = rng.normal(0, 0.5, n).astype(np.float32)
    fast = fastpath.cell(kind, units, fast.act, fast.ract, fast.U, fast.U2, fast.rb, W=W, bx=bx)
    x = (np.eye(features, dtype=np.float32)[rng.integers(0, features, (batch, steps))] if onehot
         else rng.normal(0, 1, (batch, steps, features)).astype(np.float32))
    return fast, x, x @ W + bx


def test_cached_kernel_loads_without_a_compiler():
    """A machine whose kernel was built once keeps the native backend when the compiler is gone."""
    import os
    import subprocess
    import sys

    if not kn.available():
        pytest.skip(f"native kernel unavailable: {kn.reason()}")
    env = {k: v for k, v in os.environ.items() if k not in ("KERASLESS_BACKEND", "PATH")}
    code = "import kerasless.native as kn; print(kn.available(), kn.reason())"
    out = subprocess.run([sys.executable, "-c", code], env={**env, "PATH": "/nonexistent"}, capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == ["True", "ok"]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("onehot", [False, True])
@pytest.mark.parametrize("threads,units,batch", [(1, 9, 5), (2, 9, 101), (3, 37, 101), (2, 128, 13)])
def test_native_loop_projects_and_splits(monkeypatch, kind, onehot, threads, units, batch):
    """The C loop on raw inputs (dense rows, and one-hot rows that skip their zeros), with the batch rows split
    over threads, equals the readable loop on x·W + b."""
    if not kn.available():
        pytest.skip(f"native kernel unavailable: {kn.reason()}")
    monkeypatch.setattr(kn, "plan", lambda batch, work: threads)
    kn.set_backend("native")
    try:
        rng = np.random.default_rng(units + batch)
        step, p, fast = _cell(kind, units, rng)
        fast, x, xp = _projected(kind, units, fast, rng, batch, 7, onehot)
        states = tuple(rng.normal(0, 1, (batch, units)).astype(np.float32) for _ in range(2 if kind == "lstm" else 1))
        mask = rng.random((batch, 7)) > 0.3
        for m, back in ((None, False), (mask, True)):
            ref, ref_states = _step_loop(step, p, xp, states, m, back, True, False, None)
            out, out_states = fastpath.run_native(fast, x, states, m, back, True, False)
            np.testing.assert_allclose(out, ref, atol=2e-6)
            for a, b in zip(out_states, ref_states):
                np.testing.assert_allclose(a, b, atol=2e-6)
    finally:
        kn.set_backend(None)


def test_one_hot_shortcut_needs_finite_weights():
    """0 * inf is NaN in Keras's product: a kernel with inf never takes the skip-the-zeros path."""
    W = np.ones((3, 4), np.float32)
    assert fastpath.cell("simple_rnn", 4, "tanh", None, np.eye(4, dtype=np.float32), W=W).sparse_ok
    W[1, 2] = np.inf
    assert not fastpath.cell("simple_rnn", 4, "tanh", None, np.eye(4, dtype=np.float32), W=W).sparse_ok


def test_thread_plan():
    assert kn.plan(4096, 10) == 1  # too little work for a second thread
    assert kn.plan(1, 1 << 30) == 1  # one row block
    assert kn.plan(4096, 1 << 30) == kn.cores()


LAYERS = {"LSTM": (4, {}), "GRU": (3, {"reset_after": True}), "GRU-reset-before": (3, {"reset_after": False}),
          "SimpleRNN": (1, {})}


def _real_layer(name, units, features, rng, **config):
    """A recurrent layer built by kerasless from a spec (its own setup(), params and fast path)."""
    n, options = LAYERS[name]
    cfg = {"units": units, **options, **config}
    bias = (2, n * units) if cfg.get("reset_after") else (n * units,)
    weights = [rng.normal(0, 0.5, shape).astype(np.float32) for shape in ((features, n * units),
                                                                          (units, n * units), bias)]
    spec = LayerSpec("rnn", name.split("-")[0], cfg, [(f"w{i}", w) for i, w in enumerate(weights)])
    return build_layer(spec, Context(3, "<test>"))


@pytest.mark.parametrize("backend", ["native", "numpy"])
@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("act,ract", ACTS)
def test_layer_call_equals_its_readable_step(backend, name, act, ract):
    """What predict runs for a real layer (native loop, fused NumPy loop or the step loop) equals the layer's readable
    step: editing a cell's step either changes predict on both backends or fails here."""
    _use(backend)
    try:
        rng = np.random.default_rng(7)
        acts = {"activation": act} if name == "SimpleRNN" else {"activation": act, "recurrent_activation": ract}
        layer = _real_layer(name, 9, 5, rng, return_sequences=True, **acts)
        x = rng.normal(0, 1, (6, 8, 5)).astype(np.float32)
        mask = rng.random((6, 8)) > 0.3
        xp = (x @ layer.weights[0] + layer.input_bias).astype(np.float32)
        for m in (None, mask):
            ref, _ = _step_loop(type(layer).step, layer.params, xp, layer._zeros(6), m, False, True, False, None)
            np.testing.assert_allclose(layer.call(x, m), ref, atol=2e-6)
    finally:
        kn.set_backend(None)
