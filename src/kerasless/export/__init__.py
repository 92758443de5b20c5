"""Export a model as standalone code: ``kerasless.export.export(model, "c", "out/")``.

Every target reads the same :class:`~kerasless.export.plan.Plan` (model -> kernel calls + weights) and is a
module registered in ``kerasless/export_targets.py`` (:data:`TARGETS` here: name -> module) providing:

    NAME: str
    write(plan, out_dir, name="model", weights_file=False) -> list[Path]
        generate the files (code, runtime copies, weights, one embedded test vector + self-test)
    run(plan, out_dir, name, batches, weights_file=False) -> (list[np.ndarray], float)
        build/load the generated code with the real toolchain, call predict on each batch in order in one
        process (stateful models carry state), then self_test(); return the outputs and the self-test diff

Example:
    >>> import kerasless, kerasless.export
    >>> kerasless.export(kerasless.load("m.keras"), "c", "out", name="model")  # the module is callable = export()
    [PosixPath('out/model.h'), PosixPath('out/model.c'), ...]
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np

from .._callable import make_callable
from ..errors import KeraslessError
from ..export_targets import TARGETS as REGISTRY
from .common import check_identifier
from .inputs import reference_outputs, sample_inputs
from .plan import ExportError, Plan, build_plan

__all__ = [
    "TARGETS",
    "TOLERANCE",
    "ExportError",
    "Plan",
    "VerifyError",
    "build_plan",
    "cli_export",
    "export",
    "verify",
]

TARGETS = {name: importlib.import_module(module) for name, (module, _) in REGISTRY.items()}
TOLERANCE = 1e-5


class VerifyError(KeraslessError):
    """The generated code's output differs from kerasless predict by more than the tolerance."""


def _target(target: str):
    if target in TARGETS:
        return TARGETS[target]
    raise ExportError(f"unknown export target {target!r}; available targets: {', '.join(TARGETS)}")


def export(model, target: str, out_dir, name: str = "model", weights_file: bool = False,
           input_shape=None, package: str | None = None) -> list[Path]:
    """Write standalone code for ``model`` that reproduces ``model.predict``.

    Args:
        model: a :class:`kerasless.Model`.
        target: a key of :data:`TARGETS` ("c", "numpy").
        out_dir: directory to write into (created if missing).
        name: base name of the generated files and symbols (an identifier).
        weights_file: write weights to ``<name>.weights.bin`` + ``<name>.weights.json`` instead of literals
            (C; the NumPy target always writes an .npz).
        input_shape: per-sample input shape replacing ``None`` dimensions (e.g. variable timesteps).
        package: Java package (``com.example.ml``) of the java target: its declaration and folders.
    Returns:
        the written paths.
    Raises:
        ExportError: unknown target, or a layer/option the target cannot handle (the message names both).
    Example:
        >>> export(model, "numpy", "out")  # out/model_numpy.py + out/model_weights.npz
    """
    module = _target(target)
    check_identifier(name)
    if package is not None and target != "java":
        raise ExportError(f"--package applies to target 'java' only, not {target!r}")
    plan = build_plan(model, target, input_shape=input_shape)
    options = {"package": package} if package is not None else {}
    return module.write(plan, Path(out_dir), name, weights_file, **options)


def verify(model, target: str, out_dir, name: str = "model", n: int = 8, weights_file: bool = False,
           input_shape=None, seed: int = 1, tol: float = TOLERANCE) -> float:
    """Run code already written by :func:`export` on ``n`` random inputs and compare with ``model.predict``.

    Inputs are token ids for an Embedding input and include masked steps when Masking reads the input.
    Stateful models get consecutive calls of their fixed batch. Returns the max abs difference (including the
    self-test's); raises :class:`VerifyError` above ``tol`` or when the argmax differs.
    """
    module = _target(target)
    plan = build_plan(model, target, input_shape=input_shape)
    rng = np.random.default_rng(seed)
    rows = plan.fixed_batch or min(max(1, n), 16)
    batches = [sample_inputs(plan, rows, rng) for _ in range(max(1, -(-n // rows)))]
    expected = reference_outputs(model, batches)
    got, self_test = module.run(plan, Path(out_dir), name, batches, weights_file)
    diff = max([float(np.max(np.abs(g.astype(np.float64) - e), initial=0.0)) for g, e in zip(got, expected)]
               + [self_test])
    same_argmax = all(np.array_equal(np.argmax(g, -1), np.argmax(e, -1)) for g, e in zip(got, expected))
    if not diff <= tol or not same_argmax:
        raise VerifyError(f"target {target!r}: generated code differs from kerasless predict: max abs diff "
                          f"{diff:.3g} (tolerance {tol:g}){'' if same_argmax else ', argmax differs'}")
    return diff


def cli_export(args) -> None:
    """``kerasless export MODEL --target T --out DIR [--name N] [--verify N] [--weights-file]``."""
    from .. import load

    model = load(args.model)
    shape = getattr(args, "input_shape", None)  # optional "--input-shape 40,60" for variable-length inputs
    if isinstance(shape, str):
        try:
            shape = tuple(int(d) for d in shape.replace("x", ",").split(",") if d.strip())
        except ValueError:
            raise ExportError(f"--input-shape {shape!r}: expected integers like 40,60") from None
    files = export(model, args.target, args.out, name=args.name, weights_file=args.weights_file, input_shape=shape,
                   package=getattr(args, "package", None))
    for f in files:
        print(f"wrote {f}")
    if args.verify:
        diff = verify(model, args.target, args.out, name=args.name, n=args.verify, weights_file=args.weights_file,
                      input_shape=shape)
        print(f"verify: {args.verify} random inputs through the generated {args.target} code: max abs diff "
              f"{diff:.3g} (tolerance {TOLERANCE:g}) OK")


make_callable(__name__, export)  # kerasless.export(model, target, out_dir, ...)
