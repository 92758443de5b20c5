"""A live Keras model (Keras 3 or tf.keras) -> ModelSpec, through its own JSON config and get_weights()."""

from __future__ import annotations

import importlib
import json

import numpy as np

from ..errors import KeraslessError
from .config import parse_model_config
from .spec import ModelSpec


def read_live(model) -> ModelSpec:
    package = type(model).__module__.split(".")[0]
    if package not in ("keras", "tf_keras") or not hasattr(model, "to_json"):
        raise KeraslessError(f"from_keras expects a Keras 3 or tf_keras model, got {type(model).__name__!r}")
    version = getattr(importlib.import_module(package), "__version__", "3" if package == "keras" else "2")
    spec = parse_model_config(json.loads(model.to_json()), f"<live model {model.name!r}>", str(version))
    by_name = {layer.name: layer for layer in model.layers}
    for layer in spec.layers:
        live = by_name.get(layer.name)
        if live is not None:
            names = [getattr(w, "path", None) or w.name for w in live.weights]
            layer.weights = [(n.removesuffix(":0"), np.asarray(a)) for n, a in zip(names, live.get_weights())]
    return spec
