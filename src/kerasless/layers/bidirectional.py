"""Bidirectional: a forward and a backward copy of an RNN, merged. Weights: forward's then backward's.

The backward copy runs with go_backwards flipped and its sequence output is flipped back in time before merging
(keras/src/layers/rnn/bidirectional.py); with return_sequences both copies use zero_output_for_mask.
"""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOptionError
from ..io.spec import LayerSpec
from .base import Layer, anything
from .recurrent import RecurrentLayer

MERGES = {
    "concat": lambda a, b: np.concatenate([a, b], axis=-1),
    "sum": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "ave": lambda a, b: (a + b) / np.float32(2),
}


class BidirectionalLayer(Layer):
    OPTIONS = {"layer": anything, "backward_layer": anything, "merge_mode": lambda v: v in MERGES or v is None}

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        self.merge_mode = self.config.get("merge_mode", "concat")
        if self.merge_mode is None:
            raise UnsupportedOptionError(f"{self.where()}: merge_mode=None (two outputs) is not supported yet")
        fwd_cfg = self.config["layer"]
        bwd_cfg = self.config.get("backward_layer") or {
            "class_name": fwd_cfg["class_name"],
            "config": {**fwd_cfg["config"], "name": "backward_" + fwd_cfg["config"].get("name", ""),
                       "go_backwards": not fwd_cfg["config"].get("go_backwards", False)},
        }
        n = ctx.layer_class(fwd_cfg["class_name"], self).n_weights(fwd_cfg["config"])
        self.forward = ctx.build(LayerSpec(f"{self.name}/forward", fwd_cfg["class_name"], dict(fwd_cfg["config"]),
                                           spec.weights[:n]))
        self.backward = ctx.build(LayerSpec(f"{self.name}/backward", bwd_cfg["class_name"], dict(bwd_cfg["config"]),
                                            spec.weights[n:]))
        for sub in (self.forward, self.backward):
            if not isinstance(sub, RecurrentLayer):
                raise UnsupportedOptionError(f"{self.where()}: wraps a {sub.class_name}; expected an RNN layer")
            sub.zero_output_for_mask = sub.return_sequences
        self.return_sequences = self.forward.return_sequences

    @classmethod
    def n_weights(cls, config):
        return None  # not wrappable

    def check_input(self, input_shape):
        self.forward.check_input(input_shape)
        self.backward.check_input(input_shape)

    def output_shape(self, input_shape):
        a = self.forward.output_shape(input_shape)
        b = self.backward.output_shape(input_shape)
        return (*a[:-1], a[-1] + b[-1]) if self.merge_mode == "concat" else a

    def compute_mask(self, x, mask):
        return mask if self.return_sequences else None

    def call(self, x, mask=None):
        y = self.forward.call(x, mask)
        y_rev = self.backward.call(x, mask)
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]
        return MERGES[self.merge_mode](y, y_rev)

    def reset_states(self):
        self.forward.reset_states()
        self.backward.reset_states()
