"""The one comparison every fidelity test goes through: shape, then dtype, then values."""

from __future__ import annotations

import numpy as np

TOL = 1e-5
WORST: dict[str, float] = {}  # test id -> max abs diff, reported at the end of the session


def assert_close(actual, expected, tol: float = TOL, label: str = "") -> float:
    """Check shape, then dtype (float32), then max abs diff <= tol. Returns the max abs diff."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{label}: shape {actual.shape} != expected {expected.shape}"
    assert actual.dtype == np.float32, f"{label}: dtype {actual.dtype} != float32"
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    assert np.array_equal(nan_a, nan_e), f"{label}: NaN positions differ ({nan_a.sum()} vs Keras's {nan_e.sum()})"
    inf_e = np.isinf(expected)
    assert np.array_equal(np.where(inf_e, expected, 0), np.where(np.isinf(actual), actual, 0)), \
        f"{label}: inf positions or signs differ"
    finite = ~(nan_e | inf_e)
    delta = actual.astype(np.float64) - np.where(finite, expected, 0)
    diff = float(np.max(np.abs(np.where(finite, delta, 0)), initial=0.0))
    if label:
        WORST[label] = diff
    assert diff <= tol, f"{label}: max abs diff {diff:.3g} > {tol:g}"
    return diff


def flatten(value) -> list:
    """Nested lists/tuples of arrays -> the flat list of arrays, in order."""
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in flatten(v)]
    return [value]


def structure(value):
    """The nesting of an output: None for an array, a list of nestings for a list/tuple."""
    return [structure(v) for v in value] if isinstance(value, (list, tuple)) else None


def assert_matches_keras(keras_model, x, tmp_path, label: str = "", tol: float = TOL) -> None:
    """Save a live Keras model in every format its writer has, load each with kerasless (and convert the live
    model with from_keras), and compare with keras predict. ``x`` may be a tuple of consecutive inputs for a
    stateful model: states then carry across the calls on both sides."""
    import kerasless

    keras3 = type(keras_model).__module__.startswith("keras")
    paths = [tmp_path / "m.keras", tmp_path / "m.h5"] if keras3 else [tmp_path / "m.h5"]
    for path in paths:
        keras_model.save(path)  # before any predict: a stateful model starts from zero state on both sides
    candidates = {path.suffix: kerasless.load(path) for path in paths}
    candidates["live"] = kerasless.from_keras(keras_model)
    xs = x if isinstance(x, tuple) else (x,)
    for i, xi in enumerate(xs):
        expected = keras_model.predict(xi, verbose=0)
        if isinstance(expected, dict):
            expected = [expected[n] for n in keras_model.output_names]
        for kind, model in candidates.items():
            got = model.predict(xi)
            if isinstance(expected, (list, tuple)):  # Keras's nesting (StackedRNNCells states), then each array
                assert structure(got) == structure(expected), f"{label}[{kind}]: output structure {structure(got)}"
                for j, (g, e) in enumerate(zip(flatten(got), flatten(expected))):
                    assert_close(g, e, tol, f"{label}[{kind}]#{i}/out{j}")
            else:
                assert_close(got, expected, tol, f"{label}[{kind}]#{i}")
