"""Step-wise inference: feed one timestep at a time and carry every recurrent state (O(1) work per step).

Stepping a sequence through a stream gives, at each step t, what ``predict`` gives on the prefix x[:, :t+1]:
for ``return_sequences=True`` layers that is predict's output at t.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError, UnsupportedOptionError
from .layers.core import ActivationLayer, InputLayer, MaskingLayer, NoOp
from .layers.dense import DenseLayer
from .layers.embedding import EmbeddingLayer
from .layers.fastpath import dense_stepper, stepper
from .layers.recurrent import RecurrentLayer, masked_step
from .layers.time_distributed import TimeDistributedLayer
from .layers.wrappers import StackedRNNLayer

# Layers that act on each timestep independently, so they can run on one step (batch, features).
PER_STEP = (InputLayer, MaskingLayer, NoOp, ActivationLayer, DenseLayer, EmbeddingLayer)


def call_kwargs(model, layer, node: int) -> dict:
    """Keyword arguments of one layer call that change what it computes: Keras records ``training=False`` and
    ``mask=None`` on plain calls (a Keras 3 functional ``Input -> LSTM``), which change nothing."""
    kw = model._node_kwargs.get((layer.name, node)) or {}
    return {k: v for k, v in kw.items() if k != "training" and v is not None}


def _one_step(layer):
    """The layer that acts on one step: TimeDistributed is its inner layer here (one step has no time axis)."""
    return layer.inner if isinstance(layer, TimeDistributedLayer) else layer


class _NumpyStepper:
    """One recurrent layer, one step at a time, in NumPy: the same projection and masked step predict uses.
    Same interface as kerasless.native.Stepper (which runs the step in C)."""

    def __init__(self, layer, batch: int):
        self.layer = layer
        self.states = tuple(np.zeros((batch, layer.units), np.float32) for _ in layer.LAYOUT.states)
        self.last = np.zeros((batch, layer.units), np.float32)  # the previous output (kept at masked steps)

    def step(self, x_t, keep=None) -> np.ndarray:
        layer = self.layer
        xp = layer.project(x_t)  # (batch, gates*units)
        y, self.states, _ = masked_step(type(layer).step, layer.params, xp, self.states, self.last, keep,
                                        layer.zero_output_for_mask)
        np.copyto(self.last, y)
        return self.last


class Stream:
    """One timestep at a time through a model. Create with :meth:`kerasless.Model.stream`.

    Example:
        >>> stream = model.stream(batch_size=1)
        >>> for x_t in x[0]:
        ...     y_t = stream.step(x_t[None])       # (1, features) -> (1, outputs)
        >>> stream.reset()
    """

    def __init__(self, model, batch_size: int = 1, initial_state=None):
        if len(model.input_names) != 1 or len(model.output_names) != 1:
            raise UnsupportedOptionError("stream: models with several inputs or outputs cannot stream yet")
        self.model = model
        self.batch_size = batch_size
        in_shape = model.input_shapes[0]
        self.step_shape = (batch_size, *in_shape[2:])
        self._recurrent = []
        for layer, node, refs in model._nodes:
            if len(refs) != 1 or call_kwargs(model, layer, node) or getattr(layer, "return_state", False):
                raise UnsupportedOptionError(f"{layer.where()}: stream supports single-path graphs only (no merges, "
                                             "initial_state or return_state)")
            if isinstance(layer, StackedRNNLayer):
                raise UnsupportedOptionError(f"{layer.where()}: RNN(StackedRNNCells) cannot stream yet")
            if isinstance(layer, RecurrentLayer):
                if layer.go_backwards:
                    raise UnsupportedOptionError(f"{layer.where()}: go_backwards needs the whole sequence; "
                                                 "it cannot stream")
                self._recurrent.append(layer)
            elif not isinstance(_one_step(layer), PER_STEP):
                raise UnsupportedOptionError(f"{layer.where()}: needs the whole sequence; it cannot stream")
        if not self._recurrent:
            raise UnsupportedOptionError("stream: the model has no recurrent layer to carry state")
        self._input = (model.input_names[0], 0, 0)
        self._output = tuple(model.spec.outputs[0])
        self.reset(initial_state)

    def __reduce__(self):
        """Pickle and copy as the model, the batch size and the carried state (kerasless.ship)."""
        from .ship import reduce_stream

        return reduce_stream(self)

    @property
    def state(self) -> list[tuple[np.ndarray, ...]]:
        """Per recurrent layer (model order), its states in Keras order (LSTM: h, c)."""
        return [tuple(s.copy() for s in self._steppers[layer.name].states) for layer in self._recurrent]

    @state.setter
    def state(self, value) -> None:
        if len(value) != len(self._recurrent):
            raise InputError(f"stream.state: expected {len(self._recurrent)} layer states, got {len(value)}")
        checked = []
        for layer, states in zip(self._recurrent, value):
            want = (self.batch_size, layer.units)
            states = tuple(np.asarray(s, np.float32) for s in states)
            if len(states) != len(layer.LAYOUT.states) or any(s.shape != want for s in states):
                raise InputError(f"stream.state: layer {layer.name!r} takes {len(layer.LAYOUT.states)} states "
                                 f"({', '.join(layer.LAYOUT.states)}) of shape {want}")
            checked.append(states)
        for layer, states in zip(self._recurrent, checked):  # all or nothing
            for buf, s in zip(self._steppers[layer.name].states, states):
                np.copyto(buf, s)

    def reset(self, initial_state=None) -> None:
        """Zero every state (or set ``initial_state``, shaped like :attr:`state`)."""
        self._steppers = {layer.name: stepper(layer.params.fast, self.batch_size, layer.zero_output_for_mask)
                          or _NumpyStepper(layer, self.batch_size) for layer in self._recurrent}
        self._plan, buffers = [], {}  # buffers: node output -> the stepper buffer holding it
        for layer, node, refs in self.model._nodes:
            key, ref = (layer.name, node, 0), tuple(refs[0])
            per_step = self._per_step(layer, buffers.get(ref))
            if per_step is None:
                buffers[key] = self._steppers[layer.name].last
            self._plan.append((key, ref, layer, per_step))
        self._chain = self._plain_chain()
        if initial_state is not None:
            self.state = initial_state

    def _per_step(self, layer, x_buffer=None):
        """What runs ``layer`` on one step: None for recurrent layers (their stepper), else an object with
        ``call(x, mask)``. ``x_buffer``: the stepper buffer the input arrives in (a native Dense reads it in place)."""
        if isinstance(layer, RecurrentLayer):
            return None
        inner = _one_step(layer)
        if isinstance(inner, DenseLayer):  # native: product, bias and activation in one prepared C call
            return dense_stepper(inner.weights[0], inner.weights[1] if inner.use_bias else None, inner.activation,
                                 self.batch_size, x_buffer) or inner
        return inner

    def _plain_chain(self):
        """Per-step callables when the graph is a chain in which no mask can arise (most streaming models), so a
        step skips the general bookkeeping; else None."""
        prev, chain = self._input, []
        for key, ref, layer, per_step in self._plan:
            inner = _one_step(layer)
            if ref != prev or isinstance(inner, MaskingLayer) or getattr(inner, "mask_zero", False):
                return None
            chain.append(self._steppers[layer.name].step if per_step is None else per_step.call)
            prev = key
        return chain if prev == self._output else None

    def step(self, x_t) -> np.ndarray:
        """Feed one timestep ``(batch_size, *features)``; returns the model output for this step."""
        x_t = np.asarray(x_t)
        if x_t.shape != self.step_shape or x_t.dtype.kind not in "biuf":
            raise InputError(f"stream.step: expected a numeric array of shape {self.step_shape}, "
                             f"got {x_t.dtype} {x_t.shape}")
        x = x_t.astype(np.float32, copy=False)
        if self._chain is not None:
            for call in self._chain:
                x = call(x)
            return x.copy()  # a stepper's buffer is overwritten by the next step
        values = {self._input: (x, None)}
        for key, ref, layer, per_step in self._plan:
            x, mask = values[ref]
            if per_step is None:  # recurrent: one step of the layer's stepper (native C or NumPy)
                values[key] = (self._steppers[layer.name].step(x, mask), mask if layer.return_sequences else None)
            else:
                values[key] = (per_step.call(x, mask), layer.compute_mask(x, mask))
        return values[self._output][0].copy()
