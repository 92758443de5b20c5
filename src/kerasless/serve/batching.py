"""Server-side batching (TF Serving's --enable_batching): concurrent requests to one model run as one predict.

A batch starts with the oldest waiting request and takes the following ones whose inputs have the same per-row
shapes, up to ``max_batch_size`` rows, waiting at most ``timeout`` seconds after its first request for more. While a
batch runs the next one fills, so batches grow with load and a lone request waits at most ``timeout``.
"""

from __future__ import annotations

import asyncio
from collections import deque

import numpy as np

from .errors import Overloaded


class Batcher:
    """Queue in front of one servable. ``await submit(xs)`` -> that request's rows of every output.

    Args:
        run: ``async run(xs) -> outputs`` over whole batches (flat lists of arrays, batch first).
        max_batch_size: rows per batch (a larger request runs alone).
        timeout: seconds a batch waits for more rows after its first request.
        max_enqueued_rows: rows allowed to wait; a request beyond it gets Overloaded (503).
        on_batch: called with the rows of every batch run (metrics).
    """

    def __init__(self, run, max_batch_size: int, timeout: float, max_enqueued_rows: int, on_batch=None):
        self.run, self.max_batch_size, self.timeout = run, max_batch_size, timeout
        self.max_enqueued_rows, self.on_batch = max_enqueued_rows, on_batch
        self.queue: deque = deque()  # (xs, rows, key, future)
        self.rows = 0
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

    async def submit(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        n = xs[0].shape[0]
        if self.rows + n > self.max_enqueued_rows and self.queue:
            raise Overloaded(f"The batch scheduling queue is full ({self.rows} rows waiting, "
                             f"limit {self.max_enqueued_rows})")
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._loop())
        future = asyncio.get_running_loop().create_future()
        self.queue.append((xs, n, tuple(a.shape[1:] for a in xs), future))
        self.rows += n
        self._wake.set()
        return await future

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self.queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            deadline = loop.time() + self.timeout
            while self.rows < self.max_batch_size and (left := deadline - loop.time()) > 0:
                self._wake.clear()
                try:
                    await within(left, self._wake.wait())
                except TimeoutError:
                    break
            batch = self._take()
            if batch:
                await self._run_batch(batch)

    def _take(self) -> list:
        """The oldest live request and the next ones with its shapes, up to max_batch_size rows."""
        batch, rows, key, keep = [], 0, None, deque()
        while self.queue:
            item = self.queue.popleft()
            if item[3].done():  # the client went away
                self.rows -= item[1]
                continue
            if key is None or (item[2] == key and rows + item[1] <= self.max_batch_size):
                key = item[2]
                batch.append(item)
                rows += item[1]
                self.rows -= item[1]
            else:
                keep.append(item)
                if rows >= self.max_batch_size:
                    break
        keep.extend(self.queue)
        self.queue = keep
        return batch

    async def _run_batch(self, batch: list) -> None:
        xs = batch[0][0] if len(batch) == 1 else [np.concatenate(parts) for parts in zip(*(b[0] for b in batch))]
        try:
            outs = await self.run(xs)
        except Exception as exc:  # noqa: BLE001 - every waiting request gets the error
            if len(batch) == 1:
                _settle(batch[0][3], exc=exc)
            else:  # one request's rows may be what failed: run each alone, so only it gets the error
                for item in batch:
                    await self._run_batch([item])
            return
        if self.on_batch is not None:
            self.on_batch(xs[0].shape[0])
        start = 0
        for _, n, _, future in batch:
            _settle(future, [o[start:start + n] for o in outs])
            start += n


async def within(seconds: float, awaitable):
    """``await awaitable``, or TimeoutError after ``seconds`` (asyncio.timeout: no task per call)."""
    if hasattr(asyncio, "timeout"):
        async with asyncio.timeout(seconds):
            return await awaitable
    try:  # Python 3.10, whose asyncio.TimeoutError is not the builtin one
        return await asyncio.wait_for(awaitable, seconds)
    except asyncio.exceptions.TimeoutError:
        raise TimeoutError from None


def _settle(future, result=None, exc=None) -> None:
    if not future.done():
        future.set_exception(exc) if exc is not None else future.set_result(result)
