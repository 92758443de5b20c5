"""Model: layers built from a ModelSpec, run in topological order over a results dict keyed by tensor."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .errors import InputError, KeraslessError, ModelFileError
from .io.limits import Limits
from .io.spec import ModelSpec
from .keras_api import KerasAPI
from .layers import Context, Layer, build_layer
from .layers.core import InputLayer

Ref = tuple  # (layer name, node index, tensor index)
# Rows predict runs at once when no batch_size is given: memory beyond input and output stays bounded at any batch
# size. make bench: throughput is flat from 256 rows up (the kernels' row blocks are far smaller).
CHUNK_ROWS = 1024
# Errors NumPy raises deep inside a layer when a malformed model (or a bug) meets an input: re-raised typed.
_RAW = (ValueError, TypeError, IndexError, KeyError, AttributeError, OverflowError, ZeroDivisionError)


def _ndim(value) -> int:
    try:
        return np.ndim(value)
    except (ValueError, TypeError):  # ragged nested lists
        return -1


def _kwarg_refs(kw: dict) -> list:
    out = []
    for v in kw.values():
        if isinstance(v, tuple) and v and v[0] == "__tensor__":
            out.append(tuple(v[1]))
        elif isinstance(v, list):
            out.extend(_kwarg_refs(dict(enumerate(v))))
    return out


def _resolve_kwargs(kw, lookup):
    """Keyword arguments of one call with tensor refs replaced by lookup(ref)."""
    if not kw:
        return {}
    return {k: _resolve(v, lookup) for k, v in kw.items() if k != "training" and not (k == "mask" and v is None)}


def _resolve(v, lookup):
    """One keyword value with its tensor refs looked up. (A module function, not a recursive closure: that would be
    a reference cycle keeping every layer's outputs alive until the cyclic garbage collector runs.)"""
    if isinstance(v, tuple) and v and v[0] == "__tensor__":
        return lookup(tuple(v[1]))
    if isinstance(v, list):
        return [_resolve(e, lookup) for e in v]
    return v


def _values_only(v, default=None):
    """(array, mask) pairs -> arrays (lists stay lists); plain values unchanged."""
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], np.ndarray):
        return v[0]
    if isinstance(v, list):
        return [_values_only(e) for e in v]
    return v


class Model(KerasAPI):
    """A loaded model. Build one with :func:`kerasless.load` or :func:`kerasless.from_keras`.

    Example:
        >>> model = kerasless.load("model.keras")
        >>> y = model.predict(x)          # like keras model.predict(x)
    """

    def __init__(self, spec: ModelSpec, max_bytes: int | None = None):
        self.spec = spec
        self._limits = Limits(max_bytes)
        self.name = spec.name
        self.source = spec.source
        self.keras_version = spec.keras_version
        ctx = Context(spec.keras_major, spec.source, model=type(self))
        self.layers: list[Layer] = [build_layer(s, ctx) for s in spec.layers]
        self._by_name = {layer.name: layer for layer in self.layers}
        if len(self._by_name) != len(self.layers):
            raise ModelFileError(f"{self.source}: two layers share a name")
        self.input_names = [ref[0] for ref in spec.inputs]
        self.output_names = [ref[0] for ref in spec.outputs]
        for ref in spec.inputs:
            if not isinstance(self._by_name.get(ref[0]), InputLayer) or tuple(ref[1:]) != (0, 0):
                raise ModelFileError(f"{self.source}: model input {list(ref)} is not an InputLayer's tensor")
        try:
            self._nodes = self._schedule()
            self._shapes = self._infer_shapes()
        except KeraslessError:
            raise
        except _RAW as exc:
            raise ModelFileError(f"{self.source}: the model's graph does not fit together "
                                 f"({type(exc).__name__}: {str(exc)[:160]})") from exc
        if spec.sequential:  # every tensor the last layer returns
            last = spec.outputs[0][0]
            spec.outputs = [(last, 0, t) for t in range(sum(k[:2] == (last, 0) for k in self._shapes))]
            self.output_names = [ref[0] for ref in spec.outputs]
        missing = [list(r) for r in spec.outputs if tuple(r) not in self._shapes]
        if missing:
            raise ModelFileError(f"{self.source}: model outputs {missing} name tensors no layer call produces")
        self._attach_layers()

    # -- structure ---------------------------------------------------------------------------------------------
    def get_layer(self, name: str) -> Layer:
        """The layer called ``name`` (a KeyError lists the known names)."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no layer {name!r}; layers: {', '.join(self._by_name)}") from None

    def _schedule(self) -> list[tuple[Layer, int, list[Ref]]]:
        """Every layer call (node) in an order where its inputs (positional and keyword tensors) come first."""
        pending = [(self._by_name[s.name], i, [tuple(r) for r in refs])
                   for s in self.spec.layers for i, refs in enumerate(s.inbound)]
        self._node_kwargs = {}
        for s in self.spec.layers:
            for i, kw in enumerate(getattr(s, "call_kwargs", None) or []):
                if kw:
                    self._node_kwargs[(s.name, i)] = kw
        for layer, i, _ in pending:
            layer.check_call_kwargs(self._node_kwargs.get((layer.name, i), {}))
        done = {(layer.name, 0) for layer in self.layers if isinstance(layer, InputLayer)}
        order = []
        while pending:
            ready = [n for n in pending
                     if all(r[:2] in done for r in n[2] + _kwarg_refs(self._node_kwargs.get((n[0].name, n[1]), {})))]
            if not ready:
                missing = sorted({r[0] for n in pending for r in n[2] if r[:2] not in done})
                raise ModelFileError(f"{self.source}: graph refers to tensors nobody produces: {missing}")
            for node in ready:
                pending.remove(node)
                order.append(node)
                done.add((node[0].name, node[1]))
        return order

    @property
    def input_shapes(self) -> list[tuple]:
        return [self.get_layer(n).batch_shape for n in self.input_names]

    @property
    def input_shape(self) -> tuple:
        return self.input_shapes[0] if len(self.input_shapes) == 1 else self.input_shapes

    @property
    def output_shape(self) -> tuple:
        shapes = [self._shapes[tuple(r)] for r in self.spec.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def _infer_shapes(self) -> dict:
        shapes = {(n, 0, 0): self.get_layer(n).batch_shape for n in self.input_names}
        for layer, node, refs in self._nodes:
            args = [shapes[r] for r in refs]
            shape = args[0] if len(args) == 1 and not layer.LIST_INPUT else args
            kw = _resolve_kwargs(self._node_kwargs.get((layer.name, node)), lambda r: shapes[r])
            kw.pop("mask", None)
            layer.check_input(shape, **kw) if kw else layer.check_input(shape)
            out = layer.output_shape(shape, **kw) if kw else layer.output_shape(shape)
            for o in out if isinstance(out, list) else [out]:
                row = 4 * math.prod(d for d in o[1:] if isinstance(d, int))  # bytes per row (unknown dims as 1)
                self._limits.check(row, self.source, f"one row of layer {layer.name!r}'s output {tuple(o)}")
            if isinstance(out, list):
                for t, o in enumerate(out):
                    shapes[(layer.name, node, t)] = tuple(o)
            else:
                shapes[(layer.name, node, 0)] = out
        return shapes

    # -- inference ---------------------------------------------------------------------------------------------
    def predict(self, x, batch_size=None, verbose=0, intermediate=False):
        """Run the model like ``keras_model.predict(x)``.

        Args:
            x: array of shape ``(batch, *input_shape)`` (or a list/dict of arrays for several inputs).
            batch_size: rows per chunk (default: chunks of CHUNK_ROWS; results do not depend on it).
            verbose: Keras's meanings: 0 silent (the default), 1 or "auto" a progress bar on stderr (tqdm when
                installed: ``kerasless[progress]``), 2 one line when done.
            intermediate: also return every layer's output, by layer name (one chunk: the whole batch).
        Returns:
            float32 array(s) in the structure Keras returns (one array, a list, or Keras's nesting); with
            ``intermediate=True`` a ``(outputs, {name: array})`` pair.
        Example:
            >>> y = model.predict(np.zeros((2, 40, 60), np.float32))
        """
        xs = self._check_inputs(x, cast=False)  # cast per chunk: a broadcast input stays a view
        n = xs[0].shape[0]
        step = CHUNK_ROWS if batch_size is None else batch_size
        if not isinstance(step, int) or isinstance(step, bool) or step < 1:
            raise InputError(f"predict: batch_size should be a positive integer, got {batch_size!r}")
        whole = step >= n or intermediate or self.stateful
        if verbose:
            from .progress import Progress

            bar = Progress(1 if whole else -(-n // step), verbose)
        if whole:
            out = self._guarded(xs, intermediate)
            if verbose:
                bar.update(1)
            return out
        outs = None
        for i in range(0, n, step):  # results go straight into preallocated outputs: no concatenated copies
            part = self._flat(self._guarded([a[i:i + step] for a in xs], False))
            if verbose:
                bar.update(1)
            if outs is None:
                need = sum(n * (p.nbytes // max(len(p), 1)) for p in part)
                if need > self._limits.max_bytes:
                    raise InputError(f"{self.source}: predict on {n:,} rows would return {need:,} bytes, over the "
                                     f"limit of {self._limits.max_bytes:,}; predict smaller batches (or raise "
                                     "KERASLESS_MAX_BYTES)")
                outs = [np.empty((n, *p.shape[1:]), p.dtype) for p in part]
            for o, p in zip(outs, part):
                o[i:i + step] = p
        return self._nest(outs)

    __call__ = predict

    def _guarded(self, xs, intermediate):
        try:
            xs = [self.get_layer(name).cast(a) for name, a in zip(self.input_names, xs)]
            return self._run(xs, intermediate)
        except KeraslessError:
            raise
        except MemoryError:
            raise InputError(f"{self.source}: predict ran out of memory on {len(xs[0])} rows; pass a smaller "
                             "batch_size") from None
        except _RAW as exc:
            raise ModelFileError(f"{self.source}: the model cannot run on this input "
                                 f"({type(exc).__name__}: {str(exc)[:160]})") from exc

    def _flat(self, out) -> list:
        """predict's result -> the flat list of output arrays in spec.outputs order."""
        if self.spec.output_structure is None:
            return out if isinstance(out, list) else [out]
        flat: list = []
        todo = [out]
        while todo:
            v = todo.pop(0)
            if isinstance(v, list):
                todo[:0] = v
            else:
                flat.append(v)
        return flat

    def _nest(self, outs: list):
        """Flat outputs -> the structure Keras's predict returns."""
        if self.spec.output_structure is not None:
            return _build_nest(self.spec.output_structure, outs)
        return outs[0] if len(outs) == 1 else outs

    def _run(self, xs, intermediate=False):
        """predict's result for checked inputs: the outputs in Keras's structure, and with ``intermediate`` the
        ``{layer name: output}`` of every call."""
        values = self._values(xs)
        out = self._nest([values[tuple(r)][0] for r in self.spec.outputs])
        if not intermediate:
            return out
        named = {}
        for k, v in values.items():
            key = k[0] if k[1] == 0 else f"{k[0]}[{k[1]}]"
            named[key if k[2] == 0 else f"{key}/{k[2]}"] = v[0]
        return out, named

    def outputs_with_masks(self, xs, masks) -> list[tuple]:
        """(output, mask) of every model output: how a model used as a layer passes masks on."""
        values = self._values(xs, masks)
        return [values[tuple(r)] for r in self.spec.outputs]

    def _values(self, xs, masks=None) -> dict:
        """Run every layer call in order: {(layer, node, tensor): (array, mask)}."""
        values = {(name, 0, 0): (a, None if masks is None else m)
                  for name, a, m in zip(self.input_names, xs, masks or [None] * len(xs))}
        for layer, node, refs in self._nodes:
            kw = self._node_kwargs.get((layer.name, node))
            if len(refs) == 1 and not layer.LIST_INPUT:
                x, mask = values[refs[0]]
            else:
                args = [values[r] for r in refs]
                x, mask = [a[0] for a in args], [a[1] for a in args]
            if kw:
                kw = _resolve_kwargs(kw, lambda r: values[r])
                if "mask" in kw:  # an explicit mask= tensor replaces the propagated one
                    explicit = kw.pop("mask")
                    if explicit is not None:
                        mask = _values_only(explicit, mask)
                for k in list(kw):  # a keyword tensor's mask travels as <name>_mask when the layer takes one
                    v = kw[k]
                    if (f"{k}_mask" in layer.CALL_KWARGS and kw.get(f"{k}_mask") is None and isinstance(v, tuple)
                            and len(v) == 2 and v[1] is not None):
                        kw[f"{k}_mask"] = v[1]
                y = layer.call(x, mask, **{k: _values_only(v) for k, v in kw.items()})
            else:
                y = layer.call(x, mask)
            m = layer.compute_mask(x, mask)
            if isinstance(y, list):
                ms = m if isinstance(m, list) else [m] * len(y)
                for t, (yt, mt) in enumerate(zip(y, ms)):
                    values[(layer.name, node, t)] = (yt, mt)
            else:
                values[(layer.name, node, 0)] = (y, m)
        return values

    def _check_inputs(self, x, cast: bool = True) -> list[np.ndarray]:
        if isinstance(x, Mapping):
            missing = [n for n in self.input_names if n not in x]
            if missing:
                raise InputError(f"predict: missing inputs {missing}; the model's inputs are {self.input_names}")
            x = [x[n] for n in self.input_names]
        if isinstance(x, (list, tuple)) and len(self.input_names) > 1:
            xs = list(x)
        elif isinstance(x, (list, tuple)) and len(x) == 1 and _ndim(x[0]) == len(self.get_layer(
                self.input_names[0]).batch_shape):  # [x] for a one-input model, as Keras accepts it
            xs = [x[0]]
        else:
            xs = [x]
        if len(xs) != len(self.input_names):
            raise InputError(f"predict: the model takes {len(self.input_names)} inputs {self.input_names}, "
                             f"got {len(xs)}")
        out = []
        for name, a in zip(self.input_names, xs):
            want = self.get_layer(name).batch_shape
            try:
                a = np.asarray(a)
            except (ValueError, TypeError) as exc:
                raise InputError(f"predict: input {name!r} is not an array ({exc}); "
                                 f"expected {_shape_words(want)}") from None
            if a.dtype.kind not in "biuf":
                raise InputError(f"predict: input {name!r} has dtype {a.dtype}; "
                                 f"expected numbers shaped {_shape_words(want)}")
            if a.ndim != len(want) or any(w is not None and w != d for w, d in zip(want[1:], a.shape[1:])):
                raise InputError(f"predict: input {name!r} has shape {a.shape}; expected {_shape_words(want)}")
            if want[0] is not None and self.stateful and a.shape[0] != want[0]:
                raise InputError(f"predict: stateful model needs batch {want[0]}, got {a.shape[0]}")
            if a.shape[0] == 0:
                raise InputError(f"predict: input {name!r} is empty; expected {_shape_words(want)}")
            if out and a.shape[0] != out[0].shape[0]:
                raise InputError(f"predict: every input needs the same batch size; {self.input_names[0]!r} has "
                                 f"{out[0].shape[0]} rows, {name!r} has {a.shape[0]}")
            out.append(self.get_layer(name).cast(a) if cast else a)
        return out

    def stream(self, batch_size: int = 1, initial_state=None):
        """A :class:`~kerasless.stream.Stream`: feed one timestep at a time, state carried (O(1) per step).

        Example:
            >>> s = model.stream(); y_t = s.step(x[:, 0])
        """
        from .stream import Stream

        return Stream(self, batch_size, initial_state)

    # -- state -------------------------------------------------------------------------------------------------
    def walk(self):
        """Every layer, and every layer under each (Bidirectional halves, TimeDistributed's inner, nested models)."""
        for layer in self.layers:
            yield from layer.walk()

    @property
    def stateful(self) -> bool:
        return any(layer.stateful for layer in self.walk())

    def reset_states(self) -> None:
        """Zero the carried state of every stateful layer (Keras ``layer.reset_state()``)."""
        for layer in self.layers:
            layer.reset_states()

    # -- explain -----------------------------------------------------------------------------------------------
    def gate_weights(self, layer_name: str) -> dict:
        """Named pieces of a layer's real weights (W_i, U_i, b_i, ...; Bidirectional: forward/W_i, ...).

        Example:
            >>> model.gate_weights("lstm")["W_f"].shape      # (input_dim, units)
        """
        from .explain import gate_weights

        return gate_weights(self, layer_name)

    def trace(self, x):
        """Every gate and state of every recurrent layer at every timestep (see kerasless.trace.trace).

        Example:
            >>> model.trace(x)["lstm"]["f"].shape            # (batch, time, units)
        """
        from .trace import trace

        return trace(self, x)

    # -- pickling --------------------------------------------------------------------------------------------
    def __reduce__(self):
        """Pickle and copy as plain data (the spec and max_bytes); the other side rebuilds (kerasless.ship)."""
        from .ship import reduce_model

        return reduce_model(self)

    def __repr__(self) -> str:
        return f"<kerasless.Model {self.name!r}: {len(self.layers)} layers from {self.source}>"


def _build_nest(t, outs: list):
    """Nested lists of indices -> the same nesting of outs[i]. (A module function: a recursive closure is a
    reference cycle that would keep every predict's outputs alive until the cyclic garbage collector runs.)"""
    return outs[t] if isinstance(t, int) else [_build_nest(e, outs) for e in t]


def _shape_words(shape) -> str:
    """(None, 40, 60) -> '(batch, 40, 60)', for error messages (built only when one is raised)."""
    return "(" + ", ".join("batch" if i == 0 else str(d) for i, d in enumerate(shape)) + ")"
