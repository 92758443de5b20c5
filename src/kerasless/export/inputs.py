"""Inputs for test vectors and --verify, and the reference outputs they are compared with."""

from __future__ import annotations

import numpy as np

from ..layers.recurrent import RecurrentLayer


def sample_inputs(plan, batch: int, rng) -> np.ndarray:
    """Random float32 inputs ``(batch, *input_shape)`` that exercise the model: token ids in [0, vocab) for an
    Embedding input, and rows with pre-, post- and middle-padding (mask_value steps) when Masking reads the input."""
    shape = (batch, *plan.input_shape)
    if plan.input_vocab is not None:
        x = rng.integers(0, plan.input_vocab, shape).astype(np.float32)
        if len(shape) == 2 and shape[1] > 2:
            _pad_rows(x, 0.0)
        return x
    x = rng.normal(0.0, 1.0, shape).astype(np.float32)
    if plan.input_mask_value is not None and len(shape) == 3 and shape[1] > 2:
        _pad_rows(x, np.float32(plan.input_mask_value))
    return x


def _pad_rows(x, value):
    """Row r % 4: 0 pre-padded, 1 post-padded, 2 masked in the middle, 3 untouched."""
    steps = x.shape[1]
    k = max(1, steps // 3)
    for r in range(x.shape[0]):
        sel = [slice(0, k), slice(steps - k, steps), slice(k, 2 * k), slice(0, 0)][r % 4]
        x[r, sel] = value


def reference_outputs(model, batches: list) -> list[np.ndarray]:
    """``model.predict`` on consecutive batches from a fresh state (stateful models carry state between them);
    the model's own carried states are restored afterwards."""
    layers = [layer for layer in model.walk() if isinstance(layer, RecurrentLayer)]
    saved = [layer.get_state() for layer in layers]
    try:
        model.reset_states()
        return [np.asarray(model.predict(x), np.float32) for x in batches]
    finally:
        for layer, state in zip(layers, saved):
            layer.set_state(state)
