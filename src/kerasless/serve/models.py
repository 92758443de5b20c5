"""What is served: models by name and version (TF Serving's NAME/VERSION/ layout), each with its signature."""

from __future__ import annotations

import contextlib
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import KeraslessError, ModelFileError
from .errors import BadRequest, NotFound

SIGNATURE = "serving_default"
MODEL_FILES = ("*.keras", "*.h5", "*.hdf5")
_DTYPES = {"float32": "DT_FLOAT", "float64": "DT_DOUBLE", "int32": "DT_INT32", "int64": "DT_INT64",
           "uint8": "DT_UINT8", "int8": "DT_INT8", "int16": "DT_INT16", "uint16": "DT_UINT16", "bool": "DT_BOOL"}


class TensorSpec:
    """One named input or output: TF dtype name and shape with None for any size (batch first)."""

    __slots__ = ("dtype", "integer", "name", "shape")

    def __init__(self, name: str, dtype: str, shape: tuple):
        self.name, self.dtype, self.shape = name, dtype, tuple(shape)
        self.integer = dtype not in ("DT_FLOAT", "DT_DOUBLE")

    def words(self) -> str:
        """TF Serving's shape notation: [-1,40,60]."""
        return "[" + ",".join("-1" if d is None else str(d) for d in self.shape) + "]"

    def to_json(self, tensor_name: str) -> dict:
        dims = [{"size": str(-1 if d is None else d), "name": ""} for d in self.shape]
        return {"dtype": self.dtype, "tensor_shape": {"dim": dims, "unknown_rank": False}, "name": tensor_name}


class Servable:
    """One version of one model: its signature and ``run`` (flat list of inputs -> flat list of float32 outputs).
    Every call runs on the servable's own worker thread, so a model is never run by two threads at once.

    Example:
        >>> s = Servable("lstm", 1, kerasless.load("m.keras")); s.run([x])[0].shape
    """

    def __init__(self, name: str, version: int, model, source: str | None = None):
        self.name, self.version, self.model = name, version, model
        self.source = source or str(getattr(model, "source", ""))
        self.inputs = [TensorSpec(n, _input_dtype(model.get_layer(n)), model.get_layer(n).batch_shape)
                       for n in model.input_names]
        out_shapes = model.output_shape if len(model.spec.outputs) > 1 else [model.output_shape]
        self.outputs = [TensorSpec(n, "DT_FLOAT", s) for n, s in zip(output_names(model), out_shapes)]
        self.stateful = bool(model.stateful)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"kerasless-{name}-{version}")
        self.busy = 0  # calls queued or running on the executor
        self.seconds_per_row = float("inf")  # moving average of the calls timed so far

    def timed(self, rows: int, fn, *args):
        """fn(*args), its time per row folded into seconds_per_row."""
        start = time.perf_counter()
        out = fn(*args)
        per_row = (time.perf_counter() - start) / max(1, rows)
        old = self.seconds_per_row
        self.seconds_per_row = per_row if old == float("inf") else 0.8 * old + 0.2 * per_row
        return out

    def run(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        with self.errors():
            return flatten(self.model.predict(xs if len(xs) > 1 else xs[0]))

    def stream(self, batch_size: int):
        return self.model.stream(batch_size)

    @contextlib.contextmanager
    def errors(self):
        """kerasless errors on an input -> 400s naming the model, not the server's file path."""
        try:
            yield
        except BadRequest:
            raise
        except KeraslessError as exc:
            raise BadRequest(str(exc).replace(self.source, f"model {self.name}")) from None

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def flatten(value) -> list:
    """predict's (possibly nested) result -> the flat list of arrays."""
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in flatten(v)]
    return [value]


def output_names(model) -> list[str]:
    """Signature names of the outputs: the producing layer's name (``name_i`` when a layer gives several)."""
    layers = [ref[0] for ref in model.spec.outputs]
    return [n if layers.count(n) == 1 else f"{n}_{ref[2]}" for n, ref in zip(layers, model.spec.outputs)]


def _input_dtype(layer) -> str:
    dtype = getattr(layer, "int_dtype", None)
    return _DTYPES.get(str(dtype), "DT_INT32") if dtype is not None else "DT_FLOAT"


class Repository:
    """Models by name, each a dict of versions; ``get`` resolves TF Serving's Latest / Specific requests."""

    def __init__(self, servables: list[Servable] = (), watch: list[tuple[Path, str | None]] = ()):
        self.models: dict[str, dict[int, Servable]] = {}
        self.watch = list(watch)  # (path, name) the models came from: rescanned by poll()
        self.failed: dict[tuple[str, int], tuple] = {}  # versions that did not load -> (why, their files' stamp)
        for s in servables:
            self.add(s)

    def add(self, servable: Servable) -> None:
        versions = self.models.setdefault(servable.name, {})
        if servable.version in versions:
            raise ModelFileError(f"model {servable.name!r} version {servable.version} given twice")
        versions[servable.version] = servable

    def versions(self, name: str) -> dict[int, Servable]:
        if name not in self.models:
            raise NotFound(f"Could not find any versions of model {name}")
        return self.models[name]

    def get(self, name: str, version: int | None = None) -> Servable:
        versions = self.models.get(name)
        if version is None:
            if not versions:
                raise NotFound(f"Servable not found for request: Latest({name})")
            return versions[max(versions)]
        if not versions or version not in versions:
            raise NotFound(f"Servable not found for request: Specific({name}, {version})")
        return versions[version]

    def close(self) -> None:
        for versions in self.models.values():
            for s in versions.values():
                s.close()

    def scan(self):
        """What changed on disk since loading (TF Serving's file system polling), loading the new versions; run it
        off the event loop. Returns (new servables, removed (name, version)s, {(name, version): why it failed})."""
        from .. import load

        wanted = {}
        for path, name in self.watch:
            with contextlib.suppress(ModelFileError, OSError):  # a directory gone or half made: next scan
                wanted.update({(n, v): p for n, v, p in _sources(path, name)})
        loaded = {(n, v) for n, versions in self.models.items() for v in versions}
        new, failed = [], {}
        for n, v in sorted(wanted.keys() - loaded):
            stamp = _stamp(wanted[n, v])
            if (n, v) in self.failed and self.failed[n, v][1] == stamp:  # unchanged since it failed
                failed[n, v] = self.failed[n, v]
                continue
            try:
                path = _model_file(wanted[n, v]) if wanted[n, v].is_dir() else wanted[n, v]
                new.append(Servable(n, v, load(path), str(path)))
            except (KeraslessError, OSError) as exc:
                failed[n, v] = (str(exc).replace(str(wanted[n, v]), f"{n}/{v}"), stamp)
        return new, sorted(loaded - wanted.keys()), failed

    def apply(self, new, removed, failed) -> None:
        """Put a scan's result in place (on the event loop: requests see one repository or the other)."""
        for s in new:
            self.add(s)
        for n, v in removed:
            servable = self.models[n].pop(v)
            servable.executor.shutdown(wait=False)  # requests already queued on it still finish
            if not self.models[n]:
                del self.models[n]
        self.failed = failed


# -- loading -----------------------------------------------------------------------------------------------------
def _model_file(directory: Path) -> Path:
    found = sorted(p for pattern in MODEL_FILES for p in directory.glob(pattern))
    if len(found) != 1:
        raise ModelFileError(f"{directory}: a version directory should hold one .keras or .h5 file, found "
                             f"{[p.name for p in found] or 'none'}")
    return found[0]


def _stamp(path: Path) -> tuple:
    """Names, sizes and mtimes of a model file or version directory: a failed version is retried when it changes."""
    try:
        entries = sorted(path.iterdir()) if path.is_dir() else [path]
        return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in entries)
    except OSError:
        return ()


def _version_dirs(directory: Path) -> dict[int, Path]:
    """TF Serving's versions: the subdirectories whose names are whole numbers."""
    return {int(p.name): p for p in directory.iterdir() if p.is_dir() and re.fullmatch(r"\d{1,18}", p.name)}


def _sources(path: Path, name: str | None) -> list[tuple[str, int, Path]]:
    """(name, version, model file or version directory) for a file, a model directory of versions, or a base
    directory of models."""
    if path.is_file():
        return [(name or path.stem, 1, path)]
    if not path.is_dir():
        raise ModelFileError(f"{path}: no such model file or directory")
    versions = _version_dirs(path)
    if versions:
        return [(name or path.name, v, d) for v, d in sorted(versions.items())]
    if name is not None:
        raise ModelFileError(f"{path}: --name needs a model file or a directory of VERSION/ subdirectories")
    out = [(d.name, v, vd) for d in sorted(path.iterdir()) if d.is_dir() for v, vd in sorted(_version_dirs(d).items())]
    if not out:
        raise ModelFileError(f"{path}: no NAME/VERSION/model.keras inside (TF Serving's layout)")
    return out


def load_repository(model: str | None = None, name: str | None = None, named: list[str] = ()) -> Repository:
    """Load the models to serve (every file is untrusted: loaded like :func:`kerasless.load`).

    Args:
        model: a ``.keras``/``.h5`` file (version 1), a directory of ``VERSION/`` subdirectories, or a base
            directory of ``NAME/VERSION/model.keras`` (TF Serving's layout; one model file per version directory).
        name: the model's name when ``model`` is a file or a directory of versions (default: its name).
        named: more models as ``"NAME=PATH"`` (PATH a file or a directory of versions).
    Returns:
        a :class:`Repository`.
    Raises:
        ModelFileError (and the other load errors) naming the file or directory.
    Example:
        >>> repo = load_repository("models/")       # models/lstm/1/model.keras, models/lstm/2/model.keras
    """
    from .. import load

    watch = [(Path(model), name)] if model else []
    for item in named:
        key, sep, path = item.partition("=")
        if not sep or not key or not path:
            raise ModelFileError(f"--model {item!r}: expected NAME=PATH")
        watch.append((Path(path), key))
    sources = [src for path, key in watch for src in _sources(path, key)]
    if not sources:
        raise ModelFileError("serve: give a model file or directory, or --model NAME=PATH")
    files = [(n, v, _model_file(p) if p.is_dir() else p) for n, v, p in sources]
    return Repository([Servable(n, v, load(p), str(p)) for n, v, p in files], watch)
