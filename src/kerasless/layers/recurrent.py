"""The one time loop every recurrent layer uses, and the layer base class around a pure step function.

A cell is ``step(xp_t, states, params) -> (y_t, new_states, gates)`` where ``xp_t`` is the precomputed input
projection ``x_t·kernel (+ input bias)`` for one timestep. The loop owns masks, go_backwards,
return_sequences and stateful carry, exactly as keras/src/backend/tensorflow/rnn.py does.
"""

from __future__ import annotations

import contextvars

import numpy as np

from ..errors import InputError, ModelFileError
from . import activations
from .base import Layer, anything, boolean, keep_masked, matmul_last, positive_int
from .fastpath import dense_fast, fast_step, run_fast, run_native
from .layout import CellLayout

# A trace being recorded in this thread / async context (trace.py): ``begin(layer, x, mask)`` returns the
# ``record`` callback for one recurrent call. Per context, so concurrent predicts and traces never see each other.
TRACING: contextvars.ContextVar = contextvars.ContextVar("kerasless_tracing", default=None)


def recorder(layer, x, mask, record=None):
    """The record callback for one call of ``layer``: the given one, else the active trace's, else None."""
    tracer = TRACING.get()
    return record if record is not None or tracer is None else tracer.begin(layer, x, mask)


def run(step, params, xp, states, mask=None, *, go_backwards=False, return_sequences=False,
        zero_output_for_mask=False, record=None):
    """Run ``step`` over time. xp: (batch, time, k); states: tuple of (batch, units); mask: (batch, time) bool.

    Returns (output, final_states): output is (batch, time, units) in *processing* order when
    return_sequences (so go_backwards yields the reversed sequence, like Keras) else (batch, units).
    At a masked step every state keeps its value and the output repeats the previous one (zeros before the first
    valid step), or is zero with zero_output_for_mask. ``record(k, gates, states)`` sees every step (for trace).
    """
    fast = getattr(params, "fast", None)
    if fast is not None:  # native C loop or fused NumPy loop (layers/fastpath.py)
        out = run_fast(fast, xp, states, mask, go_backwards, return_sequences, zero_output_for_mask, record)
        if out is not None:
            return out
    return _step_loop(step, params, xp, states, mask, go_backwards, return_sequences, zero_output_for_mask, record)


def _step_loop(step, params, xp, states, mask, go_backwards, return_sequences, zero_output_for_mask, record):
    """The readable loop: one ``step`` call per timestep (every cell, every activation; feeds ``record``)."""
    batch, steps = xp.shape[0], xp.shape[1]
    prev = np.zeros(states[0].shape, np.float32)  # (batch, units); ConvLSTM: (batch, *spatial, filters)
    outputs = np.empty((batch, steps, *states[0].shape[1:]), np.float32) if return_sequences else None
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    for k, t in enumerate(order):
        y, states, gates = _masked_step(step, params, xp[:, t], states, prev,
                                       None if mask is None else mask[:, t], zero_output_for_mask)
        prev = y
        if outputs is not None:
            outputs[:, k] = y
        if record is not None:
            record(k, gates, states)
    return (outputs if return_sequences else prev), states


def masked_step(step, params, xp_t, states, prev, keep=None, zero_output_for_mask=False):
    """One step with Keras's mask rule. keep: (batch,) bool or None. Returns (y_t, states, gates).

    Streaming takes the fused NumPy step when there is one and gets empty gates; run() records gates its own way."""
    fast = getattr(params, "fast", None)
    if fast is not None:
        out = fast_step(fast, xp_t, states, prev, keep, zero_output_for_mask)
        if out is not None:
            return out[0], out[1], {}
    return _masked_step(step, params, xp_t, states, prev, keep, zero_output_for_mask)


def _masked_step(step, params, xp_t, states, prev, keep=None, zero_output_for_mask=False):
    y, new, gates = step(xp_t, states, params)
    if keep is not None and not keep.all():
        y, new = keep_masked(keep, y, new, prev, states, zero_output_for_mask)
    return y, new, gates


def _not_true(v) -> bool:
    return v is False


RNN_OPTIONS = {
    "units": positive_int,
    "activation": anything,  # resolved (and refused when unknown) in __init__
    "recurrent_activation": anything,
    "use_bias": boolean,
    "return_sequences": boolean,
    "return_state": boolean,  # outputs [y, *final states] (LSTM: h, c)
    "go_backwards": boolean,
    "stateful": boolean,
    "unroll": boolean,  # an execution strategy: same numbers
    "zero_output_for_mask": boolean,
    "dropout": anything,  # training only
    "recurrent_dropout": anything,
    "implementation": (1, 2),  # an execution strategy in Keras 2: same numbers
    "time_major": _not_true,
    "use_cudnn": anything,  # an execution strategy: same numbers
}


class RecurrentLayer(Layer):
    """LSTM, GRU and SimpleRNN: config, weights, the input projection and the loop. Subclasses give the cell."""

    LAYOUT: CellLayout
    step = None  # the cell: staticmethod(step)

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        c = self.config
        self.return_state = c.get("return_state", False)
        self.units = c["units"]
        self.activation = activations.resolve(c.get("activation", "tanh"), ctx.keras_major, self.name)
        self.return_sequences = c.get("return_sequences", False)
        self.go_backwards = c.get("go_backwards", False)
        self.stateful = c.get("stateful", False)
        self.zero_output_for_mask = c.get("zero_output_for_mask", False)
        self.use_bias = c.get("use_bias", True)
        self.state = None  # carried between predict calls when stateful
        self.setup()

    @classmethod
    def n_weights(cls, config: dict) -> int:
        return 3 if config.get("use_bias", True) else 2

    def setup(self) -> None:
        """Check weights, build the params the step function reads."""

    # -- shapes ------------------------------------------------------------------------------------------------
    @property
    def input_dim(self) -> int:
        return self.weights[0].shape[0]

    def _check_sequence(self, input_shape):
        if len(input_shape) != 3:
            raise ModelFileError(f"{self.where()}: expects input (batch, time, features), got shape {input_shape}")
        if input_shape[-1] is not None and input_shape[-1] != self.input_dim:
            raise ModelFileError(f"{self.where()}: kernel expects {self.input_dim} features, input has {input_shape[-1]}")

    CALL_KWARGS = frozenset({"training", "mask", "initial_state"})

    def check_input(self, input_shape, initial_state=None):
        if isinstance(input_shape, list):  # tf_keras: [x, *initial states] as inputs
            input_shape, initial_state = input_shape[0], input_shape[1:] or initial_state
        self._check_sequence(input_shape)
        if initial_state is not None and len(initial_state) != len(self.LAYOUT.states):
            raise ModelFileError(f"{self.where()}: initial_state needs {len(self.LAYOUT.states)} tensors "
                                 f"({', '.join(self.LAYOUT.states)}), the model passes {len(initial_state)}")

    def output_shape(self, input_shape, initial_state=None):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        b, t = input_shape[0], input_shape[1]
        y = (b, t, self.units) if self.return_sequences else (b, self.units)
        if self.return_state:
            return [y] + [(b, self.units)] * len(self.LAYOUT.states)
        return y

    def compute_mask(self, x, mask):
        if isinstance(mask, list):
            mask = mask[0]
        m = mask if self.return_sequences else None
        return [m] + [None] * len(self.LAYOUT.states) if self.return_state else m

    # -- inference ---------------------------------------------------------------------------------------------
    def project(self, x):
        """(..., features) -> (..., gates*units): x·kernel (+ input bias) for all steps at once (or one, streaming)."""
        xp = dense_fast(x, self.weights[0], self.input_bias if self.use_bias else None)
        if xp is not None:  # native backend (layers/fastpath.py)
            return xp
        xp = matmul_last(x, self.weights[0])  # (batch, time, gates*units)
        if self.use_bias:
            xp += self.input_bias
        return xp

    def _zeros(self, batch: int, spatial: tuple = ()) -> tuple:
        return tuple(np.zeros((batch, *spatial, self.units), np.float32) for _ in self.LAYOUT.states)

    def _carried(self, batch: int):
        """The stateful layer's carried states, or None (start from zeros)."""
        if not self.stateful or self.state is None:
            return None
        if self.state[0].shape[0] != batch:
            raise InputError(
                f"{self.where()}: stateful layer was last called with batch {self.state[0].shape[0]}, "
                f"now {batch}; call reset_states() to change batch size"
            )
        return self.state

    def call(self, x, mask=None, record=None, initial_state=None):
        if isinstance(x, list):  # tf_keras passes initial states as extra inputs: [x, *states]
            x, initial_state = x[0], x[1:] or initial_state
            mask = mask[0] if isinstance(mask, list) else mask
        if initial_state is not None:
            initial_state = tuple(np.asarray(s, np.float32) for s in initial_state)
            if len(initial_state) != len(self.LAYOUT.states):
                raise ModelFileError(f"{self.where()}: initial_state needs {len(self.LAYOUT.states)} tensors "
                                     f"({', '.join(self.LAYOUT.states)}), the model passes {len(initial_state)}")
        states = initial_state if initial_state is not None else self._carried(x.shape[0])  # None: zeros
        opts = {"go_backwards": self.go_backwards, "return_sequences": self.return_sequences,
                "zero_output_for_mask": self.zero_output_for_mask, "record": recorder(self, x, mask, record)}
        out = run_native(self.params.fast, x, states, mask, **opts)  # C projects per step; None: not native
        if out is None:
            xp = self.project(x)  # (batch, time, gates*units); ConvLSTM: (batch, time, *spatial, gates*filters)
            states = states if states is not None else self._zeros(x.shape[0], xp.shape[2:-1])
            out = run(type(self).step, self.params, xp, states, mask, **opts)
        y, states = out
        if self.stateful:
            self.state = states
        return [y, *states] if self.return_state else y

    def named_weights(self) -> dict[str, np.ndarray]:
        """W_<gate>, U_<gate>, b_<gate> (and br_<gate>, GRU's recurrent bias row) sliced from the real weights."""
        out = {}
        for sym, w in zip("WUb", self.weights):
            rows = [("b", w[0]), ("br", w[1])] if sym == "b" and w.ndim == 2 else [(sym, w)]
            for prefix, arr in rows:
                out.update({f"{prefix}_{k}": v for k, v in self.LAYOUT.split(arr, self.units).items()})
        return out

    def get_state(self):
        """The carried states (stateful layers, after a call), or None."""
        return self.state

    def set_state(self, state) -> None:
        """Replace the carried states (None: start from zeros)."""
        self.state = state

    def reset_states(self) -> None:
        self.state = None
