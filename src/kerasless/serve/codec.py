"""TF Serving's JSON: request bodies -> input arrays, output arrays -> response bodies, and its error texts.

Row format ``{"instances": [...]}`` (one element per example; objects keyed by input name when there are several
inputs) answers ``{"predictions": [...]}`` (objects keyed by output name when there are several outputs); columnar
``{"inputs": value | {name: value}}`` answers ``{"outputs": value | {name: value}}``.
"""

from __future__ import annotations

import json

import numpy as np
import orjson

from .errors import BadRequest
from .models import SIGNATURE

_F32_MAX = float(np.finfo(np.float32).max)
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


# -- JSON --------------------------------------------------------------------------------------------------------
def loads(body: bytes):
    """Parse a body (orjson; NaN / Infinity literals, which TF Serving accepts, through the standard parser)."""
    if not body.strip():
        raise BadRequest("JSON Parse error: The document is empty")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if b"NaN" not in body and b"Infinity" not in body:
            raise BadRequest(f"JSON Parse error: {exc}") from None
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"JSON Parse error: {str(exc)[:200]}") from None


def dumps(obj) -> bytes:
    """orjson (float32 arrays written shortest round-trip); with a NaN or inf anywhere, TF Serving's NaN /
    Infinity / -Infinity literals through the standard writer."""
    out = orjson.dumps(obj, option=_NUMPY)
    if b"null" in out and _has_nonfinite(obj):
        return json.dumps(_plain(obj), separators=(",", ":")).encode()
    return out


def _has_nonfinite(obj) -> bool:
    if isinstance(obj, np.ndarray):
        return obj.dtype.kind == "f" and not np.isfinite(obj).all()
    if isinstance(obj, dict):
        return any(_has_nonfinite(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_nonfinite(v) for v in obj)
    return False


def _plain(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def error_body(message: str) -> bytes:
    return orjson.dumps({"error": message})


def _short(value, limit: int = 80) -> str:
    text = orjson.dumps(value, default=repr).decode() if not isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[:limit] + "..."


# -- requests ----------------------------------------------------------------------------------------------------
def decode_predict(body: bytes, inputs) -> tuple[list[np.ndarray], str]:
    """A predict body -> (one array per input spec, in order; "row" or "columnar")."""
    doc = loads(body)
    if not isinstance(doc, dict):
        raise BadRequest(f"JSON Value: {_short(doc)} Is not object")
    signature = doc.get("signature_name", SIGNATURE)
    if not isinstance(signature, str):
        raise BadRequest("'signature_name' key must be a string value.")
    if signature not in (SIGNATURE, ""):
        raise BadRequest(f'Serving signature name: "{signature[:100]}" not found in signature def '
                         f'(the signature is "{SIGNATURE}")')
    if "instances" in doc and "inputs" in doc:
        raise BadRequest("Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist")
    if "instances" in doc:
        return decode_instances(doc["instances"], inputs), "row"
    if "inputs" in doc:
        return decode_inputs(doc["inputs"], inputs), "columnar"
    raise BadRequest("Missing 'inputs' or 'instances' key")


def _is_b64(v) -> bool:
    return isinstance(v, dict) and len(v) == 1 and "b64" in v


def decode_instances(instances, inputs) -> list[np.ndarray]:
    if not isinstance(instances, list):
        raise BadRequest("Excepting 'instances' to be an list/array")
    if not instances:
        raise BadRequest("No values in 'instances' array")
    names = [s.name for s in inputs]
    named = isinstance(instances[0], dict) and not _is_b64(instances[0])
    if not named and len(inputs) > 1:
        raise BadRequest(f"instances is a plain list, but expecting list of objects as multiple input tensors "
                         f"required: {', '.join(names)}")
    columns: list[list] = [[] for _ in inputs]
    for i, item in enumerate(instances):
        if named:
            if not isinstance(item, dict) or _is_b64(item):
                raise BadRequest(f"Expecting object but got list at item {i} of input list")
            if set(item) != set(names):
                raise BadRequest(f"Failed to process element: {i} of 'instances' list. JSON object: {_short(item)} "
                                 f"must only have keys: {','.join(sorted(names))}")
            for col, name in zip(columns, names):
                col.append(item[name])
        else:
            if isinstance(item, dict) and not _is_b64(item):
                raise BadRequest(f"Expecting value/list but got object at item {i} of input list")
            columns[0].append(item)
    return [to_array(col, spec, "'instances'") for col, spec in zip(columns, inputs)]


def decode_inputs(value, inputs) -> list[np.ndarray]:
    if not isinstance(value, dict) or _is_b64(value):
        if len(inputs) > 1:
            raise BadRequest(f"inputs is a plain value/list, but expecting an object as multiple input tensors "
                             f"required: {', '.join(s.name for s in inputs)}")
        return [to_array(value, inputs[0], "'inputs'")]
    for spec in inputs:
        if spec.name not in value:
            raise BadRequest(f"Missing named input: {spec.name} in 'inputs' object.")
    extra = sorted(set(value) - {s.name for s in inputs})
    if extra:
        raise BadRequest(f"'inputs' object has unknown inputs {extra}; the inputs are "
                         f"{[s.name for s in inputs]}")
    return [to_array(value[spec.name], spec, f"'inputs' {spec.name!r}") for spec in inputs]


def _dense_shape(value) -> list[int]:
    """TF Serving's shape of a nested list: follow the first element down."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _first_mismatch(value, shape, level=0):
    """(level, size found) of the first list whose length differs from ``shape`` (ragged input), or None."""
    if not isinstance(value, list):
        return None if level == len(shape) else (level, "a value")
    if level >= len(shape) or len(value) != shape[level]:
        return level, len(value)
    for v in value:
        bad = _first_mismatch(v, shape, level + 1)
        if bad:
            return bad
    return None


def to_array(value, spec, where: str) -> np.ndarray:
    """A JSON value -> an array matching ``spec`` (batch dimension first), or a 400 naming what is wrong."""
    try:
        a = np.asarray(value)
    except (ValueError, TypeError, OverflowError):
        shape = _dense_shape(value)
        bad = _first_mismatch(value, shape)
        detail = f": a list at depth {bad[0]} has {bad[1]} elements, expected {shape[bad[0]]}" if bad else ""
        raise BadRequest(f"{where}: nested lists of unequal lengths{detail}; {_expected(spec)}") from None
    kind = a.dtype.kind
    if kind not in "iuf":
        sample = a.flat[0] if a.size else value
        name = {"b": "Bool", "U": "String", "S": "String", "O": "Object"}.get(kind, str(a.dtype))
        if kind == "O" and not _is_b64(sample):
            name = "Object or mixed types"
        raise BadRequest(f"{where}: JSON Value: {_short(sample)} Type: {name} is not of expected type: "
                         f"{spec.dtype[3:].lower()}; {_expected(spec)}")
    if a.ndim != len(spec.shape) or any(w is not None and w != d for w, d in zip(spec.shape, a.shape)):
        raise BadRequest(f"{where}: got shape {list(a.shape)}; {_expected(spec)}")
    if a.shape[0] == 0:
        raise BadRequest(f"{where}: no rows; {_expected(spec)}")
    if spec.integer:
        if kind == "f":
            with np.errstate(invalid="ignore"):
                frac = np.isfinite(a) & (a != np.trunc(a))
            if frac.any():
                raise BadRequest(f"{where}: JSON Value: {a[frac].flat[0]!r} is not of expected type: "
                                 f"{spec.dtype[3:].lower()}; {_expected(spec)}")
        return a
    with np.errstate(over="ignore", invalid="ignore"):
        out = a.astype(np.float32)
    if kind == "f" and not np.isfinite(out).all():  # rare: an inf made by the cast is a value too big for float32
        big = np.isfinite(a) & ~np.isfinite(out)
        if big.any():
            raise BadRequest(f"{where}: Cannot convert JSON value: {a[big].flat[0]!r} to float without loss "
                             f"of precision.")
    elif kind != "f" and np.abs(a).max() > (1 << 24):
        raise BadRequest(f"{where}: Cannot convert JSON value: {int(np.abs(a).max())} to float without loss "
                         f"of precision.")
    return out


def _expected(spec) -> str:
    return f"input {spec.name!r} expects shape {spec.words()} of {spec.dtype}"


# -- responses ---------------------------------------------------------------------------------------------------
def encode_predict(outputs: list[np.ndarray], specs, fmt: str) -> bytes:
    """Output arrays -> TF Serving's ``predictions`` (row) or ``outputs`` (columnar) body."""
    outputs = [np.ascontiguousarray(o) for o in outputs]
    if fmt == "row":
        if len(outputs) == 1:
            return dumps({"predictions": outputs[0]})
        names = [s.name for s in specs]
        rows = [{n: o[i] for n, o in zip(names, outputs)} for i in range(outputs[0].shape[0])]
        return dumps({"predictions": rows})
    if len(outputs) == 1:
        return dumps({"outputs": outputs[0]})
    return dumps({"outputs": {s.name: o for s, o in zip(specs, outputs)}})
