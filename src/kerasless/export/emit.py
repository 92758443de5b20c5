"""The one emitter: a plan Call printed as a runtime call in a target's syntax, from plan.SIGNATURES.

A target supplies a syntax object (its ``_Gen``) with: ``indent``, ``comment(text)``, ``buf(name)``,
``function(kernel)``, ``statement(call, function, args, status)`` (-> lines), ``batch``, ``weight(call, role)``
(None when absent), ``act(name, nullable)``, ``literal(kind, value)`` for "int" / "float" / "bool" / "enum" /
"ints" / "rank" (None: omit the argument), and ``recurrent(call, stream)`` (-> lines) for the recurrent kernels,
whose record is ``record_fields(call)``.
"""

from __future__ import annotations

from .common import shape_comment
from .plan import RECURRENT_KERNELS, RNN_FIELDS, SIGNATURES, ExportError


def head(plan, c, shapes: bool = True) -> str:
    """``layer (Class): kernel (in shape) -> (out shape)``."""
    text = f"{c.layer} ({c.layer_class}): {c.kernel}"
    if shapes:
        text += f" {shape_comment(plan.buffers[c.inputs[0]].shape)} -> {shape_comment(plan.buffers[c.output].shape)}"
    return text


def emit_call(plan, c, syntax, stream: bool = False, target: str = "") -> list[str]:
    """The lines running call ``c`` (``stream``: the per-step version of a recurrent call)."""
    ind = syntax.indent
    if c.kernel == "reshape":
        return [ind + syntax.comment(f"{c.layer} ({c.layer_class}): reshape to {shape_comment(c.params['shape'])}, "
                                     f"{c.output} shares {syntax.buf(c.inputs[0])}'s storage")]
    lines = [ind + syntax.comment(head(plan, c, not stream))]
    if c.kernel in RECURRENT_KERNELS:
        return lines + syntax.recurrent(c, stream)
    if c.kernel not in SIGNATURES:
        raise ExportError(f"layer {c.layer!r}: kernel {c.kernel!r} has no runtime signature (target {target!r})")
    spec, status = SIGNATURES[c.kernel]
    args = [a for a in (_arg(c, kind, key, syntax) for kind, key in spec) if a is not None]
    return lines + syntax.statement(c, syntax.function(c.kernel), args, status)


def _arg(c, kind, key, syntax):
    if kind == "in":
        return syntax.buf(c.inputs[key])
    if kind == "out":
        return syntax.buf(c.output)
    if kind == "rows":
        return f"{syntax.batch} * {c.params[key]}"
    if kind == "batch":
        return syntax.batch
    if kind in ("weight", "weight?"):
        return syntax.weight(c, key)
    if kind in ("act", "act?"):
        return syntax.act(c.params[key], kind == "act?")
    return syntax.literal(kind, c.params[key])


def record_fields(c, syntax) -> list[tuple[str, str]]:
    """[(field, rendered value)] of a recurrent call's record (RNN_FIELDS order)."""
    out = []
    for kind, key in RNN_FIELDS:
        p = c.params
        if kind in ("weight", "weight?"):
            value = syntax.weight(c, key)
        elif kind in ("act", "act?"):
            value = syntax.act(p[key], False) if key in p else syntax.none
        elif kind == "len":
            value = syntax.literal("int", len(p[key]))
        else:
            value = syntax.literal(kind, p.get(key, False) if kind == "bool" else p[key])
        out.append((key, value))
    return out
