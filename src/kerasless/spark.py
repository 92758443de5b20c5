"""Score Spark DataFrames with a kerasless model: no TensorFlow on the executors (``pip install 'kerasless[spark]'``).

Built on Spark's own ``pyspark.ml.functions.predict_batch_udf``: each Python worker rebuilds the model once and
keeps it; the tasks run with one thread each by default (Spark runs one task per core).

Example:
    >>> from kerasless.spark import predict_udf
    >>> udf = predict_udf(model, batch_size=1024)            # or predict_udf("/shared/model.keras")
    >>> df = df.withColumn("y", udf("x"))                     # x: array<float>, one sample flattened in C order
"""

from __future__ import annotations

import inspect

from .errors import InputError, UnsupportedOptionError
from .ship import Shipped

__all__ = ["predict_udf", "Shipped"]


def _driver_model(shipped: Shipped):
    from . import load

    return shipped._local if shipped._local is not None else load(shipped.path, shipped.max_bytes)


def row_shapes(model, input_shapes=None) -> list[list[int]]:
    """Each input's per-sample shape (what one flattened row is reshaped to); ``input_shapes`` fills the dims the
    model leaves open (``(None, None, 60)``: pass ``input_shapes=[(40, 60)]``)."""
    given = list(input_shapes) if input_shapes is not None else [None] * len(model.input_names)
    if len(given) != len(model.input_names):
        raise InputError(f"input_shapes: the model has {len(model.input_names)} inputs {model.input_names}, "
                         f"got {len(given)} shapes")
    out = []
    for name, want, have in zip(model.input_names, model.input_shapes, given):
        shape = list(have) if have is not None else list(want[1:])
        if len(shape) != len(want) - 1 or any(w is not None and w != d for w, d in zip(want[1:], shape)):
            raise InputError(f"input_shapes: input {name!r} takes samples shaped {tuple(want[1:])}, got {have}")
        if any(d is None for d in shape):
            raise InputError(f"input {name!r} has open dims {tuple(want[1:])} (None); a Spark row has a fixed "
                             f"length: pass input_shapes=[...] with one shape per input, e.g. "
                             f"{tuple(4 if d is None else d for d in want[1:])}")
        out.append([int(d) for d in shape])
    return out


def output_names(model) -> list[str]:
    """The model's flat outputs' names (layer names, made unique with _1, _2 ...): the struct fields."""
    names, seen = [], {}
    for name in model.output_names:
        k = seen.get(name, 0)
        seen[name] = k + 1
        names.append(name if k == 0 else f"{name}_{k}")
    return names


def predict_udf(model, batch_size: int = 1024, *, input_shapes=None, names=None, threads: int | None = 1,
                backend: str | None = None, max_bytes: int | None = None):
    """A Spark column function running ``model.predict`` on batches of rows.

    Args:
        model: a :class:`~kerasless.Model` (sent to the workers as bytes) or a path every worker can read.
        batch_size: rows per predict call on a worker.
        input_shapes: per-sample shape of each input, for dims the model leaves open (e.g. the time axis).
        names: struct field names for a model with several outputs (default: the output layers' names).
        threads, backend, max_bytes: worker options, see :class:`kerasless.ship.Shipped`.
    Returns:
        a function of one column per model input (``array<float>`` or ``array<int>``, one sample flattened in C
        order) giving an ``array<float>`` column (each row's output flattened), or for several outputs a struct
        of them.
    Example:
        >>> df.withColumn("y", predict_udf(model)("x")).select("y.*")
    """
    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql.types import ArrayType, FloatType, StructField, StructType

    shipped = model if isinstance(model, Shipped) else Shipped(model, threads, backend, max_bytes)
    local = _driver_model(shipped)
    if local.stateful:
        raise UnsupportedOptionError(f"{local.source}: a stateful model carries state from call to call; its rows "
                                     "cannot be scored independently on several workers")
    shapes = row_shapes(local, input_shapes)
    n_in, n_out = len(shapes), len(local.spec.outputs)
    fields = list(names) if names is not None else output_names(local)
    if len(fields) != n_out:
        raise InputError(f"names: the model has {n_out} outputs, got {len(fields)} names")
    row = ArrayType(FloatType())
    return_type = row if n_out == 1 else StructType([StructField(f, row) for f in fields])

    def make_predict_fn():
        m = shipped.get()

        def predict(*xs):
            out = m._flat(m.predict(list(xs) if n_in > 1 else xs[0], batch_size=batch_size))
            flat = [o.reshape(len(o), -1) for o in out]  # (rows, prod(output shape))
            return flat[0] if n_out == 1 else dict(zip(fields, flat))

        # predict_batch_udf counts the predict function's parameters: one per input column
        predict.__signature__ = inspect.Signature(
            [inspect.Parameter(f"x{i}", inspect.Parameter.POSITIONAL_ONLY) for i in range(n_in)])
        return predict

    return predict_batch_udf(make_predict_fn, return_type=return_type, batch_size=batch_size,
                             input_tensor_shapes=shapes)
