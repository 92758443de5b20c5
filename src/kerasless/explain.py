"""What every weight array of a model means: names, get_weights() indices, gate column blocks, equations, params.

Everything here is read from the layer objects and from ``layers/layout.py`` (gate orders, array names, equation
templates); nothing restates a gate order. Traces live in ``trace.py``, pictures and HTML in ``plots.py``, the
generated tables of docs/weight-layouts.md in ``layout_docs.py``.

Example:
    >>> import kerasless
    >>> print(kerasless.explain(kerasless.load("char_lstm.keras")))
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field

import numpy as np

from ._callable import make_callable
from .layers import activations, layout
from .layers.recurrent import RecurrentLayer

__all__ = ["Block", "Explanation", "LayerInfo", "WeightInfo", "explain", "gate_weights", "shape_text"]

# Formulas of the activations people meet in recurrent models; "hard_sigmoid_k2" is Keras <= 2's hard_sigmoid.
FORMULAS = {
    "sigmoid": "sigmoid(x) = 1 / (1 + exp(-x))",
    "tanh": "tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x))",
    "hard_sigmoid": "hard_sigmoid(x) = clip(x / 6 + 0.5, 0, 1)   (Keras 3 formula)",
    "hard_sigmoid_k2": "hard_sigmoid(x) = clip(0.2 * x + 0.5, 0, 1)   (Keras <= 2 formula: this file was written "
                       "by Keras 2; Keras 3 uses x / 6 + 0.5)",
    "relu": "relu(x) = max(x, 0)",
    "softmax": "softmax(x)_j = exp(x_j) / sum_k exp(x_k)   (over the last axis)",
    "softsign": "softsign(x) = x / (1 + |x|)",
    "elu": "elu(x) = x if x >= 0 else exp(x) - 1",
}


@dataclass
class Block:
    """Columns [start, stop) of a weight's last axis that belong to one gate (and, for GRU's (2, 3u) bias, a row)."""

    gate: str  # layout role: input | forget | cell | output | update | reset | candidate
    symbol: str  # W_i, U_f, b_z, br_h, ...: the gate_weights() key
    start: int
    stop: int
    label: str = ""
    row: int | None = None


@dataclass
class WeightInfo:
    name: str  # Keras variable name: kernel, recurrent_kernel, bias, embeddings
    index: int  # position in keras model.get_weights()
    shape: tuple
    label: str = ""
    part: str | None = None  # "forward" / "backward" inside a Bidirectional
    stored_as: str = ""  # the name or path inside the file
    blocks: list[Block] | None = None


@dataclass
class LayerInfo:
    name: str
    class_name: str
    params: int
    summary: str = ""
    weights: list[WeightInfo] = field(default_factory=list)
    equations: list[str] = field(default_factory=list)
    activations: list[str] = field(default_factory=list)  # formulas of the activations the equations use
    notes: list[str] = field(default_factory=list)
    param_formula: str = ""


@dataclass
class Explanation:
    """A model's weight map. ``str()`` is the text report; also ``to_markdown()``, ``to_json()``, ``to_dict()``."""

    model: str
    source: str
    keras_version: str
    params: int
    layers: list[LayerInfo]

    def to_dict(self) -> dict:
        def clean(v):
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items() if x is not None and x != "" and x != []}
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            return v

        d = clean(asdict(self))
        for layer in d["layers"]:  # keep empty lists that carry meaning
            layer.setdefault("weights", [])
            for w in layer["weights"]:
                w["shape"] = list(w["shape"])
        return d

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def __str__(self) -> str:
        return _render_text(self)

    def to_markdown(self) -> str:
        return _render_markdown(self)

    def layer(self, name: str) -> LayerInfo:
        for info in self.layers:
            if info.name == name:
                return info
        raise KeyError(f"no layer {name!r}; layers: {', '.join(i.name for i in self.layers)}")


# -- building the map ----------------------------------------------------------------------------------------------
def explain(model) -> Explanation:
    """Say what every weight array of ``model`` is.

    Args:
        model: a :class:`kerasless.Model` (or a path to a ``.keras`` / ``.h5`` file).
    Returns:
        an :class:`Explanation`: per layer, each weight's Keras name, global ``get_weights()`` index, shape, gate
        column blocks, the layer's equations written with its own activations, and parameter counts.
    Example:
        >>> info = kerasless.explain(model)
        >>> info.layer("lstm").weights[0].blocks[1]   # Block(gate='forget', symbol='W_f', start=128, stop=256)
    """
    if not hasattr(model, "_nodes"):
        from . import load

        model = load(model)
    counter = iter(range(10**9))
    layers = [_describe(layer, counter) for layer in model.layers]
    return Explanation(model.name, str(model.source), str(model.keras_version), model.count_params(), layers)


def _describe(layer, counter, part=None, info=None) -> LayerInfo:
    """A layer's LayerInfo, through the layer interface: its parts (wrappers), its cell layout (recurrent layers),
    or its ARRAYS and EQUATIONS."""
    info = info or LayerInfo(layer.name, layer.class_name, layer.count_params())
    parts = layer.parts()
    if parts:
        for prefix, sub in parts:
            _describe(sub, counter, prefix or part, info)
    elif isinstance(layer, RecurrentLayer):
        _describe_recurrent(layer, counter, part, info)
    else:
        arrays = layer.ARRAYS or [layout.Array(n.split("/")[-1], "", "", "") for n in layer.weight_names]
        for arr, w, stored in zip(arrays, layer.weights, layer.weight_names):
            info.weights.append(WeightInfo(arr.name, next(counter), w.shape, arr.label, part, stored))
        act = getattr(layer, "activation", None)
        info.equations += _fill(layer.EQUATIONS, act, None, getattr(layer, "use_bias", True))
        info.activations += _formulas([act]) if layer.EQUATIONS else []
    summary, notes = layer.explain_text(info.summary)
    info.summary, info.notes = summary, [*notes, *info.notes]
    return info


def _variant(layer) -> str:
    if hasattr(layer, "reset_after"):
        return "reset_after" if layer.reset_after else "reset_before"
    return "default"


def _describe_recurrent(layer, counter, part, info) -> None:
    lay, u = layer.LAYOUT, layer.units
    ra = getattr(layer, "recurrent_activation", None)
    if part != "backward":
        opts = [f"{u} units", f"activation={_show(layer.activation)}"]
        opts += [f"recurrent_activation={_show(ra)}"] if ra else []
        opts += [f"reset_after={layer.reset_after}"] if hasattr(layer, "reset_after") else []
        opts += [k for k in ("return_sequences", "go_backwards", "stateful") if getattr(layer, k, False)]
        opts += ["use_bias=False"] if not layer.use_bias else []
        info.summary = info.summary or ", ".join(opts)
    for arr, w, stored in zip(layout.RECURRENT_ARRAYS, layer.weights, layer.weight_names):
        two_rows = arr.name == "bias" and w.ndim == 2  # GRU(reset_after=True): (2, 3u)
        rows = layout.GRU_BIAS_ROWS if two_rows else ((arr.symbol, ""),)
        blocks = []
        for r, (prefix, _) in enumerate(rows):
            for g, gate in enumerate(lay.gates):
                s = lay.block(g, u)
                blocks.append(Block(gate.role, f"{prefix}_{gate.key}", s.start, s.stop, _gate_words(gate),
                                    r if two_rows else None))
        label = arr.label + ("; row 0 input bias, row 1 recurrent bias" if two_rows else "")
        info.weights.append(WeightInfo(arr.name, next(counter), w.shape, label, part, stored, blocks))
    eqs = _fill(lay.equations[_variant(layer)], layer.activation, ra, layer.use_bias)
    if part == "backward" and eqs != info.equations:  # a custom backward_layer with other options
        info.equations = ["forward:", *(f"  {e}" for e in info.equations), "backward:", *(f"  {e}" for e in eqs)]
        info.activations += [f for f in _formulas([layer.activation, ra]) if f not in info.activations]
    if part != "backward":
        info.equations += eqs
        info.activations += _formulas([layer.activation, ra])
        states = ", ".join(f"{n}_t" for n in lay.states)
        info.notes.append(f"x_t: input at step t ({layer.input_dim} numbers); {states}: state ({u} numbers each); "
                          "· matrix product, * elementwise")
        if layer.go_backwards:
            info.notes.append("go_backwards: t runs from the last input step to the first, and the returned "
                              "sequence is in that (reversed) order")
    n_rows = 0 if not layer.use_bias else layer.weights[2].shape[0] if layer.weights[2].ndim == 2 else 1
    total = layer.count_params()
    terms = " + ".join(f"{int(np.prod(w.shape)):,}" for w in layer.weights)
    taps = int(np.prod(layer.weights[0].shape[:-2]))  # ConvLSTM: kernel positions; 1 for plain RNNs
    k = f"{taps}·" if taps > 1 else ""
    formula = (f"{terms} = {lay.n_gates}·{u}·({k}{layer.input_dim} + {k}{u}" + (f" + {n_rows}" if n_rows else "")
               + f") = {total:,}")
    formula = f"{part} {formula}" if part else formula
    info.param_formula = f"{info.param_formula}; {formula}" if info.param_formula else formula


def _gate_words(gate) -> str:
    return f"{gate.label} {gate.math} = {gate.var}" if gate.math else f"{gate.label} {gate.var}"


def _show(name) -> str:
    return activations.display(name)


def _formulas(names) -> list[str]:
    seen = []
    for n in names:
        if n and n in FORMULAS and FORMULAS[n] not in seen:
            seen.append(FORMULAS[n])
    return seen


def _fill(templates, a, ra, use_bias) -> list[str]:
    """Equation templates with the layer's activations; optional bias terms `[ + b]` kept only with use_bias."""
    out = []
    for t in templates:
        t = re.sub(r"\[([^\]]*)\]", r"\1" if use_bias else "", t)
        for key, name in (("{a}", a), ("{ra}", ra)):
            t = _unwrap(t, key) if name == "linear" else t.replace(key, _show(name) or "")
        out.append(t)
    return out


def _unwrap(text: str, key: str) -> str:
    """Drop ``key(`` and its matching ``)``: linear(v) is just v."""
    while key + "(" in text:
        i = text.index(key + "(")
        depth, j = 0, i + len(key)
        for j in range(i + len(key), len(text)):
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            if depth == 0:
                break
        text = text[:i] + text[i + len(key) + 1:j] + text[j + 1:]
    return text


# -- named arrays --------------------------------------------------------------------------------------------------
def gate_weights(model, layer_name: str) -> dict[str, np.ndarray]:
    """Named pieces of one layer's real weights: ``W_i, U_i, b_i, ...`` (GRU reset_after: also ``br_*``).

    Args:
        model: a kerasless Model.
        layer_name: a layer's name; Bidirectional keys are prefixed ``forward/`` and ``backward/``; TimeDistributed
            returns its inner layer's; Dense gives ``W, b``; Embedding ``E``.
    Returns:
        {symbol: array view}, e.g. ``W_f`` of shape (input_dim, units).
    Example:
        >>> gate_weights(model, "lstm")["W_f"].shape     # (1951, 128)
    """
    return model.get_layer(layer_name).named_weights()


# -- rendering -----------------------------------------------------------------------------------------------------
def shape_text(shape) -> str:
    """(3, 4) as people write it; (3,) keeps its comma."""
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _block_lines(w: WeightInfo) -> list[str]:
    lines, row = [], object()
    for b in w.blocks or []:
        if b.row is not None and b.row != row:
            row = b.row
            lines.append(f"row {b.row}: {layout.GRU_BIAS_ROWS[b.row][1]}")
        pad = "  " if b.row is not None else ""
        n = len(str(w.shape[-1]))
        width = 24 + sum(1 for ch in b.label if unicodedata.combining(ch))  # c̃ is two code points, one column
        lines.append(f"{pad}columns {b.start:>{n}}–{b.stop - 1:<{n}}  {b.label:<{width}} {b.symbol}")
    return lines


def _render_text(e: Explanation) -> str:
    out = [(f'Model "{e.model}"  (Keras {e.keras_version}, {e.source})  {e.params:,} parameters in '
            f"{sum(len(i.weights) for i in e.layers)} arrays (keras model.get_weights() order)")]
    for info in e.layers:
        if not info.weights and info.class_name == "InputLayer":
            continue
        out += ["", f"{info.name} ({info.class_name}" + (f": {info.summary}" if info.summary else "") + ")"
                + (f"  {info.params:,} params" if info.params else "")]
        for w in info.weights:
            who = f"{w.part} {w.name}" if w.part else w.name
            out.append(f"  get_weights()[{w.index}]  {who} {shape_text(w.shape)}  {w.label}")
            out += [f"      {line}" for line in _block_lines(w)]
        if info.equations:
            out += ["  equations:"] + [f"    {eq}" for eq in info.equations]
        if info.activations:
            out += ["  where:"] + [f"    {f}" for f in info.activations]
        out += [f"  {note}" for note in info.notes]
        if info.param_formula:
            out.append(f"  params: {info.param_formula}")
    return "\n".join(out)


def _render_markdown(e: Explanation) -> str:
    out = [f"# Weights of `{e.model}`", "",
           (f"Keras {e.keras_version}, `{e.source}`: **{e.params:,} parameters**, listed in "
            "`model.get_weights()` order.")]
    for info in e.layers:
        if not info.weights and info.class_name == "InputLayer":
            continue
        out += ["", f"## `{info.name}` — {info.class_name}" + (f" ({info.summary})" if info.summary else ""), ""]
        if info.weights:
            out += ["| index | weight | shape | columns (last axis) |", "|---:|---|---|---|"]
            for w in info.weights:
                who = f"{w.part} `{w.name}`" if w.part else f"`{w.name}`"
                cols = "<br>".join((f"row {b.row}: " if b.row is not None else "")
                                   + f"`{b.symbol}` {b.start}–{b.stop - 1}: {b.label}" for b in w.blocks or [])
                cols = cols or w.label
                out.append(f"| {w.index} | {who} | `{shape_text(w.shape)}` | {cols} |")
        if info.equations:
            out += ["", "```text", *info.equations, *(["where:", *info.activations] if info.activations else []),
                    "```"]
        out += [f"- {note}" for note in info.notes]
        if info.param_formula:
            out.append(f"- params: {info.param_formula}")
    return "\n".join(out) + "\n"


# -- command line --------------------------------------------------------------------------------------------------
make_callable(__name__, explain)  # kerasless.explain(model)
