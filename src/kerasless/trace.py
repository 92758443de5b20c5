"""Record every gate activation and state of every recurrent layer at every timestep, through predict's own code.

Conventions:
- **time index = processing order**, like the sequence a Keras layer returns: for ``go_backwards`` (and the
  backward half of a Bidirectional) index 0 is the *last* input step. ``steps`` maps each index to its input step.
- **masked steps**: states (h, c) keep their previous values, exactly as predict carries them; the gates of a
  masked step are NaN (Keras computes and discards them). ``mask`` (batch, time) is in processing order too.
- A stateful model starts from its carried state and gets it back afterwards: tracing does not advance it.
- ``TimeDistributed(RNN)`` traces have shape (batch*outer_time, time, units).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layers.recurrent import TRACING, RecurrentLayer

__all__ = ["LayerTrace", "Trace", "trace"]


@dataclass
class LayerTrace:
    """One call of one recurrent layer: ``arrays[name]`` is (batch, time, units) in processing order."""

    name: str  # "lstm", "bidirectional/forward", "time_distributed/lstm"
    class_name: str
    go_backwards: bool
    arrays: dict  # gate and state name -> (batch, time, units) float32
    steps: np.ndarray  # (time,) input step processed at each index
    mask: np.ndarray | None = None  # (batch, time) bool, processing order

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]

    def keys(self):
        return self.arrays.keys()


class Trace(dict):
    """{layer path: LayerTrace}, in call order; ``output`` is what predict returned for the same input."""

    output = None

    def flat(self) -> dict[str, np.ndarray]:
        """{"lstm/i": (batch, time, units), ..., "lstm/steps": (time,), "lstm/mask": (batch, time)}."""
        out = {}
        for key, lt in self.items():
            out.update({f"{key}/{k}": v for k, v in lt.arrays.items()})
            out[f"{key}/steps"] = lt.steps
            if lt.mask is not None:
                out[f"{key}/mask"] = lt.mask
        return out

    def save(self, path) -> None:
        """Write :meth:`flat` (plus ``output``) to an ``.npz`` file."""
        out = self.flat()
        if isinstance(self.output, np.ndarray):
            out["output"] = self.output
        np.savez(path, **out)

    def describe(self) -> str:
        lines = []
        for key, lt in self.items():
            shape = next(iter(lt.arrays.values())).shape if lt.arrays else ()
            order = "last input step first (go_backwards)" if lt.go_backwards else "first input step first"
            masked = f"; {int((~lt.mask).sum())} masked (row, step) pairs" if lt.mask is not None else ""
            lines.append(f"{key} ({lt.class_name}): {', '.join(lt.arrays)} each {shape}; time index: {order}"
                         f"{masked}")
        return "\n".join(lines) or "no recurrent layers to trace"


class _Recorder:
    """The ``record(k, gates, states)`` callback of layers.recurrent.run for one layer call."""

    def __init__(self, layer, x_shape, mask):
        self.layer = layer
        batch, steps = x_shape[0], x_shape[1]
        self.steps = np.arange(steps)[::-1].copy() if layer.go_backwards else np.arange(steps)
        self.mask = None if mask is None else np.asarray(mask, bool)[:, self.steps]  # (batch, time)
        self.shape = (batch, steps, layer.units)
        self.arrays: dict[str, np.ndarray] = {}

    def _put(self, name, k, value, masked_nan):
        value = np.asarray(value, np.float32)
        if name not in self.arrays:  # (batch, time, *state): stacked cells' states differ in width
            self.arrays[name] = np.full((*self.shape[:2], *value.shape[1:]), np.nan, np.float32)
        if masked_nan and self.mask is not None:
            keep = self.mask[:, k].reshape(-1, *(1,) * (value.ndim - 1))
            value = np.where(keep, value, np.float32(np.nan))
        self.arrays[name][:, k] = value

    def __call__(self, k, gates, states):
        for name, value in gates.items():
            self._put(name, k, value, True)
        for name, value in zip(self.layer.LAYOUT.states, states):
            self._put(name, k, value, False)

    def result(self, name) -> LayerTrace:
        return LayerTrace(name, self.layer.class_name, self.layer.go_backwards, self.arrays, self.steps, self.mask)


class _Tracer:
    """The active trace (layers.recurrent.TRACING): one _Recorder per recurrent call, named in call order."""

    def __init__(self, result: Trace):
        self.result = result

    def begin(self, layer, x, mask):
        rec = _Recorder(layer, x.shape, mask)
        name, n = layer.name, 1
        while name in self.result:
            name, n = f"{layer.name}[{n}]", n + 1
        self.result[name] = rec.result(name)  # its arrays fill in as the call runs
        return rec


def trace(model, x) -> Trace:
    """Run ``model`` on ``x`` exactly as predict does and record every recurrent step.

    Thread-safe: recording goes through the recurrent loop of this thread's own call (a context variable); the
    layers are not modified, and concurrent predicts on the same model record nothing.

    Args:
        model: a kerasless Model.
        x: input as for ``model.predict``.
    Returns:
        a :class:`Trace`: ``trace["lstm"]["i"]`` is the input gate, (batch, time, units); LSTM records
        ``i, f, g, o, h, c``, GRU ``z, r, hh, h``, SimpleRNN ``h``; ``trace.output`` is predict's output.
    Example:
        >>> tr = kerasless.trace.trace(model, x)        # or model.trace(x)
        >>> np.allclose(tr["lstm"]["h"], tr["lstm"]["o"] * np.tanh(tr["lstm"]["c"]))
    """
    xs = model._check_inputs(x)
    result = Trace()
    saved = [(layer, layer.get_state()) for layer in model.walk() if isinstance(layer, RecurrentLayer)]
    token = TRACING.set(_Tracer(result))
    try:
        result.output = model._run(xs, False)
    finally:
        TRACING.reset(token)
        for layer, state in saved:  # tracing does not advance a stateful model
            layer.set_state(state)
    return result
