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
from .layers.recurrent import RecurrentLayer, masked_step
from .layers.time_distributed import TimeDistributedLayer
from .layers.wrappers import StackedRNNLayer

# Layers that act on each timestep independently, so they can run on one step (batch, features).
PER_STEP = (InputLayer, MaskingLayer, NoOp, ActivationLayer, DenseLayer, EmbeddingLayer)


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
            if len(refs) != 1 or model._node_kwargs.get((layer.name, node)) or getattr(layer, "return_state", False):
                raise UnsupportedOptionError(f"{layer.where()}: stream supports single-path graphs only (no merges, "
                                             "initial_state or return_state)")
            inner = layer.inner if isinstance(layer, TimeDistributedLayer) else layer
            if isinstance(layer, StackedRNNLayer):
                raise UnsupportedOptionError(f"{layer.where()}: RNN(StackedRNNCells) cannot stream yet")
            if isinstance(layer, RecurrentLayer):
                if layer.go_backwards:
                    raise UnsupportedOptionError(f"{layer.where()}: go_backwards needs the whole sequence; "
                                                 "it cannot stream")
                self._recurrent.append(layer)
            elif not isinstance(inner, PER_STEP):
                raise UnsupportedOptionError(f"{layer.where()}: needs the whole sequence; it cannot stream")
        if not self._recurrent:
            raise UnsupportedOptionError("stream: the model has no recurrent layer to carry state")
        self.reset(initial_state)

    @property
    def state(self) -> list[tuple[np.ndarray, ...]]:
        """Per recurrent layer (model order), its states in Keras order (LSTM: h, c)."""
        return [tuple(s.copy() for s in self._states[layer.name]) for layer in self._recurrent]

    @state.setter
    def state(self, value) -> None:
        if len(value) != len(self._recurrent):
            raise InputError(f"stream.state: expected {len(self._recurrent)} layer states, got {len(value)}")
        for layer, states in zip(self._recurrent, value):
            want = (self.batch_size, layer.units)
            states = tuple(np.asarray(s, np.float32) for s in states)
            if len(states) != len(layer.LAYOUT.states) or any(s.shape != want for s in states):
                raise InputError(f"stream.state: layer {layer.name!r} takes {len(layer.LAYOUT.states)} states "
                                 f"({', '.join(layer.LAYOUT.states)}) of shape {want}")
            self._states[layer.name] = tuple(s.copy() for s in states)

    def reset(self, initial_state=None) -> None:
        """Zero every state (or set ``initial_state``, shaped like :attr:`state`)."""
        self._states = {layer.name: tuple(np.zeros((self.batch_size, layer.units), np.float32)
                                          for _ in layer.LAYOUT.states) for layer in self._recurrent}
        self._prev = {layer.name: np.zeros((self.batch_size, layer.units), np.float32) for layer in self._recurrent}
        if initial_state is not None:
            self.state = initial_state

    def step(self, x_t) -> np.ndarray:
        """Feed one timestep ``(batch_size, *features)``; returns the model output for this step."""
        x_t = np.asarray(x_t)
        if x_t.shape != self.step_shape or x_t.dtype.kind not in "biuf":
            raise InputError(f"stream.step: expected a numeric array of shape {self.step_shape}, "
                             f"got {x_t.dtype} {x_t.shape}")
        values = {(self.model.input_names[0], 0, 0): (x_t.astype(np.float32), None)}
        for layer, node, refs in self.model._nodes:
            ((x, mask),) = [values[tuple(r)] for r in refs]
            if isinstance(layer, RecurrentLayer):
                xp = layer.project(x)  # (batch, gates*units): the same projection predict uses
                y, states, _ = masked_step(type(layer).step, layer.params, xp, self._states[layer.name],
                                           self._prev[layer.name], mask, layer.zero_output_for_mask)
                self._states[layer.name], self._prev[layer.name] = states, y
                values[(layer.name, node, 0)] = (y, mask if layer.return_sequences else None)
            else:  # one step has no time axis: TimeDistributed is just its inner layer here
                per_step = layer.inner if isinstance(layer, TimeDistributedLayer) else layer
                values[(layer.name, node, 0)] = (per_step.call(x, mask), layer.compute_mask(x, mask))
        return values[tuple(self.model.spec.outputs[0])][0]
