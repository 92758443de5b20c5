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
        self.return_state = self.forward.return_state
        self.n_states = (len(self.forward.LAYOUT.states), len(self.backward.LAYOUT.states))

    CALL_KWARGS = frozenset({"training", "mask", "initial_state"})

    @classmethod
    def n_weights(cls, config):
        from . import layer_class  # the registry imports this module

        fwd = config["layer"]
        bwd = config.get("backward_layer") or fwd
        return (layer_class(fwd["class_name"]).n_weights(fwd["config"])
                + layer_class(bwd["class_name"]).n_weights(bwd["config"]))

    def check_input(self, input_shape, initial_state=None):
        seq = input_shape[0] if isinstance(input_shape, list) else input_shape  # tf_keras: [x, *initial states]
        self.forward.check_input(seq)
        self.backward.check_input(seq)

    def output_shape(self, input_shape, initial_state=None):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        a = self.forward.output_shape(input_shape)
        b = self.backward.output_shape(input_shape)
        sa, sb = (a[1:], b[1:]) if self.return_state else ([], [])
        a, b = (a[0], b[0]) if self.return_state else (a, b)
        if self.merge_mode is None:
            ys = [a, b]
        else:
            ys = [(*a[:-1], a[-1] + b[-1]) if self.merge_mode == "concat" else a]
        return ys + sa + sb if (self.return_state or self.merge_mode is None) else ys[0]

    def compute_mask(self, x, mask):
        if isinstance(mask, list):
            mask = mask[0]
        m = mask if self.return_sequences else None
        if not self.return_state and self.merge_mode is not None:
            return m
        return [m] * (2 if self.merge_mode is None else 1) + [None] * sum(self.n_states)

    def call(self, x, mask=None, initial_state=None):
        if isinstance(x, list):  # tf_keras: [x, *initial states]
            x, initial_state = x[0], x[1:] or initial_state
            mask = mask[0] if isinstance(mask, list) else mask
        fwd_init = bwd_init = None
        if initial_state is not None:  # forward's states, then backward's
            fwd_init, bwd_init = initial_state[:self.n_states[0]], initial_state[self.n_states[0]:]
        y = self.forward.call(x, mask, initial_state=fwd_init)
        y_rev = self.backward.call(x, mask, initial_state=bwd_init)
        states = []
        if self.return_state:
            y, *fs = y
            y_rev, *bs = y_rev
            states = fs + bs
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]
        ys = [y, y_rev] if self.merge_mode is None else [MERGES[self.merge_mode](y, y_rev)]
        return ys + states if (self.return_state or self.merge_mode is None) else ys[0]

    def parts(self):
        return [("forward", self.forward), ("backward", self.backward)]

    def explain_text(self, inner):
        merged = {"concat": "concat(forward_t, backward_t)  (forward units first)", "sum": "forward_t + backward_t",
                  "mul": "forward_t * backward_t", "ave": "(forward_t + backward_t) / 2",
                  None: "two outputs, forward_t and backward_t (merge_mode=None)"}[self.merge_mode]
        return (f"forward + backward {self.forward.class_name}({inner}), merge_mode={self.merge_mode!r}", [
            "weights: the forward layer's, then the backward layer's (keras get_weights() order)",
            ("forward runs t = 0 .. T-1; backward runs t = T-1 .. 0 (go_backwards) and its output sequence is "
             "flipped back in time before merging"),
            f"y_t = {merged}"])
