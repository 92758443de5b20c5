"""Plain data a reader produces: layer classes, configs, named float32 arrays and graph edges. No math."""

from __future__ import annotations

import numpy as np

# Plain classes, not dataclasses: `import dataclasses` alone costs ~5 ms of every cold start.


class LayerSpec:
    __slots__ = ("name", "class_name", "config", "weights", "inbound", "call_kwargs")

    def __init__(self, name: str, class_name: str, config: dict, weights=None, inbound=None, call_kwargs=None):
        self.name, self.class_name, self.config = name, class_name, config
        # Weights in get_weights() order: (Keras weight name, array).
        self.weights: list[tuple[str, np.ndarray]] = weights if weights is not None else []
        # Inbound calls: one list per call ("node") of the layer, each a list of (layer, node, tensor) refs.
        self.inbound: list[list[tuple[str, int, int]]] = inbound if inbound is not None else []
        # Per call: keyword arguments; tensors are ("__tensor__", ref) (lists of them for initial_state).
        self.call_kwargs: list[dict] = call_kwargs if call_kwargs is not None else []

    def __repr__(self) -> str:
        return f"LayerSpec({self.name!r}, {self.class_name!r}, {len(self.weights)} weights)"


class ModelSpec:
    __slots__ = ("name", "layers", "inputs", "outputs", "keras_version", "source", "assets", "output_structure",
                 "sequential")

    def __init__(self, name: str, layers: list[LayerSpec], inputs: list[tuple[str, int, int]],
                 outputs: list[tuple[str, int, int]], keras_version: str = "3", source: str = "<memory>",
                 assets=None, output_structure=None):
        self.name, self.layers, self.inputs, self.outputs = name, layers, inputs, outputs
        self.keras_version, self.source = keras_version, source
        # Keras's nesting of the outputs when it is not a flat list: nested lists of indices into ``outputs``
        # (``[0, [1, 2], 3]`` for RNN(StackedRNNCells, return_state=True)); None for one output or a flat list.
        self.output_structure = output_structure
        # Extra files the reader found (e.g. a vocabulary from a .keras zip's assets/): name -> bytes, a mapping
        # that may read each entry only when it is looked up.
        self.assets = assets if assets is not None else {}
        # A Sequential model returns whatever its last layer returns (an RNN with return_state: [y, h, c]).
        self.sequential = False

    def __repr__(self) -> str:
        return f"ModelSpec({self.name!r}, {len(self.layers)} layers, Keras {self.keras_version}, {self.source!r})"

    @property
    def keras_major(self) -> int:
        try:
            return int(str(self.keras_version).split(".")[0])
        except ValueError:
            return 3
