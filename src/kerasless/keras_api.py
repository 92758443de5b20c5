"""The Keras surface a Keras user reaches for, mixed into Model: get_weights/set_weights (model and layer),
predict_on_batch, get_config/to_json, inputs/outputs, a Keras-style summary()."""

from __future__ import annotations

import json
from typing import NamedTuple

import numpy as np

from .errors import WeightsError
from .io.spec import LayerSpec, ModelSpec
from .layers import Layer

# Where Keras 3 finds the classes that are not in keras.layers: the ops a functional model records as layers (mask
# arithmetic) and nested models.
OPS = ("NotEqual", "Equal", "Any", "All", "LogicalAnd", "LogicalOr")
MODULES = {**{op: ("keras.src.ops.numpy", op) for op in OPS}, "Sequential": ("keras", None),
           "Functional": ("keras.src.models.functional", "Functional"),
           "Model": ("keras.src.models.functional", "Functional")}


class TensorInfo(NamedTuple):
    """What ``model.inputs`` / ``model.outputs`` hold: the tensor's name, batch shape and dtype (like a KerasTensor)."""

    name: str
    shape: tuple
    dtype: str = "float32"


def _check_weights(where: str, current: list, weights) -> list[np.ndarray]:
    """New weights against the current ones: same count, same shapes, numbers. Returns float32 copies."""
    if isinstance(weights, np.ndarray) or not hasattr(weights, "__len__"):
        raise WeightsError(f"{where}: set_weights takes a list of arrays, got {type(weights).__name__}")
    if len(weights) != len(current):
        raise WeightsError(f"{where}: expects a list of {len(current)} weight arrays "
                           f"{[tuple(c.shape) for c in current.values()]}, got {len(weights)}")
    out = []
    for i, (w, (name, c)) in enumerate(zip(weights, [(n, a) for n, a in current.items()])):
        a = np.asarray(w) if not isinstance(w, np.ndarray) else w
        if a.dtype.kind not in "biuf":
            raise WeightsError(f"{where}: weight {i} (of layer {name.split('/')[0]!r}) has dtype {a.dtype}; "
                               "expected numbers")
        if a.shape != c.shape:
            raise WeightsError(f"{where}: weight {i} (of layer {name.split('/')[0]!r}) should have shape {c.shape}, "
                               f"got {a.shape}")
        out.append(np.array(a, dtype=c.dtype))  # the stored dtype (float32; int64 for a Normalization's count)
    return out


class _Named(dict):
    """Ordered {"layer/weight": array}: the current weights, with names for error messages."""


class KerasAPI:
    """Model methods named and behaving like Keras's (the weights are Keras's ``model.get_weights()`` list)."""

    spec: ModelSpec

    def _attach_layers(self) -> None:
        """Let each top-level layer answer get_weights/set_weights through its model (called by __init__)."""
        for layer in self.layers:
            layer._keras_owner = self

    def _named_weights(self, only: str | None = None) -> _Named:
        return _Named((f"{s.name}/{n}", a) for s in self.spec.layers if only in (None, s.name) for n, a in s.weights)

    # -- weights -------------------------------------------------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        """Copies of every weight array, in Keras's ``model.get_weights()`` order, shapes and values.

        Example:
            >>> [w.shape for w in model.get_weights()]      # [(1951, 512), (128, 512), (512,), ...]
        """
        return [np.array(a) for s in self.spec.layers for _, a in s.weights]

    def set_weights(self, weights) -> None:
        """Replace every weight array (Keras's ``model.set_weights``): same count and shapes as get_weights().

        Raises:
            WeightsError naming the array that does not fit.
        Example:
            >>> model.set_weights([w * 0.5 for w in model.get_weights()])
        """
        new = _check_weights(f"{self.source}: model {self.name!r}", self._named_weights(), weights)
        self._rebuild(dict(zip(self._named_weights(), new)))

    def _rebuild(self, replace: dict) -> None:
        """Rebuild every layer from a spec with some weights replaced; layer objects keep their identity."""
        layers = [LayerSpec(s.name, s.class_name, s.config, [(n, replace.get(f"{s.name}/{n}", a)) for n, a in s.weights],
                            s.inbound, s.call_kwargs) for s in self.spec.layers]
        s = self.spec
        spec = ModelSpec(s.name, layers, s.inputs, s.outputs, s.keras_version, s.source, s.assets, s.output_structure)
        fresh = type(self)(spec, self._limits.max_bytes)
        for old, new in zip(self.layers, fresh.layers):
            old.__dict__.update(new.__dict__)
            old._keras_owner = self
        self.spec = spec

    # -- inference -------------------------------------------------------------------------------------------------
    def predict_on_batch(self, x):
        """``predict`` on the whole batch at once (Keras's ``predict_on_batch``), without progress output."""
        return self._guarded(self._check_inputs(x), False)

    # -- structure ---------------------------------------------------------------------------------------------------
    @property
    def inputs(self) -> list[TensorInfo]:
        """The model's inputs (name = the input layer's name, batch shape, dtype), like Keras's ``model.inputs``."""
        return [TensorInfo(n, tuple(self.get_layer(n).batch_shape), "float32") for n in self.input_names]

    @property
    def outputs(self) -> list[TensorInfo]:
        """The model's outputs: ``layer`` or ``layer[node]/tensor`` names, batch shapes (``model.outputs``)."""
        def name(r):
            return r[0] + (f"[{r[1]}]" if r[1] else "") + (f"/{r[2]}" if r[2] else "")
        return [TensorInfo(name(r), tuple(self._shapes[tuple(r)])) for r in self.spec.outputs]

    def get_config(self) -> dict:
        """The model's Keras config as a functional model (layers, inbound nodes, input/output layers): what
        ``keras.Model.from_config`` (or ``model_from_json`` on :meth:`to_json`) rebuilds."""
        layers = []
        keras3 = self.spec.keras_major >= 3
        for s in self.spec.layers:
            cfg = {k: v for k, v in s.config.items() if k != "_build_config"}
            node = self._node_k3 if keras3 else self._node_k2
            entry = {"class_name": s.class_name, "name": s.name, "config": cfg,
                     "inbound_nodes": [node(s.name, i, refs) for i, refs in enumerate(s.inbound)]}
            if keras3:
                module, registered = MODULES.get(s.class_name, ("keras.layers", None))
                entry = {"module": module, "registered_name": registered, **entry}
            layers.append(entry)
        return {"name": self.name, "trainable": True, "layers": layers,
                "input_layers": [list(r) for r in self.spec.inputs],
                "output_layers": [list(r) for r in self.spec.outputs]}

    def _node_k2(self, name: str, node: int, refs) -> list:
        """One call in tf_keras's format: [[layer, node, tensor, kwargs], ...]."""
        def one(v):
            if isinstance(v, tuple) and v and v[0] == "__tensor__":
                return list(v[1])
            return [one(e) for e in v] if isinstance(v, list) else v
        kw = {k: one(v) for k, v in (self._node_kwargs.get((name, node)) or {}).items()}
        return [[*r, kw] for r in refs]

    def _node_k3(self, name: str, node: int, refs) -> dict:
        """One call in Keras 3's format: {"args": [...], "kwargs": {...}} with tensors as __keras_tensor__."""
        def tensor(ref, dtype="float32"):
            shape = self._shapes.get(tuple(ref))
            return {"class_name": "__keras_tensor__", "config": {
                "shape": None if shape is None else list(shape), "dtype": dtype, "keras_history": list(ref)}}

        def one(v, key):
            if isinstance(v, tuple) and v and v[0] == "__tensor__":
                return tensor(v[1], "bool" if key.endswith("mask") else "float32")
            return [one(e, key) for e in v] if isinstance(v, list) else v
        kw = dict(self._node_kwargs.get((name, node)) or {})
        const = kw.pop("__const__", [])
        ops = self.spec_layer(name).class_name in OPS
        tensors = [tensor(r) for r in refs]
        args = [tensors] if self.get_layer(name).LIST_INPUT and not ops else tensors
        for pos, value in const:
            args.insert(pos, value)
        return {"args": args, "kwargs": {k: one(v, k) for k, v in kw.items()}}

    def to_json(self, **kwargs) -> str:
        """:meth:`get_config` as Keras's model JSON (``keras.models.model_from_json`` reads it)."""
        head = {"module": "keras.src.models.functional", "registered_name": "Functional"} \
            if self.spec.keras_major >= 3 else {}
        return json.dumps({**head, "class_name": "Functional", "config": self.get_config(),
                           "keras_version": self.keras_version, "backend": "tensorflow"}, **kwargs)

    # -- summary ---------------------------------------------------------------------------------------------------
    def count_params(self) -> int:
        return sum(layer.count_params() for layer in self.layers)

    def spec_layer(self, name: str) -> LayerSpec:
        return next(s for s in self.spec.layers if s.name == name)

    def _param_split(self) -> list[tuple[int, int]]:
        """[(count, bytes)] of the total, trainable and non-trainable parameters, as Keras's summary counts them."""
        def frozen(s, i):
            return (s.config.get("trainable") is False or s.class_name == "Normalization"  # mean, variance, count
                    or (s.class_name == "BatchNormalization" and i >= len(s.weights) - 2))  # the moving statistics
        split = {True: [0, 0], False: [0, 0]}
        for s in self.spec.layers:
            for i, (_, a) in enumerate(s.weights):
                split[frozen(s, i)][0] += a.size
                split[frozen(s, i)][1] += a.nbytes
        (n_f, b_f), (n_t, b_t) = split[True], split[False]
        return [(n_t + n_f, b_t + b_f), (n_t, b_t), (n_f, b_f)]

    def summary(self, line_length=None, print_fn=None) -> None:
        """Print a table like Keras's ``model.summary()`` (layer and class, output shape, parameters, and for
        branching models what each layer is connected to); returns None like Keras.

        Args:
            print_fn: called with the whole text (default: print).
        """
        (print if print_fn is None else print_fn)(self.summary_text(line_length))

    def summary_text(self, line_length=None) -> str:
        """The text :meth:`summary` prints."""
        from .graph import _kwarg_refs

        def refs_of(name, node):  # every tensor a call reads, initial states included
            return [tuple(r) for r in self.spec_layer(name).inbound[node]] + _kwarg_refs(
                self._node_kwargs.get((name, node), {}))

        calls = [(layer.name, node) for layer, node, _ in self._nodes]
        used = [r[:2] for c in calls for r in refs_of(*c)]
        sequential = all(not s.call_kwargs for s in self.spec.layers)  # only Sequential configs record no calls
        linear = sequential or (len(self.input_names) == 1 and len(used) == len(set(used))
                                and all(len(refs_of(*c)) == 1 and c[1] == 0 for c in calls))
        rows = []
        for s in self.spec.layers:
            if sequential and s.class_name == "InputLayer":  # Keras leaves it out of a Sequential's table
                continue
            outs = [v for k, v in self._shapes.items() if k[:2] == (s.name, 0)]
            shape = str(outs[0]) if len(outs) == 1 else "[" + ", ".join(map(str, outs)) + "]"
            row = [f"{s.name} ({s.class_name})", shape, f"{self.get_layer(s.name).count_params():,}"]
            if not linear:
                refs = [r for node in range(len(s.inbound)) for r in refs_of(s.name, node)]
                row.append(", ".join(f"{r[0]}[{r[1]}][{r[2]}]" for r in refs) or "-")
            rows.append(row)
        head = ["Layer (type)", "Output Shape", "Param #"] + ([] if linear else ["Connected to"])
        widths = [31, 22, 13] if linear else [19, 17, 10, 17]
        if line_length:
            widths = [max(8, round(w * line_length / (sum(widths) + 3 * len(widths) + 1))) for w in widths]
        right = {2}

        def cells(values):
            wrapped = [_wrap(v, w) for v, w in zip(values, widths)]
            return ["│" + "│".join(f" {(c[i] if i < len(c) else ''):{'>' if j in right else '<'}{w}} "
                                   for j, (c, w) in enumerate(zip(wrapped, widths))) + "│"
                    for i in range(max(map(len, wrapped)))]

        def rule(a, m, b, fill):
            return a + m.join(fill * (w + 2) for w in widths) + b

        out = [f'Model: "{self.name}"', rule("┏", "┳", "┓", "━"),
               "┃" + "┃".join(f" {h:{'>' if j in right else '<'}{w}} " for j, (h, w) in enumerate(zip(head, widths)))
               + "┃", rule("┡", "╇", "┩", "━")]
        for i, row in enumerate(rows):
            if i:
                out.append(rule("├", "┼", "┤", "─"))
            out += cells(row)
        out.append(rule("└", "┴", "┘", "─"))
        for label, (n, size) in zip(("Total", "Trainable", "Non-trainable"), self._param_split()):
            out.append(f" {label} params: {n:,} ({_bytes(size)})")
        return "\n".join(out)


def _wrap(text: str, width: int) -> list[str]:
    """Rich's wrapping, as Keras's table: words fill lines, a word longer than the column is cut with an ellipsis."""
    lines, cur = [], ""
    for word in text.split(" "):
        word = word if len(word) <= width else word[:width - 1] + "…"
        if cur and len(cur) + 1 + len(word) <= width:
            cur += " " + word
        else:
            if cur:
                lines.append(cur)
            cur = word
    return [*lines, cur]


def _bytes(n: int) -> str:
    """Keras's size words: 512.00 B, 3.91 KB, 5.02 MB."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024
    return ""


# -- per-layer weights (Keras's layer.get_weights / layer.set_weights) ----------------------------------------------
def _layer_get_weights(self: Layer) -> list[np.ndarray]:
    """Copies of this layer's arrays in Keras's ``layer.get_weights()`` order and shapes."""
    owner = getattr(self, "_keras_owner", None)
    if owner is None:  # a layer inside a wrapper: its own arrays
        return [w.copy() for w in self.weights]
    return [np.array(a) for a in owner._named_weights(self.name).values()]


def _layer_set_weights(self: Layer, weights) -> None:
    """Replace this layer's arrays (Keras's ``layer.set_weights``): same count and shapes as get_weights()."""
    owner = getattr(self, "_keras_owner", None)
    if owner is None:
        raise WeightsError(f"{self.where()}: set the weights of a wrapped layer through its top-level layer")
    current = owner._named_weights(self.name)
    new = _check_weights(self.where(), current, weights)
    owner._rebuild(dict(zip(current, new)))


# Installed here so layers/ stays untouched; one line in layers/base.Layer would be their natural home.
Layer.get_weights = _layer_get_weights
Layer.set_weights = _layer_set_weights
