"""Models built directly as ModelSpecs (no Keras) for property tests."""

from __future__ import annotations

import numpy as np

from kerasless.graph import Model
from kerasless.io.spec import LayerSpec, ModelSpec

GATES = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}


def rnn_weights(cls, units, input_dim, rng, use_bias=True, reset_after=True):
    g = GATES[cls]
    ws = [rng.normal(0, 0.5, (input_dim, g * units)), rng.normal(0, 0.5, (units, g * units))]
    if use_bias:
        ws.append(rng.normal(0, 0.5, (2, g * units) if cls == "GRU" and reset_after else (g * units,)))
    return [(f"w{i}", w.astype(np.float32)) for i, w in enumerate(ws)]


def rnn_config(cls, units, **options):
    cfg = {"units": units, **options}
    if cls == "GRU":
        cfg.setdefault("reset_after", True)
    return cfg


def chain(input_shape, layers, keras_version="3.15.1", masking=None) -> Model:
    """layers: [(class_name, config, weights)] after an InputLayer (and an optional Masking(mask_value))."""
    specs = [LayerSpec("input", "InputLayer", {"batch_shape": [None, *input_shape]})]
    if masking is not None:
        specs.append(LayerSpec("masking", "Masking", {"mask_value": masking}))
    for i, (cls, cfg, weights) in enumerate(layers):
        specs.append(LayerSpec(f"l{i}", cls, dict(cfg, name=f"l{i}"), list(weights)))
    for prev, spec in zip(specs, specs[1:]):
        spec.inbound = [[(prev.name, 0, 0)]]
    return Model(ModelSpec("m", specs, [("input", 0, 0)], [(specs[-1].name, 0, 0)], keras_version))


def rnn_model(cls, units, input_dim, steps, rng, masking=None, use_bias=True, **options) -> Model:
    weights = rnn_weights(cls, units, input_dim, rng, use_bias, options.get("reset_after", True))
    cfg = rnn_config(cls, units, use_bias=use_bias, **options)
    return chain((steps, input_dim), [(cls, cfg, weights)], masking=masking)


def bidirectional_model(cls, units, input_dim, steps, rng, merge_mode="concat", **options) -> Model:
    fwd = rnn_weights(cls, units, input_dim, rng)
    bwd = rnn_weights(cls, units, input_dim, rng)
    cfg = {"merge_mode": merge_mode, "layer": {"class_name": cls, "config": rnn_config(cls, units, **options)}}
    return chain((steps, input_dim), [("Bidirectional", cfg, fwd + bwd)])
