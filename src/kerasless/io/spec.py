"""Plain data a reader produces: layer classes, configs, named float32 arrays and graph edges. No math."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class LayerSpec:
    name: str
    class_name: str
    config: dict
    # Weights in get_weights() order: (Keras weight name, array).
    weights: list[tuple[str, np.ndarray]] = field(default_factory=list)
    # Inbound calls: one list per call ("node") of the layer, each a list of (layer, node, tensor) refs.
    inbound: list[list[tuple[str, int, int]]] = field(default_factory=list)
    # Per call: keyword arguments; tensors are ("__tensor__", ref) (lists of them for initial_state).
    call_kwargs: list[dict] = field(default_factory=list)


@dataclass
class ModelSpec:
    name: str
    layers: list[LayerSpec]
    inputs: list[tuple[str, int, int]]
    outputs: list[tuple[str, int, int]]
    keras_version: str = "3"
    source: str = "<memory>"
    # Extra files the reader found (e.g. a vocabulary from a .keras zip's assets/).
    assets: dict[str, bytes] = field(default_factory=dict)

    @property
    def keras_major(self) -> int:
        try:
            return int(str(self.keras_version).split(".")[0])
        except ValueError:
            return 3

    def layer(self, name: str) -> LayerSpec:
        for spec in self.layers:
            if spec.name == name:
                return spec
        raise KeyError(name)
