"""Bad predict inputs on the unmodified fixtures. Where Keras has an answer it is the reference: the fixture's own
y for a re-typed or re-laid-out copy of its input, or the kerasless NumPy backend (validated against Keras by the
golden tests) of the plainly cast input Keras would see. What Keras rejects must be a typed error."""

from __future__ import annotations

import numpy as np

from .corpus import Ctx, fixtures

# op -> (weight, expect, reference: "y" (Keras's), "numpy" (NumPy backend on the cast input) or None)
OPS = {
    "float64": (4, "result", "y"), "fortran": (3, "result", "y"), "strided": (3, "result", "y"),
    "readonly": (2, "result", "y"), "concat": (4, "result", "y"), "batch-size": (4, "result", "y"),
    "bad-batch-size": (3, "refuse", None), "dict": (3, "result", "y"), "sequence": (3, "result", "y"),
    "nonfinite": (6, "result", "y"), "nan-random": (8, "result", "numpy"), "extreme": (8, "result", "numpy"),
    "int": (6, "result", "numpy"), "float16": (3, "result", "numpy"), "object-float": (2, "refuse", None),
    "str": (2, "refuse", None), "object-none": (2, "refuse", None), "complex": (1, "any", None),
    "wrong-features": (5, "refuse", None), "wrong-timesteps": (3, "any", None), "rank-leading": (3, "refuse", None),
    "rank-trailing": (3, "any", "y"), "rank-minus": (3, "any", None), "empty": (3, "refuse", None),
    "scalar": (1, "refuse", None), "none": (1, "refuse", None), "batch-mismatch": (2, "refuse", None),
    "broadcast": (3, "result", "y"), "broadcast-1e9": (1, "any", None), "too-many-inputs": (2, "refuse", None),
}


def _each(x, f):
    return [f(a) for a in x] if isinstance(x, list) else f(x)


def _first(x, f):
    return [f(x[0])] + x[1:] if isinstance(x, list) else f(x)


def generate(ctx: Ctx) -> dict:
    rng = ctx.rng
    op = rng.choices(list(OPS), [w for w, _, _ in OPS.values()])[0]
    _, expect, ref = OPS[op]
    fx = rng.choice(fixtures())
    if fx.stateful and op in ("concat", "broadcast", "broadcast-1e9", "batch-size", "empty", "batch-mismatch"):
        op, (_, expect, ref) = "float64", OPS["float64"]
    x, y = fx.x, fx.y
    rank3 = (x[0] if isinstance(x, list) else x).ndim >= 3
    if op in ("wrong-features", "wrong-timesteps") and not rank3:
        op, (_, expect, ref) = "rank-leading", OPS["rank-leading"]
    if fx.embeds and op in ("extreme", "nan-random"):  # ids out of range: Keras raises too
        expect = "any"
    note, kw, wrap, ref_x, broadcast = "", {}, None, None, None
    if op == "float64":
        x = _each(x, lambda a: a.astype(np.float64))
    elif op == "fortran":
        x = _each(x, np.asfortranarray)
    elif op == "strided":
        x = _each(x, lambda a: np.repeat(a, 2, axis=0)[::2])
    elif op == "readonly":
        def ro(a):
            a = a.copy()
            a.setflags(write=False)
            return a
        x = _each(x, ro)
    elif op == "concat":
        k = rng.choice([2, 3, 17, 300])
        x, y = _each(x, lambda a: np.concatenate([a] * k)), _each(y, lambda a: np.concatenate([a] * k))
        note = f"x{k}"
    elif op == "broadcast":
        n = rng.choice([1000, 1 << 14, 1 << 16])
        x, broadcast = _each(x, lambda a: a[:1]), n
        y = _each(y, lambda a: np.broadcast_to(a[:1], (n, *a.shape[1:])))
        note = f"{n} rows"
    elif op == "broadcast-1e9":
        x, broadcast = _each(x, lambda a: a[:1]), 10 ** 9
    elif op == "batch-size":
        kw = {"batch_size": rng.choice([1, 2, 3, 1000])}
    elif op == "bad-batch-size":
        kw = {"batch_size": rng.choice([0, -1, True, 2.5, "4"])}
    elif op in ("dict", "sequence"):
        wrap = "dict" if op == "dict" else rng.choice(["list", "tuple"])
    elif op == "nonfinite":
        nf = fx.nonfinite()
        if nf is None:
            return generate_fallback(ctx, fx)
        x, y = nf
        if _graph_dependent_nan(fx):  # TensorFlow itself is inconsistent there (tests/test_golden.py)
            expect, ref = "any", None
    elif op == "nan-random":
        def poison(a):
            a = a.astype(np.float32).copy()
            flat = a.reshape(-1)
            for i in rng.sample(range(flat.size), max(1, flat.size // rng.choice([2, 10, 100]))):
                flat[i] = rng.choice([np.nan, np.inf, -np.inf])
            return a
        x = _first(x, poison)
    elif op == "extreme":
        s = rng.choice([1e4, 1e30, -1e30, 1e-40, -0.0, 3.4e38])
        with np.errstate(over="ignore"):
            x = _first(x, lambda a: (a * np.float32(s)).astype(np.float32))
        note = f"x*{s:g}"
    elif op == "int":
        dt = rng.choice([np.int8, np.int32, np.int64, np.uint8, np.bool_])
        scale = 1 if fx.embeds else 3  # token ids stay in range
        x = _each(x, lambda a: np.abs(np.round(a * scale)).astype(dt))
        ref_x = _each(x, lambda a: a.astype(np.float32))
        note = np.dtype(dt).name
    elif op == "float16":
        x = _each(x, lambda a: a.astype(np.float16))
        ref_x = _each(x, lambda a: a.astype(np.float32))
    elif op == "object-float":
        ref_x = x
        x = _each(x, lambda a: a.astype(object))
    elif op == "str":
        x = _first(x, lambda a: a.astype(str))
    elif op == "object-none":
        def nones(a):
            a = a.astype(object)
            a.reshape(-1)[0] = None
            return a
        x = _first(x, nones)
    elif op == "complex":
        x = _first(x, lambda a: a.astype(np.complex64) + 1j)
    elif op == "wrong-features":
        x = _first(x, lambda a: np.concatenate([a, a[..., :1]], -1) if rng.random() < 0.5 else a[..., :-1])
    elif op == "wrong-timesteps":
        x = _first(x, lambda a: np.concatenate([a, a], 1) if rng.random() < 0.5 else a[:, :1])
    elif op == "rank-leading":
        x = _first(x, lambda a: a[None])
    elif op == "rank-trailing":
        x = _first(x, lambda a: a[..., None])
    elif op == "rank-minus":
        x = _first(x, lambda a: a[0])
    elif op == "empty":
        x = _each(x, lambda a: a[:0])
    elif op == "scalar":
        x = np.float32(1.0)
    elif op == "none":
        x = None
    elif op == "batch-mismatch":
        x = _first(x, lambda a: np.concatenate([a, a[:1]])) if isinstance(x, list) else [x, x]
    elif op == "too-many-inputs":
        x = (x if isinstance(x, list) else [x]) * 2 + [np.zeros(1, np.float32)]
    case = ctx.case(fx, f"{op} {note}".strip(), expect=expect, predict_kw=kw, wrap=wrap, broadcast=broadcast)
    case["input"] = ctx.pickle("x.pkl", x)
    if ref == "y":
        case["ref"] = {"kind": "keras", "file": ctx.pickle("ref.pkl", y)}
    elif ref == "numpy":
        case["ref"] = {"kind": "numpy", "input": ctx.pickle("ref_x.pkl", x if ref_x is None else ref_x)}
    return case


def _graph_dependent_nan(fx) -> bool:
    from test_golden import GRAPH_DEPENDENT_NAN

    return (fx.dir.parent.name, fx.dir.name) in GRAPH_DEPENDENT_NAN


def generate_fallback(ctx: Ctx, fx) -> dict:
    """k22 fixtures have no non-finite reference: NaN-poisoned input against the NumPy backend instead."""
    x = fx.x
    x = _first(x, lambda a: np.where(np.arange(a.size).reshape(a.shape) % 3 == 0, np.nan, a).astype(np.float32))
    case = ctx.case(fx, "nonfinite (every third value NaN)", expect="any" if fx.embeds else "result")
    case["input"] = ctx.pickle("x.pkl", x)
    case["ref"] = {"kind": "numpy", "input": case["input"]}
    return case
