"""Score dask arrays with a kerasless model: no TensorFlow on the workers (``pip install 'kerasless[dask]'``).

The model travels once per worker (one key of the graph, as bytes) and is rebuilt once per worker process; each
block is one ``predict`` call, with one thread per task by default.

Example:
    >>> import kerasless.dask
    >>> y = kerasless.dask.predict(model, x)          # x: dask.array (batch, ...) chunked along the batch axis
    >>> y.compute()                                   # == model.predict(x.compute())
"""

from __future__ import annotations

import math

import numpy as np

from .errors import InputError, UnsupportedOptionError
from .ship import Shipped

__all__ = ["predict", "Shipped"]


def _run(shipped: Shipped, batch_size, *blocks):
    """One block of every input -> the model's outputs: the array itself for one output, else each output
    flattened per row and concatenated along axis 1 (predict runs once per block)."""
    model = shipped.get()
    out = model._flat(model.predict(list(blocks) if len(blocks) > 1 else blocks[0], batch_size=batch_size))
    if len(out) == 1:
        return out[0]
    return np.concatenate([o.reshape(len(o), -1) for o in out], axis=1)


def predict(model, x, *, batch_size: int | None = None, threads: int | None = 1, backend: str | None = None,
            max_bytes: int | None = None):
    """``model.predict`` over a dask array, block by block.

    Args:
        model: a :class:`~kerasless.Model` (sent as bytes), a path every worker can read, or a Shipped.
        x: a dask array (or anything ``dask.array.asarray`` takes) shaped ``(batch, *input_shape)``; a list or a
            dict (by input name) of them for several inputs. Chunks along the other axes are merged.
        batch_size: rows per predict call inside a block (default: kerasless's chunking).
        threads, backend, max_bytes: worker options, see :class:`kerasless.ship.Shipped`.
    Returns:
        a float32 dask array, or a list of them (the model's flat outputs, in order) for several outputs.
    Example:
        >>> y = kerasless.dask.predict("model.keras", da.from_zarr("x.zarr")).to_zarr("y.zarr")
    """
    import dask
    import dask.array as da

    shipped = model if isinstance(model, Shipped) else Shipped(model, threads, backend, max_bytes)
    local = shipped._local
    if local is None:
        from . import load

        local = load(shipped.path, shipped.max_bytes)
    if local.stateful:
        raise UnsupportedOptionError(f"{local.source}: a stateful model carries state from call to call; its blocks "
                                     "cannot be scored independently")
    if isinstance(x, dict):
        missing = [n for n in local.input_names if n not in x]
        if missing:
            raise InputError(f"predict: missing inputs {missing}; the model's inputs are {local.input_names}")
        x = [x[n] for n in local.input_names]
    xs = [da.asarray(a) for a in (x if isinstance(x, (list, tuple)) else [x])]
    if len(xs) != len(local.input_names):
        raise InputError(f"predict: the model takes {len(local.input_names)} inputs {local.input_names}, "
                         f"got {len(xs)}")
    if any(math.isnan(a.shape[0]) for a in xs):
        raise InputError("predict: the inputs' row counts are unknown (call x.compute_chunk_sizes() first)")
    if len({a.shape[0] for a in xs}) > 1:
        raise InputError(f"predict: every input needs the same batch size, got {[a.shape[0] for a in xs]}")
    rows = xs[0].chunks[0]
    xs = [a.rechunk({0: rows, **{i: -1 for i in range(1, a.ndim)}}) for a in xs]  # one block per row chunk
    # One row through the model on the driver: the outputs' shapes (checks the inputs' shapes and dtypes too).
    probe = local._flat(local.predict([np.zeros((1, *a.shape[1:]), a.dtype) for a in xs]))
    handle = dask.delayed(shipped, name=f"kerasless-model-{shipped.key}")
    args = [v for k, a in enumerate(xs) for v in (a, ("b", *(f"in{k}.{j}" for j in range(1, a.ndim))))]
    shapes = [p.shape[1:] for p in probe]
    if len(shapes) == 1:  # the output's blocks come straight from predict
        out_ix = ("b", *(f"out.{j}" for j in range(len(shapes[0]))))
        return da.blockwise(_run, out_ix, handle, None, batch_size, None, *args, concatenate=True,
                            new_axes=dict(zip(out_ix[1:], shapes[0])), dtype=np.float32,
                            meta=np.empty((0,) * len(out_ix), np.float32))
    sizes = [math.prod(s) for s in shapes]  # several: one block (rows, sum of sizes), sliced apart here
    both = da.blockwise(_run, ("b", "out"), handle, None, batch_size, None, *args, concatenate=True,
                        new_axes={"out": sum(sizes)}, dtype=np.float32, meta=np.empty((0, 0), np.float32))
    out, start = [], 0
    for shape, size in zip(shapes, sizes):
        out.append(both[:, start:start + size].reshape((-1, *shape)))
        start += size
    return out
