"""RNN(cell) and nested models.

``RNN(LSTMCell | GRUCell | SimpleRNNCell)`` builds the matching LSTM / GRU / SimpleRNN layer (same weights, same
step function). ``RNN(StackedRNNCells([...]))`` runs the cells one after another inside each timestep through the
shared loop (recurrent.run); states are the cells' states in order (Keras's order), the output is the last cell's.
A Sequential or functional model used as a layer runs as a sub-Model; its flat weight list (get_weights() order)
is split over its layers.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ..errors import ModelFileError, UnsupportedLayerError, UnsupportedOptionError
from ..io.spec import LayerSpec
from .base import Layer, anything
from .recurrent import RNN_OPTIONS, RecurrentLayer, recorder, run

CELLS = {"LSTMCell": "LSTM", "GRUCell": "GRU", "SimpleRNNCell": "SimpleRNN"}
RNN_FLAGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll", "zero_output_for_mask",
             "time_major", "name", "trainable", "dtype", "_build_config")


def _cell(value, where: str) -> dict:
    """A cell's config ``{"class_name": str, "config": dict}``, else a ModelFileError."""
    if not (isinstance(value, dict) and isinstance(value.get("class_name"), str)
            and isinstance(value.get("config", {}), dict)):
        raise ModelFileError(f"{where}: 'cell' should be a layer config {{class_name, config}}, got {str(value)[:80]}")
    return value


def _cells(cell: dict, where: str) -> list[dict]:
    """StackedRNNCells' cell configs."""
    cells = cell.get("config", {}).get("cells")
    if not isinstance(cells, list) or not cells:
        raise ModelFileError(f"{where}: StackedRNNCells should list its cells, got {str(cells)[:80]}")
    return [_cell(c, where) for c in cells]


def _cell_layer_spec(name, cell: dict, flags: dict, weights) -> LayerSpec:
    cls = cell.get("class_name")
    if cls not in CELLS:
        raise UnsupportedLayerError(f"RNN {name!r}: cell {cls!r} is not supported; supported: "
                                    f"{', '.join(sorted(CELLS))}, StackedRNNCells")
    cfg = {k: v for k, v in (cell.get("config") or {}).items() if k not in ("name", "trainable", "dtype")}
    cfg.update(flags)
    return LayerSpec(name, CELLS[cls], cfg, list(weights))


def _cell_n_weights(cell: dict) -> int:
    from . import layer_class

    return layer_class(CELLS.get(cell.get("class_name"), cell.get("class_name"))).n_weights(cell.get("config", {}))


class RNNLayer(Layer):
    """RNN(cell): returns the LSTM/GRU/SimpleRNN layer object, or a stacked-cells layer."""

    OPTIONS_DOC = "cell LSTMCell/GRUCell/SimpleRNNCell or StackedRNNCells; return_sequences/state, go_backwards"

    def __new__(cls, spec, ctx):
        cfg = spec.config
        cell = _cell(cfg.get("cell"), f"{ctx.source}: layer {spec.name!r}")
        flags = {k: v for k, v in cfg.items() if k not in ("cell",)}
        if cell.get("class_name") == "StackedRNNCells":
            return StackedRNNLayer(spec, ctx)
        return ctx.build(_cell_layer_spec(spec.name, cell, flags, spec.weights))  # class_name: LSTM/GRU/SimpleRNN

    @classmethod
    def n_weights(cls, config):
        cell = _cell(config.get("cell"), "RNN")
        if cell.get("class_name") == "StackedRNNCells":
            return sum(_cell_n_weights(c) for c in _cells(cell, "RNN"))
        return _cell_n_weights(cell)


def _stacked_step(xp_t, states, p):
    """Internal state order: the last cell's states first (the loop sizes its output by states[0])."""
    last = p.cells[-1]
    ordered = states[last.n:] + states[:last.n]  # back to Keras order
    out, i, inp, y = [], 0, xp_t, None
    for j, cell in enumerate(p.cells):
        if j:  # cell j's input is cell j-1's output
            inp = y @ cell.weights[0]
            if cell.use_bias:
                inp = inp + cell.input_bias
        y, new, _ = type(cell).step(inp, tuple(ordered[i:i + cell.n]), cell.params)
        out.extend(new)
        i += cell.n
    return y, tuple(out[-last.n:] + out[:-last.n]), {}


class StackedRNNLayer(RecurrentLayer):
    OPTIONS = {**{k: v for k, v in RNN_OPTIONS.items() if k in RNN_FLAGS}, "cell": anything}

    def __init__(self, spec, ctx):
        Layer.__init__(self, spec, ctx)
        c = self.config
        flags = {"return_sequences": False, "go_backwards": False, "stateful": False}
        ws = list(spec.weights)
        self.cells = []
        for k, cell in enumerate(_cells(c["cell"], self.where())):
            n = _cell_n_weights(cell)
            layer = ctx.build(_cell_layer_spec(f"{self.name}/cell_{k}", cell, flags, ws[:n]))
            ws = ws[n:]
            layer.n = len(layer.LAYOUT.states)
            self.cells.append(layer)
        for prev, cell in zip(self.cells, self.cells[1:]):  # cell k+1 reads cell k's output
            if cell.input_dim != prev.units:
                raise ModelFileError(f"{self.where()}: {cell.name}'s kernel takes {cell.input_dim} inputs, the cell "
                                     f"before it gives {prev.units}")
        self.units = self.cells[-1].units
        self.return_sequences = c.get("return_sequences", False)
        self.return_state = c.get("return_state", False)
        self.go_backwards = c.get("go_backwards", False)
        self.stateful = c.get("stateful", False)
        self.zero_output_for_mask = c.get("zero_output_for_mask", False)
        self.use_bias = self.cells[0].use_bias
        self.state = None
        self.params = SimpleNamespace(cells=self.cells)
        self.LAYOUT = SimpleNamespace(states=tuple(f"{k}:{s}" for k, cell in enumerate(self.cells)
                                                   for s in cell.LAYOUT.states))

    step = staticmethod(_stacked_step)

    def parts(self):
        return [(f"cell_{k}", cell) for k, cell in enumerate(self.cells)]

    def explain_text(self, inner):
        return inner, ["cells run in order within each step: cell k's output h_t is cell k+1's input x_t"]

    @classmethod
    def n_weights(cls, config):
        return RNNLayer.n_weights(config)

    @property
    def input_dim(self):
        return self.cells[0].input_dim

    def project(self, x):
        return self.cells[0].project(x)

    def _sizes(self):
        return [cell.units for cell in self.cells for _ in range(cell.n)]

    def _start_states(self, batch):
        if self.stateful and self.state is not None:
            return self.state
        return tuple(np.zeros((batch, u), np.float32) for u in self._sizes())

    def output_shape(self, input_shape, initial_state=None):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        b, t = input_shape[0], input_shape[1]
        y = (b, t, self.units) if self.return_sequences else (b, self.units)
        return [y] + [(b, u) for u in self._sizes()] if self.return_state else y

    def call(self, x, mask=None, record=None, initial_state=None):
        if isinstance(x, list):
            x, initial_state = x[0], x[1:] or initial_state
            mask = mask[0] if isinstance(mask, list) else mask
        states = (tuple(np.asarray(s, np.float32) for s in initial_state) if initial_state is not None
                  else self._start_states(x.shape[0]))
        n = self.cells[-1].n
        states = states[-n:] + states[:-n]  # internal order
        y, states = run(type(self).step, self.params, self.project(x), states, mask,
                        go_backwards=self.go_backwards, return_sequences=self.return_sequences,
                        zero_output_for_mask=self.zero_output_for_mask, record=recorder(self, x, mask, record))
        states = states[n:] + states[:n]  # Keras order
        if self.stateful:
            self.state = states
        return [y, *states] if self.return_state else y

    named_weights = Layer.named_weights  # the cells' own, prefixed cell_k/ (parts())


MODEL_KEYS = ("layers", "input_layers", "output_layers", "build_input_shape", "name", "trainable", "dtype")


class NestedModelLayer(Layer):
    """A Sequential/functional model used as a layer: runs as a sub-Model."""

    OPTIONS_DOC = "a Sequential or functional model used as a layer (run as a sub-model)"
    LIST_INPUT = False

    def __init__(self, spec, ctx):
        from ..io.config import parse_model_config
        from . import layer_class

        super().__init__(spec, ctx)
        body = {k: v for k, v in spec.config.items() if not k.startswith("_")}
        sub = parse_model_config({"class_name": spec.class_name, "config": body}, ctx.source,
                                 "3" if ctx.keras_major >= 3 else str(ctx.keras_major))
        ws = list(spec.weights)
        for s in sub.layers:
            n = layer_class(s.class_name).n_weights(s.config) or 0
            s.weights, ws = ws[:n], ws[n:]
        if ws:
            raise ModelFileError(f"{self.where()}: {len(ws)} stored weights left over after filling the nested layers")
        self.model = ctx.model(sub)  # graph.Model, through the context (layers never import graph)
        self._masks = None

    def _check_options(self):
        for key in self.config:
            if key not in MODEL_KEYS and not key.startswith("_"):
                raise UnsupportedOptionError(f"{self.where()}: option {key}={self.config[key]!r} is not understood")

    @classmethod
    def n_weights(cls, config):
        from . import layer_class

        return sum(layer_class(layer["class_name"]).n_weights(layer.get("config", {})) or 0
                   for layer in config.get("layers", []))

    @property
    def layers(self):
        return self.model.layers

    def parts(self):
        return [(layer.name, layer) for layer in self.model.layers]

    def explain_text(self, inner):
        return f"a nested model of {len(self.model.layers)} layers", []

    def output_shape(self, input_shape):
        shapes = [self.model._shapes[tuple(r)] for r in self.model.spec.outputs]
        b = (input_shape[0] if isinstance(input_shape, list) else input_shape)[0]
        shapes = [(b, *s[1:]) for s in shapes]
        return shapes[0] if len(shapes) == 1 else shapes

    def call(self, x, mask=None):
        xs = x if isinstance(x, list) else [x]
        masks = mask if isinstance(mask, list) else [mask]
        xs = [np.asarray(a, np.float32) for a in xs]
        outs = self.model.outputs_with_masks(xs, masks)
        self._masks = [m for _, m in outs]
        ys = [y for y, _ in outs]
        return ys[0] if len(ys) == 1 else ys

    def compute_mask(self, x, mask):
        ms = self._masks or [None]
        return ms[0] if len(ms) == 1 else ms
