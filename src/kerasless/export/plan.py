"""Model -> Plan: a flat list of kernel calls over named float32 buffers, plus the named weight arrays.

Every export target consumes the same Plan; a target only has to implement the kernels in :data:`KERNELS`
(see its docs for the exact semantics) and walk ``plan.calls`` in order.

Contract:
  * Every buffer holds float32 values for the whole batch, C order, shape ``(batch, *Buffer.shape)``; kernels
    see them as flat arrays and get every dimension they need in ``Call.params`` (never the batch, which is
    the runtime ``batch`` argument). Flat targets (C, JS, Java) can lay all buffers out in one workspace.
  * ``plan.input`` is the model input (``"x"``), ``plan.output`` the buffer to copy out (it may be ``"x"``).
  * Token ids for an Embedding are passed as float values (truncated toward zero, like Keras).
  * Mask buffers (kind ``"mask"``, shape ``(steps,)``) hold 1.0 for a valid step and 0.0 for a masked one.
  * State buffers (kind ``"state"``) belong to stateful RNN calls: they persist across predict calls, start at
    zero and are zeroed only by reset_states(). Shape ``(seqs, n_states, units)``: h then c for LSTM.
  * A ``reshape`` call's output aliases its input (``Buffer.alias_of``): flat targets emit nothing for it.
  * Weights keep the Keras layout: kernel ``(input_dim, gates*units)`` with gate column blocks in
    ``params["gates"]`` order (LSTM i,f,c,o; GRU z,r,h), recurrent kernel ``(units, gates*units)``.
  * Activations are kerasless canonical names (kerasless.layers.activations.ACTIVATIONS); each applies to the
    last axis (softmax-like ones normalise a row; inside an RNN a row is one gate block of ``units``).

Example:
    >>> plan = build_plan(kerasless.load("m.keras"), target="c")
    >>> print(plan.summary())
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import KeraslessError
from ..layers import REGISTRY
from ..layers.bidirectional import BidirectionalLayer
from ..layers.core import (
    ActivationLayer,
    FlattenLayer,
    InputLayer,
    MaskingLayer,
    NoOp,
    PermuteLayer,
    RepeatVectorLayer,
    ReshapeLayer,
)
from ..layers.dense import DenseLayer
from ..layers.embedding import EmbeddingLayer
from ..layers.gru import GRULayer
from ..layers.lstm import LSTMLayer
from ..layers.recurrent import RecurrentLayer
from ..layers.simple_rnn import SimpleRNNLayer
from ..layers.time_distributed import TimeDistributedLayer
from ..stream import call_kwargs
from .inputs import reference_outputs, sample_inputs


class ExportError(KeraslessError):
    """The model (a layer, an option, a shape) cannot be exported to the requested target."""


# kernel -> what it does. The runtime of every target implements these, and only these.
KERNELS = {
    "dense": "y[r] = act(x[r]·W + b) for each of `rows` rows; params rows, input_dim, units, activation; "
             "weights W (input_dim, units), b (units,) optional",
    "lstm": "LSTM over `seqs` sequences of `steps`: x (seqs, steps, input_dim) -> (seqs, steps, units) if "
            "return_sequences else (seqs, units). z = x_t·W + b + h·U; i=ra(z_i) f=ra(z_f) g=a(z_c) o=ra(z_o); "
            "c'=f*c+i*g; h'=o*a(c'). Loop semantics: see 'recurrent loop' in the module docs",
    "gru": "GRU, blocks z,r,h. reset_after: hu = h·U + br; z=ra(xz+hu_z) r=ra(xr+hu_r) hh=a(xh + r*hu_h). "
           "else: z=ra(xz+h·U_z) r=ra(xr+h·U_r) hh=a(xh + (r*h)·U_h). h' = z*h + (1-z)*hh. x* = x_t·W + b",
    "simple_rnn": "SimpleRNN: h' = a(x_t·W + b + h·U)",
    "embedding": "y[i] = E[trunc(x[i])] for `n` ids per sample; an id outside [0, vocab) (or NaN) is an error; "
                 "params n, vocab, dim; weights E (vocab, dim)",
    "mask_tokens": "mask[i] = 1.0 if x[i] != 0.0 else 0.0 (the raw float, before truncation); params n",
    "mask_values": "mask[t] = 1.0 if any(x[t, :] != value) else 0.0; params steps, features, value",
    "apply_mask": "y[t, :] = x[t, :] * mask[t] (Masking zeroes masked steps); inputs [x, mask]; params steps, features",
    "activation": "y = act(x) row by row; params rows, n, activation",
    "reverse_time": "y[t] = x[steps-1-t]; params steps, features",
    "merge": "inputs [a, b], `rows` rows: concat -> [a | b] (a_dim + b_dim), sum a+b, mul a*b, ave (a+b)/2; "
             "params rows, a_dim, b_dim, mode",
    "permute": "y = transpose(x, dims) per sample; params shape (input shape), dims (0-based over sample axes)",
    "repeat": "y[k, :] = x[:] for k < n; params n, features",
    "reshape": "no data movement: output aliases input with params shape (only shaped targets, e.g. NumPy, act)",
}
RECURRENT_KERNELS = {"lstm", "gru", "simple_rnn"}

# How every runtime (C, JS, Java) is called: kernel -> the arguments in order, as (kind, key). Kinds: "in" (input
# buffer #key), "out", "rows" (batch * params[key]), "batch", "int" / "float" / "enum" (params[key]), "ints" (a
# tuple param), "rank" (its length; runtimes that know array lengths omit it), "weight" / "weight?" (a weight role;
# "?": may be absent), "act" / "act?" (an activation param; "?": linear may be passed as none). "status": the
# runtime function returns a status code (C) or throws. Recurrent kernels take one record of their params
# (RNN_FIELDS) and the loop buffers; each target prints that record in its own syntax.
SIGNATURES = {
    "dense": ([("in", 0), ("rows", "rows"), ("int", "input_dim"), ("int", "units"), ("weight", "W"), ("weight?", "b"),
               ("act?", "activation"), ("out", None)], False),
    "embedding": ([("in", 0), ("rows", "n"), ("weight", "E"), ("int", "vocab"), ("int", "dim"), ("out", None)], True),
    "mask_tokens": ([("in", 0), ("rows", "n"), ("out", None)], False),
    "mask_values": ([("in", 0), ("rows", "steps"), ("int", "features"), ("float", "value"), ("out", None)], False),
    "apply_mask": ([("in", 0), ("in", 1), ("rows", "steps"), ("int", "features"), ("out", None)], False),
    "activation": ([("in", 0), ("rows", "rows"), ("int", "n"), ("act", "activation"), ("out", None)], False),
    "reverse_time": ([("in", 0), ("batch", None), ("int", "steps"), ("int", "features"), ("out", None)], False),
    "merge": ([("in", 0), ("in", 1), ("rows", "rows"), ("int", "a_dim"), ("int", "b_dim"), ("enum", "mode"),
               ("out", None)], False),
    "permute": ([("in", 0), ("batch", None), ("rank", "shape"), ("ints", "shape"), ("ints", "dims"), ("out", None)],
                False),
    "repeat": ([("in", 0), ("batch", None), ("int", "n"), ("int", "features"), ("out", None)], False),
}
# The record a recurrent call passes (C struct kl_rnn, JS object, Java Rt.Rnn), in order.
RNN_FIELDS = [("int", "seqs"), ("int", "steps"), ("int", "input_dim"), ("int", "units"), ("len", "gates"),
              ("weight", "W"), ("weight", "U"), ("weight?", "b"), ("weight?", "br"), ("act", "activation"),
              ("act?", "recurrent_activation"), ("bool", "reset_after"), ("bool", "go_backwards"),
              ("bool", "return_sequences"), ("bool", "zero_output_for_mask")]
# The gate order each runtime kernel is written for; checked against layer.LAYOUT so a change there fails loudly.
KERNEL_GATES = {"lstm": ("i", "f", "c", "o"), "gru": ("z", "r", "h"), "simple_rnn": ("h",)}


@dataclass
class Buffer:
    name: str
    shape: tuple  # per sample (no batch axis)
    kind: str = "data"  # "input" | "data" | "mask" | "state"
    alias_of: str | None = None  # reshape: same storage as this buffer

    @property
    def size(self) -> int:
        return int(math.prod(self.shape))


@dataclass
class Call:
    kernel: str  # a KERNELS key
    layer: str  # Keras layer name (Bidirectional halves "<name>/forward", "<name>/backward")
    inputs: list  # buffer names read; inputs[0] is the data input
    output: str  # buffer written
    params: dict = field(default_factory=dict)  # ints, floats, bools, strings and tuples only
    weights: dict = field(default_factory=dict)  # role ("W", "U", "b", "br", "E") -> Plan.weights key
    mask: str | None = None  # recurrent kernels: mask buffer (steps,) or None
    state: str | None = None  # stateful recurrent kernels: persistent state buffer
    layer_class: str = ""  # Keras class of the layer ("LSTM", "Bidirectional", ...), for comments


@dataclass
class Plan:
    name: str  # Keras model name
    source: str
    keras_version: str
    buffers: dict  # name -> Buffer, in creation order
    calls: list  # [Call] in execution order
    weights: dict  # name -> float32 C-contiguous array, Keras layout
    output: str
    input: str = "x"
    fixed_batch: int | None = None  # stateful models accept only this batch size
    input_vocab: int | None = None  # the input holds token ids for an Embedding of this vocabulary
    input_mask_value: float | None = None  # a Masking layer reads the input directly
    test_x: np.ndarray | None = None  # one test vector: predict(test_x) == test_y from a fresh state
    test_y: np.ndarray | None = None

    @property
    def input_shape(self) -> tuple:
        return self.buffers[self.input].shape

    @property
    def output_shape(self) -> tuple:
        return self.buffers[self.output].shape

    @property
    def kernels(self) -> list[str]:
        """Kernels the model uses, in KERNELS order."""
        used = {c.kernel for c in self.calls}
        return [k for k in KERNELS if k in used]

    @property
    def activations(self) -> list[str]:
        """Canonical activation names the model uses, sorted."""
        return sorted({c.params[k] for c in self.calls for k in ("activation", "recurrent_activation")
                       if k in c.params})

    @property
    def stateful(self) -> bool:
        return any(c.state for c in self.calls)

    def storage(self, name: str) -> str:
        """The buffer whose storage ``name`` uses (follows reshape aliases)."""
        while self.buffers[name].alias_of:
            name = self.buffers[name].alias_of
        return name

    def summary(self) -> str:
        floats = sum(w.size for w in self.weights.values())
        lines = [(f"plan for {self.name!r}: input {self.input_shape} -> output {self.output_shape} "
                  f"({self.output}); {len(self.weights)} weight arrays, {floats:,} floats")]
        for c in self.calls:
            extra = "".join(f" {k}={v}" for k, v in (("mask", c.mask), ("state", c.state)) if v)
            lines.append(f"  {c.output} = {c.kernel}({', '.join(c.inputs)}){extra}  # {c.layer} ({c.layer_class}) "
                         f"{c.params}")
        return "\n".join(lines)


@dataclass
class _T:
    """A tensor during planning: its buffer, per-sample shape and mask buffer."""

    buf: str
    shape: tuple
    mask: str | None = None


class _Builder:
    def __init__(self, model, target):
        self.model, self.target = model, target
        self.buffers: dict[str, Buffer] = {}
        self.calls: list[Call] = []
        self.weights: dict[str, np.ndarray] = {}
        self.counts = {"t": 0, "m": 0, "s": 0}
        self.input_vocab = None
        self.input_mask_value = None
        self.fixed_batch = None

    def fail(self, layer, what: str):
        raise ExportError(f"layer {layer.name!r} ({layer.class_name}): {what}; cannot export to target "
                          f"{self.target!r}")

    def buffer(self, shape, kind="data", prefix="t", alias_of=None) -> str:
        self.counts[prefix] += 1
        name = f"{prefix}{self.counts[prefix]}"
        self.buffers[name] = Buffer(name, tuple(int(d) for d in shape), kind, alias_of)
        return name

    def weight(self, name: str, array) -> str:
        if name in self.weights and not np.array_equal(self.weights[name], array):
            raise ExportError(f"two different weight arrays are both called {name!r}")
        self.weights[name] = np.ascontiguousarray(array, dtype=np.float32)
        return name

    def emit(self, kernel, layer, inputs, shape, params, weights=None, mask=None, state=None, kind="data",
             prefix="t") -> str:
        out = self.buffer(shape, kind, prefix)
        self.calls.append(Call(kernel, layer.name, list(inputs), out, params, weights or {}, mask, state,
                               layer.class_name))
        return out

    def is_input(self, t: _T) -> bool:
        return self.buffers[t.buf].kind == "input"


# -- layer handlers: (builder, layer, tensor) -> tensor ------------------------------------------------------------
def _noop(b, layer, x):
    return x


def _rows(shape) -> int:
    return int(math.prod(shape[:-1]))


def _dense(b, layer, x):
    if x.shape[-1] != layer.weights[0].shape[0]:
        b.fail(layer, f"kernel expects {layer.weights[0].shape[0]} features, input has {x.shape[-1]}")
    ws = {"W": b.weight(f"{layer.name}/kernel", layer.weights[0])}
    if layer.use_bias:
        ws["b"] = b.weight(f"{layer.name}/bias", layer.weights[1])
    shape = (*x.shape[:-1], layer.units)
    params = {"rows": _rows(x.shape), "input_dim": x.shape[-1], "units": layer.units, "activation": layer.activation}
    return _T(b.emit("dense", layer, [x.buf], shape, params, ws), shape, x.mask)


def _activation(b, layer, x):
    if layer.activation == "linear":
        return x
    params = {"rows": _rows(x.shape), "n": x.shape[-1], "activation": layer.activation}
    return _T(b.emit("activation", layer, [x.buf], x.shape, params), x.shape, x.mask)


def _recurrent(b, layer, x, seqs=1):
    kernel = {LSTMLayer: "lstm", GRULayer: "gru", SimpleRNNLayer: "simple_rnn"}[type(layer)]
    if getattr(layer, "return_state", False):
        b.fail(layer, "return_state=True (state outputs) is not supported by the exporters yet")
    gates = tuple(g.key for g in layer.LAYOUT.gates)
    if gates != KERNEL_GATES[kernel]:
        b.fail(layer, f"gate layout {gates} differs from the {kernel} kernel's {KERNEL_GATES[kernel]}")
    steps, feats = x.shape[-2], x.shape[-1]
    if feats != layer.input_dim:
        b.fail(layer, f"kernel expects {layer.input_dim} features, input has {feats}")
    u = layer.units
    ws = {"W": b.weight(f"{layer.name}/kernel", layer.weights[0]),
          "U": b.weight(f"{layer.name}/recurrent_kernel", layer.weights[1])}
    if layer.input_bias is not None:
        ws["b"] = b.weight(f"{layer.name}/bias", layer.input_bias)
    params = {"seqs": seqs, "steps": steps, "input_dim": feats, "units": u, "activation": layer.activation}
    if kernel != "simple_rnn":
        params["recurrent_activation"] = layer.recurrent_activation
    if kernel == "gru":
        params["reset_after"] = bool(layer.reset_after)
        if getattr(layer.params, "recurrent_bias", None) is not None:
            ws["br"] = b.weight(f"{layer.name}/recurrent_bias", layer.params.recurrent_bias)
    params.update(go_backwards=bool(layer.go_backwards), return_sequences=bool(layer.return_sequences),
                  zero_output_for_mask=bool(layer.zero_output_for_mask), gates=gates, states=layer.LAYOUT.states)
    state = None
    if layer.stateful:
        batch = b.model.input_shapes[0][0]
        if batch is None:
            b.fail(layer, "stateful=True needs a fixed batch size in the input shape")
        b.fixed_batch = batch
        state = b.buffer((seqs, len(layer.LAYOUT.states), u), "state", "s")
    lead = (seqs,) if seqs > 1 else ()
    shape = (*lead, steps, u) if layer.return_sequences else (*lead, u)
    out = b.emit(kernel, layer, [x.buf], shape, params, ws, mask=x.mask, state=state)
    return _T(out, shape, x.mask if layer.return_sequences else None)


def _bidirectional(b, layer, x):
    fwd = _recurrent(b, layer.forward, x)
    bwd = _recurrent(b, layer.backward, x)
    if layer.return_sequences:
        steps, feats = bwd.shape
        bwd = _T(b.emit("reverse_time", layer, [bwd.buf], bwd.shape, {"steps": steps, "features": feats}),
                 bwd.shape)
    mode = layer.merge_mode
    if mode is None:
        b.fail(layer, "merge_mode=None (two outputs) is not supported by the exporters yet")
    a_dim, b_dim = fwd.shape[-1], bwd.shape[-1]
    if mode != "concat" and a_dim != b_dim:
        b.fail(layer, f"merge_mode={mode!r} needs equal widths, got {a_dim} and {b_dim}")
    shape = (*fwd.shape[:-1], a_dim + b_dim if mode == "concat" else a_dim)
    params = {"rows": _rows(fwd.shape), "a_dim": a_dim, "b_dim": b_dim, "mode": mode}
    return _T(b.emit("merge", layer, [fwd.buf, bwd.buf], shape, params), shape, fwd.mask)


def _time_distributed(b, layer, x):
    inner = layer.inner
    if isinstance(inner, RecurrentLayer):
        if x.mask is not None:
            b.fail(layer, f"a masked input to TimeDistributed({inner.class_name}) is not supported")
        if inner.stateful:
            b.fail(layer, f"a stateful TimeDistributed({inner.class_name}) is not supported")
        if len(x.shape) != 3:
            b.fail(layer, f"TimeDistributed({inner.class_name}) needs input (batch, n, steps, features)")
        y = _recurrent(b, inner, x, seqs=x.shape[0])
        return _T(y.buf, y.shape, x.mask)
    if isinstance(inner, (DenseLayer, ActivationLayer, NoOp)):
        y = HANDLERS[type(inner)](b, inner, x)
        return _T(y.buf, y.shape, x.mask)
    return b.fail(layer, f"TimeDistributed({inner.class_name}) is not supported by the exporters")


def _embedding(b, layer, x):
    vocab, dim = layer.weights[0].shape
    if b.is_input(x):
        b.input_vocab = vocab if b.input_vocab is None else min(b.input_vocab, vocab)
    n = int(math.prod(x.shape))
    ws = {"E": b.weight(f"{layer.name}/embeddings", layer.weights[0])}
    shape = (*x.shape, dim)
    out = b.emit("embedding", layer, [x.buf], shape, {"n": n, "vocab": vocab, "dim": dim}, ws)
    mask = None
    if layer.mask_zero:
        if len(x.shape) != 1:
            b.fail(layer, f"mask_zero=True needs a (batch, steps) input, got (batch, *{x.shape})")
        mask = b.emit("mask_tokens", layer, [x.buf], x.shape, {"n": n}, kind="mask", prefix="m")
    return _T(out, shape, mask)


def _masking(b, layer, x):
    if len(x.shape) != 2:
        b.fail(layer, f"Masking needs a (batch, steps, features) input, got (batch, *{x.shape})")
    value = float(np.float32(layer.config.get("mask_value", 0.0)))
    if b.is_input(x):
        b.input_mask_value = value
    steps, feats = x.shape
    mask = b.emit("mask_values", layer, [x.buf], (steps,), {"steps": steps, "features": feats, "value": value},
                  kind="mask", prefix="m")
    y = b.emit("apply_mask", layer, [x.buf, mask], x.shape, {"steps": steps, "features": feats})
    return _T(y, x.shape, mask)


def _reshape(b, layer, x):
    shape = tuple(layer.output_shape((None, *x.shape))[1:])
    if None in shape or math.prod(shape) != math.prod(x.shape):
        b.fail(layer, f"cannot reshape {x.shape} to {shape}")
    out = b.buffer(shape, alias_of=b.buffers[x.buf].alias_of or x.buf)
    b.calls.append(Call("reshape", layer.name, [x.buf], out, {"shape": shape}, layer_class=layer.class_name))
    return _T(out, shape, None)


def _repeat(b, layer, x):
    n = layer.config["n"]
    if len(x.shape) != 1:
        b.fail(layer, f"RepeatVector needs a (batch, features) input, got (batch, *{x.shape})")
    shape = (n, x.shape[0])
    return _T(b.emit("repeat", layer, [x.buf], shape, {"n": n, "features": x.shape[0]}), shape, None)


def _permute(b, layer, x):
    dims = tuple(d - 1 for d in layer.dims)
    shape = tuple(x.shape[d] for d in dims)
    return _T(b.emit("permute", layer, [x.buf], shape, {"shape": tuple(x.shape), "dims": dims}), shape, None)


HANDLERS = {
    LSTMLayer: _recurrent,
    GRULayer: _recurrent,
    SimpleRNNLayer: _recurrent,
    BidirectionalLayer: _bidirectional,
    TimeDistributedLayer: _time_distributed,
    DenseLayer: _dense,
    EmbeddingLayer: _embedding,
    MaskingLayer: _masking,
    ActivationLayer: _activation,
    FlattenLayer: _reshape,
    ReshapeLayer: _reshape,
    RepeatVectorLayer: _repeat,
    PermuteLayer: _permute,
    NoOp: _noop,
}


def _tensor(b, tensors, ref, consumer) -> _T:
    ref = tuple(ref)
    if ref not in tensors:
        who = f"layer {consumer.name!r} uses" if consumer is not None else "the model outputs"
        raise ExportError(f"{who} output #{ref[2]} of layer {ref[0]!r} (a state or second output); target "
                          f"{b.target!r} supports single-output layers only")
    return tensors[ref]


def build_plan(model, target: str = "any", input_shape=None, test_batch: int = 2, seed: int = 0) -> Plan:
    """Turn a loaded kerasless Model into a Plan (see the module docstring for the contract).

    Args:
        model: a :class:`kerasless.Model`.
        target: target name, used in error messages only.
        input_shape: per-sample input shape to use where the model's has ``None`` (e.g. ``(40, 60)``).
        test_batch: rows in the embedded test vector (stateful models use their fixed batch).
        seed: seed of the test vector.
    Returns:
        a :class:`Plan` whose ``test_x``/``test_y`` come from ``model.predict`` (carried states are restored).
    Raises:
        ExportError: a layer, option or shape the exporters cannot handle; the message names layer and target.
    Example:
        >>> plan = build_plan(model, "c"); [c.kernel for c in plan.calls]
        ['lstm', 'dense']
    """
    if len(model.input_names) != 1 or len(model.spec.outputs) != 1:
        raise ExportError(f"model {model.name!r} has {len(model.input_names)} inputs and {len(model.spec.outputs)} "
                          f"outputs; target {target!r} exports single-input, single-output models only")
    b = _Builder(model, target)
    shape = tuple(model.input_shapes[0][1:])
    if input_shape is not None:
        given = tuple(input_shape)
        if len(given) != len(shape) or any(s is not None and s != g for s, g in zip(shape, given)):
            raise ExportError(f"input_shape {given} does not fit the model's input (batch, *{shape})")
        shape = given
    if None in shape:
        raise ExportError(f"model {model.name!r} has a variable input shape (batch, *{shape}); target {target!r} "
                          "needs fixed sizes: pass input_shape=(...) to export()")
    name = model.input_names[0]
    b.buffers["x"] = Buffer("x", tuple(int(d) for d in shape), "input")
    tensors = {(name, 0, 0): _T("x", b.buffers["x"].shape)}
    for layer, node, refs in model._nodes:
        handler = HANDLERS.get(type(layer))
        if handler is None or isinstance(layer, InputLayer):
            supported = sorted(k for k, v in REGISTRY.items() if v in HANDLERS)
            b.fail(layer, f"the exporters support {', '.join(supported)}")
        if len(refs) != 1 or getattr(layer, "LIST_INPUT", False) or call_kwargs(model, layer, node):
            b.fail(layer, "a call with several input tensors or keyword tensors (initial_state=, mask=) is not "
                          "supported by the exporters yet")
        tensors[(layer.name, node, 0)] = handler(b, layer, _tensor(b, tensors, refs[0], layer))
    out = _tensor(b, tensors, model.spec.outputs[0], None)
    plan = Plan(model.name, str(model.source), str(model.keras_version), b.buffers, b.calls, b.weights, out.buf,
                fixed_batch=b.fixed_batch, input_vocab=b.input_vocab, input_mask_value=b.input_mask_value)
    plan.test_x = sample_inputs(plan, plan.fixed_batch or test_batch, np.random.default_rng(seed))
    plan.test_y = reference_outputs(model, [plan.test_x])[0]
    return plan
