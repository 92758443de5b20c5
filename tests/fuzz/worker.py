"""A fuzz worker: runs cases (JSON lines on stdin) one at a time with kerasless and answers one JSON line each.

Run by runner.py under a memory cap in its own process group; a crash or a hang costs only this process. Standalone
(kerasless, NumPy and the standard library): the protocol goes to a private copy of stdout, so whatever the code
under test prints cannot corrupt it; faulthandler writes the Python stack of a crash to stderr (a file).
"""

from __future__ import annotations

import faulthandler
import json
import os
import pathlib
import pickle
import signal
import sys
import time
import traceback

import numpy as np

CANARY = np.float32(-4242.4242)  # as in mutators.py (kept standalone: the worker imports nothing of the harness)
CANARY_TEXT = ("-4242.42", "4242.424")
TOL = 1e-5


def main() -> None:
    import resource

    mem = int(sys.argv[1])  # a hard cap (the isolated h5py child cannot raise it either), no core files
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything printed by the code under test goes to the stderr file
    faulthandler.enable(sys.stderr)
    faulthandler.register(signal.SIGUSR1, sys.stderr, all_threads=True)  # the parent asks before killing a hang
    import kerasless
    import kerasless.native as kn

    for line in sys.stdin:
        case = json.loads(line)
        try:
            os.chdir(case["dir"])
        except OSError:
            pass
        t0 = time.perf_counter()
        result = run(case, kerasless, kn)
        result["id"], result["ms"] = case["id"], round((time.perf_counter() - t0) * 1000, 1)
        proto.write(json.dumps(result) + "\n")


def run(case: dict, kerasless, kn) -> dict:
    path = case["path"]
    arg = {"bytes": os.fsencode, "pathlib": pathlib.Path}.get(case.get("path_type"), str)(path)
    phase = "load"
    try:
        model = kerasless.load(arg, **case["load_kw"])
        hit = _canary_in_weights(model)
        if hit:
            return {"outcome": "canary", "phase": phase, "detail": f"weights {hit} hold the canary value"}
        if case["expect"] == "refuse" and case.get("refuse_at") == "load":
            return {"outcome": "accepted", "phase": phase, "detail": "loaded a file that must be refused"}
        phase = "predict"
        x = _input(case, model)
        with np.errstate(all="ignore"):
            y = model.predict(x, **case["predict_kw"])
        if any(np.any(a == CANARY) for a in _flat(y) if isinstance(a, np.ndarray)):
            return {"outcome": "canary", "phase": phase, "detail": "an output holds the canary value"}
        if case["expect"] == "refuse":
            return {"outcome": "accepted", "phase": phase, "detail": "loaded and predicted a file that must be refused"}
        ref = case["ref"]
        if ref is None:
            res = {"outcome": "ok", "phase": phase, "detail": "no reference"}
            if case.get("save"):  # for the Keras oracle (runner.py)
                res["saved"] = os.path.join(case["dir"], "kerasless_y.pkl")
                with open(res["saved"], "wb") as f:
                    pickle.dump([np.asarray(a) for a in _flat(y)], f, protocol=4)
            return res
        if ref["kind"] == "keras":
            expected = _pickled(ref["file"])
            detail = compare(y, expected, rel=0.0)
        else:
            model.reset_states()
            kn.set_backend("numpy")
            try:
                with np.errstate(all="ignore"):
                    expected = model.predict(_input(case, model, ref["input"]), **case["predict_kw"])
            finally:
                kn.set_backend(None)
            # two float32 implementations of the same math (native C vs NumPy's BLAS) differ in the last ulp, and an
            # ill-conditioned layer amplifies that (exp(88) carries 1e32 of rounding; squareplus(-1e4) cancels two
            # 1e4-sized terms): the bound is relative to the output's largest magnitude (a norm-wise comparison)
            detail = compare(y, expected, rel=1e-4, normwise=True)
        if detail:
            return {"outcome": "wrong", "phase": phase, "detail": f"vs {ref['kind']}: {detail}"}
        return {"outcome": "ok", "phase": phase, "detail": f"matches {ref['kind']}"}
    except kerasless.KeraslessError as exc:
        msg = str(exc)
        if any(t in msg for t in CANARY_TEXT):
            return _exc("canary", exc, phase, "the error message quotes the canary")
        if case["expect"] == "result":
            return _exc("refused", exc, phase, "a typed error where Keras gives an answer")
        named = str(path) in msg or os.path.basename(str(path)) in msg
        if not named and not (phase == "predict" and isinstance(exc, kerasless.InputError)):
            return _exc("noname", exc, phase, "typed error not naming the file")
        return _exc("typed", exc, phase, "")
    except MemoryError as exc:
        return _exc("memory", exc, phase, "raw MemoryError")
    except Exception as exc:  # noqa: BLE001 - the point: anything else is a finding
        return _exc("untyped", exc, phase, "")


def _exc(outcome: str, exc: BaseException, phase: str, detail: str) -> dict:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/kerasless/" in f.filename] or frames
    at = ours[-1] if ours else None
    last = frames[-1] if frames else None
    fmt = (lambda f: f"{f.filename.rsplit('/src/', 1)[-1]}:{f.lineno} {f.name}") if frames else None
    return {"outcome": outcome, "phase": phase, "etype": type(exc).__name__, "message": str(exc)[:400],
            "where": fmt(at) if at else "", "last_frame": fmt(last) if last else "", "detail": detail}


def _canary_in_weights(model) -> str:
    for layer in model.spec.layers:
        for name, w in getattr(layer, "weights", None) or []:
            w = np.asarray(w)
            if w.dtype.kind == "f" and np.any(w == CANARY):
                return f"{layer.name}/{name}"
    return ""


def _pickled(path: str):
    with open(path, "rb") as f:
        return pickle.load(f)  # written by the fuzz parent from the fixtures: trusted


def _input(case: dict, model, path: str | None = None):
    x = _pickled(path or case["input"])
    if case.get("broadcast"):  # rows declared, not stored: one row seen n times
        n = case["broadcast"]
        x = [np.broadcast_to(a, (n, *a.shape[1:])) for a in x] if isinstance(x, list) else \
            np.broadcast_to(x, (n, *x.shape[1:]))
    wrap = case.get("wrap")
    if wrap == "dict":
        return dict(zip(model.input_names, x if isinstance(x, list) else [x]))
    if wrap in ("list", "tuple"):
        xs = x if isinstance(x, list) else [x]
        return xs if wrap == "list" else tuple(xs)
    return x


def _flat(v) -> list:
    return [a for e in v for a in _flat(e)] if isinstance(v, (list, tuple)) else [v]


def compare(actual, expected, rel: float, normwise: bool = False) -> str:
    """'' when equal as the golden tests define it (shape, float32, NaN and inf positions, |diff| <= 1e-5 (+ rel),
    rel scaling each value, or with ``normwise`` the output's largest finite magnitude)."""
    got, want = _flat(actual), _flat(expected)
    if len(got) != len(want):
        return f"{len(got)} outputs, expected {len(want)}"
    for i, (a, e) in enumerate(zip(got, want)):
        a, e = np.asarray(a), np.asarray(e)
        if a.shape != e.shape:
            return f"out{i}: shape {a.shape} != {e.shape}"
        if a.dtype != np.float32:
            return f"out{i}: dtype {a.dtype}"
        if not np.array_equal(np.isnan(a), np.isnan(e)):
            return f"out{i}: NaN positions differ ({int(np.isnan(a).sum())} vs {int(np.isnan(e).sum())})"
        inf = np.isinf(e) | np.isinf(a)
        if not np.array_equal(np.where(inf, a, 0), np.where(inf, e, 0)):
            return f"out{i}: inf positions or signs differ"
        fin = ~(np.isnan(e) | inf)
        diff = np.abs(np.where(fin, a.astype(np.float64) - e, 0))
        scale = np.abs(np.where(fin, e, 0).astype(np.float64))
        bound = TOL + rel * (scale.max(initial=0.0) if normwise else scale)
        if np.any(diff > bound):
            return f"out{i}: max abs diff {float(diff.max()):.3g}"
    return ""


if __name__ == "__main__":
    main()
