"""The one streaming plan: the model's calls rewritten for one timestep of one sample (C ``<name>_stream_step``, Swift
``Stream``, Java ``Model.Stream``, JS ``createStream``), with exactly the semantics of :class:`kerasless.stream.Stream` (``model.stream(1).step``).

A model streams when every call acts on each timestep independently (dense, activation, embedding, masks) or is a
forward recurrent layer over the input's time axis; ``go_backwards``, Bidirectional (``reverse_time``/``merge``),
TimeDistributed(RNN) (``seqs > 1``), ``permute``, ``repeat`` and ``reshape`` (Flatten, Reshape) need the whole
sequence, and a model without a recurrent layer has no state to carry. :func:`stream_plan` returns the reason
instead of a plan for those; the targets then omit the stream API and say why in a comment.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .plan import RECURRENT_KERNELS, Plan

PER_STEP = {"dense", "activation", "embedding", "mask_tokens", "mask_values", "apply_mask"}


@dataclass
class StreamPlan:
    calls: list  # plan Calls with per-step params (steps = 1, rows / n per step), in order
    sizes: dict  # buffer name -> floats per step (data and mask buffers and the input)
    step_in: int  # floats of x_t
    step_out: int  # floats of y_t
    recurrent: list  # the recurrent Calls (per-step params), in order: one state block each
    scratch: int  # floats of recurrent scratch (the largest call's 3*gates*units + 2*units)


def stream_plan(plan: Plan):
    """A :class:`StreamPlan`, or a string saying why ``plan`` cannot stream."""
    if not any(c.kernel in RECURRENT_KERNELS for c in plan.calls):
        return "the model has no recurrent layer to carry state"
    x = plan.buffers[plan.input]
    if not x.shape:
        return "the input has no time axis"
    steps = x.shape[0]
    timed = {plan.input: True}  # buffer -> carries the time axis (per step: size // steps)
    calls, recurrent = [], []
    for c in plan.calls:
        src = timed.get(c.inputs[0], False)
        p = dict(c.params)
        where = f"layer {c.layer!r} ({c.layer_class})"
        if c.kernel in RECURRENT_KERNELS:
            if c.layer.endswith(("/forward", "/backward")):
                return f"layer {c.layer.rsplit('/', 1)[0]!r} (Bidirectional): needs the whole sequence"
            if p["go_backwards"]:
                return f"{where}: go_backwards needs the whole sequence"
            if p["seqs"] != 1:
                return f"{where}: TimeDistributed(RNN) needs the whole sequence"
            if not src or p["steps"] != steps:
                return f"{where}: its time axis is not the input's"
            p["steps"] = 1
            timed[c.output] = bool(p["return_sequences"])
        elif c.kernel in PER_STEP:
            if src:
                key = {"dense": "rows", "activation": "rows", "embedding": "n", "mask_tokens": "n",
                       "mask_values": "steps", "apply_mask": "steps"}[c.kernel]
                if p[key] % steps:
                    return f"{where}: its rows are not per timestep"
                p[key] //= steps
            timed[c.output] = src
        else:
            what = {"reverse_time": "Bidirectional", "merge": "a merge"}.get(c.kernel, c.kernel)
            return f"{where}: {what} needs the whole sequence"
        call = dataclasses.replace(c, params=p)
        calls.append(call)
        if c.kernel in RECURRENT_KERNELS:
            recurrent.append(call)
    sizes = {name: (b.size // steps if timed.get(name) else b.size)
             for name, b in plan.buffers.items() if name in timed}
    scratch = max(3 * len(c.params["gates"]) * c.params["units"] + 2 * c.params["units"] for c in recurrent)
    return StreamPlan(calls, sizes, sizes[plan.input], sizes[plan.storage(plan.output)]
                      if plan.output in sizes else sizes[plan.output], recurrent, scratch)
